package lockmsg

import (
	"errors"
	"math"
	"testing"
)

func TestReplayWindow(t *testing.T) {
	var w ReplayWindow
	steps := []struct {
		c    uint32
		want bool
	}{
		{0, false},            // counter 0 is never valid
		{1, true}, {1, false}, // once only
		{5, true}, {3, true}, // out of order within the window
		{4, true}, {3, false}, //
		{2, true}, {2, false}, //
		{100, true}, {37, true}, // 100-37 = 63: the window's oldest slot
		{36, false}, {37, false}, // below the window; already seen
		{1000, true}, {999, true}, //
		{1000, false}, {937, true}, // 1000-937 = 63
		{936, false},
	}
	for i, s := range steps {
		if got := w.Accept(s.c); got != s.want {
			t.Fatalf("step %d: Accept(%d) = %v, want %v (top %d)", i, s.c, got, s.want, w.Top())
		}
	}
	w = NewReplayWindow(500)
	for _, c := range []uint32{1, 437, 499, 500} {
		if w.Check(c) {
			t.Errorf("restored at 500: accepts %d", c)
		}
	}
	if !w.Accept(501) || w.Top() != 501 || !w.Accept(math.MaxUint32) || w.Accept(math.MaxUint32) {
		t.Error("above the floor")
	}
}

// newPair returns a hub side and a lock side over one store each.
func newPair(t *testing.T, hs, ls CounterStore, opts PairingOptions) (hub, lock *Pairing) {
	t.Helper()
	var err error
	if hub, err = NewPairing(testLock, testKey, RoleHub, hs, opts); err != nil {
		t.Fatal(err)
	}
	if lock, err = NewPairing(testLock, testKey, RoleLock, ls, opts); err != nil {
		t.Fatal(err)
	}
	return hub, lock
}

// deliver seals m at from and opens it at to.
func deliver(t *testing.T, from, to *Pairing, m Message) (Message, error) {
	t.Helper()
	b, _, err := from.Seal(nil, m)
	if err != nil {
		t.Fatalf("Seal %s: %v", m.Type(), err)
	}
	_, got, err := to.Open(b)
	return got, err
}

func TestPairingExchange(t *testing.T) {
	hub, lock := newPair(t, &MemoryCounterStore{}, &MemoryCounterStore{}, PairingOptions{})
	req, c, err := lock.Seal(nil, &AccessRequest{Kind: CredDoorcode, Code: "12345"})
	if err != nil || c != 1 {
		t.Fatalf("first counter %d, %v", c, err)
	}
	if _, m, err := hub.Open(req); err != nil || m.(*AccessRequest).Code != "12345" {
		t.Fatalf("Open: %v", err)
	}
	// The same bytes again: a replay.
	if _, _, err := hub.Open(req); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	// The hub's own message sent back to it: a reflection.
	dec, _, _ := hub.Seal(nil, &Decision{Request: c, Reason: ReasonExpired})
	if _, _, err := hub.Open(dec); !errors.Is(err, ErrDirection) {
		t.Fatalf("reflection: %v", err)
	}
	// A lock cannot seal a hub message.
	if _, _, err := lock.Seal(nil, &Decision{Request: 1, Reason: ReasonExpired}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("lock sealing a decision: %v", err)
	}
	// Forged: one bit off.
	hb, _, _ := lock.Seal(nil, &Heartbeat{})
	hb[len(hb)-1] ^= 1
	if _, _, err := hub.Open(hb); !errors.Is(err, ErrForged) {
		t.Fatalf("forgery: %v", err)
	}
	s := hub.Stats()
	if s.Accepted != 1 || s.Replayed != 1 || s.Reflected != 1 || s.Forged != 1 || s.Sealed != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPairingSealsOnlyItsDirection(t *testing.T) {
	_, lock := newPair(t, &MemoryCounterStore{}, &MemoryCounterStore{}, PairingOptions{})
	if _, _, err := lock.Seal(nil, &EventAck{}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if lock.NextCounter() != 1 {
		t.Fatal("a refused Seal spent a counter")
	}
}

// TestCountersSurviveRestarts restarts each side in turn and checks that no
// counter is reused and nothing accepted before is accepted again.
func TestCountersSurviveRestarts(t *testing.T) {
	opts := PairingOptions{SendBlock: 16, RecvBlock: 8}
	hs, ls := &MemoryCounterStore{}, &MemoryCounterStore{}
	hub, lock := newPair(t, hs, ls, opts)
	var old [][]byte // every message the lock ever sent
	send := func() error {
		b, _, err := lock.Seal(nil, &Heartbeat{})
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, b)
		_, _, err = hub.Open(b)
		return err
	}
	for i := 0; i < 20; i++ {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	if hs.Writes != 3 || ls.Writes != 2 {
		t.Errorf("writes hub %d lock %d: blocks not used", hs.Writes, ls.Writes)
	}

	// The lock restarts: it resumes above its send mark (32), skipping 12.
	lock, _ = NewPairing(testLock, testKey, RoleLock, ls, opts)
	if lock.NextCounter() != 33 {
		t.Fatalf("lock resumes at %d", lock.NextCounter())
	}
	if err := send(); err != nil {
		t.Fatalf("after a lock restart: %v", err)
	}

	// The hub restarts: its floor is its receive mark (40), above the
	// lock's next counter (34). The lock's message is dropped as a replay,
	// the hub answers with its floor, and the lock skips ahead.
	hub, _ = NewPairing(testLock, testKey, RoleHub, hs, opts)
	if hub.RxFloor() != 40 {
		t.Fatalf("hub floor %d", hub.RxFloor())
	}
	if err := send(); !errors.Is(err, ErrReplay) {
		t.Fatalf("below the restored floor: %v", err)
	}
	if _, err := deliver(t, hub, lock, &CounterFloor{From: HubToLock, Floor: hub.RxFloor()}); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("after the floor: %v", err)
	}
	// Nothing the lock ever sent is accepted again.
	for i, b := range old {
		if _, _, err := hub.Open(b); !errors.Is(err, ErrReplay) {
			t.Fatalf("old message %d: %v", i, err)
		}
	}
}

// TestBothRestartBehindFloors: each side restored a floor above the other's
// next counter. CounterFloor is exempt from the replay check, so both
// floors get through and traffic resumes both ways.
func TestBothRestartBehindFloors(t *testing.T) {
	opts := PairingOptions{SendBlock: 4, RecvBlock: 100}
	hs, ls := &MemoryCounterStore{}, &MemoryCounterStore{}
	hub, lock := newPair(t, hs, ls, opts)
	for i := 0; i < 3; i++ {
		deliver(t, lock, hub, &Heartbeat{})
		deliver(t, hub, lock, &EventAck{})
	}
	hub, lock = newPair(t, hs, ls, opts)
	if _, err := deliver(t, lock, hub, &Heartbeat{}); !errors.Is(err, ErrReplay) {
		t.Fatalf("lock -> hub: %v", err)
	}
	if _, err := deliver(t, hub, lock, &EventAck{}); !errors.Is(err, ErrReplay) {
		t.Fatalf("hub -> lock: %v", err)
	}
	if _, err := deliver(t, hub, lock, &CounterFloor{From: HubToLock, Floor: hub.RxFloor()}); err != nil {
		t.Fatalf("hub floor: %v", err)
	}
	if _, err := deliver(t, lock, hub, &CounterFloor{From: LockToHub, Floor: lock.RxFloor()}); err != nil {
		t.Fatalf("lock floor: %v", err)
	}
	if _, err := deliver(t, lock, hub, &Heartbeat{}); err != nil {
		t.Fatalf("lock -> hub after floors: %v", err)
	}
	if _, err := deliver(t, hub, lock, &EventAck{}); err != nil {
		t.Fatalf("hub -> lock after floors: %v", err)
	}
}

func TestHelloRaisesHubCounter(t *testing.T) {
	hub, lock := newPair(t, &MemoryCounterStore{}, &MemoryCounterStore{}, PairingOptions{})
	if _, err := deliver(t, lock, hub, &Hello{Reason: BootPowerOn, RxFloor: 5000}); err != nil {
		t.Fatal(err)
	}
	if hub.NextCounter() != 5001 || hub.Stats().Skipped != 5000 {
		t.Fatalf("hub next %d, stats %+v", hub.NextCounter(), hub.Stats())
	}
	// A replayed old CounterFloor never lowers the counter.
	f, _, _ := lock.Seal(nil, &CounterFloor{From: LockToHub, Floor: 10})
	if _, _, err := hub.Open(f); err != nil || hub.NextCounter() != 5001 {
		t.Fatalf("low floor: next %d, %v", hub.NextCounter(), err)
	}
	if _, _, err := hub.Open(f); err != nil || hub.NextCounter() != 5001 {
		t.Fatalf("replayed floor: next %d, %v", hub.NextCounter(), err)
	}
}

type failingStore struct{ MemoryCounterStore }

func (*failingStore) StoreCounter(LockID, CounterKind, uint32) error { return errors.New("disk full") }

func TestCounterStoreFailure(t *testing.T) {
	hub, lock := newPair(t, &failingStore{}, &MemoryCounterStore{}, PairingOptions{})
	if _, _, err := hub.Seal(nil, &EventAck{}); !errors.Is(err, ErrCounterStore) {
		t.Fatalf("Seal: %v", err)
	}
	b, _, _ := lock.Seal(nil, &Heartbeat{})
	if _, _, err := hub.Open(b); !errors.Is(err, ErrCounterStore) {
		t.Fatalf("Open: %v", err)
	}
	if hub.RxFloor() != 0 || hub.Stats().Accepted != 0 {
		t.Fatal("a message was accepted without its mark stored")
	}
}

func TestCounterExhausted(t *testing.T) {
	s := &MemoryCounterStore{}
	s.StoreCounter(testLock, CounterSend, math.MaxUint32-1)
	p, err := NewPairing(testLock, testKey, RoleHub, s, PairingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, c, err := p.Seal(nil, &EventAck{}); err != nil || c != math.MaxUint32 {
		t.Fatalf("last counter: %d %v", c, err)
	}
	if _, _, err := p.Seal(nil, &EventAck{}); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("after the last: %v", err)
	}
}

func TestMemoryCounterStoreNeverLowers(t *testing.T) {
	var s MemoryCounterStore
	if err := s.StoreCounter(1, CounterSend, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreCounter(1, CounterSend, 9); err == nil {
		t.Fatal("lowered")
	}
	if v, _ := s.LoadCounter(1, CounterSend); v != 10 {
		t.Fatal(v)
	}
}
