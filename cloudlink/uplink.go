package cloudlink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Availability states of Status.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Status is the body of the retained "status" message: the hub publishes
// it online when it connects, and the broker publishes the hub's last will,
// the same with state offline, when the connection is lost. A hub going
// down cleanly publishes offline itself. Session matches the two.
type Status struct {
	State   string    `json:"state"`
	Session string    `json:"session"`
	Since   time.Time `json:"since"`
	// Software is the doorhub version.
	Software string `json:"software,omitempty"`
	// Site and Version: the credential set the hub holds (Version 0: empty).
	Site    string `json:"site,omitempty"`
	Version uint64 `json:"version"`
	// ClockSource is the time source the hub trusts ("" when untrusted).
	ClockSource hub.TimeSource `json:"clock_source,omitempty"`
}

// MessageType implements Body.
func (*Status) MessageType() Type { return TypeStatus }

func (s *Status) check() error {
	if s.State != StateOnline && s.State != StateOffline {
		return schemaf("state %q is not online or offline", s.State)
	}
	if err := checkNonce("session", s.Session); err != nil {
		return err
	}
	if s.Since.IsZero() {
		return schemaf("since is required")
	}
	if len(s.Software) > maxText {
		return schemaf("software longer than %d bytes", maxText)
	}
	return nil
}

// Ack is the body of an "ack" message: the version of the credential set
// the hub holds, sent after every batch or snapshot it processed (applied,
// duplicate or refused) and when it connects.
type Ack struct {
	Site    string `json:"site,omitempty"`
	Version uint64 `json:"version"`
	// SnapshotID is set when Version came from that snapshot.
	SnapshotID string `json:"snapshot_id,omitempty"`
	// Rejected is set when a signed, verified batch or snapshot could not
	// be applied; the hub stays at Version.
	Rejected *Rejection `json:"rejected,omitempty"`
}

// Rejection says why a verified batch or snapshot was not applied.
type Rejection struct {
	// Message is the envelope id of the refused message.
	Message string `json:"message"`
	Version uint64 `json:"version"`
	// Error is one of the Reject* codes.
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// Rejection codes, from the store's errors (hub/errors.go).
const (
	RejectInvalid   = "invalid"
	RejectWrongSite = "wrong_site"
	RejectNotFound  = "not_found"
	RejectConflict  = "conflict"
	RejectSnapshot  = "snapshot"
	RejectStore     = "store"
)

// RejectionCode maps an error of hub.Store.Apply or of snapshot assembly
// to a rejection code.
func RejectionCode(err error) string {
	switch {
	case errors.Is(err, hub.ErrInvalid), errors.Is(err, ErrSchema):
		return RejectInvalid
	case errors.Is(err, hub.ErrWrongSite):
		return RejectWrongSite
	case errors.Is(err, hub.ErrNotFound):
		return RejectNotFound
	case errors.Is(err, hub.ErrConflict):
		return RejectConflict
	case errors.Is(err, ErrSnapshotOrder), errors.Is(err, ErrSnapshotDigest):
		return RejectSnapshot
	}
	return RejectStore
}

// MessageType implements Body.
func (*Ack) MessageType() Type { return TypeAck }

func (a *Ack) check() error {
	if a.SnapshotID != "" {
		if err := checkName("snapshot_id", a.SnapshotID); err != nil {
			return err
		}
	}
	if r := a.Rejected; r != nil {
		if err := checkNonce("rejected.message", r.Message); err != nil {
			return err
		}
		if r.Error == "" {
			return schemaf("rejected.error is required")
		}
		if len(r.Detail) > maxText {
			return schemaf("rejected.detail longer than %d bytes", maxText)
		}
	}
	return nil
}

// Need reasons.
const (
	NeedGap            = "gap"             // a batch's base is above the hub's version
	NeedStartup        = "startup"         // the hub connected
	NeedResync         = "resync"          // answering a Resync command
	NeedSnapshotFailed = "snapshot_failed" // a snapshot broke off or did not verify
	NeedExpired        = "expired"         // a batch or chunk arrived expired
	NeedRejected       = "rejected"        // a batch did not apply; the set may have drifted
)

// Need is the body of a "need" message: the hub holds FromVersion and asks
// for every batch after it, or for a snapshot when Snapshot is set (or when
// the cloud no longer has those batches).
type Need struct {
	Site        string `json:"site,omitempty"`
	FromVersion uint64 `json:"from_version"`
	Snapshot    bool   `json:"snapshot,omitempty"`
	Reason      string `json:"reason"`
}

// MessageType implements Body.
func (*Need) MessageType() Type { return TypeNeed }

func (n *Need) check() error {
	if n.Reason == "" || len(n.Reason) > 64 {
		return schemaf("reason is required")
	}
	return nil
}

// MaxEventsPerMessage bounds an activity message.
const MaxEventsPerMessage = 1000

// Activity is the body of an "activity" message: events in Seq order.
type Activity struct {
	Events []ActivityEvent `json:"events"`
}

// MessageType implements Body.
func (*Activity) MessageType() Type { return TypeActivity }

func (a *Activity) check() error {
	if len(a.Events) == 0 || len(a.Events) > MaxEventsPerMessage {
		return schemaf("events must hold 1 to %d events", MaxEventsPerMessage)
	}
	for i := range a.Events {
		if err := a.Events[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// MaxPendingKeycards bounds PendingReport.Keycards; KeycardsTotal counts
// them all.
const MaxPendingKeycards = 500

// PendingReport is the body of the retained "pending" message: which door
// updates the locks have not acknowledged yet (PRODUCT.md, "Door updates
// and pending").
type PendingReport struct {
	At time.Time `json:"at"`
	// Version is the credential set version the doors are brought to.
	Version uint64        `json:"version"`
	Doors   []DoorPending `json:"doors"`
	// Keycards whose activation or deactivation is pending at some door,
	// at most MaxPendingKeycards of them.
	Keycards      []KeycardPending `json:"keycards,omitempty"`
	KeycardsTotal int              `json:"keycards_total,omitempty"`
}

// DoorPending is one door's pending state.
type DoorPending struct {
	Door string `json:"door"`
	// Pending counts the changes to the lock's list it has not
	// acknowledged.
	Pending int `json:"pending"`
	// SyncedVersion is the set version the lock's list fully reflects.
	SyncedVersion uint64 `json:"synced_version"`
	// Overflow counts the entries that do not fit the lock's capacity.
	Overflow int `json:"overflow,omitempty"`
	// Oldest is when the oldest pending change was made.
	Oldest *time.Time `json:"oldest,omitempty"`
}

// KeycardPending is a keycard whose change is pending at Doors. The card
// is named by CardRef, never by its id (a credential secret).
type KeycardPending struct {
	CardRef string   `json:"card_ref"`
	OwnerID string   `json:"owner_id"`
	Active  bool     `json:"active"`
	Doors   []string `json:"doors"`
}

// cardRefLabel separates card references from other uses of the site's
// doorcode secret.
const cardRefLabel = "doorhub-card-ref-v1"

// CardRef names a keycard without revealing its id: the first 16 hex
// digits of HMAC-SHA256(site doorcode secret, "doorhub-card-ref-v1" 0x00
// card id). The cloud, which holds the secret, computes the same.
func CardRef(siteSecret []byte, cardID string) string {
	m := hmac.New(sha256.New, siteSecret)
	m.Write([]byte(cardRefLabel))
	m.Write([]byte{0})
	m.Write([]byte(cardID))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// MessageType implements Body.
func (*PendingReport) MessageType() Type { return TypePending }

func (r *PendingReport) check() error {
	if r.At.IsZero() {
		return schemaf("at is required")
	}
	for i := range r.Doors {
		d := &r.Doors[i]
		if err := checkName("doors[].door", d.Door); err != nil {
			return err
		}
		if d.Pending < 0 || d.Overflow < 0 {
			return schemaf("door %s: negative count", d.Door)
		}
	}
	if len(r.Keycards) > MaxPendingKeycards {
		return schemaf("more than %d keycards", MaxPendingKeycards)
	}
	if r.KeycardsTotal < len(r.Keycards) {
		return schemaf("keycards_total %d is below the %d listed", r.KeycardsTotal, len(r.Keycards))
	}
	for i := range r.Keycards {
		k := &r.Keycards[i]
		if !isLowerHex(k.CardRef, 16) {
			return schemaf("keycards[%d].card_ref must be 16 lowercase hex digits", i)
		}
		if err := checkName("keycards[].owner_id", k.OwnerID); err != nil {
			return err
		}
	}
	return nil
}

// Reply statuses.
const (
	ReplyDone    = "done"    // carried out
	ReplyRefused = "refused" // not carried out, on purpose (Reason says why)
	ReplyFailed  = "failed"  // tried, and it did not work (Reason says why)
)

// Reply reasons for unlock.
const (
	ReplyUnknownDoor     = "unknown_door"
	ReplyClockUntrusted  = "clock_untrusted"
	ReplyLockUnreachable = "lock_unreachable"
	ReplyBusy            = "busy"
)

// Reply is the body of a "reply" message: the outcome of a command. It is
// sent only for a command that verified; a refused message is reported as
// a SecurityEvent instead.
type Reply struct {
	// Command is the envelope id of the command.
	Command string `json:"command"`
	Type    Type   `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// MessageType implements Body.
func (*Reply) MessageType() Type { return TypeReply }

func (r *Reply) check() error {
	if err := checkNonce("command", r.Command); err != nil {
		return err
	}
	if r.Type != TypeResync && r.Type != TypeUnlock {
		return schemaf("type %q is not a command", r.Type)
	}
	if r.Status != ReplyDone && r.Status != ReplyRefused && r.Status != ReplyFailed {
		return schemaf("status %q is not done, refused or failed", r.Status)
	}
	if r.Status != ReplyDone && r.Reason == "" {
		return schemaf("a %s reply needs a reason", r.Status)
	}
	if len(r.Detail) > maxText {
		return schemaf("detail longer than %d bytes", maxText)
	}
	return nil
}

// TimeRequest is the body of a "time_request" message: the hub asks for a
// TimeHint echoing Nonce (fresh random, 16 bytes as base64url).
type TimeRequest struct {
	Nonce string `json:"nonce"`
}

// MessageType implements Body.
func (*TimeRequest) MessageType() Type { return TypeTimeRequest }

func (r *TimeRequest) check() error { return checkNonce("nonce", r.Nonce) }
