package cloudlink

import (
	"strconv"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// EventKind is what an activity event records.
type EventKind string

// Event kinds. An access event comes from a hub.Decision; the door events
// from what a lock reports; a remote unlock from an Unlock command the hub
// carried out.
const (
	EventAccess       EventKind = "access"
	EventDoorForced   EventKind = "door_forced"
	EventDoorHeldOpen EventKind = "door_held_open"
	EventTamper       EventKind = "tamper"
	EventJam          EventKind = "jam"
	EventLowBattery   EventKind = "low_battery"
	EventRemoteUnlock EventKind = "remote_unlock"
	// EventOverflow marks events the hub had to discard (its disk was full
	// and its memory reserve too); Lost says how many, and when.
	EventOverflow EventKind = "overflow"
)

// doorEventKinds are the kinds NewDoorEvent makes.
var doorEventKinds = map[EventKind]bool{
	EventDoorForced: true, EventDoorHeldOpen: true, EventTamper: true,
	EventJam: true, EventLowBattery: true,
}

// ActivityEvent is one entry of the activity stream. It is made once, when
// the hub stores it durably, and sent as is until the cloud has it: ID lets
// the cloud drop duplicates, Seq (1, 2, 3, ... per hub, without gaps) lets
// it see what is missing.
//
// It never carries a credential secret: there is no field for a card id,
// digits or key material. When Visibility is identity_removed it carries
// nothing that names or points to the person (Validate enforces it).
type ActivityEvent struct {
	ID           string         `json:"id"`
	Seq          uint64         `json:"seq"`
	At           time.Time      `json:"at"`
	ClockTrusted bool           `json:"clock_trusted"`
	Door         string         `json:"door"`
	Kind         EventKind      `json:"kind"`
	Visibility   hub.Visibility `json:"visibility"`
	// Access is set for kind access.
	Access *AccessDetail `json:"access,omitempty"`
	// Remote is set for kind remote_unlock.
	Remote *RemoteUnlock `json:"remote,omitempty"`
	// BatteryPercent may be set for kind low_battery.
	BatteryPercent *int `json:"battery_percent,omitempty"`
	// Lost is set for kind overflow.
	Lost *Lost `json:"lost,omitempty"`
	// DecidedByLock is set for an access event a lock decided alone,
	// offline (docs/door-lists.md, "Offline decisions").
	DecidedByLock *LockDecided `json:"decided_by_lock,omitempty"`
}

// LockDecided says which lock decided alone, when by its own clock, with
// which of its event counters, and the reference of the list entry that
// decided (hub.EntryRef; absent under identity_removed or for none).
type LockDecided struct {
	Lock  string    `json:"lock"`
	Seq   uint32    `json:"seq"`
	Clock time.Time `json:"clock"`
	Entry uint32    `json:"entry,omitempty"`
}

// Lost counts the events an overflow marker stands for: Count events made
// between From and To that the hub discarded before storing them, so they
// have no seq; the marker has one.
type Lost struct {
	Count uint64    `json:"count"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// AccessDetail is what an access event tells of a decision. Under
// identity_removed only Credential, Allowed, Reason, Subject and Alarm are
// set.
type AccessDetail struct {
	Credential   hub.CredentialKind `json:"credential"`
	Allowed      bool               `json:"allowed"`
	Reason       hub.Reason         `json:"reason"`
	Subject      hub.SubjectKind    `json:"subject,omitempty"`
	PersonID     string             `json:"person_id,omitempty"`
	HostID       string             `json:"host_id,omitempty"`
	Service      string             `json:"service,omitempty"`
	GrantID      string             `json:"grant_id,omitempty"`
	GuestGrantID string             `json:"guest_grant_id,omitempty"`
	GuestCodeID  string             `json:"guest_code_id,omitempty"`
	TourID       string             `json:"tour_id,omitempty"`
	DeviceID     string             `json:"device_id,omitempty"`
	Resident     bool               `json:"resident,omitempty"`
	Alarm        hub.Alarm          `json:"alarm,omitempty"`
	// Colliding names the people whose daily codes collided, so that the
	// cloud re-rolls one of them; never the code.
	Colliding []string `json:"colliding,omitempty"`
	FirstUse  bool     `json:"first_use,omitempty"`
}

// RemoteUnlock tells which command opened the door and who asked.
type RemoteUnlock struct {
	Command string `json:"command"`
	By      string `json:"by,omitempty"`
}

// EventID is the id of the event with sequence seq in the hub's event
// stream: derived, so that an event re-sent after a crash keeps its id.
func EventID(stream string, seq uint64) string {
	return stream + "-" + strconv.FormatUint(seq, 10)
}

// NewAccessEvent makes the activity event of a decision and applies the
// privacy rule (docs/access-rules.md, "Privacy"): when the decision's
// visibility is anything but visible, the event keeps only the door, the
// time, the credential kind, the outcome, the reason, the subject kind and
// an alarm, and says identity_removed.
func NewAccessEvent(id string, seq uint64, d hub.Decision) ActivityEvent {
	ev := ActivityEvent{
		ID: id, Seq: seq, At: d.At.UTC(), ClockTrusted: d.ClockTrusted,
		Door: d.Door, Kind: EventAccess, Visibility: hub.IdentityRemoved,
	}
	a := &AccessDetail{
		Credential: d.Kind, Allowed: d.Allowed, Reason: d.Reason,
		Subject: d.Subject, Alarm: d.Alarm,
	}
	// An allowlist, not a denylist: a field added to hub.Decision later
	// stays private until it is copied here on purpose.
	if d.Visibility == hub.Visible {
		ev.Visibility = hub.Visible
		a.PersonID, a.HostID, a.Service = d.PersonID, d.HostID, d.Service
		a.GrantID, a.GuestGrantID, a.GuestCodeID = d.GrantID, d.GuestGrant, d.GuestCodeID
		a.TourID, a.DeviceID, a.Resident = d.TourID, d.DeviceID, d.Resident
		a.Colliding = append([]string(nil), d.Colliding...)
		a.FirstUse = d.FirstUse
	}
	ev.Access = a
	return ev
}

// NewDoorEvent makes the activity event of a lock's report (forced, held
// open, tamper, jam, low battery). Door events name no person: visible.
func NewDoorEvent(id string, seq uint64, door string, kind EventKind, at time.Time, clockTrusted bool) ActivityEvent {
	return ActivityEvent{
		ID: id, Seq: seq, At: at.UTC(), ClockTrusted: clockTrusted,
		Door: door, Kind: kind, Visibility: hub.Visible,
	}
}

// NewRemoteUnlockEvent makes the activity event of an Unlock command the
// hub carried out. The person who asked is a manager: visible.
func NewRemoteUnlockEvent(id string, seq uint64, commandID string, u *Unlock, at time.Time, clockTrusted bool) ActivityEvent {
	return ActivityEvent{
		ID: id, Seq: seq, At: at.UTC(), ClockTrusted: clockTrusted,
		Door: u.Door, Kind: EventRemoteUnlock, Visibility: hub.Visible,
		Remote: &RemoteUnlock{Command: commandID, By: u.By},
	}
}

// Validate checks the event, including the privacy rule.
func (e *ActivityEvent) Validate() error {
	if e.ID == "" || len(e.ID) > 2*maxNonceLength || !isIDString(e.ID, true) {
		return schemaf("event id must be 1 to %d letters, digits, '-', '_' or '.'", 2*maxNonceLength)
	}
	if e.Seq == 0 {
		return schemaf("event %s: seq must be at least 1", e.ID)
	}
	if e.At.IsZero() {
		return schemaf("event %s: at is required", e.ID)
	}
	if e.Kind == EventOverflow {
		if e.Lost == nil || e.Lost.Count == 0 || e.Access != nil || e.Remote != nil {
			return schemaf("event %s: an overflow event carries lost, with a count", e.ID)
		}
		if e.Door != "" {
			if err := checkName("event door", e.Door); err != nil {
				return err
			}
		}
		return nil
	}
	if e.Lost != nil {
		return schemaf("event %s: only an overflow event carries lost", e.ID)
	}
	if err := checkName("event door", e.Door); err != nil {
		return err
	}
	if e.Visibility != hub.Visible && e.Visibility != hub.IdentityRemoved {
		return schemaf("event %s: visibility %q is not visible or identity_removed", e.ID, e.Visibility)
	}
	switch {
	case e.Kind == EventAccess:
		if e.Access == nil || e.Remote != nil {
			return schemaf("event %s: an access event carries access only", e.ID)
		}
		if e.Access.Reason == "" || e.Access.Credential == "" {
			return schemaf("event %s: access.credential and access.reason are required", e.ID)
		}
		if e.Visibility == hub.IdentityRemoved && e.Access.identifying() {
			return schemaf("event %s: identity_removed, yet it names a person, grant or device", e.ID)
		}
	case e.Kind == EventRemoteUnlock:
		if e.Remote == nil || e.Access != nil {
			return schemaf("event %s: a remote_unlock event carries remote only", e.ID)
		}
		if err := checkNonce("remote.command", e.Remote.Command); err != nil {
			return err
		}
	case doorEventKinds[e.Kind]:
		if e.Access != nil || e.Remote != nil {
			return schemaf("event %s: a door event carries no access or remote detail", e.ID)
		}
	default:
		return schemaf("event %s: unknown kind %q", e.ID, e.Kind)
	}
	if e.BatteryPercent != nil && (*e.BatteryPercent < 0 || *e.BatteryPercent > 100) {
		return schemaf("event %s: battery_percent %d is not 0 to 100", e.ID, *e.BatteryPercent)
	}
	return nil
}

// identifying reports whether the detail holds anything that names or
// points to a person.
func (a *AccessDetail) identifying() bool {
	return a.PersonID != "" || a.HostID != "" || a.Service != "" || a.GrantID != "" ||
		a.GuestGrantID != "" || a.GuestCodeID != "" || a.TourID != "" || a.DeviceID != "" ||
		a.Resident || len(a.Colliding) > 0 || a.FirstUse
}
