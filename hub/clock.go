package hub

import (
	"sort"
	"sync"
	"time"
)

// Now is the hub's idea of the current time: the instant decisions use and
// whether the hub trusts it (docs/access-rules.md, "Time").
type Now struct {
	Time    time.Time
	Trusted bool
}

// TimeSource says where trusted time came from.
type TimeSource string

// Time sources, in the order a hub prefers them.
const (
	SourceNone  TimeSource = ""
	SourceNTP   TimeSource = "ntp"   // the system clock is NTP-synchronised
	SourceCloud TimeSource = "cloud" // a signed timestamp from the cloud
	SourceLocks TimeSource = "locks" // paired locks' battery-backed clocks agree
)

// FloorStore persists the last time the hub knew to be good.
type FloorStore interface {
	LoadFloor() (time.Time, error)
	SaveFloor(time.Time) error
}

// ClockOptions configures a Clock.
type ClockOptions struct {
	// System reads the system (wall) clock; time.Now when nil.
	System func() time.Time
	// Monotonic reads a clock that only moves forward at the rate of real
	// time, whatever happens to the wall clock; the process's monotonic
	// clock when nil.
	Monotonic func() time.Duration
	// Floor persists the floor; nil keeps it in memory only.
	Floor FloorStore
	// UntrustedMargin: while the clock is untrusted, a time-limited grant
	// admits only if it expires at least this far beyond now. Default 24h.
	UntrustedMargin time.Duration
	// LockQuorum is how many distinct locks must agree for their clocks to
	// be trusted. Default 3.
	LockQuorum int
	// LockAgreement is how close lock clocks must be to their median.
	// Default 2 minutes.
	LockAgreement time.Duration
	// LockFreshness is how long a lock's clock reading counts. Default
	// 15 minutes.
	LockFreshness time.Duration
	// MinFloor is a time known to have passed whatever the disk says: the
	// floor never starts below it. Default ReleaseFloor.
	MinFloor time.Time
}

// ReleaseFloor is a moment before this software was released: no hub
// running it can live earlier, so a Pi that boots in 1970 with an empty
// disk starts from here (as systemd-timesyncd starts from its build time).
var ReleaseFloor = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// DefaultUntrustedMargin is the default ClockOptions.UntrustedMargin.
const DefaultUntrustedMargin = 24 * time.Hour

// Clock is the hub's time keeper. It never goes below the persisted floor,
// tracks which source it trusts, and is safe for concurrent use.
//
// Time moves on by the monotonic clock from the moment a good time was
// known, so a system clock set back or forward while running moves neither
// the floor nor a trusted time taken from the cloud or the locks.
type Clock struct {
	opts ClockOptions

	mu        sync.Mutex
	floor     time.Time     // last good time, at floorRef
	floorRef  time.Duration // monotonic reading when floor was set
	source    TimeSource
	since     time.Time // trusted time when the source was first trusted
	trustWall time.Time // trusted time at trustRef (cloud, locks)
	trustRef  time.Duration
	ntp       bool
	holdover  bool // NTP sync lost: time carried on from the last synced reading
	locks     map[string]lockReading
}

type lockReading struct {
	lockClock time.Time
	at        time.Duration // monotonic reading when it was observed
}

// NewClock loads the floor and returns an untrusted clock.
func NewClock(opts ClockOptions) (*Clock, error) {
	if opts.System == nil {
		opts.System = time.Now
	}
	if opts.Monotonic == nil {
		start := time.Now()
		opts.Monotonic = func() time.Duration { return time.Since(start) }
	}
	if opts.UntrustedMargin == 0 {
		opts.UntrustedMargin = DefaultUntrustedMargin
	}
	if opts.LockQuorum == 0 {
		opts.LockQuorum = 3
	}
	if opts.LockAgreement == 0 {
		opts.LockAgreement = 2 * time.Minute
	}
	if opts.LockFreshness == 0 {
		opts.LockFreshness = 15 * time.Minute
	}
	if opts.MinFloor.IsZero() {
		opts.MinFloor = ReleaseFloor
	}
	c := &Clock{opts: opts, locks: map[string]lockReading{}}
	c.floorRef = opts.Monotonic()
	if opts.Floor != nil {
		f, err := opts.Floor.LoadFloor()
		if err != nil {
			return nil, err
		}
		c.floor = f
	}
	if c.floor.Before(opts.MinFloor) {
		c.floor = opts.MinFloor
	}
	return c, nil
}

// Margin returns the untrusted-clock margin.
func (c *Clock) Margin() time.Duration { return c.opts.UntrustedMargin }

// Now returns the current time: the trusted time when a source is trusted,
// else the system clock; never below the floor advanced by the elapsed
// monotonic time.
func (c *Clock) Now() Now {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() Now {
	sys, mono := c.opts.System(), c.opts.Monotonic()
	floor := c.floorAt(mono)
	t := sys
	if c.source == SourceCloud || c.source == SourceLocks || c.holdover {
		t = c.trustWall.Add(mono - c.trustRef)
	}
	if t.Before(floor) {
		t = floor
	}
	return Now{Time: t, Trusted: c.source != SourceNone}
}

// floorAt is the floor moved on by the monotonic time since it was set.
func (c *Clock) floorAt(mono time.Duration) time.Time {
	if c.floor.IsZero() {
		return c.floor
	}
	elapsed := mono - c.floorRef
	if elapsed < 0 {
		elapsed = 0
	}
	return c.floor.Add(elapsed)
}

// SetNTPSynchronized tells the clock whether the system clock is
// synchronised by NTP (from the adapter that asks the system).
func (c *Clock) SetNTPSynchronized(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok == c.ntp {
		return
	}
	c.ntp = ok
	if ok {
		c.trust(SourceNTP, time.Time{})
		return
	}
	if c.source == SourceNTP {
		// Carry the last synchronised time on by the monotonic clock: a
		// lost NTP sync does not make the time wrong at once, and a wall
		// clock set by hand afterwards does not move it.
		now := c.nowLocked().Time
		c.holdover = true
		c.trustWall, c.trustRef = now, c.opts.Monotonic()
	}
}

// TrustCloudTime takes a signed timestamp from the cloud as trusted time.
// The caller has verified the signature.
func (c *Clock) TrustCloudTime(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.source == SourceNTP && !c.holdover {
		return // a synchronised system clock is preferred
	}
	c.trust(SourceCloud, t)
}

// ObserveLockClock records a lock's battery-backed clock reading. When
// LockQuorum distinct locks read within LockAgreement of their median, and
// no better source is trusted, the clock trusts their median.
func (c *Clock) ObserveLockClock(lockID string, lockClock time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mono := c.opts.Monotonic()
	c.locks[lockID] = lockReading{lockClock: lockClock, at: mono}
	if c.source == SourceNTP || c.source == SourceCloud {
		return
	}
	var now []time.Time // each lock's clock carried on to this moment
	for id, r := range c.locks {
		age := mono - r.at
		if age > c.opts.LockFreshness {
			delete(c.locks, id)
			continue
		}
		now = append(now, r.lockClock.Add(age))
	}
	if len(now) < c.opts.LockQuorum {
		return
	}
	sort.Slice(now, func(i, j int) bool { return now[i].Before(now[j]) })
	median := now[len(now)/2]
	agree := 0
	for _, t := range now {
		if d := t.Sub(median); d <= c.opts.LockAgreement && d >= -c.opts.LockAgreement {
			agree++
		}
	}
	if agree >= c.opts.LockQuorum {
		c.trust(SourceLocks, median)
	}
}

func (c *Clock) trust(src TimeSource, t time.Time) {
	mono := c.opts.Monotonic()
	if src == SourceNTP {
		t = c.opts.System()
	}
	if c.source != src || c.since.IsZero() {
		c.since = t
	}
	c.source, c.holdover = src, false
	c.trustWall, c.trustRef = t, mono
	// A trusted time is a good time: raise the floor to it.
	if t.After(c.floorAt(mono)) {
		c.floor, c.floorRef = t, mono
	}
}

// Distrust drops the trusted source (the cloud's key changed, the locks
// disagree); the clock goes on from the floor and the system clock.
func (c *Clock) Distrust() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked().Time
	c.floor, c.floorRef = now, c.opts.Monotonic()
	c.source, c.since, c.ntp, c.holdover = SourceNone, time.Time{}, false, false
}

// PersistFloor saves the current good time as the floor. Call it
// periodically and on shutdown. While untrusted, the saved floor is the
// old floor moved on by elapsed time, never the untrusted system clock.
func (c *Clock) PersistFloor() error {
	c.mu.Lock()
	mono := c.opts.Monotonic()
	good := c.floorAt(mono)
	if c.source != SourceNone {
		good = c.nowLocked().Time
		c.floor, c.floorRef = good, mono
	}
	c.mu.Unlock()
	if c.opts.Floor == nil || good.IsZero() {
		return nil
	}
	return c.opts.Floor.SaveFloor(good)
}

// ClockStatus is what a technician sees about time.
type ClockStatus struct {
	Now     time.Time  `json:"now"`
	Trusted bool       `json:"trusted"`
	Source  TimeSource `json:"source,omitempty"`
	Since   time.Time  `json:"since,omitempty"`
	Floor   time.Time  `json:"floor"`
	Reason  string     `json:"reason"`
	Margin  string     `json:"untrusted_margin"`
}

// Status reports the clock's state and why it is (not) trusted.
func (c *Clock) Status() ClockStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nowLocked()
	st := ClockStatus{Now: n.Time, Trusted: n.Trusted, Source: c.source, Since: c.since,
		Floor: c.floorAt(c.opts.Monotonic()), Margin: c.opts.UntrustedMargin.String()}
	switch c.source {
	case SourceNTP:
		st.Reason = "system clock synchronised by NTP"
		if c.holdover {
			st.Reason = "NTP sync lost; carrying the last synchronised time on the monotonic clock"
		}
	case SourceCloud:
		st.Reason = "signed time from the cloud"
	case SourceLocks:
		st.Reason = "paired locks' clocks agree"
	default:
		st.Reason = "no NTP sync, no signed cloud time and no lock quorum yet; deciding at the later of the system clock and the persisted floor"
	}
	return st
}
