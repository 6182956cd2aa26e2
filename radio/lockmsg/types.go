package lockmsg

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LockID is a lock's radio address, assigned at pairing. It addresses the
// lock on the serial line and is bound into every message's MAC.
type LockID uint32

func (id LockID) String() string { return fmt.Sprintf("lock-%08x", uint32(id)) }

// UnixTime is a clock reading in whole seconds since 1970-01-01 UTC, the
// resolution of a lock's real-time clock. Zero means "not known".
type UnixTime uint32

// Time returns t as a time.Time, or the zero time.Time for zero.
func (t UnixTime) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(int64(t), 0).UTC()
}

// UnixTimeOf returns t truncated to seconds; 0 for times before 1970 or
// after 2106, which a uint32 cannot hold.
func UnixTimeOf(t time.Time) UnixTime {
	s := t.Unix()
	if s <= 0 || s > 1<<32-1 {
		return 0
	}
	return UnixTime(s)
}

// RSSI is a received signal strength in dBm. RSSIUnknown means not measured.
type RSSI int8

// RSSIUnknown is the RSSI of a frame nobody measured.
const RSSIUnknown RSSI = -128

// DoorState is what a lock's sensors say about its door and bolt.
type DoorState uint8

// Door states.
const (
	DoorUnknown        DoorState = 0
	DoorClosedLocked   DoorState = 1
	DoorClosedUnlocked DoorState = 2
	DoorOpen           DoorState = 3
)

var doorStateNames = [...]string{"unknown", "closed_locked", "closed_unlocked", "open"}

func (s DoorState) String() string { return name(doorStateNames[:], uint8(s), "door_state") }
func (s DoorState) valid() bool    { return int(s) < len(doorStateNames) }

// CredentialKind is what was presented at a lock.
type CredentialKind uint8

// Credential kinds; the names are those of hub.CredentialKind.
const (
	CredKeycard  CredentialKind = 1
	CredDoorcode CredentialKind = 2
	CredMobile   CredentialKind = 3
)

var credentialNames = [...]string{"", "keycard", "doorcode", "mobile"}

func (k CredentialKind) String() string { return name(credentialNames[:], uint8(k), "credential") }
func (k CredentialKind) valid() bool    { return k >= CredKeycard && k <= CredMobile }

// DoorEventKind is something a lock noticed at its door.
type DoorEventKind uint8

// Door events (PRODUCT.md "Activity and privacy").
const (
	EventForced     DoorEventKind = 1 // door opened without an unlock
	EventHeldOpen   DoorEventKind = 2 // door open longer than allowed; Detail: seconds open
	EventTamper     DoorEventKind = 3 // case opened or lock removed
	EventJam        DoorEventKind = 4 // bolt failed to move
	EventLowBattery DoorEventKind = 5 // battery below threshold; Detail: millivolts
)

var doorEventNames = [...]string{"", "forced", "held_open", "tamper", "jam", "low_battery"}

func (k DoorEventKind) String() string { return name(doorEventNames[:], uint8(k), "door_event") }
func (k DoorEventKind) valid() bool    { return k >= EventForced && k <= EventLowBattery }

// BootReason says why a lock sends Hello.
type BootReason uint8

// Boot reasons.
const (
	BootPowerOn   BootReason = 1 // batteries inserted
	BootReset     BootReason = 2 // watchdog or firmware reset
	BootPaired    BootReason = 3 // first contact after pairing
	BootReconnect BootReason = 4 // the hub was unreachable and answers again
)

var bootNames = [...]string{"", "power_on", "reset", "paired", "reconnect"}

func (r BootReason) String() string { return name(bootNames[:], uint8(r), "boot") }
func (r BootReason) valid() bool    { return r >= BootPowerOn && r <= BootReconnect }

// ListStatus is a lock's answer to one list chunk.
type ListStatus uint8

// List statuses.
const (
	ListChunkStored    ListStatus = 1 // chunk kept; send the next
	ListComplete       ListStatus = 2 // last chunk kept, digest matches, list active
	ListDigestMismatch ListStatus = 3 // all chunks kept but the digest differs; list discarded
	ListOutOfOrder     ListStatus = 4 // not the chunk expected; Chunk names the one expected
	ListTooLarge       ListStatus = 5 // the list exceeds the lock's capacity; list discarded
	ListBusy           ListStatus = 6 // the lock cannot take a list now; retry later
)

var listStatusNames = [...]string{"", "chunk_stored", "complete", "digest_mismatch", "out_of_order", "too_large", "busy"}

func (s ListStatus) String() string { return name(listStatusNames[:], uint8(s), "list_status") }
func (s ListStatus) valid() bool    { return s >= ListChunkStored && s <= ListBusy }

// CommandStatus is a lock's answer to a remote unlock or a time sync.
type CommandStatus uint8

// Command statuses.
const (
	CommandDone        CommandStatus = 1 // done as asked
	CommandJammed      CommandStatus = 2 // the bolt did not move
	CommandRefused     CommandStatus = 3 // refused by the lock (privacy lock engaged, clock step too large, ...)
	CommandUnsupported CommandStatus = 4 // the lock's firmware does not know the command
)

var commandStatusNames = [...]string{"", "done", "jammed", "refused", "unsupported"}

func (s CommandStatus) String() string {
	return name(commandStatusNames[:], uint8(s), "command_status")
}
func (s CommandStatus) valid() bool { return s >= CommandDone && s <= CommandUnsupported }

func name(names []string, v uint8, what string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", what, v)
}

// ParseLockID reads a lock id as printed on a label: 8 hex digits, with or
// without a "lock-" or "0x" prefix.
func ParseLockID(s string) (LockID, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "lock-"), "0x")
	if len(t) == 0 || len(t) > 8 {
		return 0, fmt.Errorf("lock id %q: want up to 8 hex digits", s)
	}
	v, err := strconv.ParseUint(t, 16, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("lock id %q: want 8 hex digits, not 0", s)
	}
	return LockID(v), nil
}

// Hex returns the id as 8 lowercase hex digits, as a label prints it.
func (id LockID) Hex() string { return fmt.Sprintf("%08x", uint32(id)) }

// ParseKey reads a pairing key as 32 hex digits (spaces and dashes
// between groups are ignored, as on a printed label).
func ParseKey(s string) (Key, error) {
	t := strings.NewReplacer(" ", "", "-", "", ":", "").Replace(strings.TrimSpace(s))
	var k Key
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != len(k) {
		return k, errors.New("pairing key: want 32 hex digits")
	}
	copy(k[:], b)
	if k == (Key{}) {
		return k, errors.New("pairing key: all zero")
	}
	return k, nil
}

// Hex returns the key as 32 lowercase hex digits: the text of a label,
// and so a secret. String redacts it; only a label printer calls Hex.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }

// Label is what a lock's pairing label says, as JSON (the QR code's text
// and the line doorhub-sim prints per lock): {"id": "0000a1b2", "key":
// "<32 hex digits>"}.
type Label struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// NewLabel returns the label of a lock.
func NewLabel(id LockID, k Key) Label { return Label{ID: id.Hex(), Key: k.Hex()} }

// ParseLabel reads a label's text: its JSON, or "ID KEY" / "ID:KEY".
func ParseLabel(text string) (LockID, Key, error) {
	var l Label
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "{") {
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return 0, Key{}, fmt.Errorf("label: %v", err)
		}
	} else if id, key, ok := strings.Cut(strings.ReplaceAll(text, ":", " "), " "); ok {
		l = Label{ID: id, Key: key}
	} else {
		return 0, Key{}, errors.New(`label: want {"id": ..., "key": ...} or "ID KEY"`)
	}
	id, err := ParseLockID(l.ID)
	if err != nil {
		return 0, Key{}, err
	}
	k, err := ParseKey(l.Key)
	return id, k, err
}
