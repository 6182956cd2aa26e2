package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/link"
)

// Log keys.
const (
	logComponent = "component"
	logPath      = "path"
	logErr       = "err"
	logDownFor   = "down_for"
	logRung      = "rung"
	logFirmware  = "firmware"
	logAttempts  = "attempts"
)

// Errors of Send and Recv.
var (
	// ErrClosed: the radio was closed.
	ErrClosed = errors.New("serialport: radio closed")
)

// Defaults of Config.
const (
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = time.Second
	DefaultProbeInterval = 15 * time.Second
	DefaultProbeTimeout  = 5 * time.Second
)

// Config says which port to open and how to keep it.
type Config struct {
	// Path is the serial device: /dev/doorhub-radio, /dev/serial/by-id/...,
	// /dev/serial0.
	Path string
	Baud int
	// Link tunes the link layer; its Logger defaults to Logger.
	Link link.Config
	// MinBackoff, MaxBackoff: the wait before reopening a port that failed
	// or vanished doubles from MinBackoff up to MaxBackoff (defaults 100 ms
	// and 1 s: a replugged radio is back within about a second).
	MinBackoff, MaxBackoff time.Duration
	// ProbeInterval: how often the coprocessor is asked for its version to
	// prove it answers (default 15 s); ProbeTimeout: how long an answer may
	// take (default 5 s, beyond the link's own 3.75 s bound).
	ProbeInterval, ProbeTimeout time.Duration
	// Logger receives the radio's lines; default slog.Default().
	Logger *slog.Logger

	// open opens a port; OpenPort when nil. Tests replace it.
	open func(path string, baud int) (io.ReadWriteCloser, error)
}

// Rung is a step of the recovery ladder for a coprocessor that stopped
// answering.
type Rung string

// Rungs, in the order they are tried.
const (
	RungReopen Rung = "reopen" // close the port and open it again
	RungReset  Rung = "reset"  // ask the coprocessor to restart (coproc.Reset)
)

// Status is what a technician sees of the radio.
type Status struct {
	Path      string `json:"path"`
	Connected bool   `json:"connected"`
	// Since: when the current state (connected or not) began.
	Since time.Time `json:"since"`
	// Answering: the coprocessor answered its last probe.
	Answering bool   `json:"answering"`
	Firmware  string `json:"firmware,omitempty"`
	MaxLocks  int    `json:"max_locks,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Counts since start.
	Connects      uint64 `json:"connects"`       // ports opened
	Disconnects   uint64 `json:"disconnects"`    // ports lost (unplugged, I/O error)
	OpenFailures  uint64 `json:"open_failures"`  // opens that failed
	ProbeFailures uint64 `json:"probe_failures"` // probes not answered in time
	Reopens       uint64 `json:"reopens"`        // rung 1 of the recovery ladder
	Resets        uint64 `json:"resets"`         // rung 2 of the recovery ladder
	BootNotices   uint64 `json:"boot_notices"`   // the coprocessor said it (re)booted
	Dropped       uint64 `json:"dropped"`        // envelopes dropped: unknown kind or Recv lagging
	// Link is the current link's counts (zero while disconnected).
	Link link.Stats `json:"link"`
}

// Radio is the hub's radio coprocessor on a serial port: it opens the
// port, runs a link over it, and keeps both alive. When the port fails or
// vanishes it opens it again with a capped backoff; when the coprocessor
// stops answering its probes it climbs the recovery ladder (reopen, then
// reset), each rung logged and counted. Send and Recv carry envelopes
// across reconnects. See the package doc.
type Radio struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	recv chan []byte

	mu        sync.Mutex
	cur       *link.Link
	up        chan struct{} // closed while cur != nil
	st        Status
	tokens    map[uint32]chan *coproc.Version
	nextToken uint32

	dropped atomic.Uint64
}

// Open starts keeping the radio at cfg.Path and returns at once: a port
// that is not there yet is opened when it appears.
func Open(cfg Config) (*Radio, error) {
	if cfg.Path == "" {
		return nil, errors.New("serialport: no path")
	}
	if cfg.Baud == 0 {
		cfg.Baud = 115200
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Link.Logger == nil {
		cfg.Link.Logger = cfg.Logger
	}
	if cfg.open == nil {
		cfg.open = func(path string, baud int) (io.ReadWriteCloser, error) { return OpenPort(path, baud) }
	}
	r := &Radio{
		cfg:       cfg,
		log:       cfg.Logger.With(slog.String(logComponent, "radio.serialport"), slog.String(logPath, cfg.Path)),
		recv:      make(chan []byte, 256),
		up:        make(chan struct{}),
		tokens:    map[uint32]chan *coproc.Version{},
		nextToken: rand.Uint32(),
	}
	r.st.Path = cfg.Path
	r.st.Since = time.Now()
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.run()
	return r, nil
}

// Send sends an envelope to the coprocessor and returns once the link
// acknowledged it. While the port is down it waits for the reconnection,
// until ctx is done. A Send cut by a lost port is tried again on the next
// link: an envelope may so arrive twice, which the lock messages' counters
// make harmless.
func (r *Radio) Send(ctx context.Context, payload []byte) error {
	for {
		l, up := r.current()
		if l == nil {
			select {
			case <-up:
				continue
			case <-ctx.Done():
				return fmt.Errorf("serialport: radio not connected: %w", ctx.Err())
			case <-r.ctx.Done():
				return ErrClosed
			}
		}
		err := l.Send(ctx, payload)
		if err == nil || ctx.Err() != nil || !(errors.Is(err, link.ErrPort) || errors.Is(err, link.ErrClosed)) {
			return err
		}
		if r.ctx.Err() != nil {
			return ErrClosed
		}
		// The link went down under the send: wait for the next one.
		select {
		case <-l.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Recv returns the next envelope from the coprocessor that the radio did
// not handle itself (lock envelopes and coproc.Undelivered), in order.
func (r *Radio) Recv(ctx context.Context) ([]byte, error) {
	select {
	case p := <-r.recv:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.ctx.Done():
		return nil, ErrClosed
	}
}

// Connected returns a channel closed while the radio is connected (a new
// one after each disconnection) and whether it is connected now.
func (r *Radio) Connected() (<-chan struct{}, bool) {
	l, up := r.current()
	return up, l != nil
}

// Status returns the radio's state and counts.
func (r *Radio) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	if r.cur != nil {
		st.Link = r.cur.Stats()
	}
	st.Dropped = r.dropped.Load()
	return st
}

// Close stops the radio: the port is closed and every goroutine returns.
func (r *Radio) Close(ctx context.Context) error {
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serialport: close: %w", ctx.Err())
	}
}

func (r *Radio) current() (*link.Link, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, r.up
}

// run opens the port, serves a link on it until the link stops or the
// ladder says to reopen, and starts over; it backs off while opening fails.
func (r *Radio) run() {
	defer r.wg.Done()
	backoff := r.cfg.MinBackoff
	var failures int        // consecutive open failures, for the log
	var downSince time.Time // when the last connection was lost
	rung := 0               // next rung of the ladder if the coprocessor stays silent
	for r.ctx.Err() == nil {
		port, err := r.cfg.open(r.cfg.Path, r.cfg.Baud)
		if err != nil {
			failures++
			r.mu.Lock()
			r.st.OpenFailures++
			r.st.LastError = err.Error()
			r.mu.Unlock()
			// First failure, then every 30th: a missing radio is one clear
			// line now and then, not a flood.
			if failures == 1 || failures%30 == 0 {
				r.log.Warn("radio: cannot open the serial port; retrying", slog.Any(logErr, err), slog.Int(logAttempts, failures))
			}
			if !r.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, r.cfg.MaxBackoff)
			continue
		}
		l, err := link.Open(r.ctx, port, r.cfg.Link)
		if err != nil { // only a bad link.Config
			port.Close()
			r.log.Error("radio: link config", slog.Any(logErr, err))
			return
		}
		failures = 0
		r.connected(l, downSince)
		outcome := r.serve(l, rung)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.Close(ctx)
		cancel()
		downSince = time.Now()
		r.disconnected(outcome)
		switch outcome.kind {
		case outcomeStopped:
			return
		case outcomeLadder:
			rung = outcome.nextRung
			backoff = r.cfg.MinBackoff
			continue // reopen at once: that is the rung
		case outcomePort:
			rung = 0
			if !r.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, r.cfg.MaxBackoff)
		}
	}
}

func (r *Radio) sleep(d time.Duration) bool {
	// Jitter keeps two hubs on one USB hub from retrying in lockstep.
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.ctx.Done():
		return false
	}
}

func (r *Radio) connected(l *link.Link, downSince time.Time) {
	r.mu.Lock()
	r.cur = l
	close(r.up)
	r.st.Connected, r.st.Since, r.st.LastError = true, time.Now(), ""
	r.st.Connects++
	n := r.st.Connects
	r.mu.Unlock()
	if n == 1 {
		r.log.Info("radio connected")
	} else {
		r.log.Info("radio reconnected", slog.Duration(logDownFor, time.Since(downSince).Round(time.Millisecond)))
	}
}

func (r *Radio) disconnected(o outcome) {
	r.mu.Lock()
	r.cur = nil
	r.up = make(chan struct{})
	r.st.Connected, r.st.Answering, r.st.Since = false, false, time.Now()
	if o.err != nil {
		r.st.LastError = o.err.Error()
	}
	if o.kind == outcomePort {
		r.st.Disconnects++
	}
	r.mu.Unlock()
	if o.kind == outcomePort {
		r.log.Warn("radio disconnected; reconnecting", slog.Any(logErr, o.err))
	}
}

type outcomeKind int

const (
	outcomeStopped outcomeKind = iota // Close
	outcomePort                       // the port failed or vanished
	outcomeLadder                     // the coprocessor stopped answering: reopen
)

type outcome struct {
	kind     outcomeKind
	err      error
	nextRung int
}

// serve pumps envelopes from l to Recv and probes the coprocessor. rung
// is how far up the ladder the previous links got without an answer: 0
// none, 1 reopened once (so the next silence resets).
func (r *Radio) serve(l *link.Link, rung int) outcome {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	pumped := make(chan struct{})
	go func() { defer close(pumped); r.pump(ctx, l) }()
	defer func() { cancel(); <-pumped }()

	probe := time.NewTimer(0) // probe at once: learn the firmware, prove the link
	defer probe.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return outcome{kind: outcomeStopped}
		case <-l.Done():
			if r.ctx.Err() != nil {
				return outcome{kind: outcomeStopped}
			}
			return outcome{kind: outcomePort, err: l.Err()}
		case <-probe.C:
		}
		v, err := r.ask(ctx, l, func(tok uint32) coproc.Message { return &coproc.VersionRequest{Token: tok} }, r.cfg.ProbeTimeout)
		if err == nil {
			r.answered(v, rung > 0)
			rung = 0
			probe.Reset(r.cfg.ProbeInterval)
			continue
		}
		if r.ctx.Err() != nil {
			return outcome{kind: outcomeStopped}
		}
		if l.Err() != nil { // the port went, not the coprocessor
			return outcome{kind: outcomePort, err: l.Err()}
		}
		r.mu.Lock()
		r.st.ProbeFailures++
		r.st.Answering = false
		r.st.LastError = "coprocessor does not answer: " + err.Error()
		r.mu.Unlock()
		if rung == 0 {
			r.mu.Lock()
			r.st.Reopens++
			r.mu.Unlock()
			r.log.Warn("radio: coprocessor does not answer; reopening the port", slog.String(logRung, string(RungReopen)), slog.Any(logErr, err))
			return outcome{kind: outcomeLadder, err: err, nextRung: 1}
		}
		r.mu.Lock()
		r.st.Resets++
		r.mu.Unlock()
		r.log.Warn("radio: coprocessor still silent after reopening; resetting it", slog.String(logRung, string(RungReset)), slog.Any(logErr, err))
		v, err = r.ask(ctx, l, func(tok uint32) coproc.Message { return &coproc.Reset{Token: tok} }, r.cfg.ProbeTimeout)
		if err == nil {
			r.answered(v, true)
			rung = 0
			probe.Reset(r.cfg.ProbeInterval)
			continue
		}
		if l.Err() != nil {
			return outcome{kind: outcomePort, err: l.Err()}
		}
		r.log.Error("radio: coprocessor silent after a reset; starting the ladder over", slog.Any(logErr, err))
		return outcome{kind: outcomeLadder, err: err, nextRung: 0}
	}
}

func (r *Radio) answered(v *coproc.Version, recovered bool) {
	r.mu.Lock()
	first := r.st.Firmware == ""
	r.st.Answering, r.st.Firmware, r.st.MaxLocks = true, v.Firmware.String(), int(v.MaxLocks)
	r.mu.Unlock()
	switch {
	case recovered:
		r.log.Info("radio: coprocessor answers again", slog.String(logFirmware, v.Firmware.String()))
	case first:
		r.log.Info("radio: coprocessor answers", slog.String(logFirmware, v.Firmware.String()), slog.Int("max_locks", int(v.MaxLocks)))
	}
}

// ask sends the message made with a fresh token and waits for the Version
// that echoes it.
func (r *Radio) ask(ctx context.Context, l *link.Link, mk func(uint32) coproc.Message, timeout time.Duration) (*coproc.Version, error) {
	ch := make(chan *coproc.Version, 1)
	r.mu.Lock()
	r.nextToken++
	if r.nextToken == 0 {
		r.nextToken++
	}
	tok := r.nextToken
	r.tokens[tok] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.tokens, tok)
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := l.Send(ctx, coproc.Append(nil, mk(tok))); err != nil {
		return nil, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no version within %v", timeout)
	case <-l.Done():
		return nil, l.Err()
	}
}

// pump moves envelopes from the link to Recv, answering the coprocessor's
// versions itself.
func (r *Radio) pump(ctx context.Context, l *link.Link) {
	for {
		p, err := l.Recv(ctx)
		if err != nil {
			return
		}
		if len(p) > 0 && coproc.Kind(p[0]) == coproc.KindVersion {
			m, err := coproc.Parse(p)
			if err != nil {
				r.dropped.Add(1)
				continue
			}
			v := m.(*coproc.Version)
			r.mu.Lock()
			ch := r.tokens[v.Token]
			if v.Token == 0 {
				r.st.BootNotices++
			}
			r.mu.Unlock()
			if ch != nil {
				select {
				case ch <- v:
				default:
				}
			} else if v.Token == 0 {
				r.log.Warn("radio: the coprocessor restarted on its own", slog.String(logFirmware, v.Firmware.String()))
			}
			continue
		}
		select {
		case r.recv <- p:
		default:
			// Recv lags far behind: drop, as a full radio would. The
			// locks' retries and the sessions' counters make up for it.
			r.dropped.Add(1)
		}
	}
}
