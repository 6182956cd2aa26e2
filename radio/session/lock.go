package session

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"sync"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// inboxSize bounds the envelopes waiting for one lock's session: a lock
// sends one message and waits for its answer, so more is a flood (or a
// replay attack), dropped and counted.
const inboxSize = 32

type inbound struct {
	rssi   lockmsg.RSSI
	sealed []byte
	at     time.Time
}

type commandReply struct {
	result *lockmsg.CommandResult
	err    error
}

// command is a hub message waiting for its lock to wake, then for the
// lock's CommandResult.
type command struct {
	msg     lockmsg.Message
	key     string            // a second command of the same key replaces the first
	done    chan commandReply // nil: nobody waits
	expires time.Time         // zero: DefaultCommandLife after queueing
	counter uint32            // once sent
	sentAt  time.Time
}

func (c *command) reply(r commandReply) {
	if c.done != nil {
		select {
		case c.done <- r:
		default:
		}
	}
}

// LockStatus is what a technician sees of a lock.
type LockStatus struct {
	Lock     string    `json:"lock"`
	Door     string    `json:"door"`
	PairedAt time.Time `json:"paired_at"`
	// LastSeen: the last authentic message; zero if none since start.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// RSSI: the coprocessor's measurement of the lock's last frame;
	// LockRSSI: the lock's of the hub's (dBm; -128 unknown).
	RSSI              int    `json:"rssi"`
	LockRSSI          int    `json:"lock_rssi"`
	Firmware          string `json:"firmware,omitempty"`
	BatteryPercent    int    `json:"battery_percent"` // -1 unknown
	BatteryMillivolts int    `json:"battery_mv"`
	DoorState         string `json:"door_state"`
	ClockSet          bool   `json:"clock_set"`
	// ClockOffset: hub time minus lock time at the last status, seconds.
	ClockOffset   float64 `json:"clock_offset_s"`
	ListVersion   uint32  `json:"list_version"`
	PendingEvents int     `json:"pending_events"` // as the lock last said
	Queued        int     `json:"queued"`         // hub messages waiting for the lock to wake
	Decisions     uint64  `json:"decisions"`
	// Security counts of the pairing.
	Forged    uint64 `json:"forged"`
	Replayed  uint64 `json:"replayed"`
	Reflected uint64 `json:"reflected"`
	Malformed uint64 `json:"malformed"`
}

// lockSession is the hub's side of one lock. Its goroutine handles the
// lock's messages in order; mu guards what Pair, Command and status read.
type lockSession struct {
	l     *Locks
	id    lockmsg.LockID
	inbox chan inbound
	poke  chan struct{}
	log   *slog.Logger

	mu          sync.Mutex
	key         lockmsg.Key
	pairing     *lockmsg.Pairing
	door        string
	pairedAt    time.Time
	lastSeen    time.Time
	awakeUntil  time.Time
	rssi        lockmsg.RSSI
	lockStatus  lockmsg.Status
	hasStatus   bool
	offset      time.Duration // hub time - lock time, from the last status with a set clock
	hasOffset   bool
	decisions   uint64
	lastFloor   time.Time
	warned      map[string]warned // last line per kind of warning
	queued      []*command
	inflight    map[uint32]*command
	eventsAcked uint32        // highest event seq stored and acknowledged
	eventGap    uint32        // lowest event seq that failed to store; 0 none
	xfer        *listTransfer // only in the session's goroutine
	// held is the digest of the list the lock last said it holds (status
	// or list_ack); only in the session's goroutine.
	held    [lockmsg.DigestSize]byte
	hasHeld bool
}

func (l *Locks) newSession(p Pairing) (*lockSession, error) {
	pr, err := lockmsg.NewPairing(p.Lock, p.Key, lockmsg.RoleHub, l.opts.Store, lockmsg.PairingOptions{})
	if err != nil {
		return nil, err
	}
	s := &lockSession{l: l, id: p.Lock, inbox: make(chan inbound, inboxSize), poke: make(chan struct{}, 1),
		log: l.log.With(slog.String(logLock, p.Lock.Hex())),
		key: p.Key, pairing: pr, door: p.Door, pairedAt: p.PairedAt, rssi: lockmsg.RSSIUnknown,
		inflight: map[uint32]*command{}}
	l.wg.Add(1)
	go s.run()
	return s, nil
}

// repair takes a new key or door for a paired lock.
func (s *lockSession) repair(p Pairing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Key != s.key {
		pr, err := lockmsg.NewPairing(p.Lock, p.Key, lockmsg.RoleHub, s.l.opts.Store, lockmsg.PairingOptions{})
		if err != nil {
			return err
		}
		s.key, s.pairing = p.Key, pr
		// What was sent under the old key means nothing under the new.
		for c, cmd := range s.inflight {
			delete(s.inflight, c)
			cmd.counter = 0
			s.queued = append(s.queued, cmd)
		}
		s.eventsAcked, s.eventGap = 0, 0
	}
	s.door, s.pairedAt = p.Door, p.PairedAt
	s.queueLocked(&command{msg: &lockmsg.DoorAssign{Door: p.Door}, key: "door_assign"})
	return nil
}

func (s *lockSession) deliver(in inbound) {
	select {
	case s.inbox <- in:
	default:
		s.l.st.inboxFull.Add(1)
	}
}

func (s *lockSession) run() {
	defer s.l.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.l.ctx.Done():
			s.mu.Lock()
			for _, c := range s.queued {
				c.reply(commandReply{err: ErrClosed})
			}
			for _, c := range s.inflight {
				c.reply(commandReply{err: ErrClosed})
			}
			s.mu.Unlock()
			return
		case in := <-s.inbox:
			s.handle(in)
			s.flush()
		case <-s.poke:
			s.flush()
		case <-tick.C:
			s.expire()
		}
	}
}

// handle opens one sealed message from the lock and acts on it.
func (s *lockSession) handle(in inbound) {
	s.mu.Lock()
	pr, door := s.pairing, s.door
	s.mu.Unlock()
	h, m, err := pr.Open(in.sealed)
	if err != nil {
		s.dropped(pr, h, err)
		return
	}
	now := s.l.opts.Clock.Now()
	s.mu.Lock()
	s.lastSeen = in.at
	s.awakeUntil = in.at.Add(s.l.opts.AwakeWindow)
	s.rssi = in.rssi
	s.mu.Unlock()
	switch m := m.(type) {
	case *lockmsg.Hello:
		s.observe(&m.Status, now)
		s.queue(&command{msg: &lockmsg.DoorAssign{Door: door}, key: "door_assign"})
		s.ackStatus(pr, h, now)
		s.syncList(pr, door, m.ListDigest, now.Time)
		s.log.Info("lock says hello", slog.String(logReason, m.Reason.String()), slog.String("firmware", m.Firmware.String()))
	case *lockmsg.Heartbeat:
		s.observe(&m.Status, now)
		s.ackStatus(pr, h, now)
		s.syncList(pr, door, m.ListDigest, now.Time)
	case *lockmsg.AccessRequest:
		s.decide(pr, h, m, door, now)
	case *lockmsg.DoorEvent:
		e := LockEvent{Lock: s.id, Door: door, Seq: m.Seq, At: s.hubTime(m.Clock, now), Event: m.Event,
			Detail: m.Detail, BatteryPercent: -1}
		if m.Event == lockmsg.EventLowBattery {
			e.BatteryPercent = s.battery()
		}
		s.storeEvents(pr, []LockEvent{e})
	case *lockmsg.OfflineEvents:
		events := make([]LockEvent, 0, len(m.Records))
		for _, r := range m.Records {
			at := s.hubTime(r.Clock, now)
			d := &hub.Decision{Door: door, At: at.Time, Kind: credentialKind(r.Kind), Allowed: r.Reason.Allowed(),
				Reason: hub.Reason(r.Reason.String()), ClockTrusted: at.Trusted, Visibility: hub.Visible}
			s.offlineIdentity(d, r.Entry, at)
			events = append(events, LockEvent{Lock: s.id, Door: door, Seq: r.Seq, At: at, BatteryPercent: -1, Offline: d,
				LockClock: r.Clock.Time(), Entry: r.Entry})
		}
		s.storeEvents(pr, events)
	case *lockmsg.CommandResult:
		s.mu.Lock()
		c := s.inflight[m.Request]
		delete(s.inflight, m.Request)
		s.mu.Unlock()
		if c != nil {
			s.l.st.commandsDone.Add(1)
			c.reply(commandReply{result: m})
			if m.Status != lockmsg.CommandDone {
				s.log.Warn("lock did not carry out a command", slog.String(logType, c.msg.Type().String()),
					slog.String("status", m.Status.String()))
			}
		}
	case *lockmsg.CounterFloor:
		// The lock dropped some of ours as replays (it restarted from a
		// persisted floor): Open moved our counter on; send again what it
		// has not answered.
		s.mu.Lock()
		for c, cmd := range s.inflight {
			if c <= m.Floor {
				delete(s.inflight, c)
				cmd.counter = 0
				s.queued = append([]*command{cmd}, s.queued...)
			}
		}
		s.mu.Unlock()
	case *lockmsg.ListAck:
		s.listAck(pr, door, m, now.Time)
	}
}

// dropped accounts for a message Open refused, and answers a replay with
// the hub's floor at most once per FloorEvery.
func (s *lockSession) dropped(pr *lockmsg.Pairing, h lockmsg.Header, err error) {
	st := &s.l.st
	switch {
	case errors.Is(err, lockmsg.ErrReplay):
		st.replayed.Add(1)
		s.mu.Lock()
		send := time.Since(s.lastFloor) >= s.l.opts.FloorEvery
		if send {
			s.lastFloor = time.Now()
		}
		s.mu.Unlock()
		if send {
			if _, err := s.send(pr, &lockmsg.CounterFloor{From: lockmsg.HubToLock, Floor: pr.RxFloor()}); err == nil {
				st.floorsSent.Add(1)
			}
		}
		s.warn("replayed message dropped", err)
	case errors.Is(err, lockmsg.ErrForged):
		st.forged.Add(1)
		s.warn("forged message dropped (MAC failed): a security event", err)
	case errors.Is(err, lockmsg.ErrDirection):
		st.reflected.Add(1)
		s.warn("reflected message dropped: a security event", err)
	case errors.Is(err, lockmsg.ErrCounterStore):
		s.log.Error("lock message not accepted: the counter store failed", slog.Any(logErr, err))
	default:
		st.malformed.Add(1)
		s.warn("malformed message dropped", err)
	}
}

type warned struct {
	at    time.Time
	count int
}

// warn logs at most one line of each kind per lock every 10 s, with the
// count since.
func (s *lockSession) warn(msg string, err error) {
	s.mu.Lock()
	if s.warned == nil {
		s.warned = map[string]warned{}
	}
	w := s.warned[msg]
	w.count++
	n := w.count
	log := time.Since(w.at) >= 10*time.Second
	if log {
		w = warned{at: time.Now()}
	}
	s.warned[msg] = w
	s.mu.Unlock()
	if log {
		s.log.Warn(msg, slog.Any(logErr, err), slog.Int(logCount, n))
	}
}

// observe takes a lock's status: last seen, battery, door, and its clock,
// which counts towards the hub's time only when the lock says it was set.
func (s *lockSession) observe(st *lockmsg.Status, now hub.Now) {
	s.mu.Lock()
	s.lockStatus, s.hasStatus = *st, true
	if st.ClockSet && st.Clock != 0 {
		s.offset, s.hasOffset = now.Time.Sub(st.Clock.Time()), true
	}
	skewed := !st.ClockSet || st.Clock == 0 || absDuration(now.Time.Sub(st.Clock.Time())) > s.l.opts.ClockSkew
	s.mu.Unlock()
	if st.ClockSet && st.Clock != 0 {
		s.l.opts.Clock.ObserveLockClock(s.id.String(), st.Clock.Time())
	}
	if now.Trusted && skewed {
		s.queue(&command{msg: &lockmsg.TimeSync{Clock: lockmsg.UnixTimeOf(now.Time), Trusted: true}, key: "time_sync"})
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (s *lockSession) battery() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasStatus || s.lockStatus.BatteryPercent == lockmsg.BatteryUnknown {
		return -1
	}
	return int(s.lockStatus.BatteryPercent)
}

// hubTime maps a lock clock reading to the hub's clock.
func (s *lockSession) hubTime(t lockmsg.UnixTime, now hub.Now) hub.Now {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t == 0 || !s.hasOffset {
		return hub.Now{Time: now.Time, Trusted: false}
	}
	return hub.Now{Time: t.Time().Add(s.offset), Trusted: now.Trusted}
}

func (s *lockSession) ackStatus(pr *lockmsg.Pairing, h lockmsg.Header, now hub.Now) {
	s.mu.Lock()
	more := len(s.queued) > 0
	s.mu.Unlock()
	_, _ = s.send(pr, &lockmsg.StatusAck{Request: h.Counter, Clock: lockmsg.UnixTimeOf(now.Time),
		ClockTrusted: now.Trusted, More: more})
}

// decide answers an access request from the store, then records the
// decision.
func (s *lockSession) decide(pr *lockmsg.Pairing, h lockmsg.Header, m *lockmsg.AccessRequest, door string, now hub.Now) {
	d := s.l.opts.Decider.Decide(door, presentation(m), now)
	reason, ok := lockmsg.ReasonOf(string(d.Reason))
	if !ok || reason.Allowed() != d.Allowed {
		s.log.Error("decision reason has no radio code; denying", slog.String(logReason, string(d.Reason)))
		reason = lockmsg.ReasonUnknownCredential
	}
	var unlock uint16
	if reason.Allowed() {
		unlock = s.l.opts.UnlockSeconds
	}
	_, err := s.send(pr, &lockmsg.Decision{Request: h.Counter, Reason: reason, UnlockSeconds: unlock})
	s.l.st.decisions.Add(1)
	if reason.Allowed() {
		s.l.st.allowed.Add(1)
	}
	s.mu.Lock()
	s.decisions++
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("decision not sent; the lock decides alone", slog.String(logReason, string(d.Reason)), slog.Any(logErr, err))
	}
	if a := s.l.opts.Activity; a != nil {
		ctx, cancel := context.WithTimeout(s.l.ctx, s.l.opts.SendTimeout)
		defer cancel()
		if err := a.Decision(ctx, d); err != nil {
			s.l.st.activityFailures.Add(1)
			s.warn("decision not recorded", err)
		}
	}
	// A presentation wakes the lock too: a list change waiting for it
	// starts now rather than at its next heartbeat.
	if s.hasHeld && s.xfer == nil {
		s.syncList(pr, door, s.held, now.Time)
	}
}

func presentation(m *lockmsg.AccessRequest) hub.Presentation {
	switch m.Kind {
	case lockmsg.CredKeycard:
		return hub.Presentation{Kind: hub.CredKeycard, CardID: hex.EncodeToString(m.CardID)}
	case lockmsg.CredDoorcode:
		return hub.Presentation{Kind: hub.CredDoorcode, Code: m.Code}
	default:
		return hub.Presentation{Kind: hub.CredMobile, PublicKey: m.PublicKey[:], Nonce: m.Nonce[:], Signature: m.Signature[:]}
	}
}

func credentialKind(k lockmsg.CredentialKind) hub.CredentialKind {
	switch k {
	case lockmsg.CredKeycard:
		return hub.CredKeycard
	case lockmsg.CredDoorcode:
		return hub.CredDoorcode
	}
	return hub.CredMobile
}

// storeEvents stores a lock's events in order and acknowledges those that
// are stored: never past one that failed, so a lock keeps what the hub
// does not have. An event already acknowledged is acknowledged again, not
// stored twice.
func (s *lockSession) storeEvents(pr *lockmsg.Pairing, events []LockEvent) {
	a := s.l.opts.Activity
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.l.ctx, s.l.opts.SendTimeout)
	defer cancel()
	var through uint32
	for _, e := range events {
		s.mu.Lock()
		dup := e.Seq <= s.eventsAcked && s.eventGap == 0
		s.mu.Unlock()
		if !dup {
			if err := a.LockEvent(ctx, e); err != nil {
				s.l.st.eventStoreFailures.Add(1)
				s.mu.Lock()
				if s.eventGap == 0 || e.Seq < s.eventGap {
					s.eventGap = e.Seq
				}
				s.mu.Unlock()
				s.warn("lock event not stored; not acknowledged, the lock keeps it", err)
				break
			}
			s.l.st.eventsStored.Add(1)
		}
		s.mu.Lock()
		if e.Seq == s.eventGap {
			s.eventGap = 0
		}
		if s.eventGap == 0 || e.Seq < s.eventGap {
			through = max(through, e.Seq)
			s.eventsAcked = max(s.eventsAcked, e.Seq)
		}
		s.mu.Unlock()
	}
	if through > 0 {
		_, _ = s.send(pr, &lockmsg.EventAck{Through: through})
	}
}

// send seals m and sends it to the lock.
func (s *lockSession) send(pr *lockmsg.Pairing, m lockmsg.Message) (uint32, error) {
	sealed, counter, err := pr.Seal(make([]byte, 0, lockmsg.EnvelopeHeaderSize+lockmsg.MaxSealed), m)
	if err != nil {
		s.l.st.sendFailures.Add(1)
		return 0, err
	}
	env := lockmsg.AppendEnvelope(make([]byte, 0, lockmsg.EnvelopeHeaderSize+len(sealed)),
		lockmsg.Envelope{Lock: s.id, RSSI: lockmsg.RSSIUnknown, Sealed: sealed})
	ctx, cancel := context.WithTimeout(s.l.ctx, s.l.opts.SendTimeout)
	defer cancel()
	if err := s.l.opts.Transport.Send(ctx, env); err != nil {
		s.l.st.sendFailures.Add(1)
		return counter, err
	}
	return counter, nil
}

// queue adds a command for the lock's next wake and pokes the session in
// case the lock is awake now.
func (s *lockSession) queue(c *command) {
	s.mu.Lock()
	s.queueLocked(c)
	s.mu.Unlock()
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

func (s *lockSession) queueLocked(c *command) {
	if c.expires.IsZero() {
		c.expires = time.Now().Add(DefaultCommandLife)
	}
	if c.key != "" {
		for i, q := range s.queued {
			if q.key == c.key {
				s.queued[i] = c
				return
			}
		}
		for n, q := range s.inflight {
			if q.key == c.key {
				delete(s.inflight, n) // superseded: its answer no longer matters
			}
		}
	}
	s.queued = append(s.queued, c)
}

func (s *lockSession) cancelCommand(c *command) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queued {
		if q == c {
			s.queued = append(s.queued[:i], s.queued[i+1:]...)
			break
		}
	}
	for n, q := range s.inflight {
		if q == c {
			delete(s.inflight, n)
		}
	}
}

// flush sends the queued commands while the lock is awake.
func (s *lockSession) flush() {
	for {
		s.mu.Lock()
		if len(s.queued) == 0 || time.Now().After(s.awakeUntil) {
			s.mu.Unlock()
			return
		}
		c := s.queued[0]
		s.queued = s.queued[1:]
		pr := s.pairing
		s.mu.Unlock()
		counter, err := s.send(pr, c.msg)
		s.mu.Lock()
		if err != nil {
			s.queued = append([]*command{c}, s.queued...)
			s.mu.Unlock()
			return
		}
		c.counter, c.sentAt = counter, time.Now()
		s.inflight[counter] = c
		s.mu.Unlock()
	}
}

// undelivered puts a command the coprocessor could not deliver back in
// the queue for the lock's next wake.
func (s *lockSession) undelivered(u *coproc.Undelivered) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inflight[u.Counter]; c != nil {
		delete(s.inflight, u.Counter)
		c.counter = 0
		s.queued = append([]*command{c}, s.queued...)
	}
	if u.Reason == coproc.LockAsleep {
		s.awakeUntil = time.Time{}
	}
}

// expire drops commands past their life and queues again those sent long
// ago without an answer.
func (s *lockSession) expire() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.queued[:0]
	for _, c := range s.queued {
		if now.After(c.expires) {
			c.reply(commandReply{err: ErrExpired})
			continue
		}
		kept = append(kept, c)
	}
	s.queued = kept
	for n, c := range s.inflight {
		switch {
		case now.After(c.expires):
			delete(s.inflight, n)
			c.reply(commandReply{err: ErrExpired})
		case now.Sub(c.sentAt) > s.l.opts.ResendAfter:
			delete(s.inflight, n)
			c.counter = 0
			s.queued = append(s.queued, c)
		}
	}
}

func (s *lockSession) status() LockStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.pairing.Stats()
	st := LockStatus{
		Lock: s.id.Hex(), Door: s.door, PairedAt: s.pairedAt, LastSeen: s.lastSeen,
		RSSI: int(s.rssi), LockRSSI: int(lockmsg.RSSIUnknown), BatteryPercent: -1, DoorState: lockmsg.DoorUnknown.String(),
		Queued: len(s.queued), Decisions: s.decisions,
		Forged: ps.Forged, Replayed: ps.Replayed, Reflected: ps.Reflected, Malformed: ps.Malformed,
	}
	if s.hasStatus {
		ls := s.lockStatus
		st.Firmware, st.LockRSSI, st.DoorState = ls.Firmware.String(), int(ls.RSSI), ls.Door.String()
		if ls.BatteryPercent != lockmsg.BatteryUnknown {
			st.BatteryPercent = int(ls.BatteryPercent)
		}
		st.BatteryMillivolts, st.ClockSet = int(ls.BatteryMillivolts), ls.ClockSet
		st.ListVersion, st.PendingEvents = ls.ListVersion, int(ls.PendingEvents)
	}
	if s.hasOffset {
		st.ClockOffset = s.offset.Seconds()
	}
	return st
}
