package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

func TestPendingReportNeverSaysDoneForABehindDoor(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	since := at.Add(-2 * time.Hour)
	rep := pendingReport(7, at, []hub.DoorPendingReport{
		{DoorPending: hub.DoorPending{Door: "front", Current: true}},
		{DoorPending: hub.DoorPending{Door: "gym", Revocations: 2, OldestRevocation: since}, Overflow: 3},
		{DoorPending: hub.DoorPending{Door: "trash", Drift: true}},
	})
	if rep.Version != 7 || len(rep.Doors) != 3 {
		t.Fatalf("report %+v", rep)
	}
	front, gym, trash := rep.Doors[0], rep.Doors[1], rep.Doors[2]
	if front.SyncedVersion != 7 || front.Pending != 0 {
		t.Errorf("front %+v", front)
	}
	if gym.SyncedVersion != 0 || gym.Pending != 2 || gym.Overflow != 3 || gym.Oldest == nil || !gym.Oldest.Equal(since) {
		t.Errorf("gym %+v", gym)
	}
	if trash.SyncedVersion != 0 || trash.Pending != 1 {
		t.Errorf("a drifted door reported %+v", trash)
	}
}

// TestPendingPublisherFollowsChanges: a change of the set's version or a
// kick publishes at once; a burst is coalesced into few reports, the last
// change always in one.
func TestPendingPublisherFollowsChanges(t *testing.T) {
	var version, published atomic.Uint64
	seen := make(chan uint64, 100)
	p := startPendingPublisher(version.Load, func() { published.Add(1); seen <- version.Load() }, 20*time.Millisecond)
	defer p.Close()
	version.Store(1)
	select {
	case v := <-seen:
		if v != 1 {
			t.Fatalf("published at version %d", v)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a new version was not published")
	}
	// A burst of 100 batches and kicks: a few reports, the last at 101.
	for i := range 100 {
		version.Store(uint64(2 + i))
		p.Kick()
	}
	deadline := time.After(2 * time.Second)
	for last := uint64(0); last != 101; {
		select {
		case last = <-seen:
		case <-deadline:
			t.Fatalf("the last version of the burst was not published (last %d)", last)
		}
	}
	if n := published.Load(); n > 10 {
		t.Errorf("%d reports for a burst", n)
	}
	p.Kick()
	select {
	case <-seen:
	case <-time.After(2 * time.Second):
		t.Fatal("a kick was not published")
	}
}

// TestPendingKeycardsBounded: the keycards section stays inside one
// message however many cards are pending at however many doors.
func TestPendingKeycardsBounded(t *testing.T) {
	store := hub.NewMemStore()
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p1", Email: "p1@example.org"}}}
	cards := map[string][]string{}
	var doors []string
	for i := range 200 {
		doors = append(doors, fmt.Sprintf("door-number-%03d", i))
	}
	for i := range 1000 {
		id := fmt.Sprintf("%08x", 0x10000000+i)
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: id, OwnerID: "p1", Active: true}})
		cards[id] = doors
	}
	if err := store.Apply(t.Context(), &hub.Batch{Site: "s1", Version: 1, IssuedAt: time.Now(), Ops: ops}); err != nil {
		t.Fatal(err)
	}
	var rep cloudlink.PendingReport
	store.View(func(c *hub.Catalog) { rep.Keycards, rep.KeycardsTotal = pendingKeycards(c, cards) })
	rep.At = time.Now()
	out, err := (&cloudlink.Uplink{Hub: "hub-1", Stream: "stream-of-the-hub-1", Seq: 1, SentAt: rep.At, Body: &rep}).Encode()
	if err != nil || len(out.Payload) > cloudlink.MaxPayload {
		t.Fatalf("a report of %d keycards: %v", len(rep.Keycards), err)
	}
	if rep.KeycardsTotal != 1000 || len(rep.Keycards) == 0 || len(rep.Keycards) >= 1000 {
		t.Fatalf("%d keycards of %d", len(rep.Keycards), rep.KeycardsTotal)
	}
	t.Logf("%d of %d keycards pending at 200 doors in a message of %d bytes", len(rep.Keycards), rep.KeycardsTotal, len(out.Payload))
}
