package hub

import (
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
