package link_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/link/linktest"
)

var quiet = slog.New(slog.DiscardHandler)

// fast are short timers for tests; the protocol's defaults are 250 ms/1 s.
var fast = link.Config{AckTimeout: 15 * time.Millisecond, MaxAckTimeout: 60 * time.Millisecond, MaxRetransmits: 10, Logger: quiet}

// noLeaks fails the test if goroutines started during it are still running
// once its cleanups ran. Register it first: cleanups run last-in first-out.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func open(t *testing.T, port io.ReadWriteCloser, cfg link.Config) *link.Link {
	t.Helper()
	l, err := link.Open(context.Background(), port, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeLink(t, l) })
	return l
}

func closeLink(t *testing.T, l *link.Link) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func newLine(t *testing.T, ab, ba linktest.Faults, seed uint64) *linktest.Line {
	line := linktest.NewLine(ab, ba, seed)
	t.Cleanup(line.Close)
	return line
}

func msg(sender, i int) []byte {
	return binary.BigEndian.AppendUint32([]byte{byte(sender)}, uint32(i))
}

func parse(p []byte) (sender, i int) {
	return int(p[0]), int(binary.BigEndian.Uint32(p[1:5]))
}

func TestCleanExchange(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 1)
	a, b := open(t, line.A(), fast), open(t, line.B(), fast)
	const n = 300
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, pair := range [][2]*link.Link{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := from.Send(ctx, msg(0, i)); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range n {
				p, err := to.Recv(ctx)
				if err != nil {
					t.Errorf("Recv: %v", err)
					return
				}
				if _, got := parse(p); got != i {
					t.Errorf("received %d, want %d", got, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range []*link.Link{a, b} {
		if s := l.Stats(); s.Acked != n || s.Delivered != n || s.Failed != 0 || s.BadFrames != 0 {
			t.Errorf("stats %+v", s)
		}
	}
}

// TestOverNetPipe runs two links over net.Pipe, whose writes block until
// the other side reads: heavy traffic both ways must not deadlock.
func TestOverNetPipe(t *testing.T) {
	noLeaks(t)
	pa, pb := net.Pipe()
	a, b := open(t, pa, fast), open(t, pb, fast)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	const n = 200
	for _, pair := range [][2]*link.Link{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		for s := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					if err := from.Send(ctx, msg(s, i)); err != nil {
						t.Errorf("Send: %v", err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := map[int]int{}
			for range 4 * n {
				p, err := to.Recv(ctx)
				if err != nil {
					t.Errorf("Recv: %v", err)
					return
				}
				s, i := parse(p)
				if i != next[s] {
					t.Errorf("sender %d: got %d, want %d", s, i, next[s])
				}
				next[s] = i + 1
			}
		}()
	}
	wg.Wait()
}

// ledger records, per request id, what each side saw.
type ledger struct {
	mu          sync.Mutex
	reqSent     map[int]error // A's Send of the request returned
	reqRecv     map[int]int   // B received the request n times
	respSent    map[int]error // B's Send of the response returned
	respRecv    map[int]int   // A received the response n times
	orderErrors int
}

func TestFaultyLine(t *testing.T) {
	noLeaks(t)
	faults := linktest.Faults{
		Drop: 0.08, Duplicate: 0.08, Corrupt: 0.08, Reorder: 0.05, Garbage: 0.05,
		Delay: 2 * time.Millisecond, Fragment: true,
	}
	line := newLine(t, faults, faults, 42)
	a, b := open(t, line.A(), fast), open(t, line.B(), fast)
	const senders, perSender = 4, 60
	lg := &ledger{reqSent: map[int]error{}, reqRecv: map[int]int{}, respSent: map[int]error{}, respRecv: map[int]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// B answers every request it receives with a response of the same id,
	// from a few workers so that one slow Send does not hold up the rest.
	var workers sync.WaitGroup
	work := make(chan int)
	for range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for id := range work {
				err := b.Send(ctx, msg(9, id))
				lg.mu.Lock()
				lg.respSent[id] = err
				lg.mu.Unlock()
			}
		}()
	}
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { // B's receiver
		defer loops.Done()
		defer close(work)
		last := map[int]int{}
		for {
			p, err := b.Recv(ctx)
			if err != nil {
				return
			}
			s, i := parse(p)
			id := s*1000 + i
			lg.mu.Lock()
			lg.reqRecv[id]++
			if prev, ok := last[s]; ok && i <= prev {
				lg.orderErrors++
			}
			last[s] = i
			lg.mu.Unlock()
			work <- id
		}
	}()
	go func() { // A's receiver of responses
		defer loops.Done()
		for {
			p, err := a.Recv(ctx)
			if err != nil {
				return
			}
			_, id := parse(p)
			lg.mu.Lock()
			lg.respRecv[id]++
			lg.mu.Unlock()
		}
	}()

	var senderWG sync.WaitGroup
	for s := range senders {
		senderWG.Add(1)
		go func() {
			defer senderWG.Done()
			for i := range perSender {
				err := a.Send(ctx, msg(s, i))
				lg.mu.Lock()
				lg.reqSent[s*1000+i] = err
				lg.mu.Unlock()
			}
		}()
	}
	senderWG.Wait()

	// Wait until every request is settled: answered, or failed either way.
	settled := func() bool {
		lg.mu.Lock()
		defer lg.mu.Unlock()
		for id, err := range lg.reqSent {
			_, answered := lg.respRecv[id]
			respErr, responded := lg.respSent[id]
			if !(err != nil || answered || responded && respErr != nil) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !settled() {
		if time.Now().After(deadline) {
			t.Fatal("requests still unsettled after 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let any in-flight duplicates arrive before judging.
	time.Sleep(100 * time.Millisecond)
	cancel()
	loops.Wait()
	workers.Wait()

	lg.mu.Lock()
	defer lg.mu.Unlock()
	var answered, failed int
	for id, err := range lg.reqSent {
		switch n := lg.reqRecv[id]; {
		case n > 1:
			t.Errorf("request %d delivered %d times", id, n)
		case err == nil && n != 1:
			t.Errorf("request %d acknowledged but delivered %d times", id, n)
		}
		switch n := lg.respRecv[id]; {
		case n > 1:
			t.Errorf("request %d answered %d times", id, n)
		case n == 1:
			answered++
		case err != nil || lg.respSent[id] != nil:
			failed++ // reported failed to the side that sent
		default:
			t.Errorf("request %d neither answered nor reported failed", id)
		}
		if e := lg.respSent[id]; e == nil && lg.reqRecv[id] == 1 && lg.respRecv[id] != 1 {
			t.Errorf("response %d acknowledged but received %d times", id, lg.respRecv[id])
		}
	}
	for id := range lg.reqRecv {
		if _, ok := lg.reqSent[id]; !ok {
			t.Errorf("received request %d that nobody sent", id)
		}
	}
	if lg.orderErrors > 0 {
		t.Errorf("%d requests out of order", lg.orderErrors)
	}
	if answered < senders*perSender*9/10 {
		t.Errorf("only %d of %d answered (%d failed)", answered, senders*perSender, failed)
	}
	ab, ba := line.Counts()
	t.Logf("answered %d, failed %d; line A->B %+v, B->A %+v", answered, failed, ab, ba)
	t.Logf("A %+v", a.Stats())
	t.Logf("B %+v", b.Stats())
	for _, c := range []linktest.Counts{ab, ba} {
		if c.Dropped == 0 || c.Duplicated == 0 || c.Corrupted == 0 || c.Reordered == 0 || c.Garbage == 0 {
			t.Errorf("a fault never happened: %+v", c)
		}
	}
}

// TestDeadPeer: with nothing coming back, Send fails after the documented
// bound, and the link recovers as soon as the peer answers again.
func TestDeadPeer(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{Cut: true}, linktest.Faults{}, 3)
	cfg := fast
	cfg.MaxRetransmits = 3
	a, b := open(t, line.A(), cfg), open(t, line.B(), cfg)
	ctx := context.Background()
	start := time.Now()
	err := a.Send(ctx, []byte("anyone?"))
	elapsed := time.Since(start)
	if !errors.Is(err, link.ErrNoAck) {
		t.Fatalf("Send to a dead peer: %v", err)
	}
	// 15 + 30 + 60 + 60 ms: first wait, then three doubled retransmissions.
	if bound := 165 * time.Millisecond; elapsed < bound || elapsed > bound+2*time.Second {
		t.Errorf("gave up after %v, want about %v", elapsed, bound)
	}
	if s := a.Stats(); s.Sent != 1 || s.Retransmitted != 3 || s.Failed != 1 {
		t.Errorf("stats %+v", s)
	}
	line.SetFaults(true, linktest.Faults{})
	if err := a.Send(ctx, []byte("back")); err != nil {
		t.Fatalf("after the peer came back: %v", err)
	}
	if p, err := b.Recv(ctx); err != nil || string(p) != "back" {
		t.Fatalf("Recv = %q, %v", p, err)
	}
}

// TestPeerRestart restarts the receiving side in the middle of a stream
// with a full window: the sender's window is resynchronised into the new
// stream, no payload is delivered twice to one receiver or out of order,
// every acknowledged payload reached a receiver, and only payloads of the
// window at the restart may reach both the old and the new receiver.
func TestPeerRestart(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{Delay: time.Millisecond}, linktest.Faults{Delay: time.Millisecond, Drop: 0.2}, 5)
	a := open(t, line.A(), fast)
	b1, err := link.Open(context.Background(), line.B(), fast)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const senders, perSender = 4, 100
	var mu sync.Mutex
	results := map[int]error{}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				err := a.Send(ctx, msg(s, i))
				mu.Lock()
				results[s*1000+i] = err
				mu.Unlock()
			}
		}()
	}
	got := map[int]int{}
	// receive takes payloads from l until it returns an error or, with a
	// limit, until limit payloads arrived; per sender, order must hold.
	receive := func(l *link.Link, rctx context.Context, limit int) {
		last := map[int]int{}
		for n := 0; limit == 0 || n < limit; n++ {
			p, err := l.Recv(rctx)
			if err != nil {
				return
			}
			s, i := parse(p)
			if prev, ok := last[s]; ok && i <= prev {
				t.Errorf("sender %d: got %d after %d", s, i, prev)
			}
			last[s] = i
			got[s*1000+i]++
		}
	}
	receive(b1, ctx, senders*perSender/2)
	closeLink(t, b1)    // the coprocessor resets...
	receive(b1, ctx, 0) // (what it had delivered stays readable)
	b2 := open(t, line.B(), fast)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	rctx, rcancel := context.WithCancel(ctx)
	go func() { <-done; time.Sleep(200 * time.Millisecond); rcancel() }()
	receive(b2, rctx, 0)
	rcancel()
	twice := 0
	for id, err := range results {
		switch {
		case got[id] > 2:
			t.Errorf("payload %d delivered %d times", id, got[id])
		case got[id] == 2:
			twice++
		case err == nil && got[id] != 1:
			t.Errorf("payload %d acknowledged, delivered %d times", id, got[id])
		}
	}
	if twice > link.DefaultWindow {
		t.Errorf("%d payloads reached both receivers, more than a window", twice)
	}
	if s := a.Stats(); s.Resyncs == 0 {
		t.Errorf("no resync after the peer restarted: %+v", s)
	}
	t.Logf("delivered twice across the restart: %d; A %+v", twice, a.Stats())
}

// TestGarbageFlood: a radio spewing garbage costs frames, not the link.
// 1 KiB of noise (zeros included, so it splits into bogus frames of every
// size) goes down the line before each payload, from a second writer.
func TestGarbageFlood(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 7)
	noise := line.A()
	defer noise.Close()
	a, b := open(t, line.A(), fast), open(t, line.B(), fast)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(7, 7))
	g := make([]byte, 1024)
	for i := range 100 {
		for k := range g {
			g[k] = byte(rng.UintN(256))
		}
		noise.Write(g)
		if err := a.Send(ctx, msg(0, i)); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		p, err := b.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
		if _, j := parse(p); j != i {
			t.Fatalf("Recv %d: got %d", i, j)
		}
	}
	s := b.Stats()
	if s.BadFrames < 100 || s.Delivered != 100 {
		t.Errorf("stats %+v", s)
	}
	t.Logf("B %+v", s)
}

// TestRecvBackpressure: a receiver that does not keep up is not flooded:
// frames beyond RecvQueue are not acknowledged and come again later.
func TestRecvBackpressure(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 8)
	cfg := fast
	cfg.RecvQueue = 3
	cfg.MaxRetransmits = 1000
	a, b := open(t, line.A(), cfg), open(t, line.B(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error, 10)
	go func() {
		for i := range 10 {
			errs <- a.Send(ctx, msg(0, i))
		}
	}()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the queue is full: nothing more is acknowledged
	if s := b.Stats(); s.Delivered != 3 || s.RecvBusy == 0 {
		t.Fatalf("with a full queue: %+v", s)
	}
	for i := range 10 {
		p, err := b.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, j := parse(p); j != i {
			t.Fatalf("got %d, want %d", j, i)
		}
	}
	for range 7 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloseFailsPendingSends(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{Cut: true}, linktest.Faults{}, 9)
	cfg := fast
	cfg.MaxRetransmits = 1000
	a, err := link.Open(context.Background(), line.A(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 20)
	for range 20 { // more than the window: some wait in the queue
		go func() { errs <- a.Send(context.Background(), []byte("x")) }()
	}
	recvErr := make(chan error, 1)
	go func() { _, err := a.Recv(context.Background()); recvErr <- err }()
	time.Sleep(50 * time.Millisecond)
	closeLink(t, a)
	for range 20 {
		if err := <-errs; !errors.Is(err, link.ErrClosed) {
			t.Errorf("pending Send: %v", err)
		}
	}
	if err := <-recvErr; !errors.Is(err, link.ErrClosed) {
		t.Errorf("Recv: %v", err)
	}
	if err := a.Send(context.Background(), []byte("late")); !errors.Is(err, link.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if !errors.Is(a.Err(), link.ErrClosed) {
		t.Errorf("Err = %v", a.Err())
	}
	closeLink(t, a) // twice is fine
}

func TestOpenContextStopsLink(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := link.Open(ctx, line.A(), fast)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-l.Done()
	if !errors.Is(l.Err(), link.ErrClosed) {
		t.Errorf("Err = %v", l.Err())
	}
	closeLink(t, l)
}

// failingPort fails its first Read after a delay.
type failingPort struct {
	io.Writer
	after  time.Duration
	closed chan struct{}
	once   sync.Once
}

func (p *failingPort) Read([]byte) (int, error) {
	select {
	case <-time.After(p.after):
		return 0, errors.New("device unplugged")
	case <-p.closed:
		return 0, io.ErrClosedPipe
	}
}

func (p *failingPort) Close() error { p.once.Do(func() { close(p.closed) }); return nil }

func TestPortFailureStopsLink(t *testing.T) {
	noLeaks(t)
	cfg := fast
	cfg.MaxRetransmits = 1000
	port := &failingPort{Writer: io.Discard, after: 30 * time.Millisecond, closed: make(chan struct{})}
	l := open(t, port, cfg)
	err := l.Send(context.Background(), []byte("x"))
	if !errors.Is(err, link.ErrPort) {
		t.Fatalf("Send: %v", err)
	}
	<-l.Done()
	if !errors.Is(l.Err(), link.ErrPort) {
		t.Fatalf("Err = %v", l.Err())
	}
	if _, err := l.Recv(context.Background()); !errors.Is(err, link.ErrPort) {
		t.Fatalf("Recv: %v", err)
	}
}

func TestSendLimits(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 11)
	a := open(t, line.A(), fast)
	if err := a.Send(context.Background(), make([]byte, link.MaxPayload+1)); !errors.Is(err, link.ErrTooLarge) {
		t.Errorf("oversize: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Send(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	for _, cfg := range []link.Config{{Window: link.MaxWindow + 1}, {Window: -1}, {AckTimeout: time.Second, MaxAckTimeout: time.Millisecond}} {
		if _, err := link.Open(context.Background(), line.B(), cfg); err == nil {
			t.Errorf("Open accepted %+v", cfg)
		}
	}
}

// TestCanceledQueuedSendNeverSent: a Send given up while it waits for the
// window is never transmitted.
func TestCanceledQueuedSendNeverSent(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{Cut: true}, linktest.Faults{}, 12)
	cfg := fast
	cfg.Window = 1
	cfg.MaxRetransmits = 1000
	a, b := open(t, line.A(), cfg), open(t, line.B(), cfg)
	first := make(chan error, 1)
	go func() { first <- a.Send(context.Background(), []byte("first")) }()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := a.Send(ctx, []byte("given up")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued Send: %v", err)
	}
	line.SetFaults(true, linktest.Faults{})
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := a.Send(context.Background(), []byte("third")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "third"} {
		if p, err := b.Recv(context.Background()); err != nil || string(p) != want {
			t.Fatalf("Recv = %q, %v; want %q", p, err, want)
		}
	}
}

func Example() {
	// Two ends of a serial line; the hub opens one, the coprocessor (or
	// the simulator) the other, with the same code.
	hubPort, radioPort := net.Pipe()
	ctx := context.Background()
	cfg := link.Config{Logger: slog.New(slog.DiscardHandler)}
	hub, _ := link.Open(ctx, hubPort, cfg)
	radio, _ := link.Open(ctx, radioPort, cfg)
	defer hub.Close(ctx)
	defer radio.Close(ctx)

	go func() {
		p, _ := radio.Recv(ctx)
		radio.Send(ctx, append([]byte("re: "), p...))
	}()
	if err := hub.Send(ctx, []byte("hello")); err != nil {
		fmt.Println(err)
	}
	p, _ := hub.Recv(ctx)
	fmt.Printf("%s\n", p)
	// Output: re: hello
}

// TestSenderRestart: a new link on the same port (the hub's process
// restarted) starts a new stream that the peer adopts at once.
func TestSenderRestart(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 13)
	b := open(t, line.B(), fast)
	ctx := context.Background()
	for round := range 3 {
		a, err := link.Open(ctx, line.A(), fast)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if err := a.Send(ctx, msg(round, i)); err != nil {
				t.Fatalf("round %d, Send %d: %v", round, i, err)
			}
			p, err := b.Recv(ctx)
			if s, j := parse(p); err != nil || s != round || j != i {
				t.Fatalf("round %d: Recv %d = %d/%d %v", round, i, s, j, err)
			}
		}
		closeLink(t, a)
	}
	if s := b.Stats(); s.PeerEpochs != 3 || s.Delivered != 30 {
		t.Errorf("stats %+v", s)
	}
}
