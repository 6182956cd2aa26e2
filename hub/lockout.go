package hub

import (
	"sync"
	"time"
)

// LockoutOptions configures keypad brute-force protection: after Attempts
// wrong codes at a door within Window, its keypad is locked out for
// Duration (every code denied with keypad_locked_out) and an alarm goes up.
type LockoutOptions struct {
	Attempts int           // default 5
	Window   time.Duration // default 1 minute
	Duration time.Duration // default 5 minutes
}

// Defaults for LockoutOptions.
const (
	DefaultLockoutAttempts = 5
	DefaultLockoutWindow   = time.Minute
	DefaultLockoutDuration = 5 * time.Minute
)

// lockout keeps, per door, the recent wrong codes and the lockout end. It
// lives in memory: a restart forgets it (an attacker gains one more window
// of attempts per restart, which the alarm already reported).
type lockout struct {
	opts  LockoutOptions
	mu    sync.Mutex
	doors map[string]*doorAttempts
}

type doorAttempts struct {
	wrong []time.Time // within the window, oldest first
	until time.Time   // locked out before this instant
}

func newLockout(opts LockoutOptions) *lockout {
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultLockoutAttempts
	}
	if opts.Window <= 0 {
		opts.Window = DefaultLockoutWindow
	}
	if opts.Duration <= 0 {
		opts.Duration = DefaultLockoutDuration
	}
	return &lockout{opts: opts, doors: map[string]*doorAttempts{}}
}

func (l *lockout) locked(door string, t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.doors[door]
	return a != nil && t.Before(a.until)
}

// fail records a wrong code and reports whether it started a lockout.
func (l *lockout) fail(door string, t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.doors[door]
	if a == nil {
		a = &doorAttempts{}
		l.doors[door] = a
	}
	cut := t.Add(-l.opts.Window)
	keep := a.wrong[:0]
	for _, w := range a.wrong {
		if w.After(cut) {
			keep = append(keep, w)
		}
	}
	a.wrong = append(keep, t)
	if len(a.wrong) >= l.opts.Attempts {
		a.wrong = a.wrong[:0]
		a.until = t.Add(l.opts.Duration)
		return true
	}
	return false
}
