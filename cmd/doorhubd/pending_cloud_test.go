package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// TestPendingFollowsABatch: a batch the cloud sends is pending at its
// door in the cloud's view at once — before any lock wakes — and the
// report names the new version.
func TestPendingFollowsABatch(t *testing.T) {
	rig := startCloudRig(t, "cloud-pending")
	cloud := rig.cloud
	ch := cloud.Hub("hub-pending")
	if _, err := ch.Commit("s1", frontDoorSite()...); err != nil {
		t.Fatal(err)
	}
	body := rig.config("hub-pending")
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
