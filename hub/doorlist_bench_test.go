package hub_test

import (
	"context"
	"fmt"
	"testing"

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
