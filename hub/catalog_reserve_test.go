package hub

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestCatalogReserve: a catalog sized with Reserve loads a set without
// growing its tables, and holds what one loaded without it holds, also
// once trimmed.
func TestCatalogReserve(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ops := []Op{{Type: OpPutSite, Site: &Site{ID: "s", Name: "S", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d", Name: "D", Type: DoorEntrance}},
		{Type: OpPutKey, Key: &Key{ID: "k", Name: "K", Doors: []string{"d"}}}}
	const n = 5000
	for i := range n {
		p := fmt.Sprintf("p%05d", i)
		ops = append(ops, Op{Type: OpPutPerson, Person: &Person{ID: p, Email: p + "@example.com"}},
			Op{Type: OpPutGrant, Grant: &Grant{ID: "g" + p, PersonID: p, KeyID: "k", StartsAt: start, Method: MethodApp}},
			Op{Type: OpPutKeycard, Keycard: &Keycard{CardID: fmt.Sprintf("%08x", i+1), OwnerID: p, Active: i%3 != 0}})
	}
	plain, sized := NewCatalog(), NewCatalog()
	sized.Reserve(Counts{People: n, Grants: n, Keycards: n})
	caps := func(c *Catalog) []int {
		return []int{cap(c.people.recs), cap(c.grants.recs), cap(c.cards.recs),
			len(c.peopleByID.slots), len(c.emails.slots), len(c.grantsByID.slots), len(c.cardsByID.slots)}
	}
	before := caps(sized)
	for i := 0; i < len(ops); i += 700 {
		chunk := ops[i:min(i+700, len(ops))]
		if err := plain.Load("s", chunk); err != nil {
			t.Fatal(err)
		}
		if err := sized.Load("s", chunk); err != nil {
			t.Fatal(err)
		}
	}
	if after := caps(sized); !reflect.DeepEqual(before, after) {
		t.Errorf("tables grew while loading: %v, then %v", before, after)
	}
	if caps(plain)[0] == before[0] && caps(plain)[3] == before[3] {
		t.Log("the plain catalog happened to grow to the reserved sizes")
	}
	plain.Trim()
	for i, c := range caps(plain)[:3] {
		if l := []int{len(plain.people.recs), len(plain.grants.recs), len(plain.cards.recs)}[i]; c-l > l/32 {
			t.Errorf("table %d: room for %d after Trim, %d records", i, c, l)
		}
	}
	if ch := plain.text.chunks[len(plain.text.chunks)-1]; cap(ch) != len(ch) {
		t.Errorf("text: room for %d bytes after Trim, %d written", cap(ch), len(ch))
	}
	var a, b []Op
	_ = plain.Records(func(o Op) error { a = append(a, o); return nil })
	_ = sized.Records(func(o Op) error { b = append(b, o); return nil })
	if !reflect.DeepEqual(a, b) {
		t.Fatal("a reserved catalog holds another set")
	}
	for _, id := range []string{"00000001", "00001388", "00000fff"} {
		if !reflect.DeepEqual(plain.Keycard(id), sized.Keycard(id)) {
			t.Fatalf("keycard %s differs", id)
		}
	}
}

// TestLoadLogsNoPeople: a load's chunks log that anyone's daily code may
// have changed, not whose: the ids of the people of the last 64 chunks
// would stay in the catalog (and with them the strings they were decoded
// into). A batch after it logs whose codes it touched.
func TestLoadLogsNoPeople(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCatalog()
	ops := []Op{{Type: OpPutSite, Site: &Site{ID: "s", Name: "S", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d", Name: "D", Type: DoorEntrance}},
		{Type: OpPutKey, Key: &Key{ID: "k", Name: "K", Doors: []string{"d"}, DoorcodesAllowed: true}}}
	for i := range 300 {
		p := fmt.Sprintf("p%05d", i)
		ops = append(ops, Op{Type: OpPutPerson, Person: &Person{ID: p, Email: p + "@example.com"}},
			Op{Type: OpPutGrant, Grant: &Grant{ID: "g" + p, PersonID: p, KeyID: "k", StartsAt: start, Method: MethodDoorcode}})
	}
	for i := 0; i < len(ops); i += 50 {
		if err := c.Load("s", ops[i:min(i+50, len(ops))]); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.codeLog) == 0 {
		t.Fatal("a load logged nothing: a code cache would not know to rebuild")
	}
	for _, e := range c.codeLog {
		if !e.all || len(e.people) != 0 {
			t.Fatalf("a load's chunk logged %d people (all: %v)", len(e.people), e.all)
		}
	}
	if _, err := c.Apply("s", []Op{{Type: OpPutPerson, Person: &Person{ID: "p00001", Email: "p00001@example.com", Name: "Renamed"}}}); err != nil {
		t.Fatal(err)
	}
	if e := c.codeLog[len(c.codeLog)-1]; e.all || len(e.people) != 1 || e.people[0] != "p00001" {
		t.Fatalf("a batch renaming p00001 logged %+v", e)
	}
}
