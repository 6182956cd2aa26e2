// Package sim is the other side of the hub's serial line: a radio
// coprocessor with N simulated door locks, speaking docs/radio-protocol.md
// from the lock side with the same codecs as the hub (radio/link,
// radio/lockmsg, radio/coproc). doorhub-sim is a thin command over it;
// tests run it in-process.
//
// Each simulated lock has a random (or seeded) id and key, printed as its
// pairing label; it says hello when it starts, sends a heartbeat every
// Config.Heartbeat, asks the hub about every presentation and waits
// Config.DecisionTimeout for the answer before deciding alone. A lock
// keeps the list the hub sends it in list_chunk messages
// (docs/door-lists.md; it switches only once the whole list is in and its
// digest matches, and reports its version and digest in every status).
// Deciding alone it decides from that list at its own clock — with no
// list it denies with unknown_credential — and reports the decision to
// the hub as an offline event once it is reachable again.
//
// The coprocessor relays lock envelopes, answers version requests and
// resets, and reports a hub message for a sleeping lock as undelivered.
// Faults, Hang, Isolate and Inject make the line, the coprocessor and the
// air misbehave on purpose.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Errors.
var (
	ErrNoLock    = errors.New("sim: no such lock")
	ErrUnplugged = errors.New("sim: the coprocessor is unplugged")
	ErrNoDoor    = errors.New("sim: the lock has no door yet (pair it at the hub, then let it check in)")
)

// Defaults of Config.
const (
	DefaultHeartbeat       = 10 * time.Minute
	DefaultAwakeWindow     = 2 * time.Second
	DefaultDecisionTimeout = 3 * time.Second
	DefaultHelloRetry      = 5 * time.Second
)

// Firmware is the simulated coprocessor's firmware version.
var Firmware = lockmsg.Firmware{Major: 0, Minor: 9, Patch: 0}

// Config describes the simulated radio and locks.
type Config struct {
	Locks int
	// Seed makes lock ids and keys reproducible; 0 draws them at random.
	Seed uint64
	// Heartbeat: how often each lock checks in (default 10 min).
	Heartbeat time.Duration
	// HelloRetry: how soon a lock whose hello was not answered tries
	// again (default 5 s, at most Heartbeat).
	HelloRetry time.Duration
	// AwakeWindow: how long a lock listens after an exchange (default 2 s).
	AwakeWindow time.Duration
	// DecisionTimeout: how long a lock waits for the hub's decision before
	// deciding alone (default 3 s).
	DecisionTimeout time.Duration
	// Baud throttles the line to a UART's rate; 0 is unthrottled.
	Baud int
	// Link tunes the coprocessor's link; Logger defaults to Logger.
	Link   link.Config
	Logger *slog.Logger
}

// Sim is the coprocessor and its locks.
type Sim struct {
	cfg   Config
	log   *slog.Logger
	locks []*Lock
	byID  map[lockmsg.LockID]*Lock

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	l        *link.Link
	attached chan struct{} // closed while a link runs
	faults   Faults
	hung     bool
}

// New makes the locks; they start when Start is called.
func New(cfg Config) (*Sim, error) {
	if cfg.Locks < 1 || cfg.Locks > 4096 {
		return nil, fmt.Errorf("sim: %d locks, want 1..4096", cfg.Locks)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.HelloRetry <= 0 {
		cfg.HelloRetry = DefaultHelloRetry
	}
	cfg.HelloRetry = min(cfg.HelloRetry, cfg.Heartbeat)
	if cfg.AwakeWindow <= 0 {
		cfg.AwakeWindow = DefaultAwakeWindow
	}
	if cfg.DecisionTimeout <= 0 {
		cfg.DecisionTimeout = DefaultDecisionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Link.Logger == nil {
		cfg.Link.Logger = cfg.Logger
	}
	s := &Sim{cfg: cfg, log: cfg.Logger.With(slog.String("component", "sim")), byID: map[lockmsg.LockID]*Lock{},
		attached: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var rng *mrand.Rand
	if cfg.Seed != 0 {
		rng = mrand.New(mrand.NewPCG(cfg.Seed, 0x10c4))
	}
	for i := 0; i < cfg.Locks; i++ {
		var id lockmsg.LockID
		var key lockmsg.Key
		for id == 0 || s.byID[id] != nil {
			var b [20]byte
			if rng != nil {
				for j := range b {
					b[j] = byte(rng.UintN(256))
				}
			} else {
				_, _ = rand.Read(b[:])
			}
			id = lockmsg.LockID(binary.BigEndian.Uint32(b[:4]))
			copy(key[:], b[4:])
		}
		lk, err := newLock(s, i, id, key)
		if err != nil {
			return nil, err
		}
		s.locks = append(s.locks, lk)
		s.byID[id] = lk
	}
	return s, nil
}

// Start starts the locks' timers: each says hello, then checks in.
func (s *Sim) Start() {
	for _, lk := range s.locks {
		s.wg.Add(1)
		go lk.run()
	}
}

// Labels returns the pairing label of every lock, in order.
func (s *Sim) Labels() []lockmsg.Label {
	out := make([]lockmsg.Label, len(s.locks))
	for i, lk := range s.locks {
		out[i] = lockmsg.NewLabel(lk.id, lk.key)
	}
	return out
}

// Lock returns the lock of that id.
func (s *Sim) Lock(id lockmsg.LockID) (*Lock, error) {
	if lk := s.byID[id]; lk != nil {
		return lk, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNoLock, id.Hex())
}

// Locks returns every lock.
func (s *Sim) Locks() []*Lock { return s.locks }

// Attach runs the coprocessor on port (the master of a pseudo-terminal):
// a link, throttled and faulted as configured. It replaces any port
// attached before.
func (s *Sim) Attach(port io.ReadWriteCloser) error {
	s.Detach()
	w := newWire(port, s.cfg.Baud, s.Faults)
	l, err := link.Open(s.ctx, w, s.cfg.Link)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.l = l
	close(s.attached)
	s.mu.Unlock()
	s.wg.Add(1)
	go s.relay(l)
	return nil
}

// Detach closes the attached port, as pulling the USB plug would.
func (s *Sim) Detach() {
	s.mu.Lock()
	l := s.l
	if l != nil {
		s.l = nil
		s.attached = make(chan struct{})
	}
	s.mu.Unlock()
	if l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	}
}

// SetFaults changes what the line does wrong.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the line's faults.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Hang makes the coprocessor's firmware hang (on) or not: its link layer
// still acknowledges frames, but it relays nothing and answers no version
// request, until a reset command or Hang(false).
func (s *Sim) Hang(on bool) {
	s.mu.Lock()
	s.hung = on
	s.mu.Unlock()
}

func (s *Sim) isHung() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung
}

// Close stops the locks and the coprocessor.
func (s *Sim) Close() {
	s.cancel()
	s.Detach()
	s.wg.Wait()
}

// send sends an envelope to the hub over the attached link.
func (s *Sim) send(ctx context.Context, payload []byte) error {
	s.mu.Lock()
	l := s.l
	s.mu.Unlock()
	if l == nil {
		return ErrUnplugged
	}
	return l.Send(ctx, payload)
}

// relay is the coprocessor's firmware: it answers control envelopes and
// carries lock envelopes to the locks.
func (s *Sim) relay(l *link.Link) {
	defer s.wg.Done()
	ctx := s.ctx
	for {
		p, err := l.Recv(ctx)
		if err != nil {
			return
		}
		if coproc.IsControl(p) {
			m, err := coproc.Parse(p)
			if err != nil {
				continue
			}
			switch m := m.(type) {
			case *coproc.VersionRequest:
				if !s.isHung() {
					go s.version(ctx, l, m.Token)
				}
			case *coproc.Reset:
				s.Hang(false)
				s.log.Info("coprocessor reset by the hub")
				go s.version(ctx, l, m.Token)
			}
			continue
		}
		if s.isHung() {
			continue
		}
		env, err := lockmsg.ParseEnvelope(p)
		if err != nil {
			continue
		}
		lk := s.byID[env.Lock]
		if lk == nil || lk.Isolated() {
			continue // no such lock on the air, or out of reach
		}
		if !lk.awake() {
			h, _ := lockmsg.ParseHeader(env.Sealed)
			u := &coproc.Undelivered{Lock: env.Lock, Type: h.Type, Counter: h.Counter, Reason: coproc.LockAsleep}
			if h.Counter != 0 {
				go func() { _ = l.Send(ctx, coproc.Append(nil, u)) }()
			}
			continue
		}
		lk.deliver(append([]byte(nil), env.Sealed...))
	}
}

func (s *Sim) version(ctx context.Context, l *link.Link, token uint32) {
	_ = l.Send(ctx, coproc.Append(nil, &coproc.Version{Token: token, Protocol: coproc.ProtocolVersion,
		Firmware: Firmware, MaxLocks: uint16(min(len(s.locks), 65535))}))
}
