package hub

import (
	"testing"
	"time"
)

type raiseFloorStore struct{ saved time.Time }

func (m *raiseFloorStore) LoadFloor() (time.Time, error) { return m.saved, nil }
func (m *raiseFloorStore) SaveFloor(t time.Time) error   { m.saved = t; return nil }

// TestClockRaiseFloor: a later bound raises the floor (and "now" with it)
// without trusting the clock, and is what PersistFloor saves; an earlier
// one changes nothing.
func TestClockRaiseFloor(t *testing.T) {
	sys := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Pi that booted behind
	var mono time.Duration
	fs := &raiseFloorStore{}
	c, err := NewClock(ClockOptions{System: func() time.Time { return sys.Add(mono) },
		Monotonic: func() time.Duration { return mono }, Floor: fs})
	if err != nil {
		t.Fatal(err)
	}
	bound := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	if !c.RaiseFloor(bound) {
		t.Fatal("a later bound did not raise the floor")
	}
	mono = time.Minute
	if n := c.Now(); n.Trusted || !n.Time.Equal(bound.Add(time.Minute)) {
		t.Fatalf("now %+v, want untrusted %v", n, bound.Add(time.Minute))
	}
	if c.RaiseFloor(bound.Add(30 * time.Second)) {
		t.Fatal("an earlier bound moved the floor")
	}
	if err := c.PersistFloor(); err != nil {
		t.Fatal(err)
	}
	if !fs.saved.Equal(bound.Add(time.Minute)) {
		t.Fatalf("persisted floor %v", fs.saved)
	}
}
