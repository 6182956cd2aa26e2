package lockmsg

import (
	"fmt"
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
