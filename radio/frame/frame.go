// Package frame is the byte framing of the serial line between the hub and
// its radio coprocessor: COBS byte stuffing, a zero-byte delimiter and a
// CRC-32C trailer. It is pure: functions on byte slices, no I/O, no
// goroutines, nothing of the rest of the project.
//
// # Wire format
//
// A frame on the wire is
//
//	00 | COBS(payload || CRC-32C(payload), big-endian) | 00
//
// COBS (Consistent Overhead Byte Stuffing, Cheshire & Baker 1999) removes
// every zero byte from the stuffed part, so 0x00 only ever appears as a
// delimiter: a receiver that joins the line at any moment, or that has just
// read garbage, is back in step at the next 0x00. The leading delimiter
// flushes whatever partial garbage the receiver holds, so the frame right
// after line noise is not lost with it; two delimiters in a row (an empty
// frame) are the idle pattern and are skipped silently.
//
// CRC-32C is the Castagnoli polynomial 0x1EDC6F41 (reflected 0x82F63B78,
// init and final XOR 0xFFFFFFFF; "123456789" gives 0xE3069283) as computed
// by hash/crc32 with crc32.Castagnoli.
//
// # Invariants
//
//   - Decode(Encode(p)) == p for every payload of at most MaxPayload bytes.
//   - An encoded frame holds exactly two zero bytes: the delimiters.
//   - Overhead: a payload of n bytes (0 <= n <= MaxPayload) takes at most
//     n + 4 (CRC) + 1 + ⌊(n+4)/254⌋ (COBS) + 2 (delimiters) bytes on the
//     wire: n+7 for n <= 249, MaxWire (264) for the largest payload. A
//     group of 254 non-zero bytes is followed by a code byte even at the
//     end, so the bound is reached exactly when the payload and CRC hold no
//     zero.
//   - A Decoder holds at most MaxStuffed bytes however long the input runs
//     without a delimiter; it never panics on any input, and every byte it
//     is given ends up in exactly one frame, one error, or the idle pattern.
package frame

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// Size limits.
const (
	// MaxPayload is the largest payload a frame carries. Larger payloads
	// are refused by AppendEncode and by the Decoder.
	MaxPayload = 256
	// CRCSize is the size of the CRC-32C trailer.
	CRCSize = 4
	// MaxStuffed is the largest number of bytes between two delimiters of a
	// valid frame: MaxPayload+CRCSize stuffed by COBS.
	MaxStuffed = MaxPayload + CRCSize + 1 + (MaxPayload+CRCSize)/254
	// MaxWire is the largest frame on the wire, delimiters included.
	MaxWire = MaxStuffed + 2
)

// Delimiter separates frames on the wire. It appears nowhere else.
const Delimiter = 0x00

// Decoding errors. Each is returned by Decoder.Next for one invalid frame;
// the decoder is already in step for the next frame when it returns one.
var (
	// ErrTooLong is returned when more than MaxStuffed bytes arrive without
	// a delimiter (an oversize frame, or garbage without zeros). The bytes
	// up to the next delimiter are discarded without a further error.
	ErrTooLong = errors.New("frame: too long")
	// ErrStuffing is returned when the bytes between two delimiters are not
	// valid COBS: a code byte announces more bytes than follow it.
	ErrStuffing = errors.New("frame: bad byte stuffing")
	// ErrTruncated is returned when a frame decodes to fewer bytes than the
	// CRC trailer: a fragment, typically line noise or a frame cut short.
	ErrTruncated = errors.New("frame: truncated")
	// ErrCRC is returned when the CRC trailer does not match the payload.
	ErrCRC = errors.New("frame: bad CRC")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC returns the CRC-32C of p, the value a frame carries for payload p.
func CRC(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// EncodedLen returns the most bytes AppendEncode appends for a payload of
// n bytes (exactly that many when payload and CRC hold no zero byte).
func EncodedLen(n int) int {
	m := n + CRCSize
	// COBS: one code byte per run of up to 254 non-zero bytes; in the worst
	// case (no zeros) that is one per 254 bytes, plus the first.
	return 2 + m + 1 + m/254
}

// AppendEncode appends the wire form of payload, delimiters included, to dst
// and returns the extended slice. It panics if payload is longer than
// MaxPayload: callers check sizes where they accept data.
func AppendEncode(dst, payload []byte) []byte {
	if len(payload) > MaxPayload {
		panic("frame: payload longer than MaxPayload")
	}
	var crc [CRCSize]byte
	binary.BigEndian.PutUint32(crc[:], CRC(payload))

	dst = append(dst, Delimiter)
	code := len(dst) // index of the current group's code byte
	dst = append(dst, 0)
	run := byte(1)
	put := func(b byte) {
		if b != 0 {
			dst = append(dst, b)
			run++
			if run < 0xFF {
				return
			}
		}
		// A zero, or a full group of 254 non-zero bytes: close the group.
		dst[code] = run
		code = len(dst)
		dst = append(dst, 0)
		run = 1
	}
	for _, b := range payload {
		put(b)
	}
	for _, b := range crc {
		put(b)
	}
	dst[code] = run
	return append(dst, Delimiter)
}

// Encode returns the wire form of payload. See AppendEncode.
func Encode(payload []byte) []byte {
	return AppendEncode(make([]byte, 0, EncodedLen(len(payload))), payload)
}

// Decoder splits a byte stream into frame payloads. Feed it whatever chunks
// the line delivers, of any size; it keeps the partial frame between calls.
// The zero value is ready to use. A Decoder is not safe for concurrent use.
type Decoder struct {
	buf      [MaxStuffed]byte
	n        int  // bytes of the current frame in buf
	skipping bool // discarding an overlong frame up to the next delimiter
}

// Next consumes bytes from src until a frame ends or src is exhausted and
// returns how many bytes it consumed. When a frame ended within them, it
// returns the frame's payload, or one of the errors above if the frame was
// invalid; both are nil when src ran out inside a frame or held only idle
// delimiters. The payload aliases the decoder's buffer and is valid until
// the next call to Next.
//
// Call Next in a loop until src is consumed:
//
//	for len(src) > 0 {
//		n, payload, err := d.Next(src)
//		src = src[n:]
//		...
//	}
func (d *Decoder) Next(src []byte) (n int, payload []byte, err error) {
	for i, b := range src {
		if b != Delimiter {
			if d.skipping {
				continue
			}
			if d.n == len(d.buf) {
				d.skipping = true
				d.n = 0
				return i + 1, nil, ErrTooLong
			}
			d.buf[d.n] = b
			d.n++
			continue
		}
		if d.skipping {
			d.skipping = false
			continue
		}
		if d.n == 0 {
			continue // idle: two delimiters in a row
		}
		stuffed := d.buf[:d.n]
		d.n = 0
		payload, err := decode(stuffed)
		return i + 1, payload, err
	}
	return len(src), nil, nil
}

// Reset drops the partial frame, as after the line was reopened.
func (d *Decoder) Reset() { d.n, d.skipping = 0, false }

// Decode decodes one frame given without its delimiters (the bytes between
// two zeros) and returns its payload, which aliases stuffed: it is decoded
// in place. It returns the same errors as Decoder.Next except ErrTooLong for
// oversize input.
func Decode(stuffed []byte) ([]byte, error) {
	if len(stuffed) > MaxStuffed {
		return nil, ErrTooLong
	}
	for _, b := range stuffed {
		if b == Delimiter {
			return nil, ErrStuffing
		}
	}
	return decode(stuffed)
}

// decode undoes COBS in place and checks the CRC. stuffed holds no zero.
func decode(stuffed []byte) ([]byte, error) {
	out := 0
	for i := 0; i < len(stuffed); {
		code := int(stuffed[i])
		i++
		if i+code-1 > len(stuffed) {
			return nil, ErrStuffing
		}
		out += copy(stuffed[out:], stuffed[i:i+code-1])
		i += code - 1
		if code < 0xFF && i < len(stuffed) {
			stuffed[out] = 0
			out++
		}
	}
	content := stuffed[:out]
	if len(content) < CRCSize {
		return nil, ErrTruncated
	}
	payload := content[:len(content)-CRCSize]
	if len(payload) > MaxPayload {
		return nil, ErrTooLong
	}
	if binary.BigEndian.Uint32(content[len(payload):]) != CRC(payload) {
		return nil, ErrCRC
	}
	return payload, nil
}
