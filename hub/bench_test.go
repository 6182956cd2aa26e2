package hub_test

import (
	"fmt"
	"testing"

	"github.com/doorhub/doorhub/hub"
)

// BenchmarkDecideDoorcode measures a daily-code decision at an entrance
// whose key holds n doorcode holders: "warm" with the day's codes already
// derived; "after-invite" right after a batch that adds a doorcode holder
// (the cache updates that person); "after-door-change" right after a
// change to a door, which makes the first code derive every holder's code
// again (n HMACs).
func BenchmarkDecideDoorcode(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000} {
		f := newFixture(b, hub.EngineOptions{Lockout: hub.LockoutOptions{Attempts: 1 << 30}})
		for i := 0; i < n; i += 500 {
			var ops []hub.Op
			for j := i; j < i+500 && j < n; j++ {
				id := fmt.Sprintf("p%06d", j)
				ops = append(ops, person(id, false), grant("g"+id, id, "building", method(hub.MethodDoorcode)))
			}
			f.apply(ops...)
		}
		code := codeOf("p000007", "main", t0, 0)
		now := hub.Now{Time: t0, Trusted: true}
		b.Run(fmt.Sprintf("%d/warm", n), func(b *testing.B) {
			f.engine.Decide("main", doorcode(code), now)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if d := f.engine.Decide("main", doorcode(code), now); !d.Allowed && d.Reason != hub.AmbiguousCode {
					b.Fatalf("%+v", d)
				}
			}
		})
		b.Run(fmt.Sprintf("%d/after-invite", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				id := fmt.Sprintf("new%06d", i)
				f.apply(person(id, false), grant("g"+id, id, "building", method(hub.MethodDoorcode)))
				b.StartTimer()
				f.engine.Decide("main", doorcode(code), now)
			}
		})
		b.Run(fmt.Sprintf("%d/after-door-change", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f.apply(hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "lobby2", Name: fmt.Sprint(i), Type: hub.DoorEntrance}})
				b.StartTimer()
				f.engine.Decide("main", doorcode(code), now)
			}
		})
	}
}
