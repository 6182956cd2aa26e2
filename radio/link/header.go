package link

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/doorhub/doorhub/radio/frame"
)

// Version is the link protocol version, the high nibble of a frame's first
// byte. A frame of another version is dropped as malformed.
const Version = 1

// Kind is what a link frame is.
type Kind uint8

// Frame kinds (the low nibble of the first byte).
const (
	// Data carries an upper-layer payload with a sequence number.
	Data Kind = 1
	// Ack acknowledges every Data frame of an epoch before sequence Seq
	// (cumulative: Seq is the next one the receiver expects).
	Ack Kind = 2
	// Resync answers a Data frame of an epoch the receiver does not know
	// (it restarted, or lost the start of the stream): "start that stream
	// again from sequence 0".
	Resync Kind = 3
)

func (k Kind) String() string {
	switch k {
	case Data:
		return "DATA"
	case Ack:
		return "ACK"
	case Resync:
		return "RESYNC"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Sizes.
const (
	// HeaderSize is the link header: version/kind, epoch, sequence.
	HeaderSize = 6
	// MaxPayload is the largest payload of a Data frame, and of Send.
	MaxPayload = frame.MaxPayload - HeaderSize
)

// ErrMalformed is returned by ParseFrame for bytes that are not a link
// frame: shorter than the header, another version, an unknown kind, an Ack
// or Resync with a payload, a Resync with a sequence, or epoch 0.
var ErrMalformed = errors.New("link: malformed frame")

// Frame is one link frame, the payload of one serial frame:
//
//	ver<<4|kind (1) | epoch (4, BE) | seq (1) | payload (Data only)
type Frame struct {
	Kind Kind
	// Epoch names the sender's stream (Data) or the stream acknowledged
	// or not known (Ack, Resync). A link picks a random non-zero epoch
	// when it opens and a new one whenever it restarts its stream.
	Epoch uint32
	// Seq is the frame's sequence number (Data), the next sequence
	// expected (Ack), or 0 (Resync).
	Seq     uint8
	Payload []byte
}

// AppendFrame appends the link frame f to dst (without serial framing).
func AppendFrame(dst []byte, f Frame) []byte {
	dst = append(dst, Version<<4|uint8(f.Kind))
	dst = binary.BigEndian.AppendUint32(dst, f.Epoch)
	dst = append(dst, f.Seq)
	return append(dst, f.Payload...)
}

// ParseFrame parses a link frame; Payload aliases b.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < HeaderSize {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if v := b[0] >> 4; v != Version {
		return Frame{}, fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	f := Frame{Kind: Kind(b[0] & 0x0f), Epoch: binary.BigEndian.Uint32(b[1:5]), Seq: b[5]}
	if len(b) > HeaderSize {
		f.Payload = b[HeaderSize:]
	}
	switch {
	case f.Kind != Data && f.Kind != Ack && f.Kind != Resync:
		return Frame{}, fmt.Errorf("%w: %s", ErrMalformed, f.Kind)
	case f.Epoch == 0:
		return Frame{}, fmt.Errorf("%w: epoch 0", ErrMalformed)
	case f.Kind != Data && len(f.Payload) != 0:
		return Frame{}, fmt.Errorf("%w: %s with a payload", ErrMalformed, f.Kind)
	case f.Kind == Resync && f.Seq != 0:
		return Frame{}, fmt.Errorf("%w: RESYNC with sequence %d", ErrMalformed, f.Seq)
	case len(f.Payload) > MaxPayload:
		return Frame{}, fmt.Errorf("%w: payload of %d bytes", ErrMalformed, len(f.Payload))
	}
	return f, nil
}
