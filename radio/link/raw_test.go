package link_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/frame"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/link/linktest"
)

// rawPeer speaks link frames by hand on one end of a line, to drive a Link
// through exact sequences.
type rawPeer struct {
	t      *testing.T
	port   *linktest.End
	frames chan link.Frame
}

func newRawPeer(t *testing.T, port *linktest.End) *rawPeer {
	p := &rawPeer{t: t, port: port, frames: make(chan link.Frame, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var dec frame.Decoder
		buf := make([]byte, 512)
		for {
			n, err := port.Read(buf)
			for src := buf[:n]; len(src) > 0; {
				k, payload, _ := dec.Next(src)
				src = src[k:]
				if payload != nil {
					f, err := link.ParseFrame(payload)
					if err == nil {
						f.Payload = append([]byte(nil), f.Payload...)
						p.frames <- f
					}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { port.Close(); <-done })
	return p
}

func (p *rawPeer) send(f link.Frame) {
	p.port.Write(frame.AppendEncode(nil, link.AppendFrame(nil, f)))
}

func (p *rawPeer) expect(want link.Frame) {
	p.t.Helper()
	select {
	case got := <-p.frames:
		if !reflect.DeepEqual(got, want) {
			p.t.Fatalf("got %v %08x/%d %q, want %v %08x/%d %q", got.Kind, got.Epoch, got.Seq, got.Payload, want.Kind, want.Epoch, want.Seq, want.Payload)
		}
	case <-time.After(2 * time.Second):
		p.t.Fatalf("no frame, want %v %08x/%d", want.Kind, want.Epoch, want.Seq)
	}
}

func (p *rawPeer) expectNothing(d time.Duration) {
	p.t.Helper()
	select {
	case got := <-p.frames:
		p.t.Fatalf("unexpected %v %08x/%d %q", got.Kind, got.Epoch, got.Seq, got.Payload)
	case <-time.After(d):
	}
}

func expectRecv(t *testing.T, l *link.Link, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if p, err := l.Recv(ctx); err != nil || string(p) != want {
		t.Fatalf("Recv = %q, %v; want %q", p, err, want)
	}
}

func expectNoRecv(t *testing.T, l *link.Link) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if p, err := l.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Recv = %q, %v; want nothing", p, err)
	}
}

// TestReceiverSequences drives the receiving side through the cases of
// the protocol, frame by frame.
func TestReceiverSequences(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 20)
	l := open(t, line.A(), fast)
	p := newRawPeer(t, line.B())
	const e1, e2, e3 = 0xe1e1e1e1, 0xe2e2e2e2, 0xe3e3e3e3
	data := func(e uint32, seq uint8, s string) link.Frame {
		return link.Frame{Kind: link.Data, Epoch: e, Seq: seq, Payload: []byte(s)}
	}
	ack := func(e uint32, next uint8) link.Frame { return link.Frame{Kind: link.Ack, Epoch: e, Seq: next} }

	// The middle of an unknown stream: Resync, nothing delivered.
	p.send(data(e1, 1, "b"))
	p.expect(link.Frame{Kind: link.Resync, Epoch: e1})
	expectNoRecv(t, l)
	// The stream renumbered into a new epoch: adopted at 0.
	p.send(data(e2, 0, "a"))
	p.expect(ack(e2, 1))
	expectRecv(t, l, "a")
	// A late sequence 0 of the refused epoch does not start a stream.
	p.send(data(e1, 0, "a"))
	p.expect(link.Frame{Kind: link.Resync, Epoch: e1})
	expectNoRecv(t, l)
	// Duplicate: acknowledged again, not delivered again.
	p.send(data(e2, 0, "a"))
	p.expect(ack(e2, 1))
	// A gap: dropped, the Ack says what is missing.
	p.send(data(e2, 2, "c"))
	p.expect(ack(e2, 1))
	p.send(data(e2, 1, "b"))
	p.expect(ack(e2, 2))
	p.send(data(e2, 2, "c"))
	p.expect(ack(e2, 3))
	expectRecv(t, l, "b")
	expectRecv(t, l, "c")
	// The peer restarts: a new stream at 0 is adopted...
	p.send(data(e3, 0, "x"))
	p.expect(ack(e3, 1))
	expectRecv(t, l, "x")
	// ...and a late frame of the old one is dropped without an answer.
	p.send(data(e2, 3, "d"))
	p.expectNothing(30 * time.Millisecond)
	expectNoRecv(t, l)
	if s := l.Stats(); s.Delivered != 4 || s.Duplicates != 1 || s.OutOfOrder != 1 || s.Stale != 1 || s.ResyncsSent != 2 || s.PeerEpochs != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestSenderSequences drives the sending side: window, cumulative Ack,
// retransmission, Resync.
func TestSenderSequences(t *testing.T) {
	noLeaks(t)
	line := newLine(t, linktest.Faults{}, linktest.Faults{}, 21)
	cfg := fast
	cfg.Window = 2
	cfg.AckTimeout, cfg.MaxAckTimeout = 100*time.Millisecond, 100*time.Millisecond
	l := open(t, line.A(), cfg)
	p := newRawPeer(t, line.B())
	ctx := context.Background()
	errs := make(chan error, 3)
	for _, s := range []string{"a", "b", "c"} {
		go func() { errs <- l.Send(ctx, []byte(s)) }()
		time.Sleep(5 * time.Millisecond) // keep the order
	}
	f0 := <-p.frames
	f1 := <-p.frames
	e := f0.Epoch
	if f0.Kind != link.Data || f0.Seq != 0 || string(f0.Payload) != "a" || f1.Epoch != e || f1.Seq != 1 || string(f1.Payload) != "b" {
		t.Fatalf("window: %+v %+v", f0, f1)
	}
	p.expectNothing(20 * time.Millisecond) // the window is full: "c" waits
	// A cumulative Ack for both: "c" goes out.
	p.send(link.Frame{Kind: link.Ack, Epoch: e, Seq: 2})
	p.expect(link.Frame{Kind: link.Data, Epoch: e, Seq: 2, Payload: []byte("c")})
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// No Ack: "c" comes again after the timeout.
	p.expect(link.Frame{Kind: link.Data, Epoch: e, Seq: 2, Payload: []byte("c")})
	// An Ack of another epoch, or one for frames never sent, is ignored.
	p.send(link.Frame{Kind: link.Ack, Epoch: e + 1, Seq: 3})
	p.send(link.Frame{Kind: link.Ack, Epoch: e, Seq: 9})
	// Resync: "c" is renumbered from 0 in a new epoch.
	p.send(link.Frame{Kind: link.Resync, Epoch: e})
	f := <-p.frames
	if f.Kind != link.Data || f.Epoch == e || f.Seq != 0 || string(f.Payload) != "c" {
		t.Fatalf("after Resync: %+v", f)
	}
	p.send(link.Frame{Kind: link.Ack, Epoch: f.Epoch, Seq: 1})
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if s := l.Stats(); s.Acked != 3 || s.Resyncs != 1 || s.Stale != 1 {
		t.Errorf("stats %+v", s)
	}
}
