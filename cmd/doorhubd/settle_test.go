package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSettleDue(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name string
		use  heapUse
		want bool
	}{
		{"at rest after a collection", heapUse{live: 40 * mb, objects: 40 * mb, free: 2 * mb}, false},
		{"small garbage", heapUse{live: 40 * mb, objects: 42 * mb, free: 1 * mb}, false},
		{"idle garbage of half a minute", heapUse{live: 40 * mb, objects: 45 * mb, free: 1 * mb}, true},
		{"garbage of a burst", heapUse{live: 40 * mb, objects: 70 * mb}, true},
		{"free pages kept after a burst", heapUse{live: 40 * mb, objects: 40 * mb, free: 30 * mb}, true},
		{"fragmentation alone never", heapUse{live: 40 * mb, objects: 40 * mb, unused: 30 * mb}, false},
		{"tiny heap, slack floor", heapUse{live: 1 * mb, objects: 3 * mb}, false},
		{"tiny heap, over the floor", heapUse{live: 1 * mb, objects: 4 * mb}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, settleDue(tt.use))
		})
	}
}

// sink keeps the burst reachable until the test drops it.
var sink [][]byte

// TestSettleReturnsMemory: after a burst of 64 MB of garbage, settle
// collects and returns it, and right after it is not due again.
func TestSettleReturnsMemory(t *testing.T) {
	runtime.GC()
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	// The garbage may already be collected by a cycle the allocations
	// started; its pages are then free and not returned yet.
	before := readHeapUse()
	require.True(t, settleDue(before), "a 64 MB burst leaves the heap holding more than its live data: %+v", before)
	done, _, after := settle()
	require.True(t, done)
	require.Less(t, after.objects+after.free, before.objects+before.free-32<<20, "what settle gave back: before %+v, after %+v", before, after)
	require.Greater(t, after.released, before.released)
	done, _, _ = settle()
	require.False(t, done, "settled: nothing more to give back")
}
