// Package storetest is the contract every hub.Store implementation passes:
// one suite, run against hub.MemStore (memstore_test.go) and against the
// durable Badger store (hub/badgerstore), in the manner of litestream's
// RunWithReplicaClient.
//
// The suite checks what docs/access-rules.md ("Changes") and the hub.Store
// documentation promise: versioned batches applied all or nothing, the
// version rules, cascades, atomic snapshots, first uses of guest codes, the
// clock floor, Close; and for durable stores, that all of it survives a
// reopen. Every comparison of content goes through Catalog.Records, so a
// store is judged by what it holds, not by how.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Opener opens the store kept in dir. The suite gives every test its own
// empty dir; for a durable store it calls the opener again on the same dir
// after Close to check what survived.
type Opener func(t *testing.T, dir string) hub.Store

// Option configures Run.
type Option func(*config)

type config struct {
	durable bool
}

// Durable declares that the store keeps its content in dir across Close
// and a new Open: the suite then also checks that everything survives a
// reopen.
func Durable() Option { return func(c *config) { c.durable = true } }

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open Opener, opts ...Option) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	s := &suite{open: open, durable: cfg.durable}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"EmptyStore", s.testEmpty},
		{"ApplyMovesVersion", s.testApply},
		{"StaleBatch", s.testStale},
		{"VersionGap", s.testGap},
		{"WrongSite", s.testWrongSite},
		{"InvalidBatchChangesNothing", s.testInvalidBatch},
		{"Cascades", s.testCascades},
		{"Snapshot", s.testSnapshot},
		{"SnapshotAbort", s.testSnapshotAbort},
		{"SnapshotRefused", s.testSnapshotRefused},
		{"SnapshotConcurrentReaders", s.testSnapshotReaders},
		{"FirstUse", s.testFirstUse},
		{"Floor", s.testFloor},
		{"Close", s.testClose},
		{"Decide", s.testDecide},
		{"Reopen", s.testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open    Opener
	durable bool
}

// openStore opens a store on a fresh dir. At cleanup it checks the
// invariant every store keeps (its content loads into a fresh catalog:
// referential integrity holds) and closes the store.
func (s *suite) openStore(t *testing.T) (hub.Store, string) {
	t.Helper()
	dir := t.TempDir()
	return s.openAt(t, dir), dir
}

func (s *suite) openAt(t *testing.T, dir string) hub.Store {
	t.Helper()
	st := s.open(t, dir)
	if st == nil {
		t.Fatal("opener returned a nil store")
	}
	t.Cleanup(func() {
		CheckInvariants(t, st)
		_ = st.Close()
	})
	return st
}

// reopen closes st and opens the same dir again.
func (s *suite) reopen(t *testing.T, st hub.Store, dir string) hub.Store {
	t.Helper()
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return s.openAt(t, dir)
}

var ctx = context.Background()

// Content is a store's version and every record, one line per record in
// the order of Catalog.Records, for comparisons.
type Content struct {
	Version uint64
	Records []string
}

func (c Content) String() string {
	return fmt.Sprintf("version %d, %d records:\n%s", c.Version, len(c.Records), strings.Join(c.Records, "\n"))
}

// ContentOf reads a store's version and records.
func ContentOf(t testing.TB, st hub.Store) Content {
	t.Helper()
	c := Content{Version: st.Version()}
	var err error
	st.View(func(cat *hub.Catalog) { c.Records, err = RecordLines(cat) })
	if err != nil {
		t.Fatalf("reading records: %v", err)
	}
	return c
}

// RecordLines renders every record of a catalog, one line each.
func RecordLines(cat *hub.Catalog) ([]string, error) {
	var out []string
	err := cat.Records(func(op hub.Op) error {
		b, err := json.Marshal(op)
		if err != nil {
			return err
		}
		out = append(out, string(b))
		return nil
	})
	return out, err
}

// RequireSameContent fails the test when two contents differ, naming the
// first differing record.
func RequireSameContent(t testing.TB, want, got Content, what string) {
	t.Helper()
	if want.Version != got.Version {
		t.Fatalf("%s: version %d, want %d", what, got.Version, want.Version)
	}
	n := min(len(want.Records), len(got.Records))
	for i := 0; i < n; i++ {
		if want.Records[i] != got.Records[i] {
			t.Fatalf("%s: record %d differs:\n got %s\nwant %s", what, i, got.Records[i], want.Records[i])
		}
	}
	if len(want.Records) != len(got.Records) {
		t.Fatalf("%s: %d records, want %d (first extra: %s)", what, len(got.Records), len(want.Records),
			extra(want.Records, got.Records))
	}
}

func extra(a, b []string) string {
	if len(a) > len(b) {
		return "missing " + a[len(b)]
	}
	return "unexpected " + b[len(a)]
}

// CheckInvariants checks that a store's content is a consistent set: it
// loads into a fresh catalog (every reference resolves, emails and public
// keys are unique) and reads back the same.
func CheckInvariants(t testing.TB, st hub.Store) {
	t.Helper()
	var ops []hub.Op
	var site string
	st.View(func(c *hub.Catalog) {
		if c.Site() != nil {
			site = c.Site().ID
		}
		_ = c.Records(func(op hub.Op) error { ops = append(ops, op); return nil })
	})
	if len(ops) == 0 {
		return
	}
	fresh := hub.NewCatalog()
	if err := fresh.Load(site, ops); err != nil {
		t.Errorf("invariant: the store's records do not load into a fresh catalog: %v", err)
		return
	}
	got, _ := RecordLines(fresh)
	var want []string
	st.View(func(c *hub.Catalog) { want, _ = RecordLines(c) })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("invariant: reloading the store's records gives another set")
	}
}

func mustApply(t *testing.T, st hub.Store, b *hub.Batch) {
	t.Helper()
	if err := st.Apply(ctx, b); err != nil {
		t.Fatalf("Apply version %d: %v", b.Version, err)
	}
}

// seed applies the rich fixture as version 1.
func seed(t *testing.T, st hub.Store) {
	t.Helper()
	mustApply(t, st, Batch(0, RichOps()...))
}

func (s *suite) testEmpty(t *testing.T) {
	st, dir := s.openStore(t)
	if v := st.Version(); v != 0 {
		t.Fatalf("Version of an empty store = %d, want 0", v)
	}
	st.View(func(c *hub.Catalog) {
		if c.Site() != nil {
			t.Error("an empty store has a site")
		}
		if n := c.Counts(); n != (hub.Counts{}) {
			t.Errorf("an empty store counts %+v", n)
		}
	})
	if c := ContentOf(t, st); len(c.Records) != 0 {
		t.Fatalf("an empty store holds records: %v", c)
	}
	if s.durable {
		st = s.reopen(t, st, dir)
		if v := st.Version(); v != 0 {
			t.Fatalf("Version after reopening an empty store = %d, want 0", v)
		}
	}
}

func (s *suite) testApply(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	if v := st.Version(); v != 1 {
		t.Fatalf("Version = %d, want 1", v)
	}
	want := hub.NewCatalog()
	if err := want.Load(SiteID, RichOps()); err != nil {
		t.Fatal(err)
	}
	wantLines, _ := RecordLines(want)
	RequireSameContent(t, Content{1, wantLines}, ContentOf(t, st), "after the first batch")

	// A second batch edits, adds and deletes; the catalog follows.
	mustApply(t, st, Batch(1,
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "c0c0c0c0", OwnerID: "p-carol", Active: true}},
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-erin", Email: "erin@example.com"}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-erin", PersonID: "p-erin", KeyID: "k-102",
			StartsAt: T0, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpDeleteTour, ID: "t-1"},
	))
	if v := st.Version(); v != 2 {
		t.Fatalf("Version = %d, want 2", v)
	}
	st.View(func(c *hub.Catalog) {
		if k := c.Keycard("c0c0c0c0"); k == nil || !k.Active {
			t.Errorf("keycard not activated: %+v", k)
		}
		if g := c.Grant("g-erin"); g == nil || g.PersonID != "p-erin" {
			t.Errorf("grant g-erin = %+v", g)
		}
		if p := c.PersonByEmail("ERIN@example.com"); p == nil || p.ID != "p-erin" {
			t.Errorf("PersonByEmail = %+v", p)
		}
		if c.Tour("t-1") != nil {
			t.Error("tour t-1 still there")
		}
	})
	if s.durable {
		before := ContentOf(t, st)
		st = s.reopen(t, st, dir)
		RequireSameContent(t, before, ContentOf(t, st), "after reopen")
	}
}

func (s *suite) testStale(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	door := hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-new", Name: "New", Type: hub.DoorService}}
	mustApply(t, st, Batch(1, door))
	before := ContentOf(t, st)
	for _, b := range []*hub.Batch{
		Batch(1, door), // a duplicate of version 2
		Batch(0, door), // an old version
		{Site: SiteID, Version: 2, Base: 0, Ops: []hub.Op{door}},
	} {
		err := st.Apply(ctx, b)
		if !errors.Is(err, hub.ErrStaleBatch) {
			t.Errorf("Apply(version %d, base %d) at version 2 = %v, want ErrStaleBatch", b.Version, b.Base, err)
		}
	}
	RequireSameContent(t, before, ContentOf(t, st), "after stale batches")
}

func (s *suite) testGap(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	before := ContentOf(t, st)
	door := hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-new", Name: "New", Type: hub.DoorService}}
	for _, base := range []uint64{2, 5} {
		err := st.Apply(ctx, Batch(base, door))
		if !errors.Is(err, hub.ErrVersionGap) {
			t.Errorf("Apply(base %d) at version 1 = %v, want ErrVersionGap", base, err)
		}
	}
	RequireSameContent(t, before, ContentOf(t, st), "after batches with a gap")
	// The batch the store misses still applies.
	mustApply(t, st, Batch(1, door))
}

func (s *suite) testWrongSite(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	before := ContentOf(t, st)
	door := hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-new", Name: "New", Type: hub.DoorService}}
	other := &hub.Batch{Site: "site-2", Version: 2, Base: 1, Ops: []hub.Op{door}}
	if err := st.Apply(ctx, other); !errors.Is(err, hub.ErrWrongSite) {
		t.Errorf("Apply of another site's batch = %v, want ErrWrongSite", err)
	}
	site2 := Site()
	site2.ID = "site-2"
	inner := Batch(1, door, hub.Op{Type: hub.OpPutSite, Site: site2})
	if err := st.Apply(ctx, inner); !errors.Is(err, hub.ErrWrongSite) {
		t.Errorf("Apply of a batch putting another site = %v, want ErrWrongSite", err)
	}
	RequireSameContent(t, before, ContentOf(t, st), "after another site's batches")
}

func (s *suite) testInvalidBatch(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	// Each batch starts with valid ops that change the set, so that a
	// store which does not roll back shows it.
	valid := []hub.Op{
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-new", Name: "New", Type: hub.DoorService}},
		{Type: hub.OpDeletePerson, ID: "p-carol"},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-101", Name: "Changed", Doors: []string{"d-new"}}},
	}
	cases := []struct {
		name string
		bad  hub.Op
		is   error
		says []string // what the error must name
	}{
		{"malformed op", hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-x", Name: "X", Type: "garage"}},
			hub.ErrInvalid, []string{"ops[3]", "door.type"}},
		{"unknown op", hub.Op{Type: "put_elevator", ID: "e-1"}, hub.ErrInvalid, []string{"ops[3]", "put_elevator"}},
		{"op with two records", hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-x", Name: "X", Type: hub.DoorService},
			Key: &hub.Key{ID: "k-x", Name: "X"}}, hub.ErrInvalid, []string{"ops[3]", "put_door"}},
		{"grant for an unknown key", hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-x", PersonID: "p-alice",
			KeyID: "k-missing", StartsAt: T0, Method: hub.MethodApp}}, hub.ErrNotFound, []string{"ops[3]", "grant.key_id", "k-missing"}},
		{"grant for a person deleted earlier in the batch", hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-x",
			PersonID: "p-carol", KeyID: "k-101", StartsAt: T0, Method: hub.MethodApp}}, hub.ErrNotFound, []string{"ops[3]", "grant.person_id"}},
		{"key with an unknown door", hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-x", Name: "X", Doors: []string{"d-gym", "d-nope"}}},
			hub.ErrNotFound, []string{"ops[3]", "key.doors[1]"}},
		{"email differing only in case", hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-eve", Email: "ALICE@example.COM"}},
			hub.ErrConflict, []string{"ops[3]", "person.email"}},
		{"public key of another device", hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: "dev-x", OwnerID: "p-bob",
			PublicKey: PublicKey("alice")}}, hub.ErrConflict, []string{"ops[3]", "device.public_key"}},
		{"keycard of an unknown owner", hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "dddddddd", OwnerID: "p-zed"}},
			hub.ErrNotFound, []string{"ops[3]", "keycard.owner_id"}},
		{"guest code of the wrong length", hub.Op{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-x", HostID: "p-alice",
			KeyID: "k-building", Kind: hub.CodeSingleDay, Code: "12345", Date: "2025-03-02"}}, hub.ErrInvalid, []string{"ops[3]", "guest_code.code"}},
		{"deleting a missing door", hub.Op{Type: hub.OpDeleteDoor, ID: "d-nope"}, hub.ErrNotFound, []string{"ops[3]", "d-nope"}},
		{"deleting a missing grant", hub.Op{Type: hub.OpDeleteGrant, ID: "g-nope"}, hub.ErrNotFound, []string{"ops[3]", "g-nope"}},
		{"deleting a person twice", hub.Op{Type: hub.OpDeletePerson, ID: "p-carol"}, hub.ErrNotFound, []string{"ops[3]", "p-carol"}},
		{"revoking a missing person", hub.Op{Type: hub.OpRevokePerson, ID: "p-nope"}, hub.ErrNotFound, []string{"ops[3]", "p-nope"}},
		{"deleting a missing keycard", hub.Op{Type: hub.OpDeleteKeycard, ID: "eeeeeeee"}, hub.ErrNotFound, []string{"ops[3]"}},
	}
	before := ContentOf(t, st)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops := append(append([]hub.Op(nil), valid...), tc.bad,
				hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-after", Name: "After", Type: hub.DoorService}})
			err := st.Apply(ctx, Batch(1, ops...))
			if err == nil {
				t.Fatal("Apply of an invalid batch succeeded")
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("Apply = %v, want an error wrapping %v", err, tc.is)
			}
			for _, w := range tc.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			RequireSameContent(t, before, ContentOf(t, st), "after an invalid batch")
		})
	}
	if s.durable {
		st = s.reopen(t, st, dir)
		RequireSameContent(t, before, ContentOf(t, st), "after invalid batches and a reopen")
	}
	// The store still takes the next valid batch.
	mustApply(t, st, Batch(1, valid...))
}

// cascade describes a delete and what it must do to the rich fixture.
type cascade struct {
	op      hub.Op
	removed []string          // "kind/id" of records that must go
	changed map[string]hub.Op // "kind/id" -> the record's new state
}

func (s *suite) testCascades(t *testing.T) {
	aliceGuestAccess := []string{"guest_grant/gg-bob-at-alice", "guest_grant/gg-walker",
		"guest_code/gc-alice-day", "guest_code/gc-alice-15"}
	aliceRevoked := append([]string{"grant/g-alice-101", "grant/g-alice-building"}, aliceGuestAccess...)
	cases := map[string]cascade{
		"revoke_person": {
			op:      hub.Op{Type: hub.OpRevokePerson, ID: "p-alice"},
			removed: aliceRevoked,
		},
		"delete_person": {
			op: hub.Op{Type: hub.OpDeletePerson, ID: "p-alice"},
			removed: append(append([]string(nil), aliceRevoked...), "guest_grant/gg-alice-at-bob",
				"keycard/a1a1a1a1", "device/dev-alice", "person/p-alice"),
		},
		"delete_key": {
			op: hub.Op{Type: hub.OpDeleteKey, ID: "k-building"},
			removed: []string{"key/k-building", "grant/g-alice-building", "grant/g-carol-building",
				"guest_grant/gg-walker", "guest_code/gc-alice-day", "tour/t-1"},
			changed: map[string]hub.Op{
				"tour/t-2": {Type: hub.OpPutTour, Tour: &hub.Tour{ID: "t-2", Integration: "tourco", Code: "5550002",
					StartsAt: at(time.Hour), EndsAt: at(2 * time.Hour), Keys: []string{"k-101"}}},
				"allowlist/tourco": {Type: hub.OpPutAllowlist, Allowlist: &hub.Allowlist{Integration: "tourco", Keys: []string{"k-101"}}},
			},
		},
		"delete_door": {
			op:      hub.Op{Type: hub.OpDeleteDoor, ID: "d-entrance"},
			removed: []string{"door/d-entrance"},
			changed: map[string]hub.Op{
				"key/k-building": {Type: hub.OpPutKey, Key: &hub.Key{ID: "k-building", Name: "Building", Doors: []string{"d-gym"},
					DoorcodesAllowed: true, MayShareAllowed: true}},
				"key/k-101": {Type: hub.OpPutKey, Key: &hub.Key{ID: "k-101", Name: "Apartment 101", Doors: []string{"d-101"},
					DoorcodesAllowed: true, MayShareAllowed: true}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st, dir := s.openStore(t)
			seed(t, st)
			want := recordMap(t, st)
			for _, k := range tc.removed {
				if _, ok := want[k]; !ok {
					t.Fatalf("fixture has no %s", k)
				}
				delete(want, k)
			}
			for k, op := range tc.changed {
				b, _ := json.Marshal(op)
				want[k] = string(b)
			}
			mustApply(t, st, Batch(1, tc.op))
			requireRecordMap(t, want, recordMap(t, st))
			if name == "revoke_person" {
				// A revoked person stays known and can be granted again.
				mustApply(t, st, Batch(2, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-alice-again",
					PersonID: "p-alice", KeyID: "k-101", StartsAt: T0, Method: hub.MethodApp}}))
			}
			if s.durable {
				before := ContentOf(t, st)
				st = s.reopen(t, st, dir)
				RequireSameContent(t, before, ContentOf(t, st), "after a cascade and a reopen")
			}
		})
	}
}

// recordMap maps "kind/id" of every record to its JSON (as an op).
func recordMap(t *testing.T, st hub.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	st.View(func(c *hub.Catalog) {
		_ = c.Records(func(op hub.Op) error {
			b, err := json.Marshal(op)
			if err != nil {
				t.Fatal(err)
			}
			out[opKey(op)] = string(b)
			return nil
		})
	})
	return out
}

func opKey(op hub.Op) string {
	switch {
	case op.Site != nil:
		return "site/" + op.Site.ID
	case op.Door != nil:
		return "door/" + op.Door.ID
	case op.Key != nil:
		return "key/" + op.Key.ID
	case op.Person != nil:
		return "person/" + op.Person.ID
	case op.Grant != nil:
		return "grant/" + op.Grant.ID
	case op.GuestGrant != nil:
		return "guest_grant/" + op.GuestGrant.ID
	case op.Keycard != nil:
		return "keycard/" + op.Keycard.CardID
	case op.Device != nil:
		return "device/" + op.Device.ID
	case op.GuestCode != nil:
		return "guest_code/" + op.GuestCode.ID
	case op.Tour != nil:
		return "tour/" + op.Tour.ID
	case op.Allowlist != nil:
		return "allowlist/" + op.Allowlist.Integration
	}
	return "unknown/" + string(op.Type)
}

func requireRecordMap(t *testing.T, want, got map[string]string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s is gone, want it kept", k)
		case g != w:
			t.Errorf("%s:\n got %s\nwant %s", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s is still there, want it removed", k)
		}
	}
}

// snapshotOps is a set that differs from the rich fixture: the site with
// another name, some doors gone, new people.
func snapshotOps() []hub.Op {
	site := Site()
	site.Name = "Elm Street 1 (resynced)"
	ops := []hub.Op{
		{Type: hub.OpPutSite, Site: site},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-entrance", Name: "Main entrance", Type: hub.DoorEntrance}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-201", Name: "Apartment 201", Type: hub.DoorResidence}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-201", Name: "Apartment 201", Doors: []string{"d-entrance", "d-201"},
			DoorcodesAllowed: true, MayShareAllowed: true}},
	}
	for i := 0; i < 25; i++ {
		p := fmt.Sprintf("p-%02d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.com"}})
	}
	for i := 0; i < 25; i++ {
		p := fmt.Sprintf("p-%02d", i)
		ops = append(ops,
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + p, PersonID: p, KeyID: "k-201",
				Resident: i%2 == 0, StartsAt: T0, Method: hub.MethodApp}},
		)
	}
	for i := 0; i < 25; i++ {
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{
			CardID: fmt.Sprintf("%08x", uint32(0xf0000000)+uint32(i)), OwnerID: fmt.Sprintf("p-%02d", i), Active: true}})
	}
	ops = append(ops, hub.Op{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-p-00", HostID: "p-00",
		KeyID: "k-201", Kind: hub.CodeFifteenMinute, Code: "4444444", StartsAt: T0, Expires: ptr(at(time.Hour))}})
	return ops
}

func chunks(ops []hub.Op, n int) [][]hub.Op {
	var out [][]hub.Op
	size := (len(ops) + n - 1) / n
	for len(ops) > 0 {
		k := min(size, len(ops))
		out = append(out, ops[:k])
		ops = ops[k:]
	}
	return out
}

func loadLines(t *testing.T, ops []hub.Op) []string {
	t.Helper()
	c := hub.NewCatalog()
	if err := c.Load(SiteID, ops); err != nil {
		t.Fatal(err)
	}
	lines, _ := RecordLines(c)
	return lines
}

func (s *suite) testSnapshot(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	mustApply(t, st, Batch(1, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"}))
	old := ContentOf(t, st)

	w, err := st.BeginSnapshot(ctx, SiteID, 7)
	if err != nil {
		t.Fatalf("BeginSnapshot: %v", err)
	}
	for i, chunk := range chunks(snapshotOps(), 4) {
		if err := w.Add(chunk); err != nil {
			t.Fatalf("Add chunk %d: %v", i, err)
		}
		// Until Commit, readers see the old set at the old version.
		RequireSameContent(t, old, ContentOf(t, st), fmt.Sprintf("during the snapshot, after chunk %d", i))
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	want := Content{7, loadLines(t, snapshotOps())}
	RequireSameContent(t, want, ContentOf(t, st), "after the snapshot")

	// Batches continue from the snapshot's version.
	if err := st.Apply(ctx, Batch(2, hub.Op{Type: hub.OpDeleteGrant, ID: "g-p-01"})); !errors.Is(err, hub.ErrStaleBatch) {
		t.Errorf("Apply of version 3 after snapshot 7 = %v, want ErrStaleBatch", err)
	}
	mustApply(t, st, Batch(7, hub.Op{Type: hub.OpDeleteGrant, ID: "g-p-01"}))

	// A snapshot at the store's own version is a resync: it applies.
	if err := hub.Replace(ctx, st, &hub.Snapshot{Site: SiteID, Version: 8, Ops: snapshotOps()}); err != nil {
		t.Fatalf("Replace at the store's version: %v", err)
	}
	RequireSameContent(t, Content{8, want.Records}, ContentOf(t, st), "after a resync snapshot")

	if s.durable {
		st = s.reopen(t, st, dir)
		RequireSameContent(t, Content{8, want.Records}, ContentOf(t, st), "after a snapshot and a reopen")
		mustApply(t, st, Batch(8, hub.Op{Type: hub.OpDeleteGrant, ID: "g-p-02"}))
	}
}

func (s *suite) testSnapshotAbort(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	old := ContentOf(t, st)
	w, err := st.BeginSnapshot(ctx, SiteID, 5)
	if err != nil {
		t.Fatalf("BeginSnapshot: %v", err)
	}
	for _, chunk := range chunks(snapshotOps(), 3) {
		if err := w.Add(chunk); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	w.Abort()
	RequireSameContent(t, old, ContentOf(t, st), "after an aborted snapshot")
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	RequireSameContent(t, old, ContentOf(t, st), "after Commit of an aborted snapshot")
	mustApply(t, st, Batch(1, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"}))
	if s.durable {
		before := ContentOf(t, st)
		st = s.reopen(t, st, dir)
		RequireSameContent(t, before, ContentOf(t, st), "after an aborted snapshot and a reopen")
	}
}

func (s *suite) testSnapshotRefused(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	mustApply(t, st, Batch(1, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"}))
	old := ContentOf(t, st)

	t.Run("stale version", func(t *testing.T) {
		if _, err := st.BeginSnapshot(ctx, SiteID, 1); !errors.Is(err, hub.ErrStaleBatch) {
			t.Errorf("BeginSnapshot(version 1) at version 2 = %v, want ErrStaleBatch", err)
		}
	})
	t.Run("version zero", func(t *testing.T) {
		if _, err := st.BeginSnapshot(ctx, SiteID, 0); !errors.Is(err, hub.ErrInvalid) {
			t.Errorf("BeginSnapshot(version 0) = %v, want ErrInvalid", err)
		}
	})
	t.Run("without site", func(t *testing.T) {
		ops := snapshotOps()[1:] // everything but put_site
		w, err := st.BeginSnapshot(ctx, SiteID, 9)
		if err != nil {
			t.Fatalf("BeginSnapshot: %v", err)
		}
		// Doors and keys load without a site; the guest code needs it.
		if err := w.Add(ops[:3]); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := w.Commit(); !errors.Is(err, hub.ErrInvalid) {
			t.Errorf("Commit of a snapshot without site = %v, want ErrInvalid", err)
		}
	})
	t.Run("delete in a snapshot", func(t *testing.T) {
		w, err := st.BeginSnapshot(ctx, SiteID, 9)
		if err != nil {
			t.Fatalf("BeginSnapshot: %v", err)
		}
		if err := w.Add(snapshotOps()[:4]); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := w.Add([]hub.Op{{Type: hub.OpDeleteDoor, ID: "d-201"}}); !errors.Is(err, hub.ErrInvalid) {
			t.Errorf("Add of a delete = %v, want ErrInvalid", err)
		}
		if err := w.Commit(); err == nil {
			t.Error("Commit after a failed Add succeeded")
		}
	})
	t.Run("broken reference", func(t *testing.T) {
		w, err := st.BeginSnapshot(ctx, SiteID, 9)
		if err != nil {
			t.Fatalf("BeginSnapshot: %v", err)
		}
		err = w.Add([]hub.Op{{Type: hub.OpPutSite, Site: Site()},
			{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-x", PersonID: "p-x", KeyID: "k-x", StartsAt: T0, Method: hub.MethodApp}}})
		if !errors.Is(err, hub.ErrNotFound) || !strings.Contains(err.Error(), "ops[1]") {
			t.Errorf("Add with a grant of an unknown person = %v, want ErrNotFound naming ops[1]", err)
		}
		w.Abort()
	})
	t.Run("overtaken by a batch", func(t *testing.T) {
		w, err := st.BeginSnapshot(ctx, SiteID, 3)
		if err != nil {
			t.Fatalf("BeginSnapshot: %v", err)
		}
		if err := w.Add(snapshotOps()); err != nil {
			t.Fatalf("Add: %v", err)
		}
		door := hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-new", Name: "New", Type: hub.DoorService}}
		mustApply(t, st, Batch(2, door))
		mustApply(t, st, Batch(3, hub.Op{Type: hub.OpDeleteDoor, ID: "d-new"}))
		if err := w.Commit(); !errors.Is(err, hub.ErrStaleBatch) {
			t.Errorf("Commit of snapshot 3 at version 4 = %v, want ErrStaleBatch", err)
		}
	})
	after := ContentOf(t, st)
	RequireSameContent(t, Content{4, old.Records}, after, "after refused snapshots")
	if s.durable {
		st = s.reopen(t, st, dir)
		RequireSameContent(t, after, ContentOf(t, st), "after refused snapshots and a reopen")
	}
}

// testSnapshotReaders reads the store from other goroutines while a
// snapshot commits and batches apply: every read sees one whole set.
func (s *suite) testSnapshotReaders(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	var oldCounts, newCounts hub.Counts
	st.View(func(c *hub.Catalog) { oldCounts = c.Counts() })
	nc := hub.NewCatalog()
	if err := nc.Load(SiteID, snapshotOps()); err != nil {
		t.Fatal(err)
	}
	newCounts = nc.Counts()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st.View(func(c *hub.Catalog) {
					n := c.Counts()
					n.Grants = 0 // batches below change only grants
					o, w := oldCounts, newCounts
					o.Grants, w.Grants = 0, 0
					if n != o && n != w {
						mu.Lock()
						bad = append(bad, fmt.Sprintf("%+v", n))
						mu.Unlock()
					}
				})
				_ = st.Version()
			}
		}()
	}
	w, err := st.BeginSnapshot(ctx, SiteID, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range chunks(snapshotOps(), 5) {
		if err := w.Add(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for v := uint64(10); v < 20; v++ {
		id := fmt.Sprintf("g-extra-%d", v)
		mustApply(t, st, Batch(v, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: id, PersonID: "p-03",
			KeyID: "k-201", StartsAt: T0, Method: hub.MethodApp}}))
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("readers saw %d mixed sets, first %s (old %+v, new %+v)", len(bad), bad[0], oldCounts, newCounts)
	}
	if v := st.Version(); v != 20 {
		t.Fatalf("Version = %d, want 20", v)
	}
}

func firstUse(st hub.Store, id string) (time.Time, bool) {
	var u time.Time
	var ok bool
	st.View(func(c *hub.Catalog) { u, ok = c.FirstUse(id) })
	return u, ok
}

func (s *suite) testFirstUse(t *testing.T) {
	st, dir := s.openStore(t)
	seed(t, st)
	t1, t2 := at(10*time.Minute), at(11*time.Minute)
	if _, ok := firstUse(st, "gc-alice-15"); ok {
		t.Fatal("a first use before any use")
	}
	for _, u := range []time.Time{t2, t1, at(12 * time.Minute)} {
		if err := st.RecordFirstUse("gc-alice-15", u); err != nil {
			t.Fatalf("RecordFirstUse: %v", err)
		}
	}
	if u, ok := firstUse(st, "gc-alice-15"); !ok || !u.Equal(t1) {
		t.Fatalf("FirstUse = %v %v, want the earliest %v", u, ok, t1)
	}
	if err := st.RecordFirstUse("gc-bob-15", t2); err != nil {
		t.Fatalf("RecordFirstUse: %v", err)
	}
	// A code that does not exist records nothing.
	if err := st.RecordFirstUse("gc-nope", t1); err != nil {
		t.Fatalf("RecordFirstUse of an unknown code: %v", err)
	}
	if _, ok := firstUse(st, "gc-nope"); ok {
		t.Error("a first use of an unknown code was recorded")
	}
	// A batch that does not touch the codes keeps their first uses.
	mustApply(t, st, Batch(1, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"}))
	if s.durable {
		st = s.reopen(t, st, dir)
	}
	if u, ok := firstUse(st, "gc-alice-15"); !ok || !u.Equal(t1) {
		t.Fatalf("FirstUse after a batch (and reopen) = %v %v, want %v", u, ok, t1)
	}
	// Putting a code again (an edit) keeps its first use; deleting it
	// forgets it, also when the same batch puts it back.
	edited := RichOp("guest_code/gc-alice-15")
	edited.GuestCode.Expires = ptr(at(72 * time.Hour))
	mustApply(t, st, Batch(2, edited))
	mustApply(t, st, Batch(3, hub.Op{Type: hub.OpDeleteGuestCode, ID: "gc-bob-15"}, RichOp("guest_code/gc-bob-15")))
	checkEdits := func(when string) {
		t.Helper()
		if u, ok := firstUse(st, "gc-alice-15"); !ok || !u.Equal(t1) {
			t.Errorf("%s: FirstUse of an edited code = %v %v, want %v", when, u, ok, t1)
		}
		if u, ok := firstUse(st, "gc-bob-15"); ok {
			t.Errorf("%s: a code deleted and put again keeps the first use %v", when, u)
		}
	}
	checkEdits("after an edit and a delete")
	if s.durable {
		st = s.reopen(t, st, dir)
		checkEdits("after an edit, a delete and a reopen")
	}
	if err := st.RecordFirstUse("gc-bob-15", t2); err != nil {
		t.Fatal(err)
	}

	// A snapshot keeps the first use of a code it still holds and forgets
	// the others.
	snap := RichOps()
	for i, op := range snap {
		if op.GuestCode != nil && op.GuestCode.ID == "gc-bob-15" {
			snap = append(snap[:i:i], snap[i+1:]...)
			break
		}
	}
	if err := hub.Replace(ctx, st, &hub.Snapshot{Site: SiteID, Version: 6, Ops: snap}); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	check := func(when string) {
		t.Helper()
		if u, ok := firstUse(st, "gc-alice-15"); !ok || !u.Equal(t1) {
			t.Errorf("%s: FirstUse(gc-alice-15) = %v %v, want %v", when, u, ok, t1)
		}
		if _, ok := firstUse(st, "gc-bob-15"); ok {
			t.Errorf("%s: a first use of a code the snapshot dropped", when)
		}
	}
	check("after the snapshot")
	if s.durable {
		st = s.reopen(t, st, dir)
		check("after the snapshot and a reopen")
	}
	// The code comes back: it starts unused.
	mustApply(t, st, Batch(6, RichOp("guest_code/gc-bob-15")))
	if _, ok := firstUse(st, "gc-bob-15"); ok {
		t.Errorf("a re-added code carries the first use of before the snapshot")
	}
	if s.durable {
		st = s.reopen(t, st, dir)
		if _, ok := firstUse(st, "gc-bob-15"); ok {
			t.Errorf("a re-added code carries the first use of before the snapshot after a reopen")
		}
	}
}

func (s *suite) testFloor(t *testing.T) {
	st, dir := s.openStore(t)
	f, err := st.LoadFloor()
	if err != nil {
		t.Fatalf("LoadFloor: %v", err)
	}
	if !f.IsZero() {
		t.Fatalf("floor of a new store = %v, want zero", f)
	}
	t1 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, ft := range []time.Time{t1, t1.Add(-time.Hour), {}} {
		if err := st.SaveFloor(ft); err != nil {
			t.Fatalf("SaveFloor: %v", err)
		}
	}
	if f, _ := st.LoadFloor(); !f.Equal(t1) {
		t.Fatalf("floor = %v, want %v: it never goes down", f, t1)
	}
	if s.durable {
		st = s.reopen(t, st, dir)
		if f, err := st.LoadFloor(); err != nil || !f.Equal(t1) {
			t.Fatalf("floor after reopen = %v %v, want %v", f, err, t1)
		}
		if err := st.SaveFloor(t1.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		st = s.reopen(t, st, dir)
		if f, _ := st.LoadFloor(); !f.Equal(t1) {
			t.Fatalf("floor after a lower save and reopen = %v, want %v", f, t1)
		}
	}
	t2 := t1.Add(time.Hour)
	if err := st.SaveFloor(t2); err != nil {
		t.Fatal(err)
	}
	if f, _ := st.LoadFloor(); !f.Equal(t2) {
		t.Fatalf("floor = %v, want %v", f, t2)
	}
}

func (s *suite) testClose(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	w, err := st.BeginSnapshot(ctx, SiteID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(snapshotOps()); err != nil {
		t.Fatal(err)
	}
	before := ContentOf(t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Apply(ctx, Batch(1, hub.Op{Type: hub.OpDeleteTour, ID: "t-1"})); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Apply after Close = %v, want ErrClosed", err)
	}
	if err := w.Commit(); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("a second Close = %v, want nil", err)
	}
	// What readers hold stays readable.
	RequireSameContent(t, before, ContentOf(t, st), "after Close")
}

// testDecide runs the engine over the store: the store is what Decide
// reads, through View.
func (s *suite) testDecide(t *testing.T) {
	st, _ := s.openStore(t)
	seed(t, st)
	e := hub.NewEngine(st, hub.EngineOptions{})
	now := hub.Now{Time: T0, Trusted: true}
	card := hub.Presentation{Kind: hub.CredKeycard, CardID: "a1a1a1a1"}
	if d := e.Decide("d-101", card, now); !d.Allowed || d.Reason != hub.AllowedByGrant || d.GrantID != "g-alice-101" {
		t.Fatalf("alice's card at her door: %+v", d)
	}
	mustApply(t, st, Batch(1, hub.Op{Type: hub.OpRevokePerson, ID: "p-alice"}))
	if d := e.Decide("d-101", card, now); d.Allowed || d.Reason != hub.NoKeyForDoor {
		t.Fatalf("alice's card after revocation: %+v", d)
	}
	// A first use through the engine lands in the store.
	mustApply(t, st, Batch(2, RichOp("grant/g-alice-101"), RichOp("guest_code/gc-alice-15")))
	code := hub.Presentation{Kind: hub.CredDoorcode, Code: "7654321"}
	if d := e.Decide("d-101", code, now); !d.Allowed || !d.FirstUse {
		t.Fatalf("first use of a fifteen-minute code: %+v", d)
	}
	if u, ok := firstUse(st, "gc-alice-15"); !ok || !u.Equal(T0) {
		t.Fatalf("first use recorded = %v %v, want %v", u, ok, T0)
	}
}

// testReopen runs a longer history and checks a reopen sees exactly it.
func (s *suite) testReopen(t *testing.T) {
	if !s.durable {
		t.Skip("the store is not durable")
	}
	st, dir := s.openStore(t)
	seed(t, st)
	v := uint64(1)
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("p-r%02d", i)
		mustApply(t, st, Batch(v,
			hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.com"}},
			hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%08x", i+1), OwnerID: id, Active: i%3 != 0}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: "k-101", StartsAt: T0,
				Expires: ptr(at(time.Duration(i+1) * time.Hour)), Method: hub.MethodApp}},
		))
		v++
		if i%4 == 3 {
			mustApply(t, st, Batch(v, hub.Op{Type: hub.OpDeletePerson, ID: fmt.Sprintf("p-r%02d", i-1)}))
			v++
		}
	}
	mustApply(t, st, Batch(v, hub.Op{Type: hub.OpDeleteKey, ID: "k-building"}))
	before := ContentOf(t, st)
	for i := 0; i < 2; i++ {
		st = s.reopen(t, st, dir)
		RequireSameContent(t, before, ContentOf(t, st), fmt.Sprintf("after reopen %d", i+1))
	}
}
