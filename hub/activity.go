package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ActivityKind is what an activity record records: a decision, a lock's
// report, a remote unlock, or the marker of records the hub had to drop.
type ActivityKind string

// Activity kinds. They match the kinds of the cloud protocol's activity
// events (docs/cloud-protocol.md, "activity").
const (
	ActivityAccess       ActivityKind = "access"
	ActivityDoorForced   ActivityKind = "door_forced"
	ActivityDoorHeldOpen ActivityKind = "door_held_open"
	ActivityTamper       ActivityKind = "tamper"
	ActivityJam          ActivityKind = "jam"
	ActivityLowBattery   ActivityKind = "low_battery"
	ActivityRemoteUnlock ActivityKind = "remote_unlock"
	// ActivityOverflow marks records the hub had to discard (its disk was
	// full and its memory reserve too): Lost says how many, and when.
	ActivityOverflow ActivityKind = "overflow"
)

// DoorEventKinds are the kinds a lock reports (DoorActivity).
var DoorEventKinds = []ActivityKind{
	ActivityDoorForced, ActivityDoorHeldOpen, ActivityTamper, ActivityJam, ActivityLowBattery,
}

// Activity is one record of the hub's activity stream as the hub keeps it
// until the cloud has it. The outbox gives it Seq when it stores it; the
// cloud event id is derived from the stream and Seq, so a record sent
// again after a crash keeps its id.
//
// The privacy rule is applied when the record is made (AccessActivity):
// a record of a resident at their own private door holds no identity, on
// disk or anywhere after.
type Activity struct {
	Seq          uint64       `json:"seq"`
	Kind         ActivityKind `json:"kind"`
	Door         string       `json:"door,omitempty"`
	At           time.Time    `json:"at"`
	ClockTrusted bool         `json:"clock_trusted"`
	// Decision is set for ActivityAccess.
	Decision *Decision `json:"decision,omitempty"`
	// BatteryPercent may be set for ActivityLowBattery.
	BatteryPercent *int `json:"battery_percent,omitempty"`
	// Command and By are set for ActivityRemoteUnlock: the unlock
	// command's id and the manager who asked.
	Command string `json:"command,omitempty"`
	By      string `json:"by,omitempty"`
	// Lost is set for ActivityOverflow.
	Lost *Lost `json:"lost,omitempty"`
	// Lock is set for an ActivityAccess a lock decided alone, offline
	// (OfflineAccessActivity).
	Lock *LockDecided `json:"lock,omitempty"`
}

// Lost says how many activity records were discarded and the times of the
// first and the last of them.
type Lost struct {
	Count uint64    `json:"count"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// AccessActivity makes the record of a decision with the privacy rule
// applied: unless the decision is visible, the record keeps only the door,
// the time, the credential kind, the outcome, the reason, the subject kind
// and an alarm. The fields are copied by an allowlist, so a field added to
// Decision later stays out until copied here on purpose.
func AccessActivity(d Decision) Activity {
	kept := Decision{
		Door: d.Door, At: d.At, Kind: d.Kind, Allowed: d.Allowed, Reason: d.Reason,
		ClockTrusted: d.ClockTrusted, Subject: d.Subject, Visibility: IdentityRemoved, Alarm: d.Alarm,
	}
	if d.Visibility == Visible {
		kept.Visibility = Visible
		kept.PersonID, kept.HostID, kept.Service = d.PersonID, d.HostID, d.Service
		kept.GrantID, kept.GuestGrant, kept.GuestCodeID = d.GrantID, d.GuestGrant, d.GuestCodeID
		kept.TourID, kept.DeviceID, kept.Resident = d.TourID, d.DeviceID, d.Resident
		kept.Colliding = append([]string(nil), d.Colliding...)
		kept.FirstUse = d.FirstUse
	}
	return Activity{Kind: ActivityAccess, Door: d.Door, At: d.At, ClockTrusted: d.ClockTrusted, Decision: &kept}
}

// DoorActivity makes the record of a lock's report. batteryPercent is
// kept for ActivityLowBattery when it is 0 to 100.
func DoorActivity(door string, kind ActivityKind, now Now, batteryPercent int) Activity {
	a := Activity{Kind: kind, Door: door, At: now.Time, ClockTrusted: now.Trusted}
	if kind == ActivityLowBattery && batteryPercent >= 0 && batteryPercent <= 100 {
		a.BatteryPercent = &batteryPercent
	}
	return a
}

// RemoteUnlockActivity makes the record of a remote unlock the hub
// carried out.
func RemoteUnlockActivity(door, commandID, by string, now Now) Activity {
	return Activity{Kind: ActivityRemoteUnlock, Door: door, At: now.Time, ClockTrusted: now.Trusted,
		Command: commandID, By: by}
}

// Validate checks a record before it is stored.
func (a *Activity) Validate() error {
	switch a.Kind {
	case ActivityAccess:
		if a.Decision == nil {
			return invalid("activity.decision", nil, "an access record carries its decision")
		}
		if a.Decision.Visibility != Visible && a.Decision.PersonID+a.Decision.GrantID+a.Decision.DeviceID+
			a.Decision.HostID+a.Decision.GuestGrant+a.Decision.TourID+a.Decision.GuestCodeID+a.Decision.Service != "" {
			return invalid("activity.decision", nil, "a record without identity names a person, grant or device")
		}
	case ActivityRemoteUnlock:
		if a.Command == "" {
			return invalid("activity.command", nil, "a remote unlock record names its command")
		}
	case ActivityOverflow:
		if a.Lost == nil || a.Lost.Count == 0 {
			return invalid("activity.lost", nil, "an overflow record counts what was lost")
		}
		return nil
	case ActivityDoorForced, ActivityDoorHeldOpen, ActivityTamper, ActivityJam, ActivityLowBattery:
	default:
		return invalid("activity.kind", string(a.Kind), "unknown kind")
	}
	if err := validateID("activity.door", a.Door); err != nil {
		return err
	}
	if a.At.IsZero() {
		return invalid("activity.at", nil, "required")
	}
	return nil
}

// Errors of an Outbox.
var (
	// ErrNotDurable is returned by Outbox.Append when the record could not
	// be stored durably (the disk is full or failing). The outbox holds it
	// in memory and stores it when it can; it is lost if the hub stops
	// first, and if the memory reserve fills up too the oldest held records
	// are replaced by an ActivityOverflow marker. Decisions go on.
	ErrNotDurable = errors.New("activity record held in memory, not yet durable")
	// ErrOutboxClosed is returned after Close.
	ErrOutboxClosed = errors.New("outbox closed")
)

// Outbox keeps the activity stream until the cloud has it: a record is
// durable when Append returns nil, and stays until Remove, which the
// cloud link calls only after the broker acknowledged the message that
// carried it. Implementations: MemOutbox (tests, tools) and
// hub/badgerstore's Outbox (durable).
type Outbox interface {
	// Append stores a record and returns the seq it got (1, 2, 3, ...
	// without gaps in the stream). A nil error means it is on disk.
	Append(ctx context.Context, a Activity) (uint64, error)
	// Stream is the id of the hub's uplink stream: random, made when the
	// outbox was first created, never changed.
	Stream() string
	// Read returns up to max stored records with from <= Seq < to, in
	// Seq order.
	Read(from, to uint64, max int) ([]Activity, error)
	// Remove deletes the stored records with from <= Seq <= to.
	Remove(from, to uint64) error
	// Bounds returns the lowest stored Seq (0 when empty) and the Seq
	// the next record will get.
	Bounds() (first, next uint64)
	// Changed is signalled (without blocking; it holds at most one
	// signal) after records were stored.
	Changed() <-chan struct{}
	// NextMessageSeq numbers an uplink message of the stream: unique and
	// increasing, also across restarts (with gaps after one).
	NextMessageSeq() (uint64, error)
	// Status reports the outbox's state for the status endpoint.
	Status() OutboxStatus
}

// OutboxStatus is what a technician sees of the outbox.
type OutboxStatus struct {
	Stream string `json:"stream"`
	// Pending counts the records stored and not yet acknowledged.
	Pending int `json:"pending"`
	// Next is the Seq the next record gets.
	Next uint64 `json:"next"`
	// Degraded is set while records cannot be stored durably (disk full
	// or failing); Reason says why, Since since when.
	Degraded bool      `json:"degraded"`
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	// Held counts the records held in memory waiting for the disk.
	Held int `json:"held"`
	// Discarded counts the records dropped since start (each is reported
	// in an overflow marker in the stream).
	Discarded uint64 `json:"discarded"`
}

// MemOutbox is an Outbox in memory, for tests and tools: nothing survives
// the process. It is safe for concurrent use.
type MemOutbox struct {
	mu      sync.Mutex
	stream  string
	records map[uint64]Activity
	next    uint64
	msgSeq  uint64
	closed  bool
	changed chan struct{}
}

var _ Outbox = (*MemOutbox)(nil)

// NewMemOutbox returns an empty outbox of the stream.
func NewMemOutbox(stream string) *MemOutbox {
	return &MemOutbox{stream: stream, records: map[uint64]Activity{}, next: 1, changed: make(chan struct{}, 1)}
}

// Append implements Outbox.
func (m *MemOutbox) Append(ctx context.Context, a Activity) (uint64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, ErrOutboxClosed
	}
	a.Seq = m.next
	m.next++
	m.records[a.Seq] = a
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return a.Seq, nil
}

// Stream implements Outbox.
func (m *MemOutbox) Stream() string { return m.stream }

// Read implements Outbox.
func (m *MemOutbox) Read(from, to uint64, max int) ([]Activity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Activity
	for s := from; s < to && s < m.next && len(out) < max; s++ {
		if a, ok := m.records[s]; ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// Remove implements Outbox.
func (m *MemOutbox) Remove(from, to uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if to-from > uint64(len(m.records)) {
		for s := range m.records {
			if s >= from && s <= to {
				delete(m.records, s)
			}
		}
		return nil
	}
	for s := from; s <= to; s++ {
		delete(m.records, s)
	}
	return nil
}

// Bounds implements Outbox.
func (m *MemOutbox) Bounds() (first, next uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.records {
		if first == 0 || s < first {
			first = s
		}
	}
	return first, m.next
}

// Changed implements Outbox.
func (m *MemOutbox) Changed() <-chan struct{} { return m.changed }

// NextMessageSeq implements Outbox.
func (m *MemOutbox) NextMessageSeq() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgSeq++
	return m.msgSeq, nil
}

// Status implements Outbox.
func (m *MemOutbox) Status() OutboxStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return OutboxStatus{Stream: m.stream, Pending: len(m.records), Next: m.next}
}

// Close makes Append fail with ErrOutboxClosed.
func (m *MemOutbox) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// ActivityLog is where the radio layer hands every decision and door
// event: it makes the activity record (privacy applied) and appends it to
// the outbox. A nil outbox (a hub without a cloud, in installer mode)
// keeps nothing; Dropped counts what it did not keep.
type ActivityLog struct {
	outbox  Outbox
	mu      sync.Mutex
	dropped uint64
}

// NewActivityLog returns a log appending to outbox (nil: none).
func NewActivityLog(outbox Outbox) *ActivityLog { return &ActivityLog{outbox: outbox} }

// Decision records a decision the engine made. It returns once the record
// is durable (nil), or with ErrNotDurable wrapped when the outbox holds it
// in memory only. The decision itself stands either way: call it after
// the lock has its answer.
func (l *ActivityLog) Decision(ctx context.Context, d Decision) (uint64, error) {
	return l.append(ctx, AccessActivity(d))
}

// DoorEvent records a lock's report (forced, held open, tamper, jam, low
// battery; batteryPercent -1 when unknown).
func (l *ActivityLog) DoorEvent(ctx context.Context, door string, kind ActivityKind, now Now, batteryPercent int) (uint64, error) {
	return l.append(ctx, DoorActivity(door, kind, now, batteryPercent))
}

func (l *ActivityLog) append(ctx context.Context, a Activity) (uint64, error) {
	if l == nil || l.outbox == nil {
		if l != nil {
			l.mu.Lock()
			l.dropped++
			l.mu.Unlock()
		}
		return 0, nil
	}
	seq, err := l.outbox.Append(ctx, a)
	if err != nil {
		return seq, fmt.Errorf("activity at %s: %w", a.Door, err)
	}
	return seq, nil
}

// Dropped counts the records not kept because there is no outbox.
func (l *ActivityLog) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}
