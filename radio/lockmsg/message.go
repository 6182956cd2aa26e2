package lockmsg

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Type is the first byte of a message: what the body holds and, in bit 6,
// which way it goes. Bit 7 is reserved and zero.
type Type uint8

// Messages from a lock to the hub (bit 6 clear).
const (
	TypeHello         Type = 0x01
	TypeHeartbeat     Type = 0x02
	TypeAccessRequest Type = 0x03
	TypeDoorEvent     Type = 0x04
	TypeOfflineEvents Type = 0x05
	TypeListAck       Type = 0x06
	TypeCommandResult Type = 0x07
	TypeLockFloor     Type = 0x3F // CounterFloor from the lock
)

// Messages from the hub to a lock (bit 6 set).
const (
	TypeStatusAck    Type = 0x41
	TypeDecision     Type = 0x42
	TypeRemoteUnlock Type = 0x43
	TypeTimeSync     Type = 0x44
	TypeListChunk    Type = 0x45
	TypeEventAck     Type = 0x46
	TypeDoorAssign   Type = 0x47
	TypeHubFloor     Type = 0x7F // CounterFloor from the hub
)

const directionBit Type = 0x40

// Direction is which way a message travels.
type Direction uint8

// Directions.
const (
	LockToHub Direction = 0
	HubToLock Direction = 1
)

func (d Direction) String() string {
	if d == HubToLock {
		return "hub->lock"
	}
	return "lock->hub"
}

// Direction returns the direction bit of t.
func (t Type) Direction() Direction {
	if t&directionBit != 0 {
		return HubToLock
	}
	return LockToHub
}

var typeNames = map[Type]string{
	TypeHello: "hello", TypeHeartbeat: "heartbeat", TypeAccessRequest: "access_request",
	TypeDoorEvent: "door_event", TypeOfflineEvents: "offline_events", TypeListAck: "list_ack",
	TypeCommandResult: "command_result", TypeLockFloor: "counter_floor",
	TypeStatusAck: "status_ack", TypeDecision: "decision", TypeRemoteUnlock: "remote_unlock",
	TypeTimeSync: "time_sync", TypeListChunk: "list_chunk", TypeEventAck: "event_ack",
	TypeHubFloor: "counter_floor", TypeDoorAssign: "door_assign",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return fmt.Sprintf("%s(0x%02x)", n, uint8(t))
	}
	return fmt.Sprintf("type(0x%02x)", uint8(t))
}

// Size limits of message bodies, chosen so that a sealed message in its
// serial envelope fits one link frame (see docs/radio-protocol.md).
const (
	MaxBody           = 231 // largest body of any message
	MinCardID         = 4   // keycard id bytes
	MaxCardID         = 32
	MinDoorcode       = 5 // doorcode digits
	MaxDoorcode       = 7
	PublicKeySize     = 32 // Ed25519
	SignatureSize     = 64 // Ed25519
	NonceSize         = 16 // the lock's challenge to a phone
	DigestSize        = 8  // list digest
	MaxOfflineRecords = 15 // records in one OfflineEvents
	MaxChunkData      = 208
	MaxUnlockSeconds  = 3600
	MaxDoorID         = 64 // bytes of a door id (hub.MaxIDLength)
)

// Parsing errors. Every error from ParseBody, Unseal and Pairing.Open about
// the bytes of a message wraps ErrMalformed.
var (
	// ErrMalformed: the bytes are not a message of this protocol (too
	// short, unknown type, a field out of range, trailing bytes).
	ErrMalformed = errors.New("lockmsg: malformed message")
	// ErrInvalid: a message given to AppendBody or Seal has a field out of
	// range (a caller's bug; nothing was encoded).
	ErrInvalid = errors.New("lockmsg: invalid message")
)

// Message is one of the message types of this package (*Hello, *Decision,
// ...). The set is closed: the protocol defines it.
type Message interface {
	Type() Type
	appendBody(b []byte) []byte
	parseBody(r *reader)
	validate() error
}

// newMessage returns an empty message of type t, or nil for an unknown t.
func newMessage(t Type) Message {
	switch t {
	case TypeHello:
		return new(Hello)
	case TypeHeartbeat:
		return new(Heartbeat)
	case TypeAccessRequest:
		return new(AccessRequest)
	case TypeDoorEvent:
		return new(DoorEvent)
	case TypeOfflineEvents:
		return new(OfflineEvents)
	case TypeListAck:
		return new(ListAck)
	case TypeCommandResult:
		return new(CommandResult)
	case TypeLockFloor:
		return &CounterFloor{From: LockToHub}
	case TypeStatusAck:
		return new(StatusAck)
	case TypeDecision:
		return new(Decision)
	case TypeRemoteUnlock:
		return new(RemoteUnlock)
	case TypeTimeSync:
		return new(TimeSync)
	case TypeListChunk:
		return new(ListChunk)
	case TypeEventAck:
		return new(EventAck)
	case TypeHubFloor:
		return &CounterFloor{From: HubToLock}
	case TypeDoorAssign:
		return new(DoorAssign)
	}
	return nil
}

// AppendBody appends the body of m (its fields, without type, counter or
// MAC) to dst. It returns an error wrapping ErrInvalid if a field is out
// of range.
func AppendBody(dst []byte, m Message) ([]byte, error) {
	if err := m.validate(); err != nil {
		return dst, fmt.Errorf("%w: %s: %v", ErrInvalid, m.Type(), err)
	}
	return m.appendBody(dst), nil
}

// ParseBody parses the body of a message of type t. It returns an error
// wrapping ErrMalformed unless body is exactly one valid message: for every
// body it accepts, AppendBody gives the same bytes back.
func ParseBody(t Type, body []byte) (Message, error) {
	m := newMessage(t)
	if m == nil {
		return nil, fmt.Errorf("%w: unknown %s", ErrMalformed, t)
	}
	r := reader{b: body}
	m.parseBody(&r)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err == nil {
		r.err = m.validate()
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, t, r.err)
	}
	return m, nil
}

// reader reads big-endian fields and remembers the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = errors.New("truncated")
		r.b = nil
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() uint8 {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) copy(dst []byte) { copy(dst, r.take(len(dst))) }

// bytes reads a length-prefixed field of lo..hi bytes.
func (r *reader) lenBytes(what string, lo, hi int) []byte {
	n := int(r.u8())
	if r.err == nil && (n < lo || n > hi) {
		r.err = fmt.Errorf("%s: length %d not in %d..%d", what, n, lo, hi)
		return nil
	}
	return append([]byte(nil), r.take(n)...)
}

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func flag(b bool, bit uint8) uint8 {
	if b {
		return bit
	}
	return 0
}

// ---- lock -> hub ----

// Firmware is a lock's firmware version.
type Firmware struct{ Major, Minor, Patch uint8 }

func (f Firmware) String() string { return fmt.Sprintf("%d.%d.%d", f.Major, f.Minor, f.Patch) }

// Status is what a lock reports of itself in Hello and Heartbeat.
type Status struct {
	Firmware Firmware
	// BatteryPercent: 0–100, or BatteryUnknown.
	BatteryPercent    uint8
	BatteryMillivolts uint16
	Door              DoorState
	// ListVersion and ListDigest identify the list the lock holds; zero
	// for none.
	ListVersion uint32
	ListDigest  [DigestSize]byte
	// RSSI of the hub's last frame as the lock heard it.
	RSSI RSSI
	// Clock is the lock's real-time clock; ClockSet says it was set (by a
	// TimeSync) and has run on battery since.
	Clock    UnixTime
	ClockSet bool
	// PendingEvents: door events and offline decisions the lock holds that
	// the hub has not acknowledged yet.
	PendingEvents uint16
}

// BatteryUnknown is the BatteryPercent of a lock that cannot measure it.
const BatteryUnknown = 0xFF

const (
	flagClockSet = 0x01
	statusFlags  = flagClockSet
)

func (s *Status) append(b []byte) []byte {
	b = append(b, s.Firmware.Major, s.Firmware.Minor, s.Firmware.Patch, s.BatteryPercent)
	b = be16(b, s.BatteryMillivolts)
	b = append(b, uint8(s.Door))
	b = be32(b, s.ListVersion)
	b = append(b, s.ListDigest[:]...)
	b = append(b, uint8(s.RSSI))
	b = be32(b, uint32(s.Clock))
	b = append(b, flag(s.ClockSet, flagClockSet))
	return be16(b, s.PendingEvents)
}

func (s *Status) parse(r *reader) {
	s.Firmware = Firmware{r.u8(), r.u8(), r.u8()}
	s.BatteryPercent = r.u8()
	s.BatteryMillivolts = r.u16()
	s.Door = DoorState(r.u8())
	s.ListVersion = r.u32()
	r.copy(s.ListDigest[:])
	s.RSSI = RSSI(r.u8())
	s.Clock = UnixTime(r.u32())
	f := r.u8()
	s.ClockSet = f&flagClockSet != 0
	if r.err == nil && f&^statusFlags != 0 {
		r.err = fmt.Errorf("unknown status flags %#02x", f)
	}
	s.PendingEvents = r.u16()
}

func (s *Status) validate() error {
	switch {
	case s.BatteryPercent > 100 && s.BatteryPercent != BatteryUnknown:
		return fmt.Errorf("battery %d%%", s.BatteryPercent)
	case !s.Door.valid():
		return fmt.Errorf("unknown %s", s.Door)
	}
	return nil
}

// Hello is the first message of a lock after it boots, is paired, or finds
// the hub again after losing it. It carries what the hub needs to talk to
// the lock: its status, why it says hello, the list capacity, and the
// counter floor of the hub's messages it will accept.
type Hello struct {
	Status
	Reason BootReason
	// RxFloor: the lock drops hub messages with a counter at or below it;
	// the hub continues above it (see Pairing.Open).
	RxFloor uint32
	// ListCapacity: entries the lock's list can hold.
	ListCapacity uint16
}

func (*Hello) Type() Type { return TypeHello }
func (m *Hello) appendBody(b []byte) []byte {
	b = m.Status.append(b)
	b = append(b, uint8(m.Reason))
	b = be32(b, m.RxFloor)
	return be16(b, m.ListCapacity)
}
func (m *Hello) parseBody(r *reader) {
	m.Status.parse(r)
	m.Reason = BootReason(r.u8())
	m.RxFloor = r.u32()
	m.ListCapacity = r.u16()
}
func (m *Hello) validate() error {
	if !m.Reason.valid() {
		return fmt.Errorf("unknown %s", m.Reason)
	}
	return m.Status.validate()
}

// Heartbeat is a lock's periodic status, sent when it wakes on its timer.
type Heartbeat struct{ Status }

func (*Heartbeat) Type() Type                   { return TypeHeartbeat }
func (m *Heartbeat) appendBody(b []byte) []byte { return m.Status.append(b) }
func (m *Heartbeat) parseBody(r *reader)        { m.Status.parse(r) }
func (m *Heartbeat) validate() error            { return m.Status.validate() }

// AccessRequest relays what was presented at the lock. The hub answers
// with a Decision naming this message's counter.
type AccessRequest struct {
	Kind CredentialKind
	// CardID: the keycard's identifier, MinCardID..MaxCardID bytes.
	CardID []byte
	// Code: the digits typed, MinDoorcode..MaxDoorcode ASCII '0'-'9'.
	Code string
	// PublicKey, Nonce, Signature: the phone's Ed25519 key, the lock's
	// challenge and the phone's signature over hub.MobileMessage(door,
	// nonce), relayed as they came.
	PublicKey [PublicKeySize]byte
	Nonce     [NonceSize]byte
	Signature [SignatureSize]byte
}

func (*AccessRequest) Type() Type { return TypeAccessRequest }
func (m *AccessRequest) appendBody(b []byte) []byte {
	b = append(b, uint8(m.Kind))
	switch m.Kind {
	case CredKeycard:
		b = append(b, uint8(len(m.CardID)))
		b = append(b, m.CardID...)
	case CredDoorcode:
		b = append(b, uint8(len(m.Code)))
		b = append(b, m.Code...)
	case CredMobile:
		b = append(b, m.PublicKey[:]...)
		b = append(b, m.Nonce[:]...)
		b = append(b, m.Signature[:]...)
	}
	return b
}
func (m *AccessRequest) parseBody(r *reader) {
	m.Kind = CredentialKind(r.u8())
	switch m.Kind {
	case CredKeycard:
		m.CardID = r.lenBytes("card id", MinCardID, MaxCardID)
	case CredDoorcode:
		m.Code = string(r.lenBytes("doorcode", MinDoorcode, MaxDoorcode))
	case CredMobile:
		r.copy(m.PublicKey[:])
		r.copy(m.Nonce[:])
		r.copy(m.Signature[:])
	default:
		if r.err == nil {
			r.err = fmt.Errorf("unknown %s", m.Kind)
		}
	}
}
func (m *AccessRequest) validate() error {
	switch m.Kind {
	case CredKeycard:
		if len(m.CardID) < MinCardID || len(m.CardID) > MaxCardID {
			return fmt.Errorf("card id of %d bytes", len(m.CardID))
		}
	case CredDoorcode:
		if len(m.Code) < MinDoorcode || len(m.Code) > MaxDoorcode {
			return fmt.Errorf("doorcode of %d digits", len(m.Code))
		}
		for i := 0; i < len(m.Code); i++ {
			if m.Code[i] < '0' || m.Code[i] > '9' {
				return errors.New("doorcode holds a non-digit")
			}
		}
	case CredMobile:
	default:
		return fmt.Errorf("unknown %s", m.Kind)
	}
	// Fields of the other kinds must be empty, so that a body has one
	// meaning and re-encodes to itself.
	if m.Kind != CredKeycard && m.CardID != nil ||
		m.Kind != CredDoorcode && m.Code != "" ||
		m.Kind != CredMobile && (m.PublicKey != [PublicKeySize]byte{} || m.Nonce != [NonceSize]byte{} || m.Signature != [SignatureSize]byte{}) {
		return fmt.Errorf("fields of another credential kind set on a %s request", m.Kind)
	}
	return nil
}

// DoorEvent is something the lock noticed at its door. Seq numbers every
// event of the lock (door events and offline decisions alike); the hub
// acknowledges them with EventAck.
type DoorEvent struct {
	Seq   uint32
	Clock UnixTime // the lock's clock when it happened
	Event DoorEventKind
	// Detail: seconds open for held_open, millivolts for low_battery, else 0.
	Detail uint16
}

func (*DoorEvent) Type() Type { return TypeDoorEvent }
func (m *DoorEvent) appendBody(b []byte) []byte {
	b = be32(b, m.Seq)
	b = be32(b, uint32(m.Clock))
	b = append(b, uint8(m.Event))
	return be16(b, m.Detail)
}
func (m *DoorEvent) parseBody(r *reader) {
	m.Seq, m.Clock, m.Event, m.Detail = r.u32(), UnixTime(r.u32()), DoorEventKind(r.u8()), r.u16()
}
func (m *DoorEvent) validate() error {
	if !m.Event.valid() {
		return fmt.Errorf("unknown %s", m.Event)
	}
	if m.Seq == 0 {
		return errors.New("event seq 0")
	}
	return nil
}

// OfflineDecision is one decision a lock made on its own list while the
// hub was unreachable.
type OfflineDecision struct {
	Seq    uint32   // the lock's event sequence number
	Clock  UnixTime // the lock's clock at the decision
	Kind   CredentialKind
	Reason Reason
	// Entry is the id of the list entry that decided, 0 for none (an
	// unknown credential). The credential itself never leaves the lock.
	Entry uint32
}

const offlineRecordSize = 14

// OfflineEvents carries up to MaxOfflineRecords offline decisions, oldest
// first. The hub stores them and acknowledges with EventAck.
type OfflineEvents struct{ Records []OfflineDecision }

func (*OfflineEvents) Type() Type { return TypeOfflineEvents }
func (m *OfflineEvents) appendBody(b []byte) []byte {
	b = append(b, uint8(len(m.Records)))
	for _, e := range m.Records {
		b = be32(b, e.Seq)
		b = be32(b, uint32(e.Clock))
		b = append(b, uint8(e.Kind), uint8(e.Reason))
		b = be32(b, e.Entry)
	}
	return b
}
func (m *OfflineEvents) parseBody(r *reader) {
	n := int(r.u8())
	if r.err == nil && (n == 0 || n > MaxOfflineRecords) {
		r.err = fmt.Errorf("%d records", n)
		return
	}
	m.Records = make([]OfflineDecision, n)
	for i := range m.Records {
		e := &m.Records[i]
		e.Seq, e.Clock = r.u32(), UnixTime(r.u32())
		e.Kind, e.Reason = CredentialKind(r.u8()), Reason(r.u8())
		e.Entry = r.u32()
	}
}
func (m *OfflineEvents) validate() error {
	if len(m.Records) == 0 || len(m.Records) > MaxOfflineRecords {
		return fmt.Errorf("%d records, want 1..%d", len(m.Records), MaxOfflineRecords)
	}
	for i, e := range m.Records {
		switch {
		case e.Seq == 0:
			return fmt.Errorf("record %d: seq 0", i)
		case !e.Kind.valid():
			return fmt.Errorf("record %d: unknown %s", i, e.Kind)
		case !e.Reason.Valid():
			return fmt.Errorf("record %d: unknown %s", i, e.Reason)
		}
	}
	return nil
}

// ListAck answers a ListChunk.
type ListAck struct {
	Version uint32 // the list version of the chunk answered
	Chunk   uint16 // the chunk answered; for ListOutOfOrder, the chunk expected
	Status  ListStatus
	// Digest of the list the lock holds after this chunk (its active list;
	// the new one once Status is ListComplete).
	Digest [DigestSize]byte
}

func (*ListAck) Type() Type { return TypeListAck }
func (m *ListAck) appendBody(b []byte) []byte {
	b = be32(b, m.Version)
	b = be16(b, m.Chunk)
	b = append(b, uint8(m.Status))
	return append(b, m.Digest[:]...)
}
func (m *ListAck) parseBody(r *reader) {
	m.Version, m.Chunk, m.Status = r.u32(), r.u16(), ListStatus(r.u8())
	r.copy(m.Digest[:])
}
func (m *ListAck) validate() error {
	if !m.Status.valid() {
		return fmt.Errorf("unknown %s", m.Status)
	}
	return nil
}

// CommandResult answers a RemoteUnlock or a TimeSync.
type CommandResult struct {
	Request uint32 // the counter of the hub message answered
	Status  CommandStatus
}

func (*CommandResult) Type() Type { return TypeCommandResult }
func (m *CommandResult) appendBody(b []byte) []byte {
	return append(be32(b, m.Request), uint8(m.Status))
}
func (m *CommandResult) parseBody(r *reader) {
	m.Request, m.Status = r.u32(), CommandStatus(r.u8())
}
func (m *CommandResult) validate() error {
	if !m.Status.valid() {
		return fmt.Errorf("unknown %s", m.Status)
	}
	return nil
}

// CounterFloor tells the peer: "I drop your messages with a counter at or
// below Floor". Either side sends it when it drops an authentic message as
// a replay, typically after it restarted and restored its floor from a
// block-rounded high-water mark. Pairing.Open acts on it by itself.
type CounterFloor struct {
	From  Direction // which side sent it: LockToHub or HubToLock
	Floor uint32
}

func (m *CounterFloor) Type() Type {
	if m.From == HubToLock {
		return TypeHubFloor
	}
	return TypeLockFloor
}
func (m *CounterFloor) appendBody(b []byte) []byte { return be32(b, m.Floor) }
func (m *CounterFloor) parseBody(r *reader)        { m.Floor = r.u32() }
func (m *CounterFloor) validate() error {
	if m.From > HubToLock {
		return errors.New("unknown direction")
	}
	return nil
}

// ---- hub -> lock ----

// StatusAck answers a Hello or a Heartbeat and carries the hub's clock.
type StatusAck struct {
	Request uint32   // the counter of the Hello or Heartbeat answered
	Clock   UnixTime // the hub's clock
	// ClockTrusted: the hub trusts Clock; a lock sets its own clock only
	// from a trusted reading.
	ClockTrusted bool
	// More: the hub has more messages for the lock; stay awake.
	More bool
	// ListVersion: the list version the hub wants the lock to hold. A lock
	// holding another version expects ListChunks.
	ListVersion uint32
}

const (
	flagTrusted = 0x01
	flagMore    = 0x02
	ackFlags    = flagTrusted | flagMore
	timeFlags   = flagTrusted
)

func (*StatusAck) Type() Type { return TypeStatusAck }
func (m *StatusAck) appendBody(b []byte) []byte {
	b = be32(b, m.Request)
	b = be32(b, uint32(m.Clock))
	b = append(b, flag(m.ClockTrusted, flagTrusted)|flag(m.More, flagMore))
	return be32(b, m.ListVersion)
}
func (m *StatusAck) parseBody(r *reader) {
	m.Request, m.Clock = r.u32(), UnixTime(r.u32())
	f := r.u8()
	m.ClockTrusted, m.More = f&flagTrusted != 0, f&flagMore != 0
	if r.err == nil && f&^ackFlags != 0 {
		r.err = fmt.Errorf("unknown flags %#02x", f)
	}
	m.ListVersion = r.u32()
}
func (m *StatusAck) validate() error { return nil }

// Decision answers an AccessRequest: allow with an unlock duration, or deny;
// both with the reason.
type Decision struct {
	Request uint32 // the counter of the AccessRequest answered
	Reason  Reason // allows iff Reason.Allowed()
	// UnlockSeconds: 1..MaxUnlockSeconds for an allow, 0 for a denial.
	UnlockSeconds uint16
}

func (*Decision) Type() Type { return TypeDecision }
func (m *Decision) appendBody(b []byte) []byte {
	b = be32(b, m.Request)
	b = append(b, uint8(m.Reason))
	return be16(b, m.UnlockSeconds)
}
func (m *Decision) parseBody(r *reader) {
	m.Request, m.Reason, m.UnlockSeconds = r.u32(), Reason(r.u8()), r.u16()
}
func (m *Decision) validate() error {
	switch {
	case !m.Reason.Valid():
		return fmt.Errorf("unknown %s", m.Reason)
	case m.Reason.Allowed() && (m.UnlockSeconds == 0 || m.UnlockSeconds > MaxUnlockSeconds):
		return fmt.Errorf("allow with unlock of %d s", m.UnlockSeconds)
	case !m.Reason.Allowed() && m.UnlockSeconds != 0:
		return fmt.Errorf("deny with unlock of %d s", m.UnlockSeconds)
	}
	return nil
}

// Allowed reports whether the decision allows.
func (m *Decision) Allowed() bool { return m.Reason.Allowed() }

// RemoteUnlock asks the lock to unlock now; it answers with CommandResult.
type RemoteUnlock struct {
	UnlockSeconds uint16 // 1..MaxUnlockSeconds
}

func (*RemoteUnlock) Type() Type                   { return TypeRemoteUnlock }
func (m *RemoteUnlock) appendBody(b []byte) []byte { return be16(b, m.UnlockSeconds) }
func (m *RemoteUnlock) parseBody(r *reader)        { m.UnlockSeconds = r.u16() }
func (m *RemoteUnlock) validate() error {
	if m.UnlockSeconds == 0 || m.UnlockSeconds > MaxUnlockSeconds {
		return fmt.Errorf("unlock of %d s", m.UnlockSeconds)
	}
	return nil
}

// TimeSync sets the lock's clock; it answers with CommandResult. A lock
// sets its clock only from a trusted reading.
type TimeSync struct {
	Clock   UnixTime
	Trusted bool
}

func (*TimeSync) Type() Type { return TypeTimeSync }
func (m *TimeSync) appendBody(b []byte) []byte {
	return append(be32(b, uint32(m.Clock)), flag(m.Trusted, flagTrusted))
}
func (m *TimeSync) parseBody(r *reader) {
	m.Clock = UnixTime(r.u32())
	f := r.u8()
	m.Trusted = f&flagTrusted != 0
	if r.err == nil && f&^timeFlags != 0 {
		r.err = fmt.Errorf("unknown flags %#02x", f)
	}
}
func (m *TimeSync) validate() error {
	if m.Clock == 0 {
		return errors.New("clock 0")
	}
	return nil
}

// ListChunk is one chunk of a lock's list. A list of version V is sent as
// Count chunks, in order; each names the digest of the whole list (see
// ListDigest) so the lock can check it when the last chunk is in. The
// encoding of the entries inside Data belongs to the door-update work;
// this layer carries it as bytes.
//
// A ListChunk with Count 0 (Index 0, a zero Digest, no Data) is the clear
// form: the door's list is empty, and the lock drops the list it holds
// (and any partial one). The lock answers ListComplete with a zero digest.
type ListChunk struct {
	Version uint32
	Index   uint16 // 0..Count-1
	Count   uint16 // 1..; 0: clear the list
	Digest  [DigestSize]byte
	Data    []byte // 1..MaxChunkData bytes; none when clearing
}

// Clear reports whether the chunk is the clear form (Count 0).
func (m *ListChunk) Clear() bool { return m.Count == 0 }

func (*ListChunk) Type() Type { return TypeListChunk }
func (m *ListChunk) appendBody(b []byte) []byte {
	b = be32(b, m.Version)
	b = be16(b, m.Index)
	b = be16(b, m.Count)
	b = append(b, m.Digest[:]...)
	return append(b, m.Data...)
}
func (m *ListChunk) parseBody(r *reader) {
	m.Version, m.Index, m.Count = r.u32(), r.u16(), r.u16()
	r.copy(m.Digest[:])
	if r.err == nil {
		m.Data = append([]byte(nil), r.b...)
		r.b = nil
	}
}
func (m *ListChunk) validate() error {
	switch {
	case m.Version == 0:
		return errors.New("list version 0")
	case m.Count == 0 && (m.Index != 0 || len(m.Data) != 0 || m.Digest != [DigestSize]byte{}):
		return fmt.Errorf("list clear with chunk %d, %d bytes of data or a digest", m.Index, len(m.Data))
	case m.Count == 0:
		return nil
	case m.Index >= m.Count:
		return fmt.Errorf("chunk %d of %d", m.Index, m.Count)
	case len(m.Data) == 0 || len(m.Data) > MaxChunkData:
		return fmt.Errorf("chunk data of %d bytes", len(m.Data))
	}
	return nil
}

// ListDigest is the digest a ListChunk, a ListAck and a Status carry: the
// first DigestSize bytes of SHA-256 over the concatenated chunk data.
func ListDigest(data []byte) [DigestSize]byte {
	sum := sha256.Sum256(data)
	return [DigestSize]byte(sum[:DigestSize])
}

// EventAck tells the lock that the hub durably stored every event (door
// event or offline decision) with a Seq at or below Through; the lock may
// forget them.
type EventAck struct{ Through uint32 }

func (*EventAck) Type() Type                   { return TypeEventAck }
func (m *EventAck) appendBody(b []byte) []byte { return be32(b, m.Through) }
func (m *EventAck) parseBody(r *reader)        { m.Through = r.u32() }
func (m *EventAck) validate() error            { return nil }

// DoorAssign tells a lock the id of the door the hub maps it to, after
// pairing and whenever the lock says Hello. The lock keeps it and shows it
// to phones, which sign it into their answer to the lock's challenge
// (hub.MobileMessage). It answers with CommandResult.
type DoorAssign struct {
	// Door is the door's id in the hub's site model: 1..MaxDoorID bytes
	// of letters, digits, '-', '_' and '.'.
	Door string
}

func (*DoorAssign) Type() Type { return TypeDoorAssign }
func (m *DoorAssign) appendBody(b []byte) []byte {
	return append(append(b, uint8(len(m.Door))), m.Door...)
}
func (m *DoorAssign) parseBody(r *reader) { m.Door = string(r.lenBytes("door id", 1, MaxDoorID)) }
func (m *DoorAssign) validate() error {
	if len(m.Door) == 0 || len(m.Door) > MaxDoorID {
		return fmt.Errorf("door id of %d bytes", len(m.Door))
	}
	for i := 0; i < len(m.Door); i++ {
		c := m.Door[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errors.New("door id holds a character other than letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}
