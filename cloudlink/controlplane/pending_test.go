package controlplane

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
)

// TestPendingKeptPerHub: the server keeps each hub's last pending report,
// answers it with door names and ages, and still has it after a restart.
func TestPendingKeptPerHub(t *testing.T) {
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
		{"door/add", console.DoorAdd{Name: "front", Type: "entrance"}},
		{"door/add", console.DoorAdd{Name: "gym", Type: "communal"}},
	} {
		if err := c.Call(ctx, call.path, call.req, &r); err != nil {
			t.Fatalf("%s: %v", call.path, err)
		}
	}
	var hc HubConfig
	if err := c.Call(ctx, "hub/add", HubAdd{ID: "hub-1"}, &hc); err != nil {
		t.Fatal(err)
	}
	var views []PendingView
	if err := c.Call(ctx, "pending", PendingRequest{Hub: "hub-1"}, &views); err != nil || len(views) != 1 || views[0].Received {
		t.Fatalf("before any report: %+v, %v", views, err)
	}
	if err := c.Call(ctx, "pending", PendingRequest{Hub: "hub-9"}, &views); err == nil {
		t.Fatal("an unknown hub answered")
	}
	var frontID, gymID string
	s.primary.store.View(func(cat *hub.Catalog) {
		for _, d := range cat.Doors() {
			if d.Name == "front" {
				frontID = d.ID
			} else {
				gymID = d.ID
			}
		}
	})

	// The hub reports: the front current at the site's version, the gym
	// with a revocation pending for two hours.
	_, priv, _ := ed25519.GenerateKey(nil)
	hubSide, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: b.URL(), ClientID: "hub-1-test", Signer: cloudlink.NewSigner(priv), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := hubSide.Open(); err != nil {
		t.Fatal(err)
	}
	defer hubSide.Close()
	siteVersion := s.primary.store.Version()
	since := now.Add(-2 * time.Hour)
	out, err := (&cloudlink.Uplink{Hub: "hub-1", Stream: "hub-1-test-stream-0001", Seq: 1, SentAt: now, Body: &cloudlink.PendingReport{At: now, Version: siteVersion,
		Doors: []cloudlink.DoorPending{{Door: frontID, SyncedVersion: siteVersion}, {Door: gymID, Pending: 1, Oldest: &since}}}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := hubSide.PublishRaw(out.Topic, out.Payload, out.QoS); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := c.Call(ctx, "pending", PendingRequest{}, &views)
			if err == nil && len(views) == 1 && views[0].Received {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no report: %+v, %v", what, views, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		v := views[0]
		if v.Hub != "hub-1" || v.Version != siteVersion || v.HubBehind || len(v.Doors) != 2 {
			t.Fatalf("%s: %+v", what, v)
		}
		for _, d := range v.Doors {
			switch d.Door {
			case frontID:
				if !d.Synced || d.Pending != 0 || d.Name != "front" {
					t.Errorf("%s: front %+v", what, d)
				}
			case gymID:
				if d.Synced || d.Pending != 1 || d.OldestAgeSeconds != 7200 || d.Name != "gym" {
					t.Errorf("%s: gym %+v", what, d)
				}
			}
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
