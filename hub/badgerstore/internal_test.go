package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

var bg = context.Background()

// countKeys counts the keys under prefix.
func countKeys(t *testing.T, s *Store, prefix string) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: false})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// applyBoth applies a batch to the store and to a MemStore reference.
func applyBoth(t *testing.T, s hub.Store, ref *hub.MemStore, b *hub.Batch) {
	t.Helper()
	if err := ref.Apply(bg, b); err != nil {
		t.Fatalf("reference Apply %d: %v", b.Version, err)
	}
	if err := s.Apply(bg, b); err != nil {
		t.Fatalf("Apply %d: %v", b.Version, err)
	}
}

// bulkPeople returns puts of n people, each with a keycard and a grant of
// key k-101 of the rich fixture.
func bulkPeople(prefix string, n int) []hub.Op {
	var ops []hub.Op
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		ops = append(ops,
			hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.com", Name: "Bulk Person " + id}},
			hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%08x%04x", i, len(prefix)), OwnerID: id, Active: true}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: "k-101",
				StartsAt: storetest.T0, Method: hub.MethodApp}},
		)
	}
	return ops
}

// TestJournal applies batches too large for one Badger transaction: a
// bulk import and a cascade deleting thousands of records.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	ref := hub.NewMemStore()
	applyBoth(t, s, ref, storetest.Batch(0, storetest.RichOps()...))
	applyBoth(t, s, ref, storetest.Batch(1, bulkPeople("p-bulk", 1500)...)) // 4500 records
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s), "after a bulk batch")
	applyBoth(t, s, ref, storetest.Batch(2, hub.Op{Type: hub.OpDeleteKey, ID: "k-101"})) // 1500+ grants go
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s), "after a bulk cascade")
	s.reaper.waitIdle()
	if n := countKeys(t, s, prefixJournal); n != 0 {
		t.Errorf("%d journal keys left after replay", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dir)
	defer s2.Close()
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s2), "after reopen")
}

// TestJournalReplayedByOpen stops a journaled batch right after its
// commit point, as a crash would: the store refuses further writes, and
// the next Open finishes the batch.
func TestJournalReplayedByOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	ref := hub.NewMemStore()
	applyBoth(t, s, ref, storetest.Batch(0, storetest.RichOps()...))
	s.testHookJournaled = func() error { return errors.New("power cut") }
	b := storetest.Batch(1, bulkPeople("p-bulk", 1000)...)
	if err := s.Apply(bg, b); err == nil {
		t.Fatal("Apply with an interrupted journal succeeded")
	}
	if err := ref.Apply(bg, b); err != nil {
		t.Fatal(err)
	}
	// Committed: readers see it, the version moved; writes are refused.
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s), "after the commit point")
	if err := s.Apply(bg, storetest.Batch(2, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"})); !errors.Is(err, ErrBroken) {
		t.Fatalf("Apply after a failed replay = %v, want ErrBroken", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dir)
	defer s2.Close()
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s2), "after Open replayed the journal")
	applyBoth(t, s2, ref, storetest.Batch(2, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"}))
	s2.reaper.waitIdle()
	if n := countKeys(t, s2, prefixJournal); n != 0 {
		t.Errorf("%d journal keys left", n)
	}
	var j []byte
	_ = s2.db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get([]byte(keyJournal)); err == nil {
			j, _ = item.ValueCopy(nil)
		}
		return nil
	})
	if j != nil {
		t.Errorf("m/journal still set: %x", j)
	}
}

// TestPersistFailureRollsBack fails the disk write of a valid batch: the
// catalog goes back to what the disk holds.
func TestPersistFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	defer s.Close()
	ref := hub.NewMemStore()
	applyBoth(t, s, ref, storetest.Batch(0, storetest.RichOps()...))
	var gen uint64
	s.View(func(c *hub.Catalog) { gen = c.Generation() })
	s.testHookPersist = func() error { return errors.New("disk full") }
	err := s.Apply(bg, storetest.Batch(1, hub.Op{Type: hub.OpDeletePerson, ID: "p-alice"}))
	if err == nil {
		t.Fatal("Apply with a failing disk succeeded")
	}
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s), "after a failed write")
	s.View(func(c *hub.Catalog) {
		if c.Generation() <= gen {
			t.Errorf("generation %d after the reload, want above %d (caches must see the change)", c.Generation(), gen)
		}
	})
	s.testHookPersist = nil
	applyBoth(t, s, ref, storetest.Batch(1, hub.Op{Type: hub.OpDeletePerson, ID: "p-alice"}))
	storetest.RequireSameContent(t, storetest.ContentOf(t, ref), storetest.ContentOf(t, s), "after the retry")
}

// TestGenerationsRemoved checks that replaced, aborted and orphaned
// generations are removed from disk.
func TestGenerationsRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.opts.SnapshotDiffMax = -1 // every snapshot writes a new generation
	if err := s.Apply(bg, storetest.Batch(0, storetest.RichOps()...)); err != nil {
		t.Fatal(err)
	}
	records := countKeys(t, s, prefixRecords)

	// A committed snapshot replaces generation 1.
	if err := hub.Replace(bg, s, &hub.Snapshot{Site: storetest.SiteID, Version: 2, Ops: storetest.RichOps()}); err != nil {
		t.Fatal(err)
	}
	s.reaper.waitIdle()
	if n := countKeys(t, s, string(genPrefix(1))); n != 0 {
		t.Errorf("%d keys of the replaced generation left", n)
	}
	if n := countKeys(t, s, prefixRecords); n != records {
		t.Errorf("%d record keys, want %d", n, records)
	}

	// An aborted snapshot leaves nothing.
	w, err := s.BeginSnapshot(bg, storetest.SiteID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(storetest.RichOps()); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	s.reaper.waitIdle()
	if n := countKeys(t, s, prefixRecords); n != records {
		t.Errorf("after an abort: %d record keys, want %d", n, records)
	}

	// A snapshot interrupted by Close is removed by the next Open. It is
	// large enough for some of its keys to be on disk already.
	w, err = s.BeginSnapshot(bg, storetest.SiteID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(append(storetest.RichOps(), bulkPeople("p-bulk", 1000)...)); err != nil {
		t.Fatal(err)
	}
	if g := w.(*snapshot).gen; g != 4 {
		t.Fatalf("snapshot generation %d, want 4", g)
	}
	time.Sleep(10 * time.Millisecond)
	if n := countKeys(t, s, string(genPrefix(4))); n == 0 {
		t.Fatal("the interrupted snapshot has no keys on disk yet")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	s.opts.SnapshotDiffMax = -1
	defer s.Close()
	s.reaper.waitIdle()
	if n := countKeys(t, s, prefixRecords); n != records {
		t.Errorf("after reopen: %d record keys, want %d", n, records)
	}
	// Generation numbers with keys on disk are never reused.
	w, err = s.BeginSnapshot(bg, storetest.SiteID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if g := w.(*snapshot).gen; g <= 4 {
		t.Errorf("new generation %d, want above the generations used before (4)", g)
	}
	w.Abort()
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatalf("DefaultOptions: %v", err)
	}
	for name, mod := range map[string]func(*Options){
		"ValueLogFileSize": func(o *Options) { o.ValueLogFileSize = 1 << 30 },
		"NumCompactors":    func(o *Options) { o.NumCompactors = 1 },
		"ValueThreshold":   func(o *Options) { o.ValueThreshold = o.MemTableSize },
		"GCDiscardRatio":   func(o *Options) { o.GCDiscardRatio = 1 },
		"MemTableSize":     func(o *Options) { o.MemTableSize = 1000 },
		"BaseLevelSize":    func(o *Options) { o.BaseLevelSize = o.BaseTableSize - 1 },
		"BaseTableSize":    func(o *Options) { o.BaseTableSize = 1 << 10 },
	} {
		o := DefaultOptions()
		mod(&o)
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: Validate accepted a bad value", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the field", name, err)
		}
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("%s: Open accepted a bad value", name)
		}
	}
}

func TestSizeAndGC(t *testing.T) {
	o := testOptions()
	o.GCInterval = 10 * time.Millisecond
	s, err := Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(bg, storetest.Batch(0, storetest.RichOps()...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a few GC rounds run and stop with Close
	sz, err := s.Size()
	if err != nil {
		t.Fatal(err)
	}
	if sz.MemTables == 0 && sz.LSM == 0 {
		t.Errorf("Size = %+v, want some bytes", sz)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBadgerLogs checks Badger's lines reach slog at the right level:
// warnings and errors as such, info only at debug.
func TestBadgerLogs(t *testing.T) {
	var buf strings.Builder
	l := slogAdapter{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	l.Infof("compaction %d done\n", 1)
	l.Debugf("noise")
	l.Warningf("value log %s\n", "full")
	l.Errorf("disk %s", "gone")
	got := buf.String()
	if strings.Contains(got, "compaction") || strings.Contains(got, "noise") {
		t.Errorf("info or debug lines at warn level: %q", got)
	}
	if !strings.Contains(got, `level=WARN msg="value log full"`) || !strings.Contains(got, `level=ERROR msg="disk gone"`) {
		t.Errorf("warnings and errors missing or mangled: %q", got)
	}
}
