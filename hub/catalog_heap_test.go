package hub_test

import (
	"fmt"
	"math/rand"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// BenchmarkCatalogHeap reports the live Go heap a Catalog holds at
// 100,000 people, each with one grant and one keycard, with ids as a
// control plane gives them (UUIDs), an email and a name a person, and
// 7-byte card UIDs. The catalog is loaded as it grows (grown), sized up
// front as a snapshot's is (reserved), and trimmed after as one loaded at
// Open is (trimmed). It uses the public API only, so that it runs on
// older commits unchanged. It loads once whatever b.N.
func BenchmarkCatalogHeap(b *testing.B) {
	const n = 100_000
	for _, mode := range []string{"grown", "reserved", "trimmed"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				base := liveHeap()
				c := hub.NewCatalog()
				if mode == "reserved" {
					c.Reserve(hub.Counts{People: n, Grants: n, Keycards: n})
				}
				if err := heapSite(n, 1000, func(ops []hub.Op) error { return c.Load("s", ops) }); err != nil {
					b.Fatal(err)
				}
				if mode == "trimmed" {
					c.Trim()
				}
				live := liveHeap() - base
				runtime.KeepAlive(c)
				b.ReportMetric(float64(live)/(1<<20), "catalog-MiB")
				b.ReportMetric(float64(live)/n, "B/person")
			}
		})
	}
}

// liveHeap is the Go heap marked live by a collection run now.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapSite calls fn with the puts of a site of n people, size ops at a
// time, each op's strings allocated on their own as a decoder does.
func heapSite(n, size int, fn func([]hub.Op) error) error {
	rng := rand.New(rand.NewSource(1))
	uuid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Intn(1<<16), rng.Intn(1<<16), rng.Intn(1<<16), rng.Int63n(1<<48))
	}
	ops := []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: "s", Name: "S", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "entrance", Name: "Entrance", Type: hub.DoorEntrance}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "building", Name: "Building", Doors: []string{"entrance"}}},
	}
	flush := func(force bool) error {
		if len(ops) < size && !(force && len(ops) > 0) {
			return nil
		}
		err := fn(ops)
		ops = make([]hub.Op, 0, size)
		return err
	}
	people := make([]string, n)
	for i := range people {
		people[i] = uuid()
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: people[i],
			Email: fmt.Sprintf("resident.%d@example.com", i), Name: fmt.Sprintf("Resident %d", i)}})
		if err := flush(false); err != nil {
			return err
		}
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range people {
		ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: uuid(), PersonID: p, KeyID: "building",
			StartsAt: start, Method: hub.MethodApp}})
		if err := flush(false); err != nil {
			return err
		}
	}
	for i, p := range people {
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("04%012x", uint64(i+1)*0x9E3779B97F4A7C15&(1<<48-1)), OwnerID: p, Active: true}})
		if err := flush(false); err != nil {
			return err
		}
	}
	return flush(true)
}
