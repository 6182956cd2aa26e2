package hub

import (
	"fmt"
	"testing"
)

// BenchmarkMemoryFloor measures what no catalog layout can avoid: a
// keycard decision at a site of n credentials reads at least an index
// slot found by hashing the card id and then the records the slot
// points at (the card, its owner and grant, fetched side by side). Here
// that is two dependent reads at random positions — an 8-byte slot in
// a table of 2n slots, then a 64-byte record of n — with nothing else.
// At 1k both tables sit in the CPU caches; at 1M (16 MB of slots, 64 MB
// of records) each read misses the caches and the TLB. BenchmarkDecide
// in hub/badgerstore compares with it: the growth from 1k to 1M that
// this floor shows is the least any decision can add. Each lookup waits
// for the one before (a decision's result is used before the next
// presentation is read), so the CPU cannot overlap their misses.
func BenchmarkMemoryFloor(b *testing.B) {
	benchmarkMemoryFloor(b, func(n int) ([]uint32, [][16]uint32) { return make([]uint32, 2*n), make([][16]uint32, n) })
}

func benchmarkMemoryFloor(b *testing.B, alloc func(n int) ([]uint32, [][16]uint32)) {
	var base float64
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			slots, recs := alloc(n)
			x := uint64(88172645463325252)
			for i := range slots {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				slots[i] = uint32(x % uint64(n))
			}
			for i := range recs {
				recs[i][0] = uint32(i)
			}
			sum := uint32(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				s := slots[x%uint64(len(slots))]
				r := recs[s][0]
				sum += r
				x += uint64(r & 1) // the next lookup waits for this one, as the next decision does
			}
			b.StopTimer()
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if n == 1_000 {
				base = ns
			} else if base > 0 {
				b.ReportMetric(ns/base, "vs-1k")
			}
			if sum == 0 && b.N > 1000 {
				b.Fatal("read nothing")
			}
		})
	}
}
