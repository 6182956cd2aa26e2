// Package coproc is the radio coprocessor's own language on the serial
// line: the control envelopes (kinds 0x02-0x0F of docs/radio-protocol.md,
// section 5.5) that the hub and the coprocessor exchange beside the lock
// envelopes (kind 0x01, radio/lockmsg). It is pure: functions on byte
// slices, no I/O.
//
//	02 version_request  hub -> coprocessor   token (4)
//	03 version          coprocessor -> hub   token (4) | protocol (1) | firmware (3) | max locks (2)
//	04 reset            hub -> coprocessor   token (4)
//	05 undelivered      coprocessor -> hub   lock (4) | type (1) | counter (4) | reason (1)
//
// Every body has exactly its length and every enumerated field a listed
// value; Parse accepts exactly what Append produces.
package coproc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Kind is the first byte of a control envelope.
type Kind uint8

// Control envelope kinds. 0x06-0x0F stay reserved.
const (
	KindVersionRequest Kind = 0x02
	KindVersion        Kind = 0x03
	KindReset          Kind = 0x04
	KindUndelivered    Kind = 0x05
)

var kindNames = map[Kind]string{
	KindVersionRequest: "version_request", KindVersion: "version", KindReset: "reset",
	KindUndelivered: "undelivered",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return fmt.Sprintf("%s(0x%02x)", n, uint8(k))
	}
	return fmt.Sprintf("kind(0x%02x)", uint8(k))
}

// FromHub reports whether the hub sends envelopes of kind k.
func (k Kind) FromHub() bool { return k == KindVersionRequest || k == KindReset }

// IsControl reports whether the first byte of a link payload is a control
// kind this package knows.
func IsControl(payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	_, ok := kindNames[Kind(payload[0])]
	return ok
}

// ProtocolVersion is the version of the serial protocol a coprocessor
// speaks (docs/radio-protocol.md is version 1).
const ProtocolVersion = 1

// ErrMalformed is wrapped by every Parse error.
var ErrMalformed = errors.New("coproc: malformed control envelope")

// Message is one control envelope.
type Message interface {
	Kind() Kind
	appendBody(b []byte) []byte
	parseBody(b []byte) error
	size() int
}

// VersionRequest asks the coprocessor for its Version; the hub sends it
// when a link opens and as the health probe. Token is echoed back.
type VersionRequest struct{ Token uint32 }

// Version describes the coprocessor: the answer to a VersionRequest or a
// Reset (echoing its Token), or unsolicited with Token 0 after the
// coprocessor booted on its own.
type Version struct {
	Token    uint32
	Protocol uint8
	Firmware lockmsg.Firmware
	MaxLocks uint16 // how many locks it can relay for
}

// Reset asks the coprocessor to restart its firmware: it drops what it
// holds for the air, restarts its radio and its link (a new epoch) and
// then sends a Version with Token.
type Reset struct{ Token uint32 }

// UndeliveredReason says why a hub message did not reach its lock.
type UndeliveredReason uint8

// Reasons for Undelivered.
const (
	// LockAsleep: the lock did not wake while the coprocessor held the
	// message.
	LockAsleep UndeliveredReason = 1
	// NoAirAck: the lock did not acknowledge the air frame (out of
	// range, jammed, battery dead).
	NoAirAck UndeliveredReason = 2
	// QueueFull: the coprocessor had no room for the message.
	QueueFull UndeliveredReason = 3
)

var undeliveredNames = [...]string{"", "lock_asleep", "no_air_ack", "queue_full"}

func (r UndeliveredReason) String() string {
	if int(r) < len(undeliveredNames) && r != 0 {
		return undeliveredNames[r]
	}
	return fmt.Sprintf("undelivered(%d)", uint8(r))
}

// Undelivered reports a hub message, named by its lock, type and counter,
// that the coprocessor could not deliver over the air. The link had
// acknowledged it: this is the only word the hub gets of its loss.
type Undelivered struct {
	Lock    lockmsg.LockID
	Type    lockmsg.Type
	Counter uint32
	Reason  UndeliveredReason
}

func (*VersionRequest) Kind() Kind { return KindVersionRequest }
func (*Version) Kind() Kind        { return KindVersion }
func (*Reset) Kind() Kind          { return KindReset }
func (*Undelivered) Kind() Kind    { return KindUndelivered }

func (*VersionRequest) size() int { return 4 }
func (*Version) size() int        { return 10 }
func (*Reset) size() int          { return 4 }
func (*Undelivered) size() int    { return 10 }

func (m *VersionRequest) appendBody(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, m.Token)
}
func (m *Reset) appendBody(b []byte) []byte { return binary.BigEndian.AppendUint32(b, m.Token) }
func (m *Version) appendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, m.Token)
	b = append(b, m.Protocol, m.Firmware.Major, m.Firmware.Minor, m.Firmware.Patch)
	return binary.BigEndian.AppendUint16(b, m.MaxLocks)
}
func (m *Undelivered) appendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(m.Lock))
	b = append(b, uint8(m.Type))
	b = binary.BigEndian.AppendUint32(b, m.Counter)
	return append(b, uint8(m.Reason))
}

func (m *VersionRequest) parseBody(b []byte) error { m.Token = binary.BigEndian.Uint32(b); return nil }
func (m *Reset) parseBody(b []byte) error          { m.Token = binary.BigEndian.Uint32(b); return nil }
func (m *Version) parseBody(b []byte) error {
	m.Token = binary.BigEndian.Uint32(b)
	m.Protocol = b[4]
	m.Firmware = lockmsg.Firmware{Major: b[5], Minor: b[6], Patch: b[7]}
	m.MaxLocks = binary.BigEndian.Uint16(b[8:])
	if m.Protocol == 0 {
		return errors.New("protocol version 0")
	}
	return nil
}
func (m *Undelivered) parseBody(b []byte) error {
	m.Lock = lockmsg.LockID(binary.BigEndian.Uint32(b))
	m.Type = lockmsg.Type(b[4])
	m.Counter = binary.BigEndian.Uint32(b[5:])
	m.Reason = UndeliveredReason(b[9])
	switch {
	case m.Type.Direction() != lockmsg.HubToLock || m.Type&0x80 != 0:
		return fmt.Errorf("%s is not a hub message", m.Type)
	case m.Counter == 0:
		return errors.New("counter 0")
	case m.Reason < LockAsleep || m.Reason > QueueFull:
		return fmt.Errorf("unknown %s", m.Reason)
	}
	return nil
}

// Append appends the control envelope of m to dst: kind, then body.
func Append(dst []byte, m Message) []byte {
	return m.appendBody(append(dst, uint8(m.Kind())))
}

// Parse parses a control envelope. It returns an error wrapping
// ErrMalformed for any other bytes.
func Parse(b []byte) (Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	var m Message
	switch Kind(b[0]) {
	case KindVersionRequest:
		m = new(VersionRequest)
	case KindVersion:
		m = new(Version)
	case KindReset:
		m = new(Reset)
	case KindUndelivered:
		m = new(Undelivered)
	default:
		return nil, fmt.Errorf("%w: unknown %s", ErrMalformed, Kind(b[0]))
	}
	if len(b)-1 != m.size() {
		return nil, fmt.Errorf("%w: %s of %d bytes, want %d", ErrMalformed, m.Kind(), len(b)-1, m.size())
	}
	if err := m.parseBody(b[1:]); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, m.Kind(), err)
	}
	return m, nil
}
