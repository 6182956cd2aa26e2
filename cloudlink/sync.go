package cloudlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// The downlink is handled in two stages, each on its own goroutine, so
// that the next message is verified (and a snapshot chunk's ops decoded)
// while the store writes the previous one:
//
//	paho handler → c.down → downlinkLoop: verify, decode ops
//	             → c.verified (one waiting) → applyLoop: act, in order
//
// applyLoop acts on the messages one at a time in the order the broker
// delivered them and acknowledges each to the broker once handled (a batch
// applied is on disk by then); a refusal, a store error or an abort is
// decided there exactly as if each message were handled alone. At most
// two messages are past c.down and not yet acknowledged.
//
// Only messages on the batch and snapshot topics are verified ahead: the
// ids of commands and time are remembered (and persisted) by the stage
// that carries them out, right before it does, as when one goroutine did
// both.

// verified is a downlink message through the first stage.
type verified struct {
	in inbound
	// done: verified ahead (a batch or snapshot topic); otherwise applyLoop
	// verifies it.
	done bool
	now  hub.Now
	dl   *Downlink
	err  error // Open's refusal
	// ops and opsErr are a snapshot chunk's ops, decoded ahead.
	ops    []hub.Op
	opsErr error
}

// downlinkLoop is the first stage: it verifies each received batch or
// snapshot chunk and decodes a chunk's ops, and hands every message on in
// order.
func (c *Client) downlinkLoop() {
	defer c.wg.Done()
	for {
		select {
		case in := <-c.down:
			c.stats.received.Add(1)
			c.stats.lastReceived.Store(time.Now().UnixNano())
			v := verified{in: in}
			if _, ch, err := ParseTopic(in.topic); err == nil && (ch == ChanSnapshot || ch == ChanBatch) {
				v.done, v.now = true, c.opts.Clock.Now()
				v.dl, v.err = c.verifier.Open(in.topic, in.payload, v.now)
				if chunk, ok := v.dl.body().(*SnapshotChunk); ok {
					v.ops, v.opsErr = chunk.DecodeOps()
				}
			}
			select {
			case c.verified <- v:
			case <-c.ctx.Done():
				return // not acknowledged: the broker delivers it again
			}
		case <-c.ctx.Done():
			return
		}
	}
}

// applyLoop is the second stage: it acts on the verified messages one at
// a time, in order, and acknowledges each to the broker once handled. It
// also aborts a stalled snapshot and sends the folded security events.
func (c *Client) applyLoop() {
	defer c.wg.Done()
	tick := time.NewTicker(min(c.opts.SnapshotStall, c.opts.SecurityFold) / 4)
	defer tick.Stop()
	for {
		select {
		case v := <-c.verified:
			c.handle(&v)
			v.in.ack()
		case <-tick.C:
			c.checkStall()
			c.flushFolds(false)
		case <-c.ctx.Done():
			c.asm.Abort()
			c.flushFolds(true)
			return
		}
	}
}

// handle verifies one message, unless the first stage did, and acts on
// it.
func (c *Client) handle(v *verified) {
	if !v.done {
		v.now = c.opts.Clock.Now()
		v.dl, v.err = c.verifier.Open(v.in.topic, v.in.payload, v.now)
	}
	topic, payload, now, dl := v.in.topic, v.in.payload, v.now, v.dl
	if v.err != nil {
		c.refuse(topic, payload, v.err, now)
		return
	}
	if dl.Type.Remembered() {
		c.saveReplay()
	}
	switch b := dl.Body.(type) {
	case *Batch:
		c.onBatch(dl, b)
	case *SnapshotChunk:
		c.onChunk(dl, b, v, topic, payload, now)
	case *Resync:
		c.onResync(dl, b)
	case *Unlock:
		c.onUnlock(dl, b, now)
	case *TimeHint:
		c.onTime(dl, b)
	}
}

// refuse logs, counts and reports a message that failed verification. An
// expired batch or chunk is asked for again.
func (c *Client) refuse(topic string, payload []byte, err error, now hub.Now) {
	ev := NewSecurityEvent(topic, payload, err, now.Time)
	c.stats.mu.Lock()
	c.stats.refused[ev.Reason]++
	c.stats.mu.Unlock()
	level := slog.LevelWarn
	key := ev.Reason + "\x00" + topic
	if last, ok := c.refusalLogs[key]; ok && time.Since(last) < c.opts.SecurityFold {
		level = slog.LevelDebug // a flood is logged once a minute, and counted
	} else {
		c.refusalLogs[key] = time.Now()
	}
	c.log.Log(c.ctx, level, "downlink message refused", slog.String(logReason, ev.Reason),
		slog.String(logTopic, clip(topic, MaxTopicBytes)), slog.String(logType, string(ev.Type)),
		slog.String(logID, ev.Message), slog.Int(logSize, len(payload)), slog.Any(logErr, err))
	c.report(ev)
	if errors.Is(err, ErrExpired) && (ev.Type == TypeBatch || ev.Type == TypeSnapshotChunk) {
		c.queueNeed(NeedExpired, ev.Type == TypeSnapshotChunk, false)
	}
}

// fold is the security events of one reason and topic: the first of a
// window goes at once, the rest of the window as one event with a count.
type fold struct {
	start   time.Time
	pending *SecurityEvent
}

func (c *Client) report(ev SecurityEvent) {
	key := ev.Reason + "\x00" + ev.Topic
	f := c.folds[key]
	if f == nil || time.Since(f.start) >= c.opts.SecurityFold {
		if f != nil && f.pending != nil {
			c.sendSecurity(f.pending)
		}
		c.folds[key] = &fold{start: time.Now()}
		c.sendSecurity(&ev)
		return
	}
	if f.pending == nil {
		f.pending = &ev
		return
	}
	f.pending.Count++
}

// flushFolds sends the folded events whose window is over (all of them
// when closing).
func (c *Client) flushFolds(all bool) {
	for key, f := range c.folds {
		if !all && time.Since(f.start) < c.opts.SecurityFold {
			continue
		}
		if f.pending != nil {
			c.sendSecurity(f.pending)
			f.pending = nil
			f.start = time.Now()
			continue
		}
		delete(c.folds, key)
	}
}

func (c *Client) sendSecurity(ev *SecurityEvent) {
	c.stats.securityEvents.Add(1)
	c.queue(ev)
}

// saveReplay persists the replay cache before the command it just
// remembered is carried out: a command delivered again after a restart
// is refused as a replay.
func (c *Client) saveReplay() {
	if c.opts.State == nil {
		return
	}
	b, err := json.Marshal(c.verifier.Replay().Entries())
	if err == nil {
		err = c.opts.State.SaveState(stateReplay, b)
	}
	if err != nil {
		c.log.Error("replay cache not persisted", slog.Any(logErr, err))
	}
}

// ack queues the version the store holds, with a rejection if any.
func (c *Client) ack(snapshotID string, rej *Rejection) {
	c.queue(&Ack{Site: c.site(), Version: c.opts.Store.Version(), SnapshotID: snapshotID, Rejected: rej})
}

// queueNeed asks for what the hub misses, at most once per reason and
// version every NeedInterval (always when force).
func (c *Client) queueNeed(reason string, snapshot, force bool) {
	v := c.opts.Store.Version()
	key := reason + "/" + strconv.FormatUint(v, 10) + "/" + strconv.FormatBool(snapshot)
	c.needMu.Lock()
	if last, ok := c.needSent[key]; ok && !force && time.Since(last) < c.opts.NeedInterval {
		c.needMu.Unlock()
		return
	}
	for k, at := range c.needSent {
		if time.Since(at) >= c.opts.NeedInterval {
			delete(c.needSent, k)
		}
	}
	c.needSent[key] = time.Now()
	c.needMu.Unlock()
	c.queue(&Need{Site: c.site(), FromVersion: v, Snapshot: snapshot || v == 0, Reason: reason})
}

func rejection(msgID string, version uint64, err error) *Rejection {
	return &Rejection{Message: msgID, Version: version, Error: RejectionCode(err), Detail: clip(err.Error(), maxText)}
}

// onBatch applies a batch that follows on the store's version; a
// duplicate is acknowledged again, a gap is asked for, nothing past it is
// applied.
func (c *Client) onBatch(dl *Downlink, b *Batch) {
	held := c.opts.Store.Version()
	switch {
	case b.Version <= held:
		c.stats.duplicates.Add(1)
		c.log.Debug("batch already held", slog.Uint64(logVersion, b.Version), slog.Uint64(logHeld, held))
		c.ack("", nil)
	case b.Base == held:
		if err := c.opts.Store.Apply(c.ctx, &b.Batch); err != nil {
			c.stats.batchesRejected.Add(1)
			c.log.Warn("batch refused by the store", slog.String(logID, dl.ID), slog.Uint64(logVersion, b.Version), slog.Any(logErr, err))
			c.ack("", rejection(dl.ID, b.Version, err))
			return
		}
		c.stats.batchesApplied.Add(1)
		c.log.Debug("batch applied", slog.Uint64(logVersion, b.Version), slog.Int("ops", len(b.Ops)))
		c.ack("", nil)
	default:
		if p, ok := c.asm.InProgress(); ok {
			c.log.Debug("batch dropped while a snapshot is in progress", slog.Uint64(logVersion, b.Version),
				slog.String(logSnapshot, p.SnapshotID))
			return
		}
		c.stats.gaps.Add(1)
		c.log.Info("batch gap", slog.Uint64(logVersion, b.Version), slog.Uint64("base", b.Base), slog.Uint64(logHeld, held))
		c.queueNeed(NeedGap, false, false)
	}
}

// onChunk feeds a snapshot chunk to the assembler.
func (c *Client) onChunk(dl *Downlink, ch *SnapshotChunk, v *verified, topic string, payload []byte, now hub.Now) {
	prev, had := c.asm.InProgress()
	c.chunkAt, c.chunkMsgID = time.Now(), dl.ID
	done, err := c.asm.add(c.ctx, ch, func() ([]hub.Op, error) { return v.ops, v.opsErr })
	switch {
	case done:
		c.stats.snapshots.Add(1)
		c.log.Info("snapshot applied", slog.String(logSnapshot, ch.SnapshotID), slog.Uint64(logVersion, ch.Version),
			slog.Int("chunks", ch.Count))
		c.ack(ch.SnapshotID, nil)
		return
	case err == nil:
		return
	case errors.Is(err, ErrSnapshotOrder) && ch.Index > 0 && (!had || prev.SnapshotID != ch.SnapshotID):
		c.log.Debug("stray snapshot chunk dropped", slog.String(logSnapshot, ch.SnapshotID), slog.Int("index", ch.Index))
		return
	case errors.Is(err, hub.ErrStaleBatch):
		c.log.Info("snapshot older than the held set ignored", slog.String(logSnapshot, ch.SnapshotID),
			slog.Uint64(logVersion, ch.Version), slog.Uint64(logHeld, c.opts.Store.Version()))
		c.ack("", nil)
		return
	}
	c.stats.snapshotsFailed.Add(1)
	c.log.Warn("snapshot broke off", slog.String(logSnapshot, ch.SnapshotID), slog.Int("index", ch.Index), slog.Any(logErr, err))
	if errors.Is(err, ErrSnapshotOrder) || errors.Is(err, ErrSnapshotDigest) {
		c.report(NewSecurityEvent(topic, payload, err, now.Time))
	}
	c.ack("", rejection(dl.ID, ch.Version, err))
	c.queueNeed(NeedSnapshotFailed, true, false)
}

// checkStall aborts a snapshot that got no chunk for SnapshotStall.
func (c *Client) checkStall() {
	p, ok := c.asm.InProgress()
	if !ok || time.Since(c.chunkAt) < c.opts.SnapshotStall {
		return
	}
	c.asm.Abort()
	c.stats.snapshotsFailed.Add(1)
	err := fmt.Errorf("%w: snapshot %s stalled at chunk %d of %d", ErrSnapshotOrder, p.SnapshotID, p.Next, p.Count)
	c.log.Warn("snapshot stalled; asking for it again", slog.String(logSnapshot, p.SnapshotID), slog.Any(logErr, err))
	c.ack("", rejection(c.chunkMsgID, p.Version, err))
	c.queueNeed(NeedSnapshotFailed, true, false)
}

// onResync says what the hub holds, again.
func (c *Client) onResync(dl *Downlink, r *Resync) {
	c.log.Info("resync asked", slog.String(logReason, r.Reason), slog.Bool(logSnapshot, r.Snapshot))
	c.queueNeed(NeedResync, r.Snapshot, true)
	if s, _ := c.current(); s != nil {
		if st, err := c.statusMessage(StateOnline, s); err == nil {
			c.ctrl.push(st)
		}
	}
	c.queueReports()
	c.queue(&Reply{Command: dl.ID, Type: TypeResync, Status: ReplyDone})
}

// onUnlock carries out a verified remote unlock, beside the handling of
// further messages, and replies.
func (c *Client) onUnlock(dl *Downlink, u *Unlock, now hub.Now) {
	reply := func(status, reason, detail string) {
		c.queue(&Reply{Command: dl.ID, Type: TypeUnlock, Status: status, Reason: reason, Detail: clip(detail, maxText)})
	}
	if !now.Trusted {
		c.log.Warn("remote unlock refused: the clock is untrusted", slog.String(logID, dl.ID), slog.String(logDoor, u.Door))
		reply(ReplyRefused, ReplyClockUntrusted, "the hub cannot tell an old command from a new one")
		return
	}
	known := false
	c.opts.Store.View(func(cat *hub.Catalog) { known = cat.Door(u.Door) != nil })
	if !known {
		reply(ReplyRefused, ReplyUnknownDoor, "")
		return
	}
	if c.opts.Unlocker == nil {
		reply(ReplyFailed, ReplyLockUnreachable, "no radio")
		return
	}
	select {
	case c.unlocks <- struct{}{}:
	default:
		reply(ReplyFailed, ReplyBusy, "too many remote unlocks at once")
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.unlocks }()
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.UnlockTimeout)
		defer cancel()
		err := c.opts.Unlocker.RemoteUnlock(ctx, u.Door, time.Duration(u.HoldSeconds)*time.Second)
		switch {
		case err == nil:
			c.stats.unlocks.Add(1)
			c.log.Info("remote unlock", slog.String(logDoor, u.Door), slog.String("by", u.By), slog.String(logID, dl.ID))
			if _, err := c.opts.Outbox.Append(c.ctx, hub.RemoteUnlockActivity(u.Door, dl.ID, u.By, c.opts.Clock.Now())); err != nil {
				c.log.Error("remote unlock not recorded durably", slog.Any(logErr, err))
			}
			reply(ReplyDone, "", "")
		case errors.Is(err, ErrLockBusy):
			reply(ReplyFailed, ReplyBusy, err.Error())
		default:
			reply(ReplyFailed, ReplyLockUnreachable, err.Error())
		}
	}()
}

// onTime trusts the cloud's time only in answer to a request the hub
// sent moments ago. Any other signed hint proves only that the time is at
// least its now: the clock's floor is raised to it (and saved at once) if
// the clock can take a floor, the hint's now lies within its own signed
// window, and — when the clock is trusted already — not beyond the
// clock's now (a trusted source knows better than the cloud's clock).
func (c *Client) onTime(dl *Downlink, h *TimeHint) {
	if h.Request != "" && c.takeNonce(h.Request) {
		c.opts.Clock.TrustCloudTime(h.Now)
		c.log.Info("clock trusted from the cloud's signed time", slog.Time("now", h.Now))
		return
	}
	fc, ok := c.opts.Clock.(FloorClock)
	if !ok {
		c.log.Debug("time hint without a fresh request of ours: not trusted")
		return
	}
	skew := c.verifier.skew
	if h.Now.Before(dl.IssuedAt.Add(-skew)) || h.Now.After(dl.ExpiresAt.Add(skew)) {
		c.log.Warn("time hint outside its own window: ignored", slog.String(logID, dl.ID), slog.Time("now", h.Now),
			slog.Time("issued_at", dl.IssuedAt), slog.Time("expires_at", dl.ExpiresAt))
		return
	}
	bound := h.Now
	if now := c.opts.Clock.Now(); now.Trusted && bound.After(now.Time) {
		bound = now.Time
	}
	if !fc.RaiseFloor(bound) {
		c.log.Debug("time hint without a fresh request of ours: the floor is later already")
		return
	}
	if err := fc.PersistFloor(); err != nil {
		c.log.Error("clock floor raised but not persisted", slog.Any(logErr, err))
	}
	c.log.Info("clock floor raised from the cloud's signed time (not trusted)", slog.Time("floor", bound))
}
