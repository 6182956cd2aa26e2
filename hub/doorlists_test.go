package hub_test

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

func TestDoorListsPendingUntilLockReports(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "unit1"), card("c0c0c0c0", "ann", true))
	now := t0
	dl := hub.NewDoorLists(f.store, func() time.Time { return now })
	changes := 0
	dl.OnChange(func() { changes++ })
	version, data, ok := dl.DoorList("apt1")
	if !ok || version != 1 || len(data) == 0 {
		t.Fatalf("apt1 list: %d %d %v", version, len(data), ok)
	}
	if v, data, ok := dl.DoorList("main"); !ok || v != 0 || len(data) != 0 {
		t.Fatalf("a door nobody opens: version %d, %d bytes, %v; want the empty list a lock is paired with", v, len(data), ok)
	}
	if got := dl.KeycardPending("c0c0c0c0"); len(got) != 1 || got[0] != "apt1" {
		t.Fatalf("activation pending at %v", got)
	}
	sum := sha256.Sum256(data)
	dl.ListHeld("apt1", [hub.MinAckDigest]byte(sum[:8]), now)
	if got := dl.KeycardPending("c0c0c0c0"); len(got) != 0 {
		t.Fatalf("pending at %v after the lock reported the list", got)
	}
	dl.ListHeld("apt1", [hub.MinAckDigest]byte(sum[:8]), now) // the same again: no change
	if changes != 1 {
		t.Fatalf("%d changes heard, want 1", changes)
	}
	// The card is lost; the lock sleeps. Pending reads the change at once.
	f.apply(card("c0c0c0c0", "ann", false))
	now = t0.Add(time.Hour)
	var apt1 hub.DoorPendingReport
	for _, p := range dl.Pending() {
		if p.Door == "apt1" {
			apt1 = p
		}
	}
	if apt1.Current || apt1.Revocations != 1 || apt1.RevocationAge != 0 {
		t.Fatalf("apt1 %+v", apt1)
	}
	now = t0.Add(3 * time.Hour)
	for _, p := range dl.Pending() {
		if p.Door == "apt1" && p.RevocationAge != 2*time.Hour {
			t.Fatalf("revocation freshness %+v", p)
		}
	}

	// The hub restarts; the lock, which took the new list, reports it:
	// current at once, not drifted.
	f.apply(card("c1c1c1c1", "ann", true))
	_, data, ok = dl.DoorList("apt1")
	if !ok {
		t.Fatal("no list for apt1")
	}
	sum = sha256.Sum256(data)
	restarted := hub.NewDoorLists(f.store, func() time.Time { return now })
	restarted.ListHeld("apt1", [hub.MinAckDigest]byte(sum[:8]), now)
	for _, p := range restarted.Pending() {
		if p.Door == "apt1" && (!p.Current || p.Drift) {
			t.Fatalf("after a restart %+v", p)
		}
	}
}
