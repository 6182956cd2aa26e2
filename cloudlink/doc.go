// Package cloudlink is the MQTT protocol between a hub and the cloud,
// shared by both ends: the topics, the message types, the signed downlink
// envelope, the replay cache, snapshot chunking and assembly, and the
// activity event with the privacy rule applied. docs/cloud-protocol.md is
// its specification; the examples there are generated and checked by this
// package's tests.
//
// The functions here are pure: they turn bytes into messages and messages
// into bytes, and hold no connection. The MQTT client of the hub, its
// outbox and the cloud's publisher build on them.
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
