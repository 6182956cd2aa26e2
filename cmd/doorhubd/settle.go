package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"strings"
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

// memoryLimiter keeps the Go memory limit above a site's live heap. The
// default (defaultMemoryLimit) suits sites up to about 100,000
// credentials; past that the live heap at rest nears it and the
// collector would run constantly, at up to half the CPU. Each settle
// reports the live heap, and when two in a row call for another limit —
// one and a half times the live heap, never under the default — the
// limit moves: up to the smaller of the two, down to the larger. A live
// heap that grows for a few seconds (a snapshot loading a second
// catalog) does not move it; a site that grew or shrank does.
type memoryLimiter struct {
	fixed bool  // GOMEMLIMIT is set: leave the limit alone
	want  int64 // what the previous sample called for; 0: nothing
}

// envSet reports whether environ sets name to something.
func envSet(environ []string, name string) bool {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name && v != "" {
			return true
		}
	}
	return false
}

// limitFor is the memory limit for a live heap at rest.
func limitFor(live uint64) int64 {
	return max(defaultMemoryLimit, int64(live+live/2))
}

// observe takes the live heap and the current limit and returns the
// limit to set, and whether it differs from the current one.
func (l *memoryLimiter) observe(live uint64, cur int64) (int64, bool) {
	if l.fixed {
		return cur, false
	}
	w := limitFor(live)
	prev := l.want
	switch {
	case w > cur+cur/8:
		if prev > cur+cur/8 {
			l.want = 0
			return min(w, prev), true
		}
	case w < cur-cur/8:
		if prev != 0 && prev < cur-cur/8 {
			l.want = 0
			return max(w, prev), true
		}
	default:
		l.want = 0
		return cur, false
	}
	l.want = w
	return cur, false
}

// settleLoop runs settle every settleInterval until ctx ends, asks the
// kernel to reclaim the store's table pages that loads and compactions
// left mapped (badgerstore.Store.ReleaseTablePages; at 100,000
// credentials about 6 MB after the start), and lets go of the binary's
// code pages that are not in use (releaseCodePages: ~10 MB).
func (m *Main) settleLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(settleInterval)
	defer t.Stop()
	releasePages, releaseCode := true, true
	limiter := memoryLimiter{fixed: envSet(m.environ, "GOMEMLIMIT")}
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
			if releaseCode {
				if _, err := releaseCodePages(); err != nil {
					m.Log.Info("the binary's code pages stay mapped", slog.Any("err", err))
					releaseCode = false
				}
			}
			// Badger's pooled table buffers: garbage for settle to collect.
			m.Store.ReleaseBuffers()
			done, before, after := settle()
			if done {
				m.Log.Debug("memory returned to the system",
					slog.Uint64("held_bytes_before", before.held()), slog.Uint64("held_bytes_after", after.held()),
					slog.Uint64("live_bytes", after.live))
			}
			cur := debug.SetMemoryLimit(-1)
			if limit, change := limiter.observe(after.live, cur); change {
				debug.SetMemoryLimit(limit)
				m.Log.Info("memory limit follows the live heap",
					slog.Int64("limit_bytes", limit), slog.Int64("was_bytes", cur), slog.Uint64("live_bytes", after.live))
			}
		}
	}
}
