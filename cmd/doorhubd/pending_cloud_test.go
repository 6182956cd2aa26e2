package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/hub"
)

// TestPendingFollowsABatch: a batch the cloud sends is pending at its
// door in the cloud's view at once — before any lock wakes — and the
// report names the new version.
func TestPendingFollowsABatch(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	pub, priv, _ := ed25519.GenerateKey(nil)
	cloud, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: b.URL(), ClientID: "cloud-pending",
		Signer: cloudlink.NewSigner(priv), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloud.Open(); err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	ch := cloud.Hub("hub-pending")
	from := time.Now().Add(-time.Hour)
	if _, err := ch.Commit("s1",
		hub.Op{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", Name: "Site", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "front", Name: "Front", Type: hub.DoorEntrance}},
		hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "building", Name: "Building", Doors: []string{"front"}}},
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-anna", Email: "anna@example.org"}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna", PersonID: "p-anna", KeyID: "building", StartsAt: from, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3", OwnerID: "p-anna", Active: true}},
	); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("hub_id: hub-pending\nstate_dir: STATE\nradio:\n  port: /dev/null\nstatus:\n  listen: 127.0.0.1:0\n  socket: \"\"\n"+
		"cloud:\n  broker: %s\n  public_key: %s\n", b.URL(), base64.StdEncoding.EncodeToString(pub))
	path, _ := writeConfig(t, body)
	m := NewMain(io.Discard, &syncBuffer{}, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	front := func(v *cloudlink.HubView) *cloudlink.DoorPending {
		if v.Pending == nil {
			return nil
		}
		for i := range v.Pending.Doors {
			if v.Pending.Doors[i].Door == "front" {
				return &v.Pending.Doors[i]
			}
		}
		return nil
	}
	if v, ok := ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return v.Pending != nil && v.Pending.Version == 1 }); !ok {
		t.Fatalf("no pending report at version 1: %+v", v.Pending)
	} else if d := front(&v); d == nil || d.Pending == 0 || d.SyncedVersion != 0 {
		t.Fatalf("front with no lock ever reporting: %+v", d)
	}

	// Anna's card is lost. The report follows the batch at once.
	lost, err := ch.Commit("s1", hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3", OwnerID: "p-anna", Active: false}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := ch.Send(lost); err != nil {
		t.Fatal(err)
	}
	v, ok := ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return v.Pending != nil && v.Pending.Version == 2 })
	if !ok {
		t.Fatalf("the pending report did not follow the batch: %+v", v.Pending)
	}
	if d := front(&v); d == nil || d.Pending == 0 || d.SyncedVersion != 0 {
		t.Fatalf("front after the card was lost: %+v", d)
	}
	t.Logf("the pending report followed the batch in %v", time.Since(start).Round(time.Millisecond))
}
