package hub_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// BenchmarkDoorListOfEveryDoor computes every door's list, what the daemon does
// after a change to the set, at the shape of the memory benchmarks' site:
// 100,000 people with a keycard and a resident grant, 200 doors, 20 keys
// of 10 doors (5,000 people a door, each list over its lock's default
// capacity of 1,000). DoorListOf reports the credentials the lists name
// in all; DoorLists is the daemon's way, which counts what is left out
// but does not name it.
func BenchmarkDoorListOfEveryDoor(b *testing.B) {
	store := hub.NewMemStore()
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}}}
	var doors []string
	for i := range 200 {
		id := fmt.Sprintf("d%d", i)
		doors = append(doors, id)
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: id, Type: hub.DoorResidence}})
	}
	for k := range 20 {
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: fmt.Sprintf("k%d", k), Name: "k", Doors: doors[10*k : 10*k+10]}})
	}
	const people = 100_000
	for i := range people {
		p := fmt.Sprintf("p%d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org"}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g" + p, PersonID: p, KeyID: fmt.Sprintf("k%d", i%20),
				Resident: true, StartsAt: t0, Method: hub.MethodApp}},
			card(fmt.Sprintf("%08x", 0x10000000+i), p, true))
	}
	var version uint64
	for len(ops) > 0 {
		n := min(len(ops), 9000)
		version++
		if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Base: version - 1, Version: version, IssuedAt: t0, Ops: ops[:n]}); err != nil {
			b.Fatal(err)
		}
		ops = ops[n:]
	}
	b.Run("DoorListOf", func(b *testing.B) {
		desired := 0
		for b.Loop() {
			desired = 0
			store.View(func(c *hub.Catalog) {
				for _, d := range doors {
					l, err := hub.DoorListOf(c, d, t0)
					if err != nil {
						b.Fatal(err)
					}
					desired += l.Overflow.Desired
				}
			})
		}
		if desired != 200*people/20 {
			b.Fatalf("the lists name %d credentials, want %d", desired, 200*people/20)
		}
		b.ReportMetric(float64(desired), "credentials")
	})
	// What the daemon pays: its DoorLists after a change of the site's
	// settings, which may change every list (the batch is not timed).
	b.Run("DoorLists", func(b *testing.B) {
		lists := hub.NewDoorLists(store, func() time.Time { return t0 })
		lists.Pending()
		for b.Loop() {
			b.StopTimer()
			putSiteAgain(b, store, &version)
			b.StartTimer()
			if n := len(lists.Pending()); n != 200 {
				b.Fatalf("%d doors reported", n)
			}
		}
	})
}
