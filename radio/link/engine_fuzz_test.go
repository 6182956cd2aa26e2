package link

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// FuzzEngine drives the link's state machine directly, without goroutines
// or time, with any sequence of sends, received frames and timeouts, and
// checks its invariants after every step: it never panics, never holds
// more than the window, keeps the window numbered base, base+1, ..., and
// never completes a Send twice; the receiving side delivers only in-order
// frames of the stream it adopted.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0, 1, 4, 3, 0, 0})
	f.Add([]byte{1, 1, 0, 1, 1, 1, 1, 1, 2, 1, 2, 0, 0, 5, 5, 5, 5, 5, 3, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 2, 0, 4})
	f.Fuzz(func(t *testing.T, script []byte) {
		cfg, _ := Config{Window: 4, MaxRetransmits: 3, RecvQueue: 8, Logger: slog.New(slog.DiscardHandler)}.withDefaults()
		l := &Link{cfg: cfg, log: cfg.Logger, ctx: context.Background(),
			out: make(chan []byte, 64), recv: make(chan []byte, cfg.RecvQueue)}
		e := &engine{rto: cfg.AckTimeout, timer: time.NewTimer(time.Hour)}
		e.timer.Stop()
		defer e.timer.Stop()
		l.newEpoch(e)
		const peerA, peerB = 0xa0a0a0a0, 0xb0b0b0b0
		var reqs []*request
		epoch := func(x byte) uint32 {
			switch x % 4 {
			case 0:
				return e.epoch
			case 1:
				return peerA
			case 2:
				return peerB
			}
			return e.oldOwn.e[0] | 1
		}
		for i := 0; i+1 < len(script); i += 2 {
			op, arg := script[i]%6, script[i+1]
			switch op {
			case 0: // a Send
				r := &request{ctx: context.Background(), payload: []byte{byte(len(reqs))}, done: make(chan error, 2)}
				reqs = append(reqs, r)
				e.queue = append(e.queue, r)
				l.fill(e)
			case 1: // a DATA frame from the peer
				before := e.expected
				ep := epoch(arg >> 4)
				wasPeer := e.peer
				n := len(l.recv)
				l.onData(e, Frame{Kind: Data, Epoch: ep, Seq: arg & 7})
				if len(l.recv) > n {
					// Delivered: only the expected sequence of the adopted
					// stream, or sequence 0 of a stream adopted just now.
					if ep == wasPeer && uint8(arg&7) != before || ep != wasPeer && arg&7 != 0 {
						t.Fatalf("delivered %08x/%d; expected %d of %08x", ep, arg&7, before, wasPeer)
					}
				}
			case 2: // an ACK
				l.onAck(e, Frame{Kind: Ack, Epoch: epoch(arg >> 4), Seq: e.base + arg&7})
			case 3: // a RESYNC
				l.onResync(e, Frame{Kind: Resync, Epoch: epoch(arg)})
			case 4: // the retransmission timer
				l.onTimeout(e)
			case 5: // the upper layer takes a payload
				select {
				case <-l.recv:
				default:
				}
			}
			if len(e.inflight) > cfg.Window {
				t.Fatalf("%d frames in flight", len(e.inflight))
			}
			if int(e.next-e.base) != len(e.inflight) {
				t.Fatalf("base %d next %d with %d in flight", e.base, e.next, len(e.inflight))
			}
			for k, r := range e.inflight {
				if r.seq != e.base+uint8(k) {
					t.Fatalf("in flight %d has seq %d, base %d", k, r.seq, e.base)
				}
			}
			if len(e.inflight) > 0 && !e.armed {
				t.Fatal("frames in flight with no timer")
			}
			for k, r := range reqs {
				if len(r.done) > 1 {
					t.Fatalf("request %d completed twice", k)
				}
			}
			if len(e.queue) > 0 && len(e.inflight) < cfg.Window {
				t.Fatal("queued while the window has room")
			}
		}
		for k, r := range reqs {
			inWindow := false
			for _, x := range append(e.inflight, e.queue...) {
				inWindow = inWindow || x == r
			}
			if inWindow == (len(r.done) == 1) {
				t.Fatalf("request %d: pending %v, completed %v", k, inWindow, len(r.done) == 1)
			}
		}
	})
}
