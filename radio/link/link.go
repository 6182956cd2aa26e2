package link

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorhub/doorhub/radio/frame"
)

// Log keys of the link's lines.
const (
	logComponent = "component"
	logErr       = "err"
	logCount     = "count"
	logFailed    = "failed"
)

// Errors of Send, Recv and Close.
var (
	// ErrClosed: the link was closed. Returned by Send and Recv after
	// Close, and by a Send that was waiting when Close was called.
	ErrClosed = errors.New("link: closed")
	// ErrNoAck: the peer did not acknowledge the payload after
	// Config.MaxRetransmits retransmissions. The payload was delivered at
	// most once (its acknowledgement may be what got lost).
	ErrNoAck = errors.New("link: no acknowledgement")
	// ErrTooLarge: the payload is longer than MaxPayload. Nothing was sent.
	ErrTooLarge = errors.New("link: payload too large")
	// ErrPort wraps the error of the port's Read or Write that stopped
	// the link (the device was unplugged, ...). Returned by Send, by Recv
	// once every delivered payload was taken, and by Err.
	ErrPort = errors.New("link: port failed")
)

// Config tunes a link. The zero value gives the defaults, which are the
// protocol's documented timers (docs/radio-protocol.md, "Link timers").
type Config struct {
	// Window is how many Data frames may await acknowledgement at once,
	// 1..MaxWindow. Default 4.
	Window int
	// AckTimeout is how long the oldest unacknowledged frame waits before
	// the window is sent again. It doubles on every retransmission up to
	// MaxAckTimeout and starts over when an Ack makes progress. Defaults
	// 250 ms and 1 s.
	AckTimeout    time.Duration
	MaxAckTimeout time.Duration
	// MaxRetransmits is how many times the window is sent again without
	// progress before its frames fail with ErrNoAck. Default 4: a dead
	// peer is reported 3.75 s after the first transmission.
	MaxRetransmits int
	// RecvQueue is how many delivered payloads may wait for Recv. When it
	// is full, Data frames are not acknowledged, so the peer retransmits
	// them later. Default 64.
	RecvQueue int
	// SendQueue is how many Sends may wait for room in the window before
	// Send blocks. Default 64.
	SendQueue int
	// Logger receives the link's log lines; default slog.Default().
	Logger *slog.Logger
}

// MaxWindow is the largest Window: well below half the sequence space, so
// a late duplicate can never pass for a new frame.
const MaxWindow = 16

// Default timers.
const (
	DefaultWindow         = 4
	DefaultAckTimeout     = 250 * time.Millisecond
	DefaultMaxAckTimeout  = time.Second
	DefaultMaxRetransmits = 4
)

func (c Config) withDefaults() (Config, error) {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxAckTimeout == 0 {
		c.MaxAckTimeout = max(DefaultMaxAckTimeout, c.AckTimeout)
	}
	if c.MaxRetransmits == 0 {
		c.MaxRetransmits = DefaultMaxRetransmits
	}
	if c.RecvQueue == 0 {
		c.RecvQueue = 64
	}
	if c.SendQueue == 0 {
		c.SendQueue = 64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Window < 1 || c.Window > MaxWindow:
		return c, fmt.Errorf("link: window %d not in 1..%d", c.Window, MaxWindow)
	case c.AckTimeout < 0 || c.MaxAckTimeout < c.AckTimeout:
		return c, fmt.Errorf("link: ack timeouts %v..%v", c.AckTimeout, c.MaxAckTimeout)
	case c.MaxRetransmits < 0 || c.RecvQueue < 0 || c.SendQueue < 0:
		return c, errors.New("link: negative limit")
	}
	return c, nil
}

// Stats counts what a link did. All counts only grow.
type Stats struct {
	Sent          uint64 // Data frames sent for the first time
	Retransmitted uint64 // Data frames sent again
	Acked         uint64 // payloads acknowledged (Send returned nil)
	Failed        uint64 // payloads failed with ErrNoAck
	Delivered     uint64 // payloads handed to Recv
	Duplicates    uint64 // Data frames received again (dropped, acknowledged again)
	OutOfOrder    uint64 // Data frames after a gap (dropped; the peer resends)
	RecvBusy      uint64 // Data frames not taken because RecvQueue was full
	BadFrames     uint64 // serial frames dropped by the decoder (CRC, stuffing, size)
	Malformed     uint64 // serial frames that were not link frames
	Stale         uint64 // frames of an epoch no longer current
	ResyncsSent   uint64 // Resync frames sent
	Resyncs       uint64 // times this side restarted its stream on a peer's Resync
	PeerEpochs    uint64 // peer streams adopted (1 at start, +1 per peer restart)
	Dropped       uint64 // frames dropped because the reader or writer lagged
}

type stats struct {
	sent, retransmitted, acked, failed, delivered, duplicates, outOfOrder, recvBusy,
	badFrames, malformed, stale, resyncsSent, resyncs, peerEpochs, dropped atomic.Uint64
}

// request is one Send.
type request struct {
	ctx     context.Context
	payload []byte
	done    chan error // buffered: the loop never blocks on it
	seq     uint8
}

// Link is a reliable, ordered datagram link over a byte stream: the host
// side and the coprocessor side run the same code. See the package doc.
type Link struct {
	cfg  Config
	port io.ReadWriteCloser
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	reqs    chan *request
	in      chan Frame  // parsed frames from the reader
	out     chan []byte // encoded frames for the writer
	recv    chan []byte // delivered payloads for Recv
	portErr chan error  // first Read/Write error
	done    chan struct{}

	closeOnce sync.Once
	closeErr  error
	err       atomic.Pointer[error]
	st        stats
}

// Open starts a link over port and returns at once: there is no handshake.
// The link owns port: Close closes it, which is what unblocks a pending
// Read or Write. The link stops by itself when ctx is done or the port
// fails; Close must still be called to release it.
func Open(ctx context.Context, port io.ReadWriteCloser, cfg Config) (*Link, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Link{
		cfg:     cfg,
		port:    port,
		log:     cfg.Logger.With(slog.String(logComponent, "radio.link")),
		reqs:    make(chan *request),
		in:      make(chan Frame, 2*MaxWindow),
		out:     make(chan []byte, 4*MaxWindow),
		recv:    make(chan []byte, cfg.RecvQueue),
		portErr: make(chan error, 2),
		done:    make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(ctx)
	l.wg.Add(3)
	go l.readLoop()
	go l.writeLoop()
	go l.mainLoop()
	return l, nil
}

// Send delivers payload to the peer's Recv, in order with other Sends, and
// returns nil once the peer acknowledged it. An error means it was not
// acknowledged: ErrNoAck, ErrClosed, an ErrPort, or ctx's error; a payload
// already transmitted may still be delivered, at most once.
func (l *Link) Send(ctx context.Context, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(payload))
	}
	r := &request{ctx: ctx, payload: append([]byte(nil), payload...), done: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return l.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		select {
		case err := <-r.done:
			return err
		default:
			return l.Err()
		}
	}
}

// Recv returns the next payload from the peer, each exactly once, in the
// peer's Send order. After the link stopped it returns what was already
// delivered, then the reason it stopped.
func (l *Link) Recv(ctx context.Context) ([]byte, error) {
	select {
	case p := <-l.recv:
		return p, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		select {
		case p := <-l.recv:
			return p, nil
		default:
			return nil, l.Err()
		}
	}
}

// Done is closed when the link stopped: Close, ctx, or a port failure.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err returns nil while the link runs, then why it stopped: ErrClosed
// (Close or the Open context), or an error wrapping ErrPort.
func (l *Link) Err() error {
	if p := l.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the counts so far.
func (l *Link) Stats() Stats {
	s := &l.st
	return Stats{
		Sent: s.sent.Load(), Retransmitted: s.retransmitted.Load(), Acked: s.acked.Load(),
		Failed: s.failed.Load(), Delivered: s.delivered.Load(), Duplicates: s.duplicates.Load(),
		OutOfOrder: s.outOfOrder.Load(), RecvBusy: s.recvBusy.Load(), BadFrames: s.badFrames.Load(),
		Malformed: s.malformed.Load(), Stale: s.stale.Load(), ResyncsSent: s.resyncsSent.Load(),
		Resyncs: s.resyncs.Load(), PeerEpochs: s.peerEpochs.Load(), Dropped: s.dropped.Load(),
	}
}

// Close stops the link: pending Sends fail with ErrClosed, the port is
// closed, and Close waits until every goroutine of the link has returned
// or ctx is done. It returns the port's Close error, if any; closing is
// not an error. Close may be called more than once.
func (l *Link) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.cancel()
		l.closeErr = l.port.Close()
	})
	stopped := make(chan struct{})
	go func() { l.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		return l.closeErr
	case <-ctx.Done():
		return fmt.Errorf("link: close: %w", ctx.Err())
	}
}

// readLoop turns bytes from the port into parsed frames for the main loop.
// It never blocks on the main loop: when it lags, frames are dropped and
// retransmission makes up for them.
func (l *Link) readLoop() {
	defer l.wg.Done()
	var dec frame.Decoder
	buf := make([]byte, 1024)
	empty := 0
	var bad badFrameLog
	for {
		n, err := l.port.Read(buf)
		for src := buf[:n]; len(src) > 0; {
			k, payload, ferr := dec.Next(src)
			src = src[k:]
			switch {
			case ferr != nil:
				l.st.badFrames.Add(1)
				bad.note(l.log, ferr)
			case payload != nil:
				f, perr := ParseFrame(payload)
				if perr != nil {
					l.st.malformed.Add(1)
					continue
				}
				f.Payload = append([]byte(nil), f.Payload...)
				select {
				case l.in <- f:
				default:
					l.st.dropped.Add(1)
				}
			}
		}
		if err != nil {
			if l.ctx.Err() == nil {
				l.portErr <- fmt.Errorf("%w: read: %w", ErrPort, err)
			}
			return
		}
		// A port with a read timeout returns (0, nil) when idle; one that
		// does so without waiting must not spin.
		if n == 0 {
			if empty++; empty >= 8 {
				select {
				case <-l.ctx.Done():
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		} else {
			empty = 0
		}
	}
}

// writeLoop writes encoded frames to the port one by one.
func (l *Link) writeLoop() {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			return
		case b := <-l.out:
			if _, err := l.port.Write(b); err != nil {
				if l.ctx.Err() == nil {
					l.portErr <- fmt.Errorf("%w: write: %w", ErrPort, err)
				}
				return
			}
		}
	}
}

// badFrameLog logs dropped frames at most once per badFrameLogEvery, with
// the count since the last line: a radio spewing garbage gives one clear
// line every so often, not a flood.
type badFrameLog struct {
	last  time.Time
	count int
}

const badFrameLogEvery = 10 * time.Second

func (b *badFrameLog) note(log *slog.Logger, err error) {
	b.count++
	if now := time.Now(); now.Sub(b.last) >= badFrameLogEvery {
		log.Warn("radio link: dropped bad frames", slog.Int(logCount, b.count), slog.Any(logErr, err))
		b.last, b.count = now, 0
	}
}
