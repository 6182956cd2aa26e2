// Package link is the link layer of the serial line between the hub and its
// radio coprocessor: a reliable, ordered datagram service over a byte
// stream, with the same code at both ends (the hub opens it on the serial
// port; the simulator, and a coprocessor's firmware, on the other side).
//
// Frames are serial frames (radio/frame: COBS, CRC-32C, resync on the next
// zero byte) holding a 6-byte link header; see Frame for the layout and
// docs/radio-protocol.md for the specification.
//
// # Protocol
//
// Each side sends a stream of Data frames numbered 0, 1, 2, ... (mod 256)
// in an epoch, a random non-zero 32-bit name it picks when it opens. Up to
// Window frames may be unacknowledged; the receiver accepts only the next
// sequence it expects, delivers it once and answers with a cumulative Ack
// naming the next sequence it expects; anything else (duplicates, frames
// after a gap) is dropped and answered with the same Ack (go-back-N). A
// receiver that gets a frame of an unknown epoch adopts that epoch only at
// sequence 0; otherwise it answers Resync, and the sender renumbers its
// window from 0 in a new epoch. So a restart of either side (the hub's
// process, the coprocessor's firmware) resynchronises without a
// handshake, and remembered old epochs keep late frames of a past stream
// from being delivered again.
//
// # Timers and bounds
//
// The oldest unacknowledged frame waits AckTimeout (250 ms) before the
// window is sent again; the wait doubles per retransmission up to
// MaxAckTimeout (1 s); after MaxRetransmits (4) retransmissions without
// progress the window's Sends fail with ErrNoAck (3.75 s after the first
// transmission) and the stream starts over in a new epoch. Acks are sent at
// once, never delayed.
//
// # Guarantees
//
//   - Within one Link, Recv yields each payload the peer sent at most once,
//     in the peer's Send order; none is invented (CRC-32C per frame).
//   - Every Send returns exactly once: nil when the peer acknowledged the
//     payload (it was delivered to the peer's Recv queue exactly once), or
//     an error, in which case it was delivered at most once.
//   - After the peer restarts, payloads of its last window may be delivered
//     again to the new stream, since the old receiver's state is gone;
//     above the link, each hub-lock message carries an authenticated
//     counter (radio/lockmsg), so such a repeat is dropped as a replay.
//   - Every loop selects on the link's context; Close cancels it, closes
//     the port (which unblocks Read and Write) and waits for all three
//     goroutines. No goroutine outlives Close.
//   - The reader never blocks on the engine and the engine never blocks on
//     the writer: a lagging side drops frames, which retransmission makes
//     up for, so two links over a synchronous pipe cannot deadlock.
package link
