package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// building is the fixture's key with main, gym and trash.
var buildingDoors = []string{"gym", "main", "trash"}

func listOf(f *fixture, door string, at time.Time) *hub.DoorList {
	f.t.Helper()
	var l *hub.DoorList
	var err error
	f.store.View(func(c *hub.Catalog) { l, err = hub.DoorListOf(c, door, at) })
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// desireAll recomputes every building door's list into s and returns them.
func desireAll(f *fixture, s *hub.DoorSync, at time.Time) map[string]*hub.DoorList {
	out := map[string]*hub.DoorList{}
	for _, d := range buildingDoors {
		out[d] = listOf(f, d, at)
		s.Desire(out[d], at)
	}
	return out
}

func TestKeycardDeactivationPendingUntilEveryDoorAcks(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "building"), card("c0c0c0c0", "ann", true))
	s := hub.NewDoorSync()
	lists := desireAll(f, s, t0)
	if got := s.KeycardPending("c0c0c0c0", t0); fmt.Sprint(got) != "[gym main trash]" {
		t.Fatalf("activation pending at %v before any ack", got)
	}
	for _, d := range buildingDoors {
		if !s.Ack(d, lists[d].Digest[:], t0) {
			t.Fatalf("%s: ack of the desired list not current", d)
		}
	}
	if got := s.KeycardPending("c0c0c0c0", t0); len(got) != 0 {
		t.Fatalf("pending at %v after every door acked", got)
	}
	old := lists["trash"]

	// The card is lost: deactivated at t0+1h while the locks sleep.
	at := t0.Add(time.Hour)
	f.apply(card("c0c0c0c0", "ann", false))
	lists = desireAll(f, s, at)
	if got := s.KeycardPending("c0c0c0c0", at); fmt.Sprint(got) != "[gym main trash]" {
		t.Fatalf("deactivation pending at %v", got)
	}
	p := s.DoorPending("trash", at.Add(2*time.Hour))
	if p.Current || p.Revocations != 1 || p.RevocationAge != 2*time.Hour || p.DesiredVersion != 2 || p.AckedVersion != 1 {
		t.Fatalf("trash pending %+v", p)
	}
	s.Ack("main", lists["main"].Digest[:], at.Add(time.Minute))
	s.Ack("gym", lists["gym"].Digest[:], at.Add(time.Minute))
	if got := s.KeycardPending("c0c0c0c0", at); fmt.Sprint(got) != "[trash]" {
		t.Fatalf("pending at %v after main and gym acked", got)
	}
	// The trash lock, asleep, still admits the card alone: that is what
	// pending means.
	if r := hub.LockDecide(old.Entries, "trash", keycard("c0c0c0c0"), at.Unix()+60); !r.Allowed() {
		t.Fatalf("old list: %s", r)
	}
	if s.Ack("trash", lists["trash"].Digest[:], at.Add(3*time.Hour)); len(s.KeycardPending("c0c0c0c0", at)) != 0 {
		t.Fatal("still pending after every door acked")
	}
	if p := s.DoorPending("trash", at.Add(4*time.Hour)); !p.Current || p.Revocations != 0 || p.RevocationAge != 0 {
		t.Fatalf("trash after ack %+v", p)
	}
	// With the hub unplugged, the lock alone now denies the card.
	if r := hub.LockDecide(lists["trash"].Entries, "trash", keycard("c0c0c0c0"), at.Unix()+4*3600); r.Allowed() {
		t.Fatal("the lock alone admits a deactivated card after applying its list")
	}
}

// TestDoorSyncKeepsOnlyOfferedVersions: while a lock sleeps through many
// changes, only the versions handed to the radio are kept; a lock
// reporting one never sent is taken for drifted (its list unknown).
func TestDoorSyncKeepsOnlyOfferedVersions(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "building"))
	s := hub.NewDoorSync()
	var lists []*hub.DoorList
	for i := range 6 {
		f.apply(card(fmt.Sprintf("c%07d", i), "ann", true))
		l := listOf(f, "main", t0)
		lists = append(lists, l)
		if v := s.Desire(l, t0); i == 2 {
			s.Offer("main", v) // only v3 was sent
		}
	}
	if s.Ack("main", lists[2].Digest[:], t0) {
		t.Fatal("v3 acked as current")
	}
	if p := s.DoorPending("main", t0); p.AckedVersion != 3 || p.Drift {
		t.Fatalf("after the offered v3: %+v", p)
	}
	if s.Ack("main", lists[3].Digest[:], t0) {
		t.Fatal("v4 acked as current")
	}
	if p := s.DoorPending("main", t0); !p.Drift {
		t.Fatalf("v4 was never sent, yet taken for known: %+v", p)
	}
	if !s.Ack("main", lists[5].Digest[:], t0) {
		t.Fatal("the desired list not current")
	}
}

func TestDoorSyncDriftAndIntermediateAck(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "building"), card("c0c0c0c0", "ann", true))
	s := hub.NewDoorSync()
	v1 := listOf(f, "main", t0)
	s.Desire(v1, t0)
	s.Ack("main", v1.Digest[:], t0)

	f.apply(card("c1c1c1c1", "ann", true))
	v2 := listOf(f, "main", t0)
	f.apply(card("c2c2c2c2", "ann", true))
	v3 := listOf(f, "main", t0)
	if s.Desire(v2, t0) != 2 {
		t.Fatal("version not 2")
	}
	s.Offer("main", 2) // the radio sends v2
	if s.Desire(v3, t0) != 3 || s.Desire(v3, t0) != 3 {
		t.Fatal("version not 3, or the same list got a new one")
	}
	// The lock took v2 before v3 was computed.
	if s.Ack("main", v2.Digest[:], t0) {
		t.Fatal("v2 acked as current")
	}
	if p := s.DoorPending("main", t0); p.AckedVersion != 2 || p.Activations != 1 || p.Drift {
		t.Fatalf("after v2 %+v", p)
	}
	// A reset lock reports the digest of an empty list; a corrupted one
	// anything: drift, never assumed current.
	if s.Ack("main", []byte{1, 2, 3, 4, 5, 6, 7, 8}, t0) {
		t.Fatal("a corrupted list acked as current")
	}
	p := s.DoorPending("main", t0)
	if !p.Drift || p.Current {
		t.Fatalf("after corruption %+v", p)
	}
	if got := s.KeycardPending("c0c0c0c0", t0); fmt.Sprint(got) != "[main]" {
		t.Fatalf("a drifted door is not pending for every card: %v", got)
	}
	// The radio carries 8 bytes of the digest.
	if !s.Ack("main", v3.Digest[:hub.MinAckDigest], t0) || s.DoorPending("main", t0).Drift {
		t.Fatal("a full reload did not clear the drift")
	}
	// Too short a prefix proves nothing.
	if s.Ack("main", v3.Digest[:4], t0) || !s.DoorPending("main", t0).Drift {
		t.Fatal("a 4-byte digest accepted")
	}
	// A lock with no list (all zero) holds the empty list: current for a
	// door nobody may open.
	if !s.Ack("apt2", make([]byte, hub.MinAckDigest), t0) {
		t.Fatal("a listless lock at a door with an empty list is not current")
	}
}

func TestFutureGrantIsNotPendingOnceAcked(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("bob", false), grant("g1", "bob", "building", starts(t0.Add(7*24*time.Hour))), card("b0b0b0b0", "bob", true))
	s := hub.NewDoorSync()
	lists := desireAll(f, s, t0)
	for _, d := range buildingDoors {
		s.Ack(d, lists[d].Digest[:], t0)
	}
	// A week later the grant starts; the list computed then is the same
	// version, and nothing is pending.
	later := t0.Add(7*24*time.Hour + time.Minute)
	desireAll(f, s, later)
	if got := s.KeycardPending("b0b0b0b0", later); len(got) != 0 {
		t.Fatalf("future start needed a second update at %v", got)
	}
	for _, d := range buildingDoors {
		if p := s.DoorPending(d, later); !p.Current || p.DesiredVersion != 1 {
			t.Fatalf("%s: a start date made a new version: %+v", d, p)
		}
	}
	if r := hub.LockDecide(lists["main"].Entries, "main", keycard("b0b0b0b0"), later.Unix()); !r.Allowed() {
		t.Fatalf("the week-old list: %s", r)
	}
}
