package cloudlink

import (
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorhub/doorhub/hub"
)

// The outbox's drain (doc.go, "Activity"). Records go up in activity
// messages of up to MaxEventsPerMessage events and MaxPayload bytes, up
// to InFlight messages awaiting their PUBACK at once, within the
// connection's publish rate. A record is removed from the outbox only
// after the broker acknowledged the message carrying it; any failure
// (a timeout, a lost connection) sends every record not acknowledged
// again, in a new message: at least once.
//
// Two lanes keep live events from waiting behind a long backlog. When
// more than BacklogThreshold records wait as the link comes up, the
// records stored from then on form the live lane; the backlog lane drains
// the older ones. Each lane sends in seq order, so each door's events go
// up in order within a lane; across the two, a door's live events may
// arrive before its older ones, and the cloud orders a door's history by
// seq. The lanes take turns; the live lane sends a message that is not
// full at most every LiveInterval while the backlog drains, so most of
// the publish rate carries full backlog messages. When the backlog is
// gone, the lanes merge into one.

// envelopeBudget is what an activity message spends beside its events:
// the envelope and the events array, with a margin.
const envelopeBudget = 1024

// flight is an activity message awaiting its PUBACK.
type flight struct {
	from, to uint64
	events   int
	live     bool
	full     bool
	tok      mqtt.Token
	sent     time.Time
}

type drainer struct {
	c        *Client
	backNext uint64 // the next seq the backlog lane reads
	split    uint64 // where the live lane starts; 0 while there is one lane
	liveNext uint64
	lastLive time.Time
	liveTurn bool
	inflight []*flight
	// fullBatch is how many waiting records make a message worth
	// sending at once.
	fullBatch uint64
}

func (c *Client) drainLoop() {
	defer c.wg.Done()
	d := &drainer{c: c, fullBatch: uint64(min(c.opts.MaxEventsPerMessage, 256))}
	for c.ctx.Err() == nil {
		s, err := c.awaitConn(c.ctx)
		if err != nil {
			return
		}
		d.reset()
		err = d.run(s)
		d.inflight = nil
		if c.ctx.Err() != nil {
			return
		}
		c.log.Debug("activity drain interrupted; unacknowledged records go again", slog.Any(logErr, err))
		select { // a new connection, or a pause before trying again on this one
		case <-s.lost:
		case <-time.After(time.Second):
		case <-c.ctx.Done():
			return
		}
	}
}

// reset starts the lanes from what the outbox holds.
func (d *drainer) reset() {
	first, next := d.c.opts.Outbox.Bounds()
	if first == 0 {
		first = next
	}
	d.backNext, d.split, d.liveNext = first, 0, 0
	if next-first > uint64(d.c.opts.BacklogThreshold) {
		d.split, d.liveNext = next, next
		d.c.log.Info("activity backlog", slog.Uint64(logEvents, next-first))
	}
}

// run sends records on session s until something fails.
func (d *drainer) run(s *session) error {
	c := d.c
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var wake time.Duration
		for len(d.inflight) < c.opts.InFlight {
			f, wait, err := d.next(s)
			if err != nil {
				return err
			}
			if f == nil {
				wake = wait
				break
			}
			d.inflight = append(d.inflight, f)
		}
		var acked <-chan struct{}
		if len(d.inflight) > 0 {
			acked = d.inflight[0].tok.Done()
			if left := c.opts.PublishTimeout - time.Since(d.inflight[0].sent); wake == 0 || left < wake {
				wake = max(left, time.Millisecond)
			}
		}
		var timeout <-chan time.Time
		if wake > 0 {
			if timer == nil {
				timer = time.NewTimer(wake)
			} else {
				timer.Reset(wake)
			}
			timeout = timer.C
		}
		select {
		case <-acked:
			f := d.inflight[0]
			d.inflight = d.inflight[1:]
			if err := f.tok.Error(); err != nil {
				return err
			}
			c.stats.eventsAcked.Add(uint64(f.events))
			select {
			case c.removed <- [2]uint64{f.from, f.to}:
			case <-c.ctx.Done():
				return c.ctx.Err()
			}
		case <-timeout:
			if len(d.inflight) > 0 && time.Since(d.inflight[0].sent) >= c.opts.PublishTimeout {
				return errTimeout
			}
		case <-c.opts.Outbox.Changed():
		case <-s.lost:
			return errConnectionLost
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		if timer != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// next publishes the next message, or returns no flight and how long to
// wait before there may be one (0: until something changes).
func (d *drainer) next(s *session) (*flight, time.Duration, error) {
	c := d.c
	for {
		_, end := c.opts.Outbox.Bounds()
		if d.split != 0 && d.backNext >= d.split {
			d.backNext, d.split, d.liveNext = d.liveNext, 0, 0 // the backlog is gone: one lane again
		}
		backEnd := end
		if d.split != 0 {
			backEnd = d.split
		}
		backReady := d.backNext < backEnd && d.ready(false, backEnd-d.backNext)
		var liveReady bool
		var wait time.Duration
		if d.split != 0 && d.liveNext < end && d.ready(true, end-d.liveNext) {
			if end-d.liveNext >= d.fullBatch {
				liveReady = true
			} else if since := time.Since(d.lastLive); since >= c.opts.LiveInterval {
				liveReady = true
			} else {
				wait = c.opts.LiveInterval - since
			}
		}
		var live bool
		switch {
		case liveReady && (d.liveTurn || !backReady):
			live = true
		case backReady:
		default:
			return nil, wait, nil
		}
		d.liveTurn = !live
		f, err := d.send(s, live, end)
		if err != nil || f != nil {
			return f, 0, err
		}
		// Every record of the range was removed already: look again.
	}
}

// ready applies the Nagle rule to a lane: while a message of the lane
// that was not full awaits its PUBACK, a new one goes only when enough
// records wait to fill it.
func (d *drainer) ready(live bool, waiting uint64) bool {
	if waiting >= d.fullBatch {
		return true
	}
	for _, f := range d.inflight {
		if f.live == live && !f.full {
			return false
		}
	}
	return true
}

// send reads the lane's next records, publishes them in one message and
// moves the lane on.
func (d *drainer) send(s *session, live bool, end uint64) (*flight, error) {
	c := d.c
	from, to := d.backNext, end
	if live {
		from = d.liveNext
	} else if d.split != 0 {
		to = d.split
	}
	recs, err := c.opts.Outbox.Read(from, to, c.opts.MaxEventsPerMessage)
	if err != nil {
		return nil, err
	}
	advance := func(next uint64) {
		if live {
			d.liveNext = next
		} else {
			d.backNext = next
		}
	}
	if len(recs) == 0 {
		advance(to)
		return nil, nil
	}
	stream := c.opts.Outbox.Stream()
	events := make([]ActivityEvent, 0, len(recs))
	size, last, full := envelopeBudget, recs[0].Seq, len(recs) == c.opts.MaxEventsPerMessage
	for i := range recs {
		ev, err := EventOf(stream, &recs[i])
		if err != nil {
			// A record that makes no valid event can never be sent; it
			// goes with this message's range, loudly.
			c.log.Error("activity record cannot be sent; dropped", slog.Uint64("seq", recs[i].Seq), slog.Any(logErr, err))
			last = recs[i].Seq
			continue
		}
		b, err := json.Marshal(&ev)
		if err != nil {
			return nil, err
		}
		if len(events) > 0 && size+len(b)+1 > MaxPayload {
			full = true
			break
		}
		size += len(b) + 1
		events = append(events, ev)
		last = recs[i].Seq
	}
	advance(last + 1)
	f := &flight{from: recs[0].Seq, to: last, events: len(events), live: live, full: full}
	if len(events) == 0 {
		select {
		case c.removed <- [2]uint64{f.from, f.to}:
		case <-c.ctx.Done():
		}
		return nil, nil
	}
	seq, err := c.opts.Outbox.NextMessageSeq()
	if err != nil {
		return nil, err
	}
	out, err := (&Uplink{Hub: c.opts.HubID, Stream: stream, Seq: seq, SentAt: c.opts.Clock.Now().Time,
		Body: &Activity{Events: events}}).Encode()
	if err != nil {
		return nil, err
	}
	if err := c.limiter.wait(c.ctx); err != nil {
		return nil, err
	}
	c.stats.publishes.Add(1)
	c.stats.eventsSent.Add(uint64(len(events)))
	f.tok = s.mq.Publish(out.Topic, out.QoS, out.Retain, out.Payload)
	f.sent = time.Now()
	if live && !full {
		d.lastLive = f.sent
	}
	return f, nil
}

// removeLoop removes acknowledged records from the outbox, merging
// adjacent ranges, beside the drain so that a disk write never holds up
// the next publish. A removal lost at Close or to a crash only means the
// records go up again: duplicates, never losses.
func (c *Client) removeLoop() {
	defer c.wg.Done()
	var last time.Time
	for {
		var r [2]uint64
		select {
		case r = <-c.removed:
		case <-c.ctx.Done():
			return
		}
		ranges := [][2]uint64{r}
	more:
		for len(ranges) < 256 {
			select {
			case r := <-c.removed:
				if l := &ranges[len(ranges)-1]; r[0] == l[1]+1 {
					l[1] = r[1]
				} else {
					ranges = append(ranges, r)
				}
			default:
				break more
			}
		}
		for _, r := range ranges {
			if err := c.opts.Outbox.Remove(r[0], r[1]); err != nil && !errors.Is(err, hub.ErrClosed) &&
				time.Since(last) > time.Minute {
				last = time.Now()
				c.log.Warn("acknowledged activity not removed from the outbox; it will go again",
					slog.Uint64("from", r[0]), slog.Uint64("to", r[1]), slog.Any(logErr, err))
			}
		}
	}
}
