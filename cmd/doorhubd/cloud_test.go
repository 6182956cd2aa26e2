package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// TestMainWithCloud runs the daemon with a cloud configured, against an
// embedded broker and the test cloud: the cloud's batch reaches the store,
// a decision reaches the cloud as activity, a remote unlock for a door
// without a paired lock fails as it should, and Close says offline.
func TestMainWithCloud(t *testing.T) {
	rig := startCloudRig(t, "cloud-main")
	cloud := rig.cloud
	ch := cloud.Hub("hub-cloud")
	if _, err := ch.Commit("s1", frontDoorSite()...); err != nil {
		t.Fatal(err)
	}

	body := rig.config("hub-cloud")
	path, _ := writeConfig(t, body)
	var out bytes.Buffer
	logs := &syncBuffer{}
	m := NewMain(&out, logs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = m.Close()
		}
	}()
	if m.Cloud == nil || m.Outbox == nil {
		t.Fatal("cloud link not opened")
	}
	// The empty hub's startup need is answered with a snapshot.
	waitUntil(t, "the cloud's set", 10*time.Second, func() bool { return m.Store.Version() == 1 })
	m.Clock.SetNTPSynchronized(true)
	d := m.Engine.Decide("front", hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3"}, m.Clock.Now())
	if !d.Allowed {
		t.Fatalf("decision %+v", d)
	}
	if _, err := m.Activity.Decision(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	v, ok := ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == 1 })
	if !ok {
		t.Fatal("the decision did not reach the cloud")
	}
	for _, ev := range v.Events {
		if ev.Access == nil || ev.Access.PersonID != "p-anna" || !ev.Access.Allowed || ev.Door != "front" {
			t.Fatalf("event %+v", ev)
		}
	}
	id, err := ch.Unlock("front", "p-maria", 3)
	if err != nil {
		t.Fatal(err)
	}
	v, ok = ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return len(v.Replies) == 1 })
	if !ok || v.Replies[0].Command != id || v.Replies[0].Status != cloudlink.ReplyFailed || v.Replies[0].Reason != cloudlink.ReplyLockUnreachable {
		t.Fatalf("reply to an unlock without a lock: %+v", v.Replies)
	}
	closed = true
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool {
		return v.Status != nil && v.Status.State == cloudlink.StateOffline
	}); !ok {
		t.Fatal("no offline status after Close")
	}
	if !strings.Contains(logs.String(), "msg=connected") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestMainRefusesAnotherProtocol(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	path, _ := writeConfig(t, fmt.Sprintf("hub_id: hub-x\nstate_dir: STATE\nradio:\n  port: /dev/null\nstatus:\n  listen: 127.0.0.1:0\n  socket: \"\"\n"+
		"cloud:\n  broker: tcp://127.0.0.1:1\n  topic_prefix: acme/hubs\n  public_key: %s\n", base64.StdEncoding.EncodeToString(pub)))
	var out bytes.Buffer
	m := NewMain(&out, &out, nil)
	_ = m.ParseFlags([]string{"--config", path})
	err := m.Run(context.Background())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "topic_prefix") {
		t.Fatalf("another topic prefix: %v", err)
	}
}
