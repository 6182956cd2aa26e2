package hub

import (
	"fmt"
	"maps"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// slimSite is a site with a door, a key and two people, to put keycards
// and grants on.
func slimSite(t *testing.T) *Catalog {
	t.Helper()
	c := NewCatalog()
	_, err := c.Apply("s", []Op{
		{Type: OpPutSite, Site: &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d", Name: "D", Type: DoorEntrance}},
		{Type: OpPutKey, Key: &Key{ID: "k", Name: "K", Doors: []string{"d"}}},
		{Type: OpPutPerson, Person: &Person{ID: "p1", Email: "p1@x.org", Name: "One"}},
		{Type: OpPutPerson, Person: &Person{ID: "p2", Email: "p2@x.org", Name: "Two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCardRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(cardRec{}); n > 28 {
		t.Errorf("cardRec is %d bytes, want at most 28", n)
	}
}

// TestLongCardIDs: a keycard id longer than a record holds inline (17 to
// MaxCardIDBytes bytes) is put, found, listed, deleted, replaced by a
// short one under the same handle and back, and rolled back, like a short
// one; the ids kept aside go with their keycards.
func TestLongCardIDs(t *testing.T) {
	long17 := strings.Repeat("a1", 17)
	long32 := strings.Repeat("f0", 32)
	near32 := strings.Repeat("f0", 31) + "f1" // differs from long32 in its tail only
	edge16 := strings.Repeat("f0", 16)        // long32's first 16 bytes: held inline
	short := "0badcafe"
	c := slimSite(t)
	apply := func(ops ...Op) {
		t.Helper()
		if _, err := c.Apply("s", ops); err != nil {
			t.Fatal(err)
		}
		if err := checkCatalog(c); err != nil {
			t.Fatal(err)
		}
	}
	put := func(id, owner string) Op {
		return Op{Type: OpPutKeycard, Keycard: &Keycard{CardID: id, OwnerID: owner, Active: true}}
	}
	del := func(id string) Op { return Op{Type: OpDeleteKeycard, ID: id} }
	has := func(want ...string) {
		t.Helper()
		var got []string
		_ = c.Records(func(o Op) error {
			if o.Type == OpPutKeycard {
				got = append(got, o.Keycard.CardID)
			}
			return nil
		})
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("keycards %q, want %q (in order)", got, want)
		}
		for _, id := range want {
			if k := c.Keycard(id); k == nil || k.CardID != id {
				t.Fatalf("Keycard(%s) = %+v", id, k)
			}
		}
		tails := 0
		for _, id := range want {
			if len(id) > 2*cardInline {
				tails++
			}
		}
		if len(c.cardTails) != tails {
			t.Fatalf("%d ids kept aside, want %d", len(c.cardTails), tails)
		}
	}

	apply(put(long32, "p1"), put(edge16, "p1"), put(long17, "p2"))
	has(long17, edge16, long32)
	for _, id := range []string{near32, long32[:62], long32 + "00", strings.ToUpper(long32)} {
		if c.Keycard(id) != nil {
			t.Fatalf("Keycard(%s) found", id)
		}
	}
	apply(put(near32, "p2"))
	has(long17, edge16, long32, near32)
	if k := c.Keycard(near32); k.OwnerID != "p2" {
		t.Fatalf("near32 belongs to %q", k.OwnerID)
	}

	// Deleted, its handle goes to a short id, then to a long one again.
	h := c.cardH(long32)
	apply(del(long32))
	has(long17, edge16, near32)
	apply(put(short, "p1"))
	if c.cardH(short) != h {
		t.Fatalf("the short id took handle %d, not the freed %d", c.cardH(short), h)
	}
	has(short, long17, edge16, near32)
	apply(del(short), put(long32, "p2"))
	has(long17, edge16, long32, near32)
	if k := c.Keycard(long32); k.OwnerID != "p2" {
		t.Fatalf("long32 belongs to %q", k.OwnerID)
	}

	// A failed batch that deleted and replaced long ids leaves them all.
	before := recordsJSON(t, c)
	if _, err := c.Apply("s", []Op{del(long32), put(short, "p1"), del(near32), put(long32, "p1"), del("00000000")}); err == nil {
		t.Fatal("a batch deleting a missing keycard applied")
	}
	if after := recordsJSON(t, c); after != before {
		t.Fatalf("rollback changed the set:\n%s\nwant\n%s", after, before)
	}
	has(long17, edge16, long32, near32)
	if err := checkCatalog(c); err != nil {
		t.Fatal(err)
	}

	// A person deleted takes their long ids with them.
	apply(Op{Type: OpDeletePerson, ID: "p2"})
	has(edge16)

	// Decisions find long ids like short ones.
	apply(put(long32, "p1"), Op{Type: OpPutGrant, Grant: &Grant{ID: "g", PersonID: "p1", KeyID: "k",
		StartsAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Method: MethodApp}})
	e := NewEngine(catalogView{c}, EngineOptions{})
	now := Now{Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Trusted: true}
	for id, want := range map[string]bool{long32: true, near32: false, edge16: true} {
		if d := e.Decide("d", Presentation{Kind: CredKeycard, CardID: id}, now); d.Allowed != want {
			t.Errorf("keycard %s: allowed %v, want %v (%s)", id, d.Allowed, want, d.Reason)
		}
	}
}

// catalogView is a Reader over a bare catalog.
type catalogView struct{ c *Catalog }

func (v catalogView) View(fn func(c *Catalog))               { fn(v.c) }
func (v catalogView) RecordFirstUse(string, time.Time) error { return nil }

func TestPersonRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(personRec{}); n > 24 {
		t.Errorf("personRec is %d bytes, want at most 24", n)
	}
}

// textGeneration identifies the text arena's current chunks: it changes
// when the arena is compacted.
func textGeneration(c *Catalog) *byte {
	if len(c.text.chunks) == 0 {
		return nil
	}
	return unsafe.SliceData(c.text.chunks[0])
}

// TestTextArenaUnderRandomBatches renames, deletes and puts back people
// and grants with long strings, in batches of which a third fail, until
// the text arena has been compacted many times, also in the middle of
// batches that then roll back. After every batch each getter must give
// what a plain model of the set says, a failed batch must leave the set
// as it was, and every string handed out before must read as it did.
func TestTextArenaUnderRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	c := slimSite(t)
	if _, err := c.Apply("s", []Op{{Type: OpDeletePerson, ID: "p1"}, {Type: OpDeletePerson, ID: "p2"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", rng.Intn(n)) }
	type grant struct{ person string }
	people := map[string]Person{} // the model
	grants := map[string]grant{}
	personIDs := make([]string, 24)
	for i := range personIDs {
		personIDs[i] = long(fmt.Sprintf("p%d-", i), 50)
	}
	grantIDs := make([]string, 40)
	for i := range grantIDs {
		grantIDs[i] = long(fmt.Sprintf("g%d-", i), 50)
	}
	// handed holds strings the getters gave, with copies of what they read.
	type handed struct{ s, want string }
	var held []handed
	hold := func(ss ...string) {
		for _, s := range ss {
			if len(held) < 5000 {
				held = append(held, handed{s, strings.Clone(s)})
			} else {
				held[rng.Intn(len(held))] = handed{s, strings.Clone(s)}
			}
		}
	}
	compactions, inFailed, failed := 0, 0, 0
	for step := 0; compactions < 40 || inFailed < 5; step++ {
		if step > 20000 {
			t.Fatalf("%d compactions (%d in failed batches) after %d batches", compactions, inFailed, step)
		}
		ps, gs := maps.Clone(people), maps.Clone(grants)
		ok := true
		ops := make([]Op, 1+rng.Intn(5))
		for i := range ops {
			switch n := rng.Intn(40); {
			case n < 20:
				p := Person{ID: personIDs[rng.Intn(len(personIDs))], Email: fmt.Sprintf("e%d@x.org", rng.Intn(200)),
					Name: long("n", MaxNameLength), Reroll: uint32(rng.Intn(3))}
				for id, o := range ps {
					ok = ok && !(id != p.ID && o.Email == p.Email)
				}
				ps[p.ID] = p
				ops[i] = Op{Type: OpPutPerson, Person: &p}
			case n < 22:
				id := personIDs[rng.Intn(len(personIDs))]
				_, present := ps[id]
				ok = ok && present
				delete(ps, id)
				for g, v := range gs {
					if v.person == id {
						delete(gs, g)
					}
				}
				ops[i] = Op{Type: OpDeletePerson, ID: id}
			case n < 34:
				g := Grant{ID: grantIDs[rng.Intn(len(grantIDs))], PersonID: personIDs[rng.Intn(len(personIDs))], KeyID: "k",
					StartsAt: start, Method: MethodApp}
				_, present := ps[g.PersonID]
				ok = ok && present
				gs[g.ID] = grant{g.PersonID}
				ops[i] = Op{Type: OpPutGrant, Grant: &g}
			case n < 39:
				id := grantIDs[rng.Intn(len(grantIDs))]
				_, present := gs[id]
				ok = ok && present
				delete(gs, id)
				ops[i] = Op{Type: OpDeleteGrant, ID: id}
			default:
				ok = false
				ops[i] = Op{Type: OpDeleteKeycard, ID: "00000000"}
			}
		}
		before, gen := recordsJSON(t, c), textGeneration(c)
		_, err := c.Apply("s", ops)
		if (err == nil) != ok {
			t.Fatalf("step %d: Apply: %v, the model says it applies: %v", step, err, ok)
		}
		if textGeneration(c) != gen {
			compactions++
		}
		if err != nil {
			failed++
			if textGeneration(c) != gen {
				inFailed++
			}
			if after := recordsJSON(t, c); after != before {
				t.Fatalf("step %d: a failed batch changed the set:\n%s\nwant\n%s", step, after, before)
			}
		} else {
			people, grants = ps, gs
		}
		if err := checkCatalog(c); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if cs := c.Counts(); cs.People != len(people) || cs.Grants != len(grants) {
			t.Fatalf("step %d: %d people, %d grants; the model has %d, %d", step, cs.People, cs.Grants, len(people), len(grants))
		}
		for id, want := range people {
			got := c.Person(id)
			if got == nil || *got != want {
				t.Fatalf("step %d: person %q is %+v, want %+v", step, id, got, want)
			}
			if byEmail := c.PersonByEmail(strings.ToUpper(want.Email)); byEmail == nil || byEmail.ID != id {
				t.Fatalf("step %d: by email %q: %+v", step, want.Email, byEmail)
			}
			hold(got.ID, got.Email, got.Name)
		}
		for id, want := range grants {
			got := c.Grant(id)
			if got == nil || got.ID != id || got.PersonID != want.person {
				t.Fatalf("step %d: grant %q is %+v, want person %q", step, id, got, want.person)
			}
			hold(got.ID, got.PersonID)
		}
		for _, h := range held {
			if h.s != h.want {
				t.Fatalf("step %d: a string handed out reads %q, was %q", step, h.s, h.want)
			}
		}
	}
	if c.text.garbage*4 > c.text.size && c.text.garbage >= textCompactMin {
		t.Errorf("garbage %d of %d bytes left uncompacted", c.text.garbage, c.text.size)
	}
	t.Logf("%d compactions, %d of them in the %d failed batches", compactions, inFailed, failed)
}

// TestTextCompaction: renames and deletes compact the text arena; the
// getters then read the new chunks, and strings handed out before still
// read the old ones, unchanged. A failed batch that renamed and deleted
// (and compacted on the way) gives the strings back.
func TestTextCompaction(t *testing.T) {
	c := slimSite(t)
	name := func(i, round int) string {
		return fmt.Sprintf("person %d, round %d, %s", i, round, strings.Repeat("-", 80))
	}
	rename := func(round int) []Op {
		var ops []Op
		for i := range 100 {
			ops = append(ops, Op{Type: OpPutPerson, Person: &Person{ID: fmt.Sprintf("q%d", i), Email: fmt.Sprintf("q%d-%d@x.org", i, round), Name: name(i, round)}},
				Op{Type: OpPutGrant, Grant: &Grant{ID: fmt.Sprintf("grant-of-q%d", i), PersonID: fmt.Sprintf("q%d", i), KeyID: "k", StartsAt: time.Unix(0, 0).UTC(), Method: MethodApp}})
		}
		return ops
	}
	if _, err := c.Apply("s", rename(0)); err != nil {
		t.Fatal(err)
	}
	before := c.Person("q7")
	grant := c.Grant("grant-of-q7")
	gen := textGeneration(c)
	round := 1
	for ; textGeneration(c) == gen; round++ {
		if round > 100 {
			t.Fatal("100 renames of everyone did not compact the text arena")
		}
		if _, err := c.Apply("s", rename(round)); err != nil {
			t.Fatal(err)
		}
	}
	last := round - 1
	if before.Name != name(7, 0) || before.Email != "q7-0@x.org" || before.ID != "q7" || grant.ID != "grant-of-q7" || grant.PersonID != "q7" {
		t.Fatalf("strings handed out changed: %+v, %+v", before, grant)
	}
	for i := range 100 {
		p := c.Person(fmt.Sprintf("q%d", i))
		if p.Name != name(i, last) || p.Email != fmt.Sprintf("q%d-%d@x.org", i, last) {
			t.Fatalf("after compaction: %+v", p)
		}
		if g := c.Grant(fmt.Sprintf("grant-of-q%d", i)); g.PersonID != p.ID {
			t.Fatalf("after compaction: %+v", g)
		}
	}
	if err := checkCatalog(c); err != nil {
		t.Fatal(err)
	}

	// A batch that renames everyone enough times to compact, deletes
	// half, then fails.
	want := recordsJSON(t, c)
	gen = textGeneration(c)
	var ops []Op
	for r := 1; r <= round; r++ {
		ops = append(ops, rename(last+r)...)
	}
	for i := 0; i < 100; i += 2 {
		ops = append(ops, Op{Type: OpDeletePerson, ID: fmt.Sprintf("q%d", i)})
	}
	ops = append(ops, Op{Type: OpDeleteGrant, ID: "no such grant"})
	if _, err := c.Apply("s", ops); err == nil {
		t.Fatal("the failing batch applied")
	}
	if textGeneration(c) == gen {
		t.Fatal("the failed batch did not compact the arena")
	}
	if got := recordsJSON(t, c); got != want {
		t.Fatalf("rollback left\n%s\nwant\n%s", got, want)
	}
	if p := c.PersonByEmail(fmt.Sprintf("q8-%d@x.org", last)); p == nil || p.Name != name(8, last) {
		t.Fatalf("after rollback: %+v", p)
	}
	if err := checkCatalog(c); err != nil {
		t.Fatal(err)
	}
}
