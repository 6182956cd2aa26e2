package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// After a burst — a snapshot, a batch that changes many door lists, a
// pending report at 100,000 credentials — the Go heap holds garbage and
// free pages that the collector keeps as long as the heap stays under
// its goal (twice the live heap, capped by the memory limit). On a 1 GB
// device the daemon gives them back instead: every settleInterval, when
// the heap's garbage and free pages exceed settleSlack and a 32nd of the
// live heap, it collects and returns free memory to the system. Idle,
// the daemon allocates about 200 KB a second (the door watch, the state
// checks), so without this its heap would climb to the memory limit
// between collections; with it, a collection of a 40–60 MB heap (tens
// of milliseconds) runs every half minute or so.
const (
	settleInterval = 10 * time.Second
	settleSlack    = 2 << 20
)

// heapUse is what settleDue reads of the runtime's memory metrics.
type heapUse struct {
	live     uint64 // live heap after the last collection
	objects  uint64 // heap objects now, live or not yet collected
	unused   uint64 // reserved for objects in spans, unused
	free     uint64 // free heap not returned to the system
	released uint64 // free heap returned to the system
}

var heapMetrics = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes",
}

func readHeapUse() heapUse {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return heapUse{live: v(0), objects: v(1), unused: v(2), free: v(3), released: v(4)}
}

// held is the heap memory the process holds from the system.
func (u heapUse) held() uint64 { return u.objects + u.unused + u.free }

// settleDue reports whether the heap holds enough beyond its live data
// — garbage not collected yet, free pages not returned — to be worth a
// collection and a return of free memory. Unused space inside spans
// (fragmentation) is left out: a collection may not shrink it, and the
// loop would collect every time.
func settleDue(u heapUse) bool {
	return u.objects+u.free > u.live+u.live/32+settleSlack
}

// settle collects and returns free heap memory to the system when
// settleDue says so; it reports whether it did and what it gave back.
func settle() (done bool, before, after heapUse) {
	before = readHeapUse()
	if !settleDue(before) {
		return false, before, before
	}
	debug.FreeOSMemory()
	return true, before, readHeapUse()
}

// settleLoop runs settle every settleInterval until ctx ends, and asks
// the kernel to reclaim the store's table pages that loads and
// compactions left mapped (badgerstore.Store.ReleaseTablePages; at
// 100,000 credentials about 6 MB after the start).
func (m *Main) settleLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(settleInterval)
	defer t.Stop()
	releasePages := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if releasePages {
				if _, err := m.Store.ReleaseTablePages(); err != nil {
					m.Log.Info("store table pages stay mapped", slog.Any("err", err))
					releasePages = false
				}
			}
			// Badger's pooled table buffers: garbage for settle to collect.
			m.Store.ReleaseBuffers()
			if done, before, after := settle(); done {
				m.Log.Debug("memory returned to the system",
					slog.Uint64("held_bytes_before", before.held()), slog.Uint64("held_bytes_after", after.held()),
					slog.Uint64("live_bytes", after.live))
			}
		}
	}
}
