package sim

import (
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Faults is what the simulated serial line does wrong. Rates are
// probabilities per frame (the coprocessor writes one frame per write),
// 0..1. Drop applies to both directions (to what the coprocessor reads, per
// read); Garbage, Duplicate and Delay to what the coprocessor sends.
type Faults struct {
	Garbage   float64       `json:"garbage"`   // 1..16 random bytes before the frame
	Drop      float64       `json:"drop"`      // the frame (or read chunk) is lost
	Duplicate float64       `json:"duplicate"` // the frame is sent twice
	Delay     time.Duration `json:"delay"`     // each frame waits up to this long, in order
}

// wire wraps the coprocessor's end of the serial line: it throttles bytes
// to a UART's rate (10 bits a byte, 8N1) both ways and applies Faults.
type wire struct {
	port io.ReadWriteCloser
	baud int // 0: unthrottled
	get  func() Faults

	wmu    sync.Mutex
	rng    *rand.Rand
	txFree time.Time
	rmu    sync.Mutex
	rxFree time.Time
	rrng   *rand.Rand
}

func newWire(port io.ReadWriteCloser, baud int, faults func() Faults) *wire {
	return &wire{port: port, baud: baud, get: faults,
		rng: rand.New(rand.NewPCG(rand.Uint64(), 1)), rrng: rand.New(rand.NewPCG(rand.Uint64(), 2))}
}

// wireTime is how long n bytes take on the line.
func (w *wire) wireTime(n int) time.Duration {
	if w.baud <= 0 {
		return 0
	}
	return time.Duration(n) * 10 * time.Second / time.Duration(w.baud)
}

// pace waits until the line (free at *free) has carried n more bytes.
func (w *wire) pace(free *time.Time, n int) {
	if w.baud <= 0 {
		return
	}
	now := time.Now()
	if free.Before(now) {
		*free = now
	}
	*free = free.Add(w.wireTime(n))
	waitUntil(*free)
}

// waitUntil returns at t, give or take a few microseconds: a timer sleeps
// for the bulk of the wait and the rest is spun, since a timer on a busy
// or virtual machine can wake a millisecond late, as much as a frame's
// wire time.
func waitUntil(t time.Time) {
	const slack = 1500 * time.Microsecond
	if d := time.Until(t); d > slack {
		time.Sleep(d - slack)
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

func (w *wire) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	f := w.get()
	hit := func(prob float64) bool { return prob > 0 && w.rng.Float64() < prob }
	if f.Delay > 0 {
		time.Sleep(time.Duration(w.rng.Int64N(int64(f.Delay))))
	}
	if hit(f.Drop) {
		return len(p), nil
	}
	if hit(f.Garbage) {
		g := make([]byte, 1+w.rng.IntN(16))
		for i := range g {
			g[i] = byte(w.rng.UintN(256))
		}
		w.pace(&w.txFree, len(g))
		if _, err := w.port.Write(g); err != nil {
			return 0, err
		}
	}
	times := 1
	if hit(f.Duplicate) {
		times = 2
	}
	for range times {
		w.pace(&w.txFree, len(p))
		if _, err := w.port.Write(p); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *wire) Read(p []byte) (int, error) {
	for {
		n, err := w.port.Read(p)
		if n > 0 {
			w.rmu.Lock()
			f := w.get()
			drop := f.Drop > 0 && w.rrng.Float64() < f.Drop
			w.pace(&w.rxFree, n)
			w.rmu.Unlock()
			if drop && err == nil {
				continue
			}
		}
		return n, err
	}
}

func (w *wire) Close() error { return w.port.Close() }
