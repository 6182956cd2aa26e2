// Package lockmsg is the language between the hub and its door locks: the
// message types, their byte encoding, and the sealing that authenticates
// and encrypts every message with the lock's pairing key. It is pure
// (functions on byte slices, no I/O, no goroutines) and imports nothing
// of the project; docs/radio-protocol.md is its specification.
//
// # Layers
//
// A message travels as
//
//	serial line:   frame (radio/frame) ⊃ link DATA (radio/link) ⊃ Envelope
//	envelope:      01 | lock id (4) | RSSI (1) | sealed message
//	sealed:        type (1) | counter (4) | AES-128-CTR(body) | AES-CMAC-64
//
// The radio coprocessor relays the sealed message over the air unchanged;
// only the hub and the lock hold the key.
//
// # Guarantees
//
//   - Pure codecs: ParseBody accepts exactly the bodies AppendBody
//     produces (every accepted body re-encodes to the same bytes); no input
//     makes a parser panic. Fuzzed.
//   - Every message is authenticated (AES-CMAC over lock id, type, counter
//     and ciphertext, truncated to 64 bits) and encrypted (AES-128-CTR, so
//     card ids and doorcodes never cross the air in clear). Keys for the two
//     are derived from the pairing key; see NewKeys.
//   - Pairing.Open drops forgeries (ErrForged), replays (ErrReplay),
//     reflections of this side's own messages (ErrDirection) and malformed
//     messages (ErrMalformed), and counts each kind.
//   - Counters never repeat and accepted counters are never accepted again,
//     across restarts of either side, given a CounterStore that persists
//     what it is given (see Pairing).
//
// # Overhead
//
// Sealing adds Overhead (13) bytes to a body of at most MaxBody (231)
// bytes; the envelope adds 6. The largest envelope, 250 bytes, is the
// largest link payload (radio/link MaxPayload).
package lockmsg
