package cloudlink

import (
	"container/heap"
	"fmt"
	"sync"
	"time"
)

// DefaultReplayCapacity is the default ReplayCache size. Remembered types
// live at most an hour (MaxResyncLifetime), so a hub would need more than
// one command a second from the cloud, sustained, to fill it.
const DefaultReplayCapacity = 4096

// ReplayCache remembers the ids of accepted messages until they expire,
// bounded in size and in time. When it is full of unexpired ids it refuses
// new ones (ErrReplayCacheFull) rather than forget one that could then be
// replayed. It is safe for concurrent use.
//
// A hub that must not carry out a command twice across a restart persists
// Entries and restores them with Restore.
type ReplayCache struct {
	mu   sync.Mutex
	max  int
	ids  map[string]time.Time
	heap expiryHeap
}

// ReplayEntry is one remembered id.
type ReplayEntry struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
}

// NewReplayCache returns a cache of at most capacity ids
// (DefaultReplayCapacity when capacity <= 0).
func NewReplayCache(capacity int) *ReplayCache {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &ReplayCache{max: capacity, ids: map[string]time.Time{}}
}

// Remember records id until the given time and reports whether it was new:
// it returns ErrReplay when id is remembered and not yet expired at now,
// and ErrReplayCacheFull when the cache holds its maximum of unexpired ids.
func (c *ReplayCache) Remember(id string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.purge(now)
	if _, ok := c.ids[id]; ok {
		return fmt.Errorf("%w: id %s", ErrReplay, id)
	}
	if len(c.ids) >= c.max {
		return fmt.Errorf("%w: %d unexpired ids", ErrReplayCacheFull, len(c.ids))
	}
	c.ids[id] = until
	heap.Push(&c.heap, ReplayEntry{ID: id, Until: until})
	return nil
}

// purge forgets the ids that expired at now.
func (c *ReplayCache) purge(now time.Time) {
	for len(c.heap) > 0 && !c.heap[0].Until.After(now) {
		e := heap.Pop(&c.heap).(ReplayEntry)
		delete(c.ids, e.ID)
	}
}

// Len is the number of ids remembered, expired ones included until the
// next Remember purges them.
func (c *ReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// Entries returns the remembered ids, soonest expiry first, for
// persisting.
func (c *ReplayCache) Entries() []ReplayEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]ReplayEntry(nil), c.heap...)
	h := expiryHeap(out)
	sorted := make([]ReplayEntry, 0, len(out))
	for len(h) > 0 {
		sorted = append(sorted, heap.Pop(&h).(ReplayEntry))
	}
	return sorted
}

// Restore remembers persisted entries again (those already expired at now
// are dropped; beyond the capacity, the soonest to expire are dropped).
func (c *ReplayCache) Restore(entries []ReplayEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		if !e.Until.After(now) {
			continue
		}
		if old, ok := c.ids[e.ID]; ok {
			if !e.Until.After(old) {
				continue
			}
			c.removeLocked(e.ID)
		}
		c.ids[e.ID] = e.Until
		heap.Push(&c.heap, e)
	}
	for len(c.ids) > c.max {
		e := heap.Pop(&c.heap).(ReplayEntry)
		delete(c.ids, e.ID)
	}
}

func (c *ReplayCache) removeLocked(id string) {
	for i := range c.heap {
		if c.heap[i].ID == id {
			heap.Remove(&c.heap, i)
			break
		}
	}
	delete(c.ids, id)
}

// expiryHeap is a min-heap of entries by Until.
type expiryHeap []ReplayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].Until.Before(h[j].Until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(ReplayEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
