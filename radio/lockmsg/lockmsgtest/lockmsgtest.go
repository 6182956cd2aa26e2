// Package lockmsgtest holds the contract every lockmsg.CounterStore must
// meet, for the in-memory store here and the daemon's durable one.
package lockmsgtest

import (
	"testing"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

// RunCounterStore checks a CounterStore. open returns the store; reopen,
// if not nil, returns the same store as a restarted process would see it.
func RunCounterStore(t *testing.T, open func(t *testing.T) lockmsg.CounterStore, reopen func(t *testing.T) lockmsg.CounterStore) {
	t.Helper()
	s := open(t)
	load := func(s lockmsg.CounterStore, lock lockmsg.LockID, k lockmsg.CounterKind) uint32 {
		t.Helper()
		v, err := s.LoadCounter(lock, k)
		if err != nil {
			t.Fatalf("LoadCounter(%s, %s): %v", lock, k, err)
		}
		return v
	}
	if v := load(s, 1, lockmsg.CounterSend); v != 0 {
		t.Fatalf("nothing stored: LoadCounter = %d, want 0", v)
	}
	marks := map[lockmsg.LockID][2]uint32{1: {255, 63}, 2: {511, 1<<32 - 1}, 0xffffffff: {1, 2}}
	for lock, m := range marks {
		if err := s.StoreCounter(lock, lockmsg.CounterSend, m[0]); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreCounter(lock, lockmsg.CounterReceive, m[1]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s lockmsg.CounterStore, when string) {
		t.Helper()
		for lock, m := range marks {
			if got := [2]uint32{load(s, lock, lockmsg.CounterSend), load(s, lock, lockmsg.CounterReceive)}; got != m {
				t.Errorf("%s: %s marks %v, want %v", when, lock, got, m)
			}
		}
		if v := load(s, 3, lockmsg.CounterReceive); v != 0 {
			t.Errorf("%s: unknown lock has mark %d", when, v)
		}
	}
	check(s, "stored")
	if err := s.StoreCounter(1, lockmsg.CounterSend, 256); err != nil {
		t.Fatal(err)
	}
	marks[1] = [2]uint32{256, 63}
	check(s, "raised")
	if reopen != nil {
		check(reopen(t), "reopened")
	}
}
