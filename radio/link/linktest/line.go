// Package linktest provides a serial line for tests and demos of the radio
// link: an in-memory, full-duplex byte pipe that can drop, duplicate,
// corrupt, reorder, delay and fragment what is written to it and inject
// garbage, with ends that can be reopened as a restarted process would.
package linktest

import (
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Faults says what a Line does to each Write in one direction (the link
// writes one frame per Write). Probabilities are per Write, 0..1.
type Faults struct {
	Drop      float64 // the write vanishes
	Duplicate float64 // the write arrives twice
	Corrupt   float64 // one bit of the write is flipped
	Reorder   float64 // the write arrives ReorderDelay late, after later writes
	Garbage   float64 // 1..16 random bytes arrive before the write
	// Delay: each write arrives after a random latency in [0, Delay),
	// never before an earlier write (like USB-serial latency).
	Delay time.Duration
	// ReorderDelay: how late a reordered write arrives; default 20 ms.
	ReorderDelay time.Duration
	// Fragment: reads return 1..7 bytes at a time.
	Fragment bool
	// Cut: nothing gets through (a dead peer, an unplugged cable).
	Cut bool
}

// Counts says what a Line did in one direction.
type Counts struct {
	Writes, Dropped, Duplicated, Corrupted, Reordered, Garbage int
}

// maxBuffered bounds the bytes waiting for a reader, like a tty buffer
// that overruns when nobody reads.
const maxBuffered = 1 << 20

// Line is a faulty serial line with two ends, A and B.
type Line struct {
	ab, ba *direction
	wg     sync.WaitGroup
	stop   chan struct{}
	once   sync.Once
}

// NewLine returns a line; ab applies to bytes written at A and read at B,
// ba to the other direction. seed makes the faults reproducible.
func NewLine(ab, ba Faults, seed uint64) *Line {
	l := &Line{stop: make(chan struct{})}
	l.ab = newDirection(ab, rand.New(rand.NewPCG(seed, 1)))
	l.ba = newDirection(ba, rand.New(rand.NewPCG(seed, 2)))
	l.wg.Add(2)
	go l.ab.deliver(&l.wg, l.stop)
	go l.ba.deliver(&l.wg, l.stop)
	return l
}

// A returns a new handle on end A. Closing a handle unblocks its own Read
// and Write and nothing else: the line and the bytes in it remain, so a
// new handle continues where it left off (a restarted process on the same
// serial port).
func (l *Line) A() *End { return &End{in: l.ba, out: l.ab, closed: make(chan struct{})} }

// B returns a new handle on end B. See A.
func (l *Line) B() *End { return &End{in: l.ab, out: l.ba, closed: make(chan struct{})} }

// SetFaults changes the faults of the A->B (atob) or B->A direction.
func (l *Line) SetFaults(atob bool, f Faults) {
	d := l.ba
	if atob {
		d = l.ab
	}
	d.mu.Lock()
	d.faults = f
	d.mu.Unlock()
}

// Counts returns what the line did so far, A->B and B->A.
func (l *Line) Counts() (ab, ba Counts) {
	l.ab.mu.Lock()
	ab = l.ab.counts
	l.ab.mu.Unlock()
	l.ba.mu.Lock()
	ba = l.ba.counts
	l.ba.mu.Unlock()
	return ab, ba
}

// Close stops the line's goroutines. Handles still open read io.EOF.
func (l *Line) Close() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
		for _, d := range []*direction{l.ab, l.ba} {
			d.mu.Lock()
			d.stopped = true
			d.cond.Broadcast()
			d.mu.Unlock()
		}
	})
}

type item struct {
	at time.Time
	b  []byte
}

type direction struct {
	mu      sync.Mutex
	cond    *sync.Cond
	faults  Faults
	rng     *rand.Rand
	buf     []byte // arrived, waiting for Read
	items   []item // in flight, sorted by arrival
	lastAt  time.Time
	counts  Counts
	wake    chan struct{}
	stopped bool
}

func newDirection(f Faults, rng *rand.Rand) *direction {
	d := &direction{faults: f, rng: rng, wake: make(chan struct{}, 1)}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// write applies the faults to p and schedules what arrives.
func (d *direction) write(p []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.faults
	d.counts.Writes++
	if f.Cut {
		d.counts.Dropped++
		return
	}
	hit := func(prob float64) bool { return prob > 0 && d.rng.Float64() < prob }
	if hit(f.Drop) {
		d.counts.Dropped++
		return
	}
	b := slices.Clone(p)
	if hit(f.Corrupt) && len(b) > 0 {
		b[d.rng.IntN(len(b))] ^= 1 << d.rng.IntN(8)
		d.counts.Corrupted++
	}
	if hit(f.Garbage) {
		g := make([]byte, 1+d.rng.IntN(16))
		for i := range g {
			g[i] = byte(d.rng.UintN(256))
		}
		b = append(g, b...)
		d.counts.Garbage++
	}
	n := 1
	if hit(f.Duplicate) {
		n = 2
		d.counts.Duplicated++
	}
	now := time.Now()
	for range n {
		at := now
		if f.Delay > 0 {
			at = at.Add(time.Duration(d.rng.Int64N(int64(f.Delay))))
		}
		if hit(f.Reorder) {
			late := f.ReorderDelay
			if late == 0 {
				late = 20 * time.Millisecond
			}
			d.schedule(item{at.Add(late), b})
			d.counts.Reordered++
			continue
		}
		if at.Before(d.lastAt) {
			at = d.lastAt
		}
		d.lastAt = at
		d.schedule(item{at, b})
	}
}

func (d *direction) schedule(it item) {
	i, _ := slices.BinarySearchFunc(d.items, it.at, func(x item, t time.Time) int {
		if x.at.After(t) {
			return 1
		}
		return -1 // equal times keep write order
	})
	d.items = slices.Insert(d.items, i, it)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// deliver moves items whose time has come into buf.
func (d *direction) deliver(wg *sync.WaitGroup, stop <-chan struct{}) {
	defer wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		now := time.Now()
		for len(d.items) > 0 && !d.items[0].at.After(now) {
			if len(d.buf)+len(d.items[0].b) <= maxBuffered {
				d.buf = append(d.buf, d.items[0].b...)
			}
			d.items = d.items[1:]
			d.cond.Broadcast()
		}
		wait := time.Hour
		if len(d.items) > 0 {
			wait = d.items[0].at.Sub(now)
		}
		d.mu.Unlock()
		t.Reset(wait)
		select {
		case <-stop:
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// End is one handle on one end of a Line; an io.ReadWriteCloser.
type End struct {
	in, out   *direction
	closed    chan struct{}
	closeOnce sync.Once
}

// Read waits for bytes, or for Close (io.ErrClosedPipe) or the line's
// Close (io.EOF).
func (e *End) Read(p []byte) (int, error) {
	d := e.in
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		select {
		case <-e.closed:
			return 0, io.ErrClosedPipe
		default:
		}
		if len(d.buf) > 0 {
			break
		}
		if d.stopped {
			return 0, io.EOF
		}
		d.cond.Wait()
	}
	n := len(p)
	if d.faults.Fragment {
		n = min(n, 1+d.rng.IntN(7))
	}
	n = copy(p[:n], d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// Write sends p through the line's faults; it never blocks.
func (e *End) Write(p []byte) (int, error) {
	select {
	case <-e.closed:
		return 0, io.ErrClosedPipe
	default:
	}
	e.out.write(p)
	return len(p), nil
}

// Close closes this handle only.
func (e *End) Close() error {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.in.mu.Lock()
		e.in.cond.Broadcast()
		e.in.mu.Unlock()
	})
	return nil
}

var _ io.ReadWriteCloser = (*End)(nil)
