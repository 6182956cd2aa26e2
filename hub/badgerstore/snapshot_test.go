package badgerstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// snapshotOf returns the records of a catalog as a snapshot's ops.
func snapshotOf(c *hub.Catalog) []hub.Op {
	var ops []hub.Op
	_ = c.Records(func(op hub.Op) error { ops = append(ops, op); return nil })
	return ops
}

// loaded returns the content a fresh catalog loading ops holds at version.
func loaded(t *testing.T, ops []hub.Op, version uint64) storetest.Content {
	t.Helper()
	m := hub.NewMemStore()
	if err := hub.Replace(bg, m, &hub.Snapshot{Site: storetest.SiteID, Version: version, Ops: ops}); err != nil {
		t.Fatal(err)
	}
	return storetest.ContentOf(t, m)
}

// addChunks adds ops to w in chunks of n.
func addChunks(t *testing.T, w hub.SnapshotWriter, ops []hub.Op, n int) {
	t.Helper()
	for len(ops) > 0 {
		k := min(n, len(ops))
		if err := w.Add(ops[:k]); err != nil {
			t.Fatal(err)
		}
		ops = ops[k:]
	}
}

// TestSnapshotAsDiff: a snapshot of the store's site is applied as a
// diff in the current generation — one transaction, or the journal when
// it is large — keeps first uses of the codes it keeps, wins over
// batches applied while it arrived, falls back to a new generation past
// SnapshotDiffMax, and reopens as committed.
func TestSnapshotAsDiff(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer func() { s.Close() }()
	if err := s.Apply(bg, storetest.Batch(0, storetest.RichOps()...)); err != nil {
		t.Fatal(err)
	}
	used := storetest.T0.Add(time.Minute)
	if err := s.RecordFirstUse("gc-alice-15", used); err != nil {
		t.Fatal(err)
	}
	base := hub.NewCatalog()
	if err := base.Load(storetest.SiteID, storetest.RichOps()); err != nil {
		t.Fatal(err)
	}
	reopen := func() {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openTest(t, dir)
	}
	check := func(want storetest.Content, what string) {
		t.Helper()
		storetest.RequireSameContent(t, want, storetest.ContentOf(t, s), what)
		storetest.CheckInvariants(t, s)
	}

	// A small change: the guest code's expiry moves, a person goes, one
	// comes. No new generation; the first use stays.
	small := hub.NewCatalog()
	_ = small.Load(storetest.SiteID, snapshotOf(base))
	exp := storetest.T0.Add(72 * time.Hour)
	if _, err := small.Apply(storetest.SiteID, []hub.Op{
		{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-alice-15", HostID: "p-alice", KeyID: "k-101",
			Kind: hub.CodeFifteenMinute, Code: "7654321", StartsAt: storetest.T0.Add(-time.Hour), Expires: &exp}},
		{Type: hub.OpDeletePerson, ID: "p-carol"},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-dave", Email: "dave@example.com"}},
	}); err != nil {
		t.Fatal(err)
	}
	gen := s.gen
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: 2, Ops: snapshotOf(small)}); err != nil {
		t.Fatal(err)
	}
	want := loaded(t, snapshotOf(small), 2)
	check(want, "after a small diff snapshot")
	if s.gen != gen {
		t.Errorf("a diff snapshot moved the generation from %d to %d", gen, s.gen)
	}
	if u, ok := firstUseOf(s, "gc-alice-15"); !ok || !u.Equal(used) {
		t.Errorf("first use of a code the snapshot kept: %v %v, want %v", u, ok, used)
	}
	reopen()
	check(want, "after a small diff snapshot and a reopen")
	if u, ok := firstUseOf(s, "gc-alice-15"); !ok || !u.Equal(used) {
		t.Errorf("after reopen, first use of a code the snapshot kept: %v %v, want %v", u, ok, used)
	}

	// A large one: through the journal.
	big := hub.NewCatalog()
	_ = big.Load(storetest.SiteID, snapshotOf(small))
	if _, err := big.Apply(storetest.SiteID, bulkPeople("p-bulk", 2000)); err != nil {
		t.Fatal(err)
	}
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: 3, Ops: snapshotOf(big)}); err != nil {
		t.Fatal(err)
	}
	want = loaded(t, snapshotOf(big), 3)
	check(want, "after a journaled diff snapshot")
	reopen()
	check(want, "after a journaled diff snapshot and a reopen")

	// Batches while it arrives: they change records the snapshot already
	// compared (unchanged) and some it has not seen yet; the snapshot's
	// records win.
	ops := snapshotOf(small)
	w, err := s.BeginSnapshot(bg, storetest.SiteID, 10)
	if err != nil {
		t.Fatal(err)
	}
	half := len(ops) / 2
	addChunks(t, w, ops[:half], 3)
	if err := s.Apply(bg, storetest.Batch(3, hub.Op{Type: hub.OpDeletePerson, ID: "p-alice"},
		hub.Op{Type: hub.OpDeleteKey, ID: "k-102"}, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-x", Name: "X", Type: hub.DoorService}})); err != nil {
		t.Fatal(err)
	}
	addChunks(t, w, ops[half:], 3)
	if err := s.Apply(bg, storetest.Batch(4, hub.Op{Type: hub.OpRevokePerson, ID: "p-bob"})); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	want = loaded(t, ops, 10)
	check(want, "after a diff snapshot with batches in between")
	reopen()
	check(want, "after a diff snapshot with batches in between and a reopen")

	// A snapshot overtaken by a batch is refused.
	w, err = s.BeginSnapshot(bg, storetest.SiteID, 11)
	if err != nil {
		t.Fatal(err)
	}
	addChunks(t, w, ops, 5)
	for base := uint64(10); base < 12; base++ {
		if err := s.Apply(bg, storetest.Batch(base, hub.Op{Type: hub.OpRevokePerson, ID: "p-bob"})); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); !errors.Is(err, hub.ErrStaleBatch) {
		t.Errorf("Commit of an overtaken diff snapshot = %v, want ErrStaleBatch", err)
	}

	// A person takes the placeholder email ApplySnapshot gives another
	// for a moment (p-zed, second of the people the diff changes, gets
	// p1@…): the diff collides with itself, a fresh load does not, and
	// the store falls back to a new generation.
	v := s.Version()
	if err := s.Apply(bg, storetest.Batch(v, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-zed", Email: "zed@example.com"}})); err != nil {
		t.Fatal(err)
	}
	v++
	swap := hub.NewCatalog()
	_ = swap.Load(storetest.SiteID, ops)
	if _, err := swap.Apply(storetest.SiteID, []hub.Op{
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-zed", Email: "zed2@example.com"}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-aaa", Email: "p1@snapshot-swap.invalid"}},
	}); err != nil {
		t.Fatal(err)
	}
	gen = s.gen
	v++
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: v, Ops: snapshotOf(swap)}); err != nil {
		t.Fatalf("a snapshot whose diff collides with its own placeholder: %v", err)
	}
	check(loaded(t, snapshotOf(swap), v), "after a snapshot whose diff collided with itself")
	if s.gen == gen {
		t.Error("a snapshot whose diff collided with itself did not fall back to a new generation")
	}

	// Past SnapshotDiffMax: a new generation.
	s.opts.SnapshotDiffMax = 10
	gen = s.gen
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: v + 1, Ops: snapshotOf(big)}); err != nil {
		t.Fatal(err)
	}
	want = loaded(t, snapshotOf(big), v+1)
	check(want, "after a snapshot that outgrew the diff")
	if s.gen == gen {
		t.Error("a snapshot past SnapshotDiffMax kept the generation")
	}
	// Deletions past it, found at Commit.
	gen = s.gen
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: v + 2, Ops: snapshotOf(small)}); err != nil {
		t.Fatal(err)
	}
	want = loaded(t, snapshotOf(small), v+2)
	check(want, "after a snapshot deleting more than the diff may")
	if s.gen == gen {
		t.Error("a snapshot deleting past SnapshotDiffMax kept the generation")
	}
	reopen()
	check(want, "after the fallbacks and a reopen")
}

func firstUseOf(s *Store, id string) (time.Time, bool) {
	var u time.Time
	var ok bool
	s.View(func(c *hub.Catalog) { u, ok = c.FirstUse(id) })
	return u, ok
}

// TestSnapshotDiffRandomBatches: snapshots of a history's set, each a few
// versions ahead of the store, arrive in chunks while the store applies
// batches of its own that diverge from the snapshot (deletions, revokes,
// keycards toggled, new people); after Commit the store holds exactly the
// snapshot, also after a reopen.
func TestSnapshotDiffRandomBatches(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer func() { s.Close() }()
	h := newHistory()
	for h.version < 20 {
		if err := h.next(t).apply(s); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	rounds := 40
	if testing.Short() {
		rounds = 10
	}
	gen := s.gen
	for round := 0; round < rounds; round++ {
		k := 2 + rng.IntN(5)
		for i := 0; i < k; i++ {
			h.next(t) // the model moves on; the store does not
		}
		want := storetest.ContentOf(t, h.model)
		var ops []hub.Op
		h.model.View(func(c *hub.Catalog) { ops = snapshotOf(c) })
		w, err := s.BeginSnapshot(bg, storetest.SiteID, h.version)
		if err != nil {
			t.Fatal(err)
		}
		for len(ops) > 0 {
			n := min(len(ops), 1+rng.IntN(60))
			if err := w.Add(ops[:n]); err != nil {
				t.Fatalf("round %d: Add: %v", round, err)
			}
			ops = ops[n:]
			if v := s.Version(); rng.IntN(4) == 0 && v+1 < h.version {
				var bops []hub.Op
				s.View(func(c *hub.Catalog) { bops = h.smallOps(rng, c, 1_000_000+v) })
				if err := s.Apply(bg, &hub.Batch{Site: storetest.SiteID, Version: v + 1, Base: v, IssuedAt: storetest.T0, Ops: bops}); err != nil {
					t.Fatalf("round %d: diverging batch: %v", round, err)
				}
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("round %d: Commit: %v", round, err)
		}
		storetest.RequireSameContent(t, want, storetest.ContentOf(t, s), fmt.Sprintf("round %d", round))
		storetest.CheckInvariants(t, s)
		if round%10 == 9 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTest(t, dir)
			storetest.RequireSameContent(t, want, storetest.ContentOf(t, s), fmt.Sprintf("round %d, reopened", round))
		}
	}
	if s.gen != gen {
		t.Errorf("diff snapshots moved the generation from %d to %d", gen, s.gen)
	}
}
