package lockmsg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Key is the 128-bit key a lock and the hub share from pairing. It never
// appears in logs: String and GoString redact it.
type Key [16]byte

func (Key) String() string   { return "lockmsg.Key(redacted)" }
func (Key) GoString() string { return "lockmsg.Key(redacted)" }

// Keys are the working keys derived from a pairing Key: one for AES-CTR
// encryption, one for AES-CMAC. Safe for concurrent use.
type Keys struct {
	enc cipher.Block
	mac *cmac
}

// kdfLabel separates this protocol version's keys from any other use of a
// pairing key; a version 2 would derive other keys, so its messages fail
// authentication at a version 1 peer instead of being misread.
const kdfLabel = "doorhub-radio-v1"

// NewKeys derives the working keys from a pairing key, with AES-CMAC as the
// PRF of a one-block NIST SP 800-108 counter-mode KDF:
//
//	K_enc = AES-CMAC(K, 01 || "doorhub-radio-v1" || 00 || "enc")
//	K_mac = AES-CMAC(K, 01 || "doorhub-radio-v1" || 00 || "mac")
func NewKeys(k Key) *Keys {
	prf := newCMAC(k[:])
	derive := func(purpose string) []byte {
		out := prf.sum([]byte{0x01}, []byte(kdfLabel), []byte{0x00}, []byte(purpose))
		return out[:]
	}
	enc, err := aes.NewCipher(derive("enc"))
	if err != nil {
		panic(err)
	}
	return &Keys{enc: enc, mac: newCMAC(derive("mac"))}
}

// Sizes of a sealed message.
const (
	HeaderSize = 5 // type, counter
	MACSize    = 8 // AES-CMAC truncated to 64 bits
	Overhead   = HeaderSize + MACSize
	MaxSealed  = Overhead + MaxBody
)

// Sealing errors.
var (
	// ErrForged: the MAC does not verify: another key, a corrupted or
	// forged message, or a peer of another protocol version.
	ErrForged = errors.New("lockmsg: message authentication failed")
)

// Header is the clear part of a sealed message.
type Header struct {
	Type    Type
	Counter uint32
}

// ParseHeader reads the clear header of a sealed message and checks its
// size, without verifying anything else.
func ParseHeader(sealed []byte) (Header, error) {
	if len(sealed) < Overhead || len(sealed) > MaxSealed {
		return Header{}, fmt.Errorf("%w: sealed message of %d bytes", ErrMalformed, len(sealed))
	}
	h := Header{Type: Type(sealed[0]), Counter: binary.BigEndian.Uint32(sealed[1:5])}
	if newMessage(h.Type) == nil {
		return h, fmt.Errorf("%w: unknown %s", ErrMalformed, h.Type)
	}
	if h.Counter == 0 {
		return h, fmt.Errorf("%w: counter 0", ErrMalformed)
	}
	return h, nil
}

// Seal appends m, sealed under k for lock with the given counter, to dst:
//
//	type (1) | counter (4, BE) | AES-128-CTR(body) | AES-CMAC-64
//
// The caller guarantees that a counter is never used twice with one key in
// one direction (Pairing does); Seal is otherwise pure.
func Seal(dst []byte, k *Keys, lock LockID, counter uint32, m Message) ([]byte, error) {
	if counter == 0 {
		return dst, fmt.Errorf("%w: counter 0", ErrInvalid)
	}
	start := len(dst)
	dst = append(dst, uint8(m.Type()))
	dst = be32(dst, counter)
	dst, err := AppendBody(dst, m)
	if err != nil {
		return dst[:start], err
	}
	if n := len(dst) - start - HeaderSize; n > MaxBody {
		return dst[:start], fmt.Errorf("%w: %s body of %d bytes", ErrInvalid, m.Type(), n)
	}
	h := Header{Type: m.Type(), Counter: counter}
	body := dst[start+HeaderSize:]
	k.stream(lock, h).XORKeyStream(body, body)
	tag := k.tag(lock, dst[start:])
	return append(dst, tag[:]...), nil
}

// Unseal verifies a sealed message from or to lock and returns its header
// and message. It checks nothing about counters (see Pairing.Open). Errors
// wrap ErrMalformed or ErrForged; the message is parsed only once the MAC
// verified.
func Unseal(k *Keys, lock LockID, sealed []byte) (Header, Message, error) {
	h, err := ParseHeader(sealed)
	if err != nil {
		return h, nil, err
	}
	n := len(sealed) - MACSize
	want := k.tag(lock, sealed[:n])
	if subtle.ConstantTimeCompare(want[:], sealed[n:]) != 1 {
		return h, nil, ErrForged
	}
	body := make([]byte, n-HeaderSize)
	k.stream(lock, h).XORKeyStream(body, sealed[HeaderSize:n])
	m, err := ParseBody(h.Type, body)
	return h, m, err
}

// stream is the AES-CTR key stream of one message. Its initial counter block
//
//	direction (1) | lock (4) | counter (4) | 00 × 7
//
// is unique per key as long as counters are (a body is at most 15 blocks,
// so the block counter never reaches the message counter's bytes).
func (k *Keys) stream(lock LockID, h Header) cipher.Stream {
	var iv [aes.BlockSize]byte
	iv[0] = uint8(h.Type.Direction())
	binary.BigEndian.PutUint32(iv[1:5], uint32(lock))
	binary.BigEndian.PutUint32(iv[5:9], h.Counter)
	return cipher.NewCTR(k.enc, iv[:])
}

// tag is the truncated AES-CMAC of lock (4, BE) | type | counter | ciphertext.
func (k *Keys) tag(lock LockID, headerAndBody []byte) [MACSize]byte {
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(lock))
	full := k.mac.sum(l[:], headerAndBody)
	return [MACSize]byte(full[:MACSize])
}

// Serial envelope: how a sealed message crosses the serial line.

// EnvelopeKind is the first byte of a link payload.
type EnvelopeKind uint8

// Envelope kinds. 0x02–0x0F are the coprocessor's own control messages
// (radio/coproc).
const (
	EnvelopeLock EnvelopeKind = 0x01 // a sealed message to or from a lock
)

// EnvelopeHeaderSize is the size of a lock envelope before the sealed
// message; MaxEnvelope is the largest envelope.
const (
	EnvelopeHeaderSize = 6
	MaxEnvelope        = EnvelopeHeaderSize + MaxSealed
)

// Envelope is a sealed message on the serial line, addressed by lock:
//
//	kind 01 (1) | lock (4, BE) | RSSI (1) | sealed message
//
// The coprocessor relays Sealed over the air unchanged; it cannot read or
// alter it. RSSI is the coprocessor's measurement of the lock's radio
// frame (lock -> hub), RSSIUnknown (0x80) from the hub.
type Envelope struct {
	Lock   LockID
	RSSI   RSSI
	Sealed []byte
}

// AppendEnvelope appends the envelope to dst.
func AppendEnvelope(dst []byte, e Envelope) []byte {
	dst = append(dst, uint8(EnvelopeLock))
	dst = be32(dst, uint32(e.Lock))
	dst = append(dst, uint8(e.RSSI))
	return append(dst, e.Sealed...)
}

// ParseEnvelope parses a lock envelope; Sealed aliases b. It checks the
// sealed message's size but not its contents.
func ParseEnvelope(b []byte) (Envelope, error) {
	if len(b) < 1 || EnvelopeKind(b[0]) != EnvelopeLock {
		return Envelope{}, fmt.Errorf("%w: not a lock envelope", ErrMalformed)
	}
	if len(b) < EnvelopeHeaderSize+Overhead || len(b) > MaxEnvelope {
		return Envelope{}, fmt.Errorf("%w: envelope of %d bytes", ErrMalformed, len(b))
	}
	return Envelope{
		Lock:   LockID(binary.BigEndian.Uint32(b[1:5])),
		RSSI:   RSSI(int8(b[5])),
		Sealed: b[EnvelopeHeaderSize:],
	}, nil
}
