package main

import (
	"math"
	"runtime"
	"runtime/debug"
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
// collects and returns it, and right after it has little left to give.
// No collection may run during the burst (it would see the burst live,
// and the runtime's scavenger could return it before settle does), so
// the collector is off until settle's own.
func TestSettleReturnsMemory(t *testing.T) {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	before := readHeapUse()
	require.True(t, settleDue(before), "a 64 MB burst leaves the heap holding more than its live data: %+v", before)
	done, _, after := settle()
	require.True(t, done)
	require.Less(t, after.objects+after.free, before.objects+before.free-32<<20, "what settle gave back: before %+v, after %+v", before, after)
	require.Greater(t, after.released, before.released)
	// The test's own goroutines may have allocated a few MB since, which
	// a tiny live heap counts as worth settling; not the burst again.
	if done, again, _ := settle(); done {
		require.Less(t, again.objects+again.free, again.live+8<<20, "settled, yet held again: %+v", again)
	}
}

func TestMemoryLimiter(t *testing.T) {
	const mb = 1 << 20
	def := int64(defaultMemoryLimit)
	type step struct {
		live   uint64
		limit  int64 // the limit after this settle
		change bool
	}
	tests := []struct {
		name  string
		fixed bool
		start int64
		steps []step
	}{
		{"a 100k site stays at the default", false, def, []step{{38 * mb, def, false}, {40 * mb, def, false}, {42 * mb, def, false}}},
		{"a spike of one settle moves nothing", false, def, []step{{38 * mb, def, false}, {70 * mb, def, false}, {38 * mb, def, false}, {70 * mb, def, false}}},
		{"a grown site raises it to the smaller of two", false, def, []step{{80 * mb, def, false}, {70 * mb, 105 * mb, true}, {70 * mb, 105 * mb, false}}},
		{"a shrunk site lowers it, never under the default", false, 150 * mb, []step{{20 * mb, 150 * mb, false}, {30 * mb, def, true}, {30 * mb, def, false}}},
		{"down to the larger of two", false, 200 * mb, []step{{80 * mb, 200 * mb, false}, {90 * mb, 135 * mb, true}}},
		{"within an eighth it stays", false, 120 * mb, []step{{72 * mb, 120 * mb, false}, {72 * mb, 120 * mb, false}}},
		{"GOMEMLIMIT is left alone", true, 40 * mb, []step{{80 * mb, 40 * mb, false}, {80 * mb, 40 * mb, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := memoryLimiter{fixed: tt.fixed}
			cur := tt.start
			for i, s := range tt.steps {
				limit, change := l.observe(s.live, cur)
				require.Equal(t, s.change, change, "step %d", i)
				require.Equal(t, s.limit, limit, "step %d", i)
				cur = limit
			}
		})
	}
}

func TestEnvSet(t *testing.T) {
	require.True(t, envSet([]string{"A=1", "GOMEMLIMIT=100MiB"}, "GOMEMLIMIT"))
	require.False(t, envSet([]string{"GOMEMLIMIT="}, "GOMEMLIMIT"))
	require.False(t, envSet([]string{"GOMEMLIMITX=1"}, "GOMEMLIMIT"))
}
