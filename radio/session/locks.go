package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Log keys.
const (
	logComponent = "component"
	logLock      = "lock"
	logDoor      = "door"
	logErr       = "err"
	logCount     = "count"
	logType      = "type"
	logReason    = "reason"
)

// Errors.
var (
	// ErrUnknownLock: no lock of that id is paired.
	ErrUnknownLock = errors.New("session: lock not paired")
	// ErrInvalidPairing: a pairing without a lock id, key or a valid door id.
	ErrInvalidPairing = errors.New("session: invalid pairing")
	// ErrExpired: a command for a lock was not answered before its
	// context ended or its lifetime ran out (the lock did not wake).
	ErrExpired = errors.New("session: command expired before the lock answered")
	// ErrClosed: the sessions were closed.
	ErrClosed = errors.New("session: closed")
)

// Transport carries envelopes to and from the coprocessor: the radio on
// the serial port (radio/serialport.Radio) or, in tests, a link.
type Transport interface {
	Send(ctx context.Context, payload []byte) error
	Recv(ctx context.Context) ([]byte, error)
}

// Decider decides a presentation at a door: hub.Engine.
type Decider interface {
	Decide(doorID string, p hub.Presentation, now hub.Now) hub.Decision
}

// Clock is the hub's time: hub.Clock.
type Clock interface {
	Now() hub.Now
	ObserveLockClock(lockID string, lockClock time.Time)
}

// Activity is where decisions and lock reports go (the daemon adapts its
// hub.ActivityLog).
type Activity interface {
	// Decision records a decision the hub made, after the lock has its
	// answer. An error is logged and counted; the decision stands.
	Decision(ctx context.Context, d hub.Decision) error
	// LockEvent records what a lock reported. Only after it returned nil
	// (the record is durable) is the lock told it may forget the event.
	LockEvent(ctx context.Context, e LockEvent) error
}

// LockEvent is a report of a lock: a door event, or a decision it made on
// its own list while the hub was unreachable.
type LockEvent struct {
	Lock lockmsg.LockID
	Door string
	Seq  uint32 // the lock's event sequence number
	// At is when it happened, on the hub's clock: the lock's clock reading
	// moved by the offset the hub saw in the lock's last status; Trusted
	// only if the hub's clock was trusted and the lock's clock set.
	At hub.Now
	// Event, Detail, BatteryPercent: a door event (BatteryPercent -1 when
	// unknown).
	Event          lockmsg.DoorEventKind
	Detail         uint16
	BatteryPercent int
	// Offline is set for a decision the lock made alone: door, time,
	// credential kind, outcome and reason, and — when the lock named the
	// list entry that decided and Lists can say whose credential it is
	// (ListEntries) — the identity the hub's engine gives that credential
	// at that door and time, with its privacy rule (Visibility).
	Offline *hub.Decision
	// LockClock and Entry are set with Offline: the lock's own clock at
	// the decision, and the reference of the list entry that decided
	// (hub.EntryRef; 0 for none).
	LockClock time.Time
	Entry     uint32
}

// Defaults of Options.
const (
	DefaultUnlockSeconds = 5
	DefaultAwakeWindow   = 2 * time.Second
	DefaultFloorEvery    = time.Second
	DefaultClockSkew     = 2 * time.Minute
	DefaultSendTimeout   = 5 * time.Second
	DefaultResendAfter   = 10 * time.Second
	DefaultCommandLife   = 24 * time.Hour
)

// Options wires the sessions. Transport, Decider, Clock and Store are
// required.
type Options struct {
	Transport Transport
	Decider   Decider
	Clock     Clock
	Store     Store
	Activity  Activity // nil: nothing is recorded, events are not acknowledged
	Lists     Lists    // nil: no lock lists are sent
	// UnlockSeconds: how long an allowed presentation unlocks. Default 5.
	UnlockSeconds uint16
	// AwakeWindow: how long a lock listens after it spoke (the protocol's
	// awake time; messages for it are sent only then). Default 2 s.
	AwakeWindow time.Duration
	// FloorEvery: at most one CounterFloor per lock this often, however
	// many replays arrive. Default 1 s.
	FloorEvery time.Duration
	// ClockSkew: a lock whose clock is further than this from a trusted hub
	// clock gets a TimeSync. Default 2 min.
	ClockSkew time.Duration
	// SendTimeout bounds one envelope's send. Default 5 s.
	SendTimeout time.Duration
	// ResendAfter: a command sent and not answered is sent again at the
	// lock's next wake after this long. Default 10 s.
	ResendAfter time.Duration
	Logger      *slog.Logger
}

// Stats counts what the sessions did, since start.
type Stats struct {
	Envelopes          uint64 `json:"envelopes"`            // lock envelopes received
	Unpaired           uint64 `json:"unpaired"`             // from locks not paired: dropped
	BadEnvelopes       uint64 `json:"bad_envelopes"`        // not an envelope: dropped
	InboxFull          uint64 `json:"inbox_full"`           // a lock's queue was full: dropped
	Forged             uint64 `json:"forged"`               // MAC failed: dropped (a security event)
	Replayed           uint64 `json:"replayed"`             // counter already seen: dropped
	Reflected          uint64 `json:"reflected"`            // the hub's own direction: dropped
	Malformed          uint64 `json:"malformed"`            // authentic but not a valid message
	FloorsSent         uint64 `json:"floors_sent"`          // CounterFloor answers to replays
	Decisions          uint64 `json:"decisions"`            // access requests answered
	Allowed            uint64 `json:"allowed"`              // of which allowed
	EventsStored       uint64 `json:"events_stored"`        // lock events stored and acknowledged
	EventStoreFailures uint64 `json:"event_store_failures"` // lock events not stored (not acknowledged)
	ActivityFailures   uint64 `json:"activity_failures"`    // decisions whose record failed
	SendFailures       uint64 `json:"send_failures"`        // envelopes the radio did not take
	Undelivered        uint64 `json:"undelivered"`          // hub messages the coprocessor could not deliver
	CommandsDone       uint64 `json:"commands_done"`        // commands a lock answered
}

type counters struct {
	envelopes, unpaired, badEnvelopes, inboxFull, forged, replayed, reflected, malformed, floorsSent,
	decisions, allowed, eventsStored, eventStoreFailures, activityFailures, sendFailures, undelivered,
	commandsDone atomic.Uint64
}

// Locks is the hub's side of every paired lock: one session per lock,
// each handling its lock's messages in order. See the package doc.
type Locks struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[lockmsg.LockID]*lockSession
	unpaired map[lockmsg.LockID]time.Time // last log line per unknown lock
	closed   bool

	st counters
}

// Open loads the pairings and starts receiving. Close stops it.
func Open(opts Options) (*Locks, error) {
	if opts.Transport == nil || opts.Decider == nil || opts.Clock == nil || opts.Store == nil {
		return nil, errors.New("session: Transport, Decider, Clock and Store are required")
	}
	if opts.UnlockSeconds == 0 {
		opts.UnlockSeconds = DefaultUnlockSeconds
	}
	if opts.UnlockSeconds > lockmsg.MaxUnlockSeconds {
		return nil, fmt.Errorf("session: unlock of %d s", opts.UnlockSeconds)
	}
	if opts.AwakeWindow <= 0 {
		opts.AwakeWindow = DefaultAwakeWindow
	}
	if opts.FloorEvery <= 0 {
		opts.FloorEvery = DefaultFloorEvery
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = DefaultSendTimeout
	}
	if opts.ResendAfter <= 0 {
		opts.ResendAfter = DefaultResendAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &Locks{opts: opts, log: opts.Logger.With(slog.String(logComponent, "radio.session")),
		sessions: map[lockmsg.LockID]*lockSession{}, unpaired: map[lockmsg.LockID]time.Time{}}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	pairings, err := opts.Store.Pairings()
	if err != nil {
		return nil, fmt.Errorf("session: loading pairings: %w", err)
	}
	for _, p := range pairings {
		s, err := l.newSession(p)
		if err != nil {
			l.cancel()
			l.wg.Wait()
			return nil, err
		}
		l.sessions[p.Lock] = s
	}
	l.wg.Add(1)
	go l.recvLoop()
	l.log.Info("lock sessions open", slog.Int(logCount, len(pairings)))
	return l, nil
}

// Close stops every session and waits for them.
func (l *Locks) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("session: close: %w", ctx.Err())
	}
}

// PairResult says what Pair did.
type PairResult struct {
	Lock lockmsg.LockID
	Door string
	// New: the lock was not paired before. KeyChanged: it was, with
	// another key; its counters started over.
	New, KeyChanged bool
}

// Pair pairs a lock (or changes its key or door): stored durably first,
// then effective at once. The lock is told its door (DoorAssign) when it
// next wakes.
func (l *Locks) Pair(p Pairing) (PairResult, error) {
	if p.Lock == 0 || p.Key == (lockmsg.Key{}) {
		return PairResult{}, fmt.Errorf("%w: lock id and key are required", ErrInvalidPairing)
	}
	if _, err := lockmsg.AppendBody(nil, &lockmsg.DoorAssign{Door: p.Door}); err != nil {
		return PairResult{}, fmt.Errorf("%w: door %q: must be a door id (letters, digits, '-', '_', '.', at most %d)",
			ErrInvalidPairing, p.Door, lockmsg.MaxDoorID)
	}
	if p.PairedAt.IsZero() {
		p.PairedAt = l.opts.Clock.Now().Time
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return PairResult{}, ErrClosed
	}
	res := PairResult{Lock: p.Lock, Door: p.Door}
	old := l.sessions[p.Lock]
	if old != nil {
		old.mu.Lock()
		res.KeyChanged = old.key != p.Key
		p0 := old.pairedAt
		old.mu.Unlock()
		if !res.KeyChanged {
			p.PairedAt = p0
		}
	} else {
		res.New = true
	}
	if err := l.opts.Store.SavePairing(p); err != nil {
		return PairResult{}, fmt.Errorf("session: storing the pairing of %s: %w", p.Lock, err)
	}
	if old == nil {
		s, err := l.newSession(p)
		if err != nil {
			return PairResult{}, err
		}
		l.sessions[p.Lock] = s
		s.queue(&command{msg: &lockmsg.DoorAssign{Door: p.Door}, key: "door_assign"})
		l.log.Info("lock paired", slog.String(logLock, p.Lock.Hex()), slog.String(logDoor, p.Door))
		return res, nil
	}
	if err := old.repair(p); err != nil {
		return PairResult{}, err
	}
	l.log.Info("lock paired again", slog.String(logLock, p.Lock.Hex()), slog.String(logDoor, p.Door),
		slog.Bool("key_changed", res.KeyChanged))
	return res, nil
}

// Command sends m to a lock when it is next awake (at once if it is) and
// waits for its CommandResult, until ctx ends.
func (l *Locks) Command(ctx context.Context, lock lockmsg.LockID, m lockmsg.Message) (*lockmsg.CommandResult, error) {
	s := l.session(lock)
	if s == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownLock, lock.Hex())
	}
	c := &command{msg: m, done: make(chan commandReply, 1)}
	if d, ok := ctx.Deadline(); ok {
		c.expires = d
	}
	s.queue(c)
	select {
	case r := <-c.done:
		return r.result, r.err
	case <-ctx.Done():
		s.cancelCommand(c)
		return nil, fmt.Errorf("%w: %v", ErrExpired, ctx.Err())
	case <-l.ctx.Done():
		return nil, ErrClosed
	}
}

// Locks returns the state of every paired lock, by id.
func (l *Locks) Locks() []LockStatus {
	l.mu.Lock()
	ss := make([]*lockSession, 0, len(l.sessions))
	for _, s := range l.sessions {
		ss = append(ss, s)
	}
	l.mu.Unlock()
	out := make([]LockStatus, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.status())
	}
	slices.SortFunc(out, func(a, b LockStatus) int {
		if a.Lock < b.Lock {
			return -1
		}
		if a.Lock > b.Lock {
			return 1
		}
		return 0
	})
	return out
}

// Stats returns the counts so far.
func (l *Locks) Stats() Stats {
	c := &l.st
	return Stats{
		Envelopes: c.envelopes.Load(), Unpaired: c.unpaired.Load(), BadEnvelopes: c.badEnvelopes.Load(),
		InboxFull: c.inboxFull.Load(), Forged: c.forged.Load(), Replayed: c.replayed.Load(),
		Reflected: c.reflected.Load(), Malformed: c.malformed.Load(), FloorsSent: c.floorsSent.Load(),
		Decisions: c.decisions.Load(), Allowed: c.allowed.Load(), EventsStored: c.eventsStored.Load(),
		EventStoreFailures: c.eventStoreFailures.Load(), ActivityFailures: c.activityFailures.Load(),
		SendFailures: c.sendFailures.Load(), Undelivered: c.undelivered.Load(), CommandsDone: c.commandsDone.Load(),
	}
}

func (l *Locks) session(id lockmsg.LockID) *lockSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sessions[id]
}

// recvLoop reads envelopes and hands each to its lock's session.
func (l *Locks) recvLoop() {
	defer l.wg.Done()
	for {
		p, err := l.opts.Transport.Recv(l.ctx)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			l.log.Error("radio receive failed; retrying", slog.Any(logErr, err))
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		l.dispatch(p)
	}
}

func (l *Locks) dispatch(p []byte) {
	if coproc.IsControl(p) {
		m, err := coproc.Parse(p)
		if err != nil {
			l.st.badEnvelopes.Add(1)
			return
		}
		if u, ok := m.(*coproc.Undelivered); ok {
			l.st.undelivered.Add(1)
			if s := l.session(u.Lock); s != nil {
				s.undelivered(u)
			}
		}
		return
	}
	env, err := lockmsg.ParseEnvelope(p)
	if err != nil {
		l.st.badEnvelopes.Add(1)
		return
	}
	l.st.envelopes.Add(1)
	s := l.session(env.Lock)
	if s == nil {
		l.st.unpaired.Add(1)
		l.mu.Lock()
		last, seen := l.unpaired[env.Lock]
		if !seen || time.Since(last) > time.Minute {
			l.unpaired[env.Lock] = time.Now()
			if len(l.unpaired) > 1024 { // bound the memory an air full of strangers costs
				clear(l.unpaired)
			}
			l.log.Info("message from a lock that is not paired: dropped (pair it with `doorhub pair`)",
				slog.String(logLock, env.Lock.Hex()))
		}
		l.mu.Unlock()
		return
	}
	s.deliver(inbound{rssi: env.RSSI, sealed: env.Sealed, at: time.Now()})
}
