package lockmsg

import (
	"fmt"
	"sync"
)

// WindowSize is how far below the highest counter received a message may
// still arrive (out of order) and be accepted, once.
const WindowSize = 64

// ReplayWindow accepts each message counter at most once: a counter above
// the highest seen, or one of the WindowSize-1 below it that was not seen
// yet (RFC 4303 3.4.3 style). The zero value rejects only counter 0.
type ReplayWindow struct {
	top  uint32 // highest counter accepted (or the floor it was started at)
	seen uint64 // bit i: top-i was accepted (or lies at or below the floor)
	init bool
}

// NewReplayWindow returns a window that rejects every counter at or below
// floor: the state after a restart from a persisted high-water mark.
func NewReplayWindow(floor uint32) ReplayWindow {
	return ReplayWindow{top: floor, seen: ^uint64(0), init: true}
}

func (w *ReplayWindow) lazyInit() {
	if !w.init {
		*w = NewReplayWindow(0)
	}
}

// Check reports whether c would be accepted, without recording it.
func (w *ReplayWindow) Check(c uint32) bool {
	w.lazyInit()
	if c > w.top {
		return true
	}
	d := w.top - c
	return d < WindowSize && w.seen&(1<<d) == 0
}

// Accept records c and reports whether it was acceptable; a rejected
// counter changes nothing.
func (w *ReplayWindow) Accept(c uint32) bool {
	if !w.Check(c) {
		return false
	}
	if c > w.top {
		if s := c - w.top; s >= WindowSize {
			w.seen = 0
		} else {
			w.seen <<= s
		}
		w.top = c
		w.seen |= 1
		return true
	}
	w.seen |= 1 << (w.top - c)
	return true
}

// Top returns the highest counter accepted: the floor a peer must send
// above to be sure of acceptance.
func (w *ReplayWindow) Top() uint32 { w.lazyInit(); return w.top }

// CounterKind names which of a pairing's two counters is stored.
type CounterKind uint8

// Counter kinds.
const (
	// CounterSend: the highest counter this side may have sent.
	CounterSend CounterKind = 1
	// CounterReceive: the highest counter this side may have accepted.
	CounterReceive CounterKind = 2
)

func (k CounterKind) String() string {
	switch k {
	case CounterSend:
		return "send"
	case CounterReceive:
		return "receive"
	}
	return fmt.Sprintf("counter_kind(%d)", uint8(k))
}

// CounterStore persists the counter high-water marks of pairings, so that
// neither side reuses or re-accepts a counter after a restart. The daemon
// backs it with its database; a lock with its flash.
type CounterStore interface {
	// LoadCounter returns the stored mark, or 0 and no error if none is.
	LoadCounter(lock LockID, kind CounterKind) (uint32, error)
	// StoreCounter stores a mark durably before it returns. Marks only
	// grow: it is never called with a lower value than the stored one.
	StoreCounter(lock LockID, kind CounterKind, mark uint32) error
}

// MemoryCounterStore is a CounterStore in memory, for tests and the
// simulator. Its zero value is ready; it is safe for concurrent use.
type MemoryCounterStore struct {
	mu sync.Mutex
	m  map[memKey]uint32
	// Writes counts StoreCounter calls.
	Writes int
}

type memKey struct {
	lock LockID
	kind CounterKind
}

var _ CounterStore = (*MemoryCounterStore)(nil)

func (s *MemoryCounterStore) LoadCounter(lock LockID, kind CounterKind) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[memKey{lock, kind}], nil
}

func (s *MemoryCounterStore) StoreCounter(lock LockID, kind CounterKind, mark uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[memKey]uint32)
	}
	k := memKey{lock, kind}
	if mark < s.m[k] {
		return fmt.Errorf("lockmsg: %s counter of %s lowered from %d to %d", kind, lock, s.m[k], mark)
	}
	s.m[k] = mark
	s.Writes++
	return nil
}
