package hub_test

import (
	"crypto/sha256"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// memValues is a ValueStore in memory, as hub/badgerstore's named values.
type memValues struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ hub.ValueStore = (*memValues)(nil)

func (v *memValues) Value(k string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[k], nil
}

func (v *memValues) SetValue(k string, b []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string][]byte{}
	}
	v.m[k] = append([]byte(nil), b...)
	return nil
}

func (v *memValues) DeleteValue(k string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, k)
	return nil
}

func (v *memValues) Values(prefix string) (map[string][]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]byte{}
	for k, b := range maps.Clone(v.m) {
		if strings.HasPrefix(k, prefix) {
			out[k] = b
		}
	}
	return out, nil
}

func doorReport(t *testing.T, dl *hub.DoorLists, door string) hub.DoorPendingReport {
	t.Helper()
	for _, p := range dl.Pending() {
		if p.Door == door {
			return p
		}
	}
	t.Fatalf("no report for %s", door)
	return hub.DoorPendingReport{}
}

func ack(dl *hub.DoorLists, door string, data []byte, at time.Time) {
	sum := sha256.Sum256(data)
	dl.ListHeld(door, [hub.MinAckDigest]byte(sum[:8]), at)
}

// TestDoorListsPersistAcrossRestart: versions go on, the acknowledged
// list is known (a current lock stays current, a behind one is behind
// without its lock reporting), and revocation freshness keeps its age.
func TestDoorListsPersistAcrossRestart(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "unit1"), card("c0c0c0c0", "ann", true), card("c1c1c1c1", "ann", true))
	now := t0
	clock := func() time.Time { return now }
	kv := &memValues{}
	open := func() *hub.DoorLists {
		dl := hub.NewDoorLists(f.store, clock)
		dl.OnError(func(err error) { t.Errorf("persist: %v", err) })
		if err := dl.Persist(kv); err != nil {
			t.Fatal(err)
		}
		return dl
	}
	dl := open()
	v1, data1, _ := dl.DoorList("apt1")
	ack(dl, "apt1", data1, now)
	if p := doorReport(t, dl, "apt1"); !p.Current || p.AckedVersion != uint64(v1) {
		t.Fatalf("before the restart %+v", p)
	}

	// Restart: the lock has not spoken yet, and is current.
	dl = open()
	if p := doorReport(t, dl, "apt1"); !p.Current || p.DesiredVersion != uint64(v1) || p.Drift {
		t.Fatalf("after a restart, before the lock spoke: %+v", p)
	}

	// Revoke one card at +1h; the lock sleeps; restart at +3h.
	f.apply(card("c0c0c0c0", "ann", false))
	now = t0.Add(time.Hour)
	if p := doorReport(t, dl, "apt1"); p.Current || p.Revocations != 1 {
		t.Fatalf("revocation %+v", p)
	}
	now = t0.Add(3 * time.Hour)
	dl = open()
	p := doorReport(t, dl, "apt1")
	if p.Current || p.Revocations != 1 || p.RevocationAge != 2*time.Hour || p.DesiredVersion != uint64(v1)+1 || p.AckedVersion != uint64(v1) {
		t.Fatalf("after a restart, the revocation pending: %+v", p)
	}
	if got := dl.KeycardPending("c0c0c0c0"); len(got) != 1 || got[0] != "apt1" {
		t.Fatalf("keycard pending at %v", got)
	}
	v2, data2, _ := dl.DoorList("apt1")
	if v2 != v1+1 {
		t.Fatalf("version %d after %d: versions started over", v2, v1)
	}
	// The lock's list is known after the restart: it gets a delta.
	sum1 := sha256.Sum256(data1)
	delta, ok := dl.ListDelta("apt1", [hub.MinAckDigest]byte(sum1[:8]), v2)
	if !ok || len(delta) >= len(data2)+len(data1) {
		t.Fatalf("after a restart, a delta of %d bytes (%v) for a list of %d", len(delta), ok, len(data2))
	}
	got, err := hub.ApplyListDelta(mustDecode(t, data1), [hub.MinAckDigest]byte(sum1[:8]), delta)
	if err != nil || string((&hub.DoorList{Entries: got}).Encode()) != string(data2) {
		t.Fatalf("the delta after a restart does not give the desired list: %v", err)
	}
	// The lock had the old list (an older digest): still behind, not drift.
	ack(dl, "apt1", data1, now)
	if p := doorReport(t, dl, "apt1"); p.Current || p.Drift {
		t.Fatalf("old list reported: %+v", p)
	}
	ack(dl, "apt1", data2, now)
	dl = open()
	if p := doorReport(t, dl, "apt1"); !p.Current || p.Revocations != 0 || p.AckedVersion != uint64(v2) {
		t.Fatalf("applied, after a restart: %+v", p)
	}

	// A crash between writing the list and the state naming it: the
	// stored list is not the one named, so the door is drifted, never
	// current.
	_ = kv.SetValue("doorsync/acked/apt1", data1)
	dl = open()
	if p := doorReport(t, dl, "apt1"); p.Current || !p.Drift {
		t.Fatalf("torn state restored as %+v", p)
	}
	// The lock then reports the list the state named: still unknown to
	// the hub, so still drift (a full reload), and no delta from it.
	sum2 := sha256.Sum256(data2)
	f.apply(card("c1c1c1c1", "ann", false))
	v3, _, _ := dl.DoorList("apt1")
	dl.ListHeld("apt1", [hub.MinAckDigest]byte(sum2[:8]), now)
	if p := doorReport(t, dl, "apt1"); p.Current || !p.Drift {
		t.Fatalf("the lock reported the list whose entries were lost: %+v", p)
	}
	if _, ok := dl.ListDelta("apt1", [hub.MinAckDigest]byte(sum2[:8]), v3); ok {
		t.Fatal("a delta from a list the hub does not have")
	}
}

// TestListProgressSurvivesRestart: a delivery's chunk is kept per door,
// for that version and digest only.
func TestListProgressSurvivesRestart(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	kv := &memValues{}
	dl := hub.NewDoorLists(f.store, nil)
	if err := dl.Persist(kv); err != nil {
		t.Fatal(err)
	}
	d := [hub.MinAckDigest]byte{1, 2, 3, 4, 5, 6, 7, 8}
	dl.ListProgressed("apt1", 7, d, 12)
	dl = hub.NewDoorLists(f.store, nil)
	if err := dl.Persist(kv); err != nil {
		t.Fatal(err)
	}
	if got := dl.ListProgress("apt1", 7, d); got != 12 {
		t.Fatalf("progress %d", got)
	}
	if got := dl.ListProgress("apt1", 8, d); got != 0 {
		t.Fatalf("another version's progress %d", got)
	}
	if got := dl.ListProgress("apt1", 7, [hub.MinAckDigest]byte{}); got != 0 {
		t.Fatalf("another digest's progress %d", got)
	}
}

func mustDecode(t *testing.T, data []byte) []hub.ListEntry {
	t.Helper()
	l, err := hub.DecodeList(data)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestKeycardsPending: a keycard's activation and deactivation are
// pending at exactly the doors whose locks have not applied them.
func TestKeycardsPending(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "building"), card("c0c0c0c0", "ann", true))
	now := t0
	dl := hub.NewDoorLists(f.store, func() time.Time { return now })
	_, cards := dl.PendingReport()
	if got := cards["c0c0c0c0"]; len(got) != 3 || got[0] != "gym" || got[1] != "main" || got[2] != "trash" {
		t.Fatalf("activation pending at %v", got)
	}
	for _, door := range []string{"main", "gym", "trash"} {
		_, data, _ := dl.DoorList(door)
		ack(dl, door, data, now)
	}
	if cards := dl.KeycardsPending(); len(cards) != 0 {
		t.Fatalf("pending after every lock applied it: %v", cards)
	}
	f.apply(card("c0c0c0c0", "ann", false))
	_, data, _ := dl.DoorList("gym")
	ack(dl, "gym", data, now)
	if got := dl.KeycardsPending()["c0c0c0c0"]; len(got) != 2 || got[0] != "main" || got[1] != "trash" {
		t.Fatalf("deactivation pending at %v", got)
	}
}
