package hub

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// checkCatalog verifies what the arenas and indexes promise each other:
// every live record is found by its id (and a person by email), every
// index entry names a live record, a person's grant and keycard lists hold
// exactly their live records, a key's grant list holds exactly the live
// grants of the key (linked both ways), keycard hints match, keys' door
// bitsets match their doors, guest grants naming a guest are indexed by
// their key, and Counts agree.
func checkCatalog(c *Catalog) error {
	people := 0
	for h := range c.people.recs {
		p := &c.people.recs[h]
		if !p.live {
			continue
		}
		people++
		if got := c.personH(c.personID(int32(h))); got != int32(h) {
			return fmt.Errorf("person %q at %d found at %d", c.personID(int32(h)), h, got)
		}
		if got := c.personByEmailH(c.personEmail(int32(h))); got != int32(h) {
			return fmt.Errorf("person %q by email found at %d", c.personID(int32(h)), got)
		}
		for g := p.grants; g != none; g = c.grants.recs[g].next {
			if r := &c.grants.recs[g]; !r.live || r.person != int32(h) {
				return fmt.Errorf("person %q lists grant %d (live %v, person %d)", c.personID(int32(h)), g, r.live, r.person)
			}
		}
		for k := p.cards; k != none; k = c.cards.recs[k].next {
			if r := &c.cards.recs[k]; !r.live || r.owner != int32(h) {
				return fmt.Errorf("person %q lists keycard %d (live %v, owner %d)", c.personID(int32(h)), k, r.live, r.owner)
			}
		}
	}
	listed := func(head int32, next func(int32) int32, h int32) int {
		n := 0
		for x := head; x != none; x = next(x) {
			if x == h {
				n++
			}
		}
		return n
	}
	grants := 0
	for h := range c.grants.recs {
		g := &c.grants.recs[h]
		if !g.live {
			continue
		}
		grants++
		if got := c.grantH(c.grantIDOf(g)); got != int32(h) {
			return fmt.Errorf("grant %q at %d found at %d", c.grantIDOf(g), h, got)
		}
		if !c.people.recs[g.person].live || c.keyByH[g.key] == nil {
			return fmt.Errorf("grant %q refers to a dead person or key", c.grantIDOf(g))
		}
		if n := listed(c.people.recs[g.person].grants, func(x int32) int32 { return c.grants.recs[x].next }, int32(h)); n != 1 {
			return fmt.Errorf("grant %q listed %d times by its person", c.grantIDOf(g), n)
		}
		if n := listed(c.keyByH[g.key].grants, func(x int32) int32 { return c.grants.recs[x].nextByKey }, int32(h)); n != 1 {
			return fmt.Errorf("grant %q listed %d times by its key", c.grantIDOf(g), n)
		}
	}
	byKey := 0
	for _, k := range c.keyByH {
		if k == nil {
			continue
		}
		prev := none
		for x := k.grants; x != none; x = c.grants.recs[x].nextByKey {
			r := &c.grants.recs[x]
			if !r.live || r.key != k.h || r.prevByKey != prev {
				return fmt.Errorf("key %q lists grant %d (live %v, key %d, previous %d, want %d)", k.ID, x, r.live, r.key, r.prevByKey, prev)
			}
			if byKey++; byKey > grants {
				return fmt.Errorf("key %q: the grant lists hold more than the %d live grants (a cycle?)", k.ID, grants)
			}
			prev = x
		}
	}
	if byKey != grants {
		return fmt.Errorf("the keys list %d grants, %d are live", byKey, grants)
	}
	for key, set := range c.guestsByKey {
		if len(set) == 0 {
			return fmt.Errorf("key %q: an empty guest grant set is kept", key)
		}
		for id := range set {
			if g := c.guestGrants[id]; g == nil || g.KeyID != key || g.GuestID == "" {
				return fmt.Errorf("key %q indexes guest grant %q (%+v)", key, id, g)
			}
		}
	}
	for id, g := range c.guestGrants {
		if _, ok := c.guestsByKey[g.KeyID][id]; ok != (g.GuestID != "") {
			return fmt.Errorf("guest grant %q: indexed by its key %v", id, ok)
		}
	}
	cards := 0
	for h := range c.cards.recs {
		k := &c.cards.recs[h]
		if !k.live {
			continue
		}
		cards++
		got, hint := c.cardSlot(c.cardID(int32(h)))
		if got != int32(h) {
			return fmt.Errorf("keycard %d found at %d", h, got)
		}
		if want := (cardHint{owner: k.owner, grants: c.people.recs[k.owner].grants}); hint != want {
			return fmt.Errorf("keycard %d: hint %+v, want %+v", h, hint, want)
		}
		if n := listed(c.people.recs[k.owner].cards, func(x int32) int32 { return c.cards.recs[x].next }, int32(h)); n != 1 {
			return fmt.Errorf("keycard %d listed %d times by its owner", h, n)
		}
	}
	if people != c.peopleByID.n || people != c.emails.n || grants != c.grantsByID.n || cards != c.cardsByID.n {
		return fmt.Errorf("live %d/%d/%d, indexed %d (%d emails)/%d/%d", people, grants, cards,
			c.peopleByID.n, c.emails.n, c.grantsByID.n, c.cardsByID.n)
	}
	for id, n := range c.keys {
		if c.keyByH[n.h] != n {
			return fmt.Errorf("key %q: handle %d names another node", id, n.h)
		}
		for _, d := range c.doors {
			if want := containsString(n.Doors, d.ID); n.opens(d.h) != want {
				return fmt.Errorf("key %q: opens(%q) = %v", id, d.ID, !want)
			}
		}
	}
	return nil
}

func recordsJSON(t *testing.T, c *Catalog) string {
	t.Helper()
	var b strings.Builder
	if err := c.Records(func(op Op) error {
		j, err := json.Marshal(op)
		b.Write(j)
		b.WriteByte('\n')
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCatalogInvariantsUnderRandomBatches applies random batches over a
// small id space (so that puts replace, deletes cascade and references
// dangle) and checks the invariants after every one. A batch that fails
// must leave the records exactly as they were; every state must read back
// the same from a fresh catalog loaded with its records.
func TestCatalogInvariantsUnderRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, rng.Intn(n)) }
	// Keycard ids: mostly 4 bytes, and some longer than what a record
	// holds inline (cardInline), two of which share their first 16 bytes.
	longCards := []string{strings.Repeat("ab", 16), strings.Repeat("ab", 17), strings.Repeat("ab", 16) + "00", strings.Repeat("cd", 32)}
	cardID := func() string {
		i := rng.Intn(12)
		if i >= 8 {
			return longCards[i-8]
		}
		return fmt.Sprintf("%08x", uint32(0xa0000000)+uint32(i))
	}
	randomOp := func() Op {
		switch n := rng.Intn(40); {
		case n < 3:
			return Op{Type: OpPutDoor, Door: &Door{ID: id("d", 6), Name: "door", Type: DoorResidence}}
		case n < 4:
			return Op{Type: OpDeleteDoor, ID: id("d", 6)}
		case n < 7:
			var doors []string
			for _, d := range []string{"d0", "d1", "d2", "d3", "d4", "d5"} {
				if rng.Intn(2) == 0 {
					doors = append(doors, d)
				}
			}
			return Op{Type: OpPutKey, Key: &Key{ID: id("k", 3), Name: "key", Doors: doors, MayShareAllowed: true}}
		case n < 8:
			return Op{Type: OpDeleteKey, ID: id("k", 3)}
		case n < 14:
			p := id("p", 5)
			return Op{Type: OpPutPerson, Person: &Person{ID: p, Email: id("e", 6) + "@x.org", Name: "n", Manager: rng.Intn(3) == 0}}
		case n < 15:
			return Op{Type: OpDeletePerson, ID: id("p", 5)}
		case n < 16:
			return Op{Type: OpRevokePerson, ID: id("p", 5)}
		case n < 26:
			g := &Grant{ID: id("g", 10), PersonID: id("p", 5), KeyID: id("k", 3), Resident: rng.Intn(2) == 0,
				StartsAt: start, Method: MethodApp}
			if rng.Intn(2) == 0 {
				e := start.Add(time.Duration(1+rng.Intn(100)) * time.Hour)
				g.Expires = &e
			}
			return Op{Type: OpPutGrant, Grant: g}
		case n < 28:
			return Op{Type: OpDeleteGrant, ID: id("g", 10)}
		case n < 36:
			return Op{Type: OpPutKeycard, Keycard: &Keycard{CardID: cardID(), OwnerID: id("p", 5), Active: rng.Intn(4) != 0}}
		default:
			return Op{Type: OpDeleteKeycard, ID: cardID()}
		}
	}
	c := NewCatalog()
	site := &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}
	if _, err := c.Apply("s", []Op{{Type: OpPutSite, Site: site}}); err != nil {
		t.Fatal(err)
	}
	applied, failed, maxCards, maxGrants := 0, 0, 0, 0
	for step := 0; step < 6000; step++ {
		ops := make([]Op, 1+rng.Intn(3))
		for i := range ops {
			ops[i] = randomOp()
		}
		before := recordsJSON(t, c)
		if _, err := c.Apply("s", ops); err != nil {
			failed++
			if after := recordsJSON(t, c); after != before {
				t.Fatalf("step %d: a failed batch (%v) changed the set:\nbefore\n%s\nafter\n%s", step, err, before, after)
			}
		} else {
			applied++
			cs := c.Counts()
			maxCards, maxGrants = max(maxCards, cs.Keycards), max(maxGrants, cs.Grants)
		}
		if err := checkCatalog(c); err != nil {
			t.Fatalf("step %d (%d ops): %v\nset:\n%s", step, len(ops), err, recordsJSON(t, c))
		}
		if step%50 == 0 {
			var all []Op
			_ = c.Records(func(op Op) error { all = append(all, op); return nil })
			fresh := NewCatalog()
			if err := fresh.Load("s", all); err != nil {
				t.Fatalf("step %d: the records do not load: %v", step, err)
			}
			if err := checkCatalog(fresh); err != nil {
				t.Fatalf("step %d: loaded: %v", step, err)
			}
			if got, want := recordsJSON(t, fresh), recordsJSON(t, c); got != want {
				t.Fatalf("step %d: loaded records differ:\n%s\nwant\n%s", step, got, want)
			}
		}
	}
	t.Logf("%d batches applied, %d refused; at most %d keycards, %d grants", applied, failed, maxCards, maxGrants)
	if applied < 1000 || failed < 500 || maxCards < 5 || maxGrants < 5 {
		t.Fatalf("the walk applied %d batches and refused %d, held at most %d keycards and %d grants: too little to prove much",
			applied, failed, maxCards, maxGrants)
	}
}
