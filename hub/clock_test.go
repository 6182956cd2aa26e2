package hub_test

import (
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// fakeTime is an injectable wall clock and monotonic clock: the wall clock
// can be set anywhere, the monotonic one only moves with advance.
type fakeTime struct {
	wall time.Time
	mono time.Duration
}

func (f *fakeTime) advance(d time.Duration) { f.wall = f.wall.Add(d); f.mono += d }
func (f *fakeTime) set(t time.Time)         { f.wall = t }

func newClock(t *testing.T, ft *fakeTime, floor hub.FloorStore) *hub.Clock {
	t.Helper()
	c, err := hub.NewClock(hub.ClockOptions{
		System:    func() time.Time { return ft.wall },
		Monotonic: func() time.Duration { return ft.mono },
		Floor:     floor,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClockNeverBelowFloor(t *testing.T) {
	store := hub.NewMemStore()
	if err := store.SaveFloor(t0); err != nil {
		t.Fatal(err)
	}
	// After a power cut the Pi boots in 1970.
	ft := &fakeTime{wall: time.Unix(0, 0)}
	c := newClock(t, ft, store)
	if n := c.Now(); !n.Time.Equal(t0) || n.Trusted {
		t.Fatalf("now = %+v, want the floor, untrusted", n)
	}
	ft.advance(time.Hour)
	if n := c.Now(); !n.Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("floor not moved on by elapsed time: %v", n.Time)
	}
	// A system clock ahead of the floor wins while untrusted.
	ft.set(t0.Add(48 * time.Hour))
	if n := c.Now(); !n.Time.Equal(t0.Add(48 * time.Hour)) {
		t.Fatalf("now = %v, want the system clock", n.Time)
	}
	// ... but is never persisted as a good time.
	if err := c.PersistFloor(); err != nil {
		t.Fatal(err)
	}
	if f, _ := store.LoadFloor(); !f.Equal(t0.Add(time.Hour)) {
		t.Fatalf("persisted floor %v, want %v", f, t0.Add(time.Hour))
	}
	// Setting the system clock back does not move now below the floor.
	ft.set(t0.Add(-365 * 24 * time.Hour))
	if n := c.Now(); !n.Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("now = %v after the clock went back", n.Time)
	}
}

func TestClockTrustSources(t *testing.T) {
	ft := &fakeTime{wall: time.Unix(0, 0)}
	c := newClock(t, ft, nil)
	if st := c.Status(); st.Trusted || st.Reason == "" {
		t.Fatalf("status %+v", st)
	}
	// Signed cloud time: trusted, carried on by the monotonic clock even
	// when the wall clock is set elsewhere.
	c.TrustCloudTime(t0)
	ft.advance(10 * time.Minute)
	ft.set(time.Unix(12345, 0))
	if n := c.Now(); !n.Trusted || !n.Time.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("cloud time: %+v", n)
	}
	if st := c.Status(); st.Source != hub.SourceCloud || !st.Since.Equal(t0) {
		t.Fatalf("status %+v", st)
	}
	// NTP wins over the cloud: the system clock is synchronised.
	ft.set(t0.Add(time.Hour))
	c.SetNTPSynchronized(true)
	if n := c.Now(); !n.Trusted || !n.Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("ntp: %+v", n)
	}
	c.TrustCloudTime(t0.Add(-time.Hour)) // ignored while NTP holds
	if st := c.Status(); st.Source != hub.SourceNTP {
		t.Fatalf("source %s", st.Source)
	}
	// NTP lost: holdover on the monotonic clock, still trusted.
	c.SetNTPSynchronized(false)
	ft.advance(time.Minute)
	ft.set(time.Unix(0, 0))
	if n := c.Now(); !n.Trusted || !n.Time.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("holdover: %+v", n)
	}
	c.Distrust()
	if n := c.Now(); n.Trusted || !n.Time.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("distrusted: %+v", n)
	}
}

func TestClockLockQuorum(t *testing.T) {
	ft := &fakeTime{wall: time.Unix(0, 0)}
	c := newClock(t, ft, nil)
	c.ObserveLockClock("l1", t0)
	c.ObserveLockClock("l2", t0.Add(30*time.Second))
	if c.Now().Trusted {
		t.Fatal("two locks are no quorum")
	}
	c.ObserveLockClock("l3", t0.Add(-10*24*time.Hour)) // a lock with a flat battery
	if c.Now().Trusted {
		t.Fatal("disagreeing locks trusted")
	}
	c.ObserveLockClock("l4", t0.Add(time.Minute))
	n := c.Now()
	if !n.Trusted || n.Time.Before(t0) || n.Time.After(t0.Add(time.Minute)) {
		t.Fatalf("quorum of 3 agreeing locks: %+v", n)
	}
	if st := c.Status(); st.Source != hub.SourceLocks {
		t.Fatalf("source %s", st.Source)
	}
	// Old readings stop counting.
	c2 := newClock(t, ft, nil)
	c2.ObserveLockClock("l1", t0)
	c2.ObserveLockClock("l2", t0)
	ft.advance(time.Hour)
	c2.ObserveLockClock("l3", t0.Add(time.Hour))
	if c2.Now().Trusted {
		t.Fatal("stale lock readings made a quorum")
	}
}

// TestUntrustedClockEndToEnd: a Pi that boots with a wrong clock keeps
// residents with long leases in and refuses what it cannot judge.
func TestUntrustedClockEndToEnd(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("res", false), person("temp", false),
		grant("g-res", "res", "building", expires(t0.Add(30*24*time.Hour))),
		grant("g-temp", "temp", "building", expires(t0.Add(3*time.Hour))),
		card("aa000001", "res", true), card("bb000002", "temp", true))
	if err := f.store.SaveFloor(t0); err != nil {
		t.Fatal(err)
	}
	ft := &fakeTime{wall: time.Unix(0, 0)}
	c := newClock(t, ft, f.store)
	if d := f.engine.Decide("main", keycard("aa000001"), c.Now()); d.Reason != hub.AllowedByGrant {
		t.Fatalf("long lease: %s", d.Reason)
	}
	if d := f.engine.Decide("main", keycard("bb000002"), c.Now()); d.Reason != hub.ClockUntrusted {
		t.Fatalf("short window: %s", d.Reason)
	}
	c.TrustCloudTime(t0)
	if d := f.engine.Decide("main", keycard("bb000002"), c.Now()); d.Reason != hub.AllowedByGrant {
		t.Fatalf("after cloud time: %s", d.Reason)
	}
}
