package link

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/doorhub/doorhub/radio/frame"
)

// retiredEpochs is how many past epochs of each side are remembered and
// never adopted again, so that a late frame of an old stream cannot start
// a stream anew and deliver a payload twice.
const retiredEpochs = 8

// engine is the state the main loop owns: the sending window and the
// receiving stream. Nothing else touches it.
type engine struct {
	// Sending.
	epoch    uint32
	base     uint8      // sequence of inflight[0]
	next     uint8      // sequence of the next new frame
	inflight []*request // sent, not acknowledged, in sequence order
	queue    []*request // waiting for room in the window
	retries  int        // retransmissions without progress
	rto      time.Duration
	timer    *time.Timer
	armed    bool
	oldOwn   ring

	// Receiving.
	peer     uint32 // epoch of the peer's stream, 0 before the first
	expected uint8
	oldPeer  ring // streams adopted before: dropped silently
	refused  ring // streams answered with Resync: never adopted
}

// ring remembers the last retiredEpochs epochs.
type ring struct {
	e [retiredEpochs]uint32
	i int
}

func (r *ring) add(e uint32) { r.e[r.i%retiredEpochs] = e; r.i++ }
func (r *ring) has(e uint32) bool {
	for _, x := range r.e {
		if x == e && e != 0 {
			return true
		}
	}
	return false
}

func (l *Link) mainLoop() {
	defer l.wg.Done()
	e := &engine{rto: l.cfg.AckTimeout, timer: time.NewTimer(time.Hour)}
	e.timer.Stop()
	defer e.timer.Stop()
	l.newEpoch(e)

	stop := func(err error) {
		l.err.Store(&err)
		for _, r := range append(e.inflight, e.queue...) {
			r.done <- err
		}
		e.inflight, e.queue = nil, nil
		close(l.done)
		// The link is dead either way: make sure the other loops stop.
		l.cancel()
	}
	for {
		var reqs chan *request
		if len(e.queue) < l.cfg.SendQueue {
			reqs = l.reqs
		}
		select {
		case <-l.ctx.Done():
			stop(ErrClosed)
			return
		case err := <-l.portErr:
			l.log.Warn("radio link stopped", slog.Any(logErr, err))
			stop(err)
			return
		case r := <-reqs:
			e.queue = append(e.queue, r)
			l.fill(e)
		case f := <-l.in:
			switch f.Kind {
			case Data:
				l.onData(e, f)
			case Ack:
				l.onAck(e, f)
			case Resync:
				l.onResync(e, f)
			}
		case <-e.timer.C:
			e.armed = false
			l.onTimeout(e)
		}
	}
}

// newEpoch starts a new sending stream at sequence 0.
func (l *Link) newEpoch(e *engine) {
	if e.epoch != 0 {
		e.oldOwn.add(e.epoch)
	}
	for {
		x := rand.Uint32()
		if x != 0 && x != e.epoch && !e.oldOwn.has(x) {
			e.epoch = x
			break
		}
	}
	e.base, e.next = 0, 0
}

// fill moves queued requests into the window and sends them.
func (l *Link) fill(e *engine) {
	for len(e.inflight) < l.cfg.Window && len(e.queue) > 0 {
		r := e.queue[0]
		e.queue[0] = nil
		e.queue = e.queue[1:]
		if err := r.ctx.Err(); err != nil {
			r.done <- err // given up before it went out: never sent
			continue
		}
		r.seq = e.next
		e.next++
		e.inflight = append(e.inflight, r)
		l.st.sent.Add(1)
		l.transmit(Frame{Kind: Data, Epoch: e.epoch, Seq: r.seq, Payload: r.payload})
	}
	if len(e.inflight) > 0 && !e.armed {
		l.arm(e)
	}
}

func (l *Link) arm(e *engine) {
	e.timer.Reset(e.rto)
	e.armed = true
}

func (l *Link) disarm(e *engine) {
	e.timer.Stop()
	e.armed = false
}

// transmit hands a frame to the writer. It never blocks: a frame the
// writer has no room for is dropped, and the retransmission timer (Data)
// or the peer's next frame (Ack, Resync) makes up for it.
func (l *Link) transmit(f Frame) {
	b := frame.AppendEncode(make([]byte, 0, frame.EncodedLen(HeaderSize+len(f.Payload))),
		AppendFrame(make([]byte, 0, HeaderSize+len(f.Payload)), f))
	select {
	case l.out <- b:
	default:
		l.st.dropped.Add(1)
	}
}

// resend sends every frame of the window again.
func (l *Link) resend(e *engine) {
	for _, r := range e.inflight {
		l.st.retransmitted.Add(1)
		l.transmit(Frame{Kind: Data, Epoch: e.epoch, Seq: r.seq, Payload: r.payload})
	}
}

func (l *Link) onAck(e *engine, f Frame) {
	if f.Epoch != e.epoch {
		l.st.stale.Add(1)
		return
	}
	k := int(f.Seq - e.base) // frames this Ack newly covers
	if k == 0 || k > len(e.inflight) {
		return // a repeated Ack, or one for frames never sent
	}
	l.st.acked.Add(uint64(k))
	for _, r := range e.inflight[:k] {
		r.done <- nil
	}
	clear(e.inflight[:k])
	e.inflight = e.inflight[k:]
	e.base = f.Seq
	e.retries, e.rto = 0, l.cfg.AckTimeout
	l.disarm(e)
	l.fill(e)
}

func (l *Link) onTimeout(e *engine) {
	if len(e.inflight) == 0 {
		return
	}
	if e.retries >= l.cfg.MaxRetransmits {
		l.fail(e)
		return
	}
	e.retries++
	e.rto = min(2*e.rto, l.cfg.MaxAckTimeout)
	l.resend(e)
	l.arm(e)
}

// fail gives up on the window: its Sends get ErrNoAck, and the stream
// starts over in a new epoch so that the peer, which may still wait for
// one of them, adopts the new stream instead.
func (l *Link) fail(e *engine) {
	n := len(e.inflight)
	l.st.failed.Add(uint64(n))
	for _, r := range e.inflight {
		r.done <- ErrNoAck
	}
	e.inflight = e.inflight[:0]
	e.retries, e.rto = 0, l.cfg.AckTimeout
	l.newEpoch(e)
	l.log.Warn("radio link: peer does not acknowledge", slog.Int(logFailed, n))
	l.fill(e)
}

// onResync restarts our stream when the peer says it does not know it:
// the window keeps its payloads, renumbered from 0 in a new epoch, so a
// peer that restarted still gets them, in order. It counts as a
// retransmission, so a peer that answers everything with Resync still
// reaches the MaxRetransmits bound.
func (l *Link) onResync(e *engine, f Frame) {
	if f.Epoch != e.epoch {
		l.st.stale.Add(1)
		return
	}
	l.st.resyncs.Add(1)
	l.newEpoch(e)
	for _, r := range e.inflight {
		r.seq = e.next
		e.next++
	}
	if len(e.inflight) == 0 {
		return
	}
	if e.retries >= l.cfg.MaxRetransmits {
		l.fail(e)
		return
	}
	e.retries++
	l.resend(e)
	l.disarm(e)
	l.arm(e)
}

func (l *Link) onData(e *engine, f Frame) {
	if f.Epoch != e.peer {
		switch {
		case e.oldPeer.has(f.Epoch):
			l.st.stale.Add(1)
			return
		case f.Seq != 0 || e.refused.has(f.Epoch):
			// The middle of a stream we never saw the start of. Once
			// refused, an epoch is never adopted: the sender renumbers
			// its window into a new epoch, and a late copy of the old
			// sequence 0 must not start a second stream with payloads
			// the new one delivers too.
			if !e.refused.has(f.Epoch) {
				e.refused.add(f.Epoch)
			}
			l.st.resyncsSent.Add(1)
			l.transmit(Frame{Kind: Resync, Epoch: f.Epoch})
			return
		}
		if e.peer != 0 {
			e.oldPeer.add(e.peer)
		}
		e.peer, e.expected = f.Epoch, 0
		l.st.peerEpochs.Add(1)
	}
	switch d := f.Seq - e.expected; {
	case d == 0:
		select {
		case l.recv <- f.Payload:
			e.expected++
			l.st.delivered.Add(1)
		default:
			l.st.recvBusy.Add(1)
			return // not acknowledged: the peer sends it again later
		}
	case d < 128:
		l.st.outOfOrder.Add(1)
	default:
		l.st.duplicates.Add(1)
	}
	l.transmit(Frame{Kind: Ack, Epoch: e.peer, Seq: e.expected})
}
