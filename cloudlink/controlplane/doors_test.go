package controlplane

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/console"
)

// TestDoorsKeptPerHub: the server keeps each hub's last door-state report
// (the highest seq, not the last to arrive), answers it with door names
// and ages, and still has it after a restart.
func TestDoorsKeptPerHub(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	open := func() *Server {
		s, err := Open(Options{StateDir: dir, Broker: b.URL(), Logger: quiet(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	c, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var r console.Result
	for _, call := range []struct {
		path string
		req  any
	}{
		{"site/create", console.SiteCreate{Name: "Elm", TimeZone: "UTC", DoorcodeLength: 6}},
		{"door/add", console.DoorAdd{Name: "Front", Type: "entrance"}},
	} {
		if err := c.Call(ctx, call.path, call.req, &r); err != nil {
			t.Fatalf("%s: %v", call.path, err)
		}
	}
	var hc HubConfig
	if err := c.Call(ctx, "hub/add", HubAdd{ID: "hub-1"}, &hc); err != nil {
		t.Fatal(err)
	}
	var views []DoorsView
	if err := c.Call(ctx, "doors", DoorsRequest{Hub: "hub-1"}, &views); err != nil || len(views) != 1 || views[0].Received {
		t.Fatalf("before any report: %+v, %v", views, err)
	}
	if err := c.Call(ctx, "doors", DoorsRequest{Hub: "hub-9"}, &views); err == nil {
		t.Fatal("an unknown hub answered")
	}

	_, priv, _ := ed25519.GenerateKey(nil)
	hubSide, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: b.URL(), ClientID: "hub-1-doors", Signer: cloudlink.NewSigner(priv), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := hubSide.Open(); err != nil {
		t.Fatal(err)
	}
	defer hubSide.Close()
	seen := now.Add(-90 * time.Second)
	pct := 18
	send := func(seq uint64, rep *cloudlink.DoorsReport) {
		t.Helper()
		out, err := (&cloudlink.Uplink{Hub: "hub-1", Stream: "hub-1-test-stream-0001", Seq: seq, SentAt: now, Body: rep}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := hubSide.PublishRaw(out.Topic, out.Payload, out.QoS); err != nil {
			t.Fatal(err)
		}
	}
	send(2, &cloudlink.DoorsReport{At: now, Doors: []cloudlink.DoorState{{Door: "front", Lock: "0000000a", Reachable: true,
		LastSeen: &seen, BatteryPercent: &pct, BatteryBand: cloudlink.BatteryLow, List: cloudlink.ListCurrent}}})
	// An older report arriving late changes nothing.
	send(1, &cloudlink.DoorsReport{At: now.Add(time.Hour), Doors: []cloudlink.DoorState{{Door: "front", List: cloudlink.ListDrift}}})
	check := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := c.Call(ctx, "doors", DoorsRequest{}, &views)
			if err == nil && len(views) == 1 && views[0].Received {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no report: %+v, %v", what, views, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the late, older one too
		if err := c.Call(ctx, "doors", DoorsRequest{}, &views); err != nil {
			t.Fatal(err)
		}
		v := views[0]
		if v.Hub != "hub-1" || !v.At.Equal(now) || len(v.Doors) != 1 {
			t.Fatalf("%s: %+v", what, v)
		}
		d := v.Doors[0]
		if d.Door != "front" || d.Name != "Front" || d.Lock != "0000000a" || !d.Reachable || d.List != cloudlink.ListCurrent ||
			d.BatteryBand != cloudlink.BatteryLow || d.LastSeenAgeSeconds != 90 {
			t.Errorf("%s: front %+v", what, d)
		}
	}
	check("the report")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	c, err = Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("after a restart")
}
