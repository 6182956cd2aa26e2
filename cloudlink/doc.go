// Package cloudlink is the MQTT protocol between a hub and the cloud,
// shared by both ends: the topics, the message types, the signed downlink
// envelope, the replay cache, snapshot chunking and assembly, and the
// activity event with the privacy rule applied. docs/cloud-protocol.md is
// its specification; the examples there are generated and checked by this
// package's tests.
//
// The message layer (topics, envelopes, Signer and Verifier, ReplayCache,
// SnapshotAssembler, activity events) is pure: it turns bytes into
// messages and messages into bytes and holds no connection. On it are
// built the hub's Client and the cloud's side, Cloud; this is the only
// package that imports paho.
//
// # The hub's client
//
// Client keeps one MQTT 3.1.1 connection (TLS with a CA and a client
// certificate, or plain TCP), with a clean session off and a last will
// (the offline status of the session). It connects again after any loss
// with a capped, jittered backoff that starts over only after a connection
// stayed up a while, so a broker that drops the session at once is not
// hammered; every wait on a paho token is bounded. paho's handler only
// hands a message over. One goroutine verifies each batch and snapshot
// chunk (and decodes a chunk's ops) while the next, one message behind,
// handles them — and verifies commands and time itself, remembering their
// ids right before it carries them out — one at a time in the order the
// broker delivered them and
// acknowledges each (PUBACK) once handled: a batch is on disk by then,
// and a message the hub never handled is delivered again. The handling
// goroutine applies batches strictly in order
// through hub.Store.Apply (a duplicate or an old batch is acknowledged
// again with the version held, a gap is asked for and nothing past it is
// applied), streams snapshot chunks through a SnapshotAssembler into
// hub.Store.BeginSnapshot, answers resync, carries remote unlocks to an
// Unlocker (a door's lock, beside the handling of other messages), trusts
// signed time only in answer to a request of its own (any other signed
// hint only raises the clock's floor), and turns every
// refusal into a log line, a counter and a folded security event.
// Acks, needs, replies and reports wait in a bounded queue for the
// connection, each keeping its message seq across retries.
//
// # Activity
//
// The outbox (hub.Outbox; hub/badgerstore's is durable) holds every
// activity record from before anything calls it accepted until the broker
// acknowledged the message that carried it; only then is it removed. The
// client drains it in activity messages of up to 1000 events and 128 KiB,
// several awaiting their PUBACK at once, within the connection's publish
// rate (90 a second by default; AWS IoT Core allows 100). An event's id
// is the stream and its seq, so one sent twice (after a timeout, a lost
// connection or a crash) is dropped by the cloud: at least once, never
// lost. When a long backlog waits as the link comes up, new records take a
// live lane beside it: each lane sends in seq order, so each door's events
// arrive in order within a lane, and the cloud orders a door's history by
// seq; the live lane sends a message that is not full at most every
// LiveInterval while the backlog drains, so most of the rate carries full
// backlog messages.
//
// # Guarantees
//
//   - Every downlink message is signed by the cloud with Ed25519 over
//     SigningBytes: the type, the hub id, the topic, the id, issued_at,
//     expires_at and the body bytes exactly as sent. Verifier.Open accepts
//     a message only if a pinned key signed it for this hub and this topic,
//     within its validity window, and, for commands and time, not before;
//     otherwise it returns an error wrapping one documented sentinel
//     (errors.go) and the message must change nothing.
//   - Open decodes a body only after its signature verified.
//   - No payload is larger than MaxPayload (128 KiB) and no topic breaks
//     the AWS IoT Core limits (CheckTopic), on encode and on decode.
//   - A snapshot is applied chunk by chunk into a hub.SnapshotWriter and
//     committed only when every chunk arrived in order and the digest of
//     all chunks matches; the assembler never holds more than one chunk.
//   - No uplink message carries a credential secret: activity events have
//     no field for a card id, digits or key material, and an event whose
//     visibility is identity_removed names no person, grant or device
//     (NewAccessEvent removes them; Validate refuses them on both ends).
//
// # Overhead
//
// A downlink envelope adds 254 bytes to its body with an 8-byte hub id
// (310 with a 64-byte one); an uplink envelope about 125 (180). A snapshot
// chunk spends at most 1 KiB on everything but its ops.
package cloudlink
