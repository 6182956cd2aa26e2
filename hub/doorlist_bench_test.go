package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// BenchmarkDoorListImport computes every door's list after a 2,000-person
// import at a 200-door site (each person a keycard and a grant of a key
// with the entrance and their own door), and reports the bytes a full
// reload of every lock sends: here every entry is new, so a full reload is
// the minimum (the changed entries' bytes). Radio time at 115200 baud is
// bytes*10/115200 s before framing and acknowledgement overhead.
func BenchmarkDoorListImport(b *testing.B) {
	store := hub.NewMemStore()
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "entrance", Name: "entrance", Type: hub.DoorEntrance, LockCapacity: 2500}}}
	doors := []string{"entrance"}
	for i := range 199 {
		id := fmt.Sprintf("apt%d", i)
		doors = append(doors, id)
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: id, Type: hub.DoorResidence}},
			hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "k" + id, Name: id, Doors: []string{"entrance", id}}})
	}
	for i := range 2000 {
		p := fmt.Sprintf("p%d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org"}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g" + p, PersonID: p, KeyID: fmt.Sprintf("kapt%d", i%199),
				Resident: true, StartsAt: t0, Method: hub.MethodApp}},
			card(fmt.Sprintf("%08x", 0x10000000+i), p, true))
	}
	if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Version: 1, IssuedAt: t0, Ops: ops}); err != nil {
		b.Fatal(err)
	}
	var bytes int
	b.ResetTimer()
	for b.Loop() {
		bytes = 0
		store.View(func(c *hub.Catalog) {
			for _, d := range doors {
				l, err := hub.DoorListOf(c, d, t0)
				if err != nil {
					b.Fatal(err)
				}
				bytes += len(l.Encode())
			}
		})
	}
	b.ReportMetric(float64(bytes), "list_bytes")
	b.ReportMetric(float64(bytes)*10/115200, "radio_s_at_115200")
}

// BenchmarkDoorListsPending is what the daemon's door watch, door-state
// check, pending report and doors view each pay: DoorLists.Pending over a
// 200-door site of 20,000 people. "unchanged" is the common case — the
// lists were computed before and nothing changed, so only their summaries
// are read; "after a change" applies a one-card batch first, after which
// the lists of that card's doors (2 of 200) are computed again; "after a
// change at every door" changes the site, after which all 200 are.
func BenchmarkDoorListsPending(b *testing.B) {
	store := hub.NewMemStore()
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "entrance", Name: "entrance", Type: hub.DoorEntrance}}}
	for i := range 199 {
		id := fmt.Sprintf("apt%d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: id, Type: hub.DoorResidence}},
			hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "k" + id, Name: id, Doors: []string{"entrance", id}}})
	}
	const people = 20_000
	for i := range people {
		p := fmt.Sprintf("p%d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org"}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g" + p, PersonID: p, KeyID: fmt.Sprintf("kapt%d", i%199),
				Resident: true, StartsAt: t0, Method: hub.MethodApp}},
			card(fmt.Sprintf("%08x", 0x10000000+i), p, true))
	}
	var version uint64
	for len(ops) > 0 { // batches hold at most 10,000 ops
		n := min(len(ops), 9000)
		version++
		if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Base: version - 1, Version: version, IssuedAt: t0, Ops: ops[:n]}); err != nil {
			b.Fatal(err)
		}
		ops = ops[n:]
	}
	lists := hub.NewDoorLists(store, func() time.Time { return t0 })
	if n := len(lists.Pending()); n != 200 {
		b.Fatalf("%d doors reported", n)
	}
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			lists.Pending()
		}
	})
	b.Run("after a change", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			version++
			p := fmt.Sprintf("p%d", i%people)
			if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Base: version - 1, Version: version, IssuedAt: t0,
				Ops: []hub.Op{card(fmt.Sprintf("%08x", 0x10000000+i%people), p, i%2 == 1)}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			lists.Pending()
		}
	})
	// A change of the site's settings may change every list.
	b.Run("after a change at every door", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			putSiteAgain(b, store, &version)
			b.StartTimer()
			lists.Pending()
		}
	})
}

// putSiteAgain applies a batch that puts site s1 as it is, the next
// version after *version: a change that may change every door's list.
func putSiteAgain(b *testing.B, store *hub.MemStore, version *uint64) {
	*version++
	if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Base: *version - 1, Version: *version, IssuedAt: t0,
		Ops: []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}}}}); err != nil {
		b.Fatal(err)
	}
}
