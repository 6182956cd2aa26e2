package badgerstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// TestContractNewGeneration runs the store contract with every snapshot
// written as a new generation (SnapshotDiffMax < 0) loaded at Commit
// (SnapshotBuildMax < 0): chunks checked by a hub.SnapshotCheck as they
// arrive, the generation loaded at Commit.
func TestContractNewGeneration(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) hub.Store {
		o := testOptions()
		o.SnapshotDiffMax, o.SnapshotBuildMax = -1, -1
		s, err := Open(dir, o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}, storetest.Durable())
}

// TestSnapshotGenerationRefusedAtLoad: what only a catalog finds — two
// people with one email — passes Add (the chunk checks) and is refused by
// Commit's load of the written generation with the load's error; the
// store keeps its set, on disk too, and the written generation is
// removed.
func TestSnapshotGenerationRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	o := testOptions()
	o.SnapshotDiffMax, o.SnapshotBuildMax = -1, -1
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if err := s.Apply(bg, storetest.Batch(0, storetest.RichOps()...)); err != nil {
		t.Fatal(err)
	}
	before := storetest.ContentOf(t, s)

	w, err := s.BeginSnapshot(bg, storetest.SiteID, 5)
	if err != nil {
		t.Fatal(err)
	}
	ops := []hub.Op{{Type: hub.OpPutSite, Site: storetest.Site()},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-1", Email: "same@example.com"}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-2", Email: "Same@Example.com"}}}
	if err := w.Add(ops); err != nil {
		t.Fatalf("Add: %v (a collision is the load's to find)", err)
	}
	err = w.Commit()
	if !errors.Is(err, hub.ErrConflict) || !strings.Contains(err.Error(), "email") {
		t.Fatalf("Commit of two people with one email = %v, want ErrConflict", err)
	}
	storetest.RequireSameContent(t, before, storetest.ContentOf(t, s), "after a refused snapshot")
	if err := w.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	s.reaper.waitIdle()
	if n := countKeys(t, s, "c/"); n != len(before.Records) {
		t.Errorf("%d record keys on disk, want the %d of the current generation", n, len(before.Records))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, o); err != nil {
		t.Fatal(err)
	}
	storetest.RequireSameContent(t, before, storetest.ContentOf(t, s), "after a refused snapshot and a reopen")
}
