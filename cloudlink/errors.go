package cloudlink

import "errors"

// Errors of Verifier.Open and DecodeUplink, in the order the checks run
// (docs/cloud-protocol.md, "Verification"). Every rejected message wraps
// exactly one of them; ReasonOf maps it to the reason code of the uplink
// security event. A rejected message changes nothing.
var (
	// ErrOversize: the payload is larger than MaxPayload, or a message
	// being encoded would be.
	ErrOversize = errors.New("payload too large")
	// ErrWrongTopic: the topic is not a doorhub/v1 topic of the expected
	// direction, or the message's type does not belong on it.
	ErrWrongTopic = errors.New("wrong topic")
	// ErrWrongHub: the topic or the envelope names another hub than the
	// verifier's (a message for hub A replayed to hub B), or the two
	// disagree.
	ErrWrongHub = errors.New("wrong hub")
	// ErrMalformed: the payload is not one JSON object.
	ErrMalformed = errors.New("malformed message")
	// ErrUnsupportedVersion: the envelope's schema version "v" is not 1.
	ErrUnsupportedVersion = errors.New("unsupported schema version")
	// ErrSchema: the envelope or the body breaks the schema: a missing or
	// unknown field in the envelope, an unknown type, an id or time in the
	// wrong format, a lifetime longer than the type allows, a body that
	// does not decode into its type or fails its checks.
	ErrSchema = errors.New("schema violation")
	// ErrBadSignature: the signature is missing, not 64 bytes of base64,
	// or verifies under none of the pinned keys.
	ErrBadSignature = errors.New("bad signature")
	// ErrNotYetValid: issued_at lies further in the future than the
	// allowed clock skew (checked only while the hub's clock is trusted).
	ErrNotYetValid = errors.New("not yet valid")
	// ErrExpired: expires_at (plus the allowed skew) has passed.
	ErrExpired = errors.New("expired")
	// ErrReplay: a message with this id was accepted before and has not
	// expired yet.
	ErrReplay = errors.New("replayed message")
	// ErrReplayCacheFull: the replay cache holds its maximum of unexpired
	// ids; the message is refused rather than remembered badly.
	ErrReplayCacheFull = errors.New("replay cache full")
)

// Errors of snapshot assembly (SnapshotAssembler.Add). Each leaves the
// store's set as it was.
var (
	// ErrSnapshotOrder: the chunk does not continue the snapshot in
	// progress (a gap, a chunk out of order, a chunk of another or of a
	// refused snapshot, metadata that changed mid-stream). A gap or
	// disorder within the snapshot in progress aborts it; a stray chunk of
	// another snapshot is dropped and the one in progress continues.
	ErrSnapshotOrder = errors.New("snapshot chunk out of order")
	// ErrSnapshotDigest: the assembled chunks do not hash to the digest
	// the snapshot announced; the snapshot is aborted.
	ErrSnapshotDigest = errors.New("snapshot digest mismatch")
)

// Reason codes of the uplink security event, one per rejection error.
const (
	ReasonOversize           = "oversize"
	ReasonWrongTopic         = "wrong_topic"
	ReasonWrongHub           = "wrong_hub"
	ReasonMalformed          = "malformed"
	ReasonUnsupportedVersion = "unsupported_version"
	ReasonSchema             = "schema"
	ReasonBadSignature       = "bad_signature"
	ReasonNotYetValid        = "not_yet_valid"
	ReasonExpired            = "expired"
	ReasonReplay             = "replay"
	ReasonReplayCacheFull    = "replay_cache_full"
	ReasonSnapshotOrder      = "snapshot_order"
	ReasonSnapshotDigest     = "snapshot_digest"
	ReasonOther              = "other"
)

var reasons = []struct {
	err    error
	reason string
}{
	{ErrOversize, ReasonOversize},
	{ErrWrongTopic, ReasonWrongTopic},
	{ErrWrongHub, ReasonWrongHub},
	{ErrMalformed, ReasonMalformed},
	{ErrUnsupportedVersion, ReasonUnsupportedVersion},
	{ErrSchema, ReasonSchema},
	{ErrBadSignature, ReasonBadSignature},
	{ErrNotYetValid, ReasonNotYetValid},
	{ErrExpired, ReasonExpired},
	{ErrReplay, ReasonReplay},
	{ErrReplayCacheFull, ReasonReplayCacheFull},
	{ErrSnapshotOrder, ReasonSnapshotOrder},
	{ErrSnapshotDigest, ReasonSnapshotDigest},
}

// ReasonOf returns the security event reason code for an error returned by
// this package, or ReasonOther.
func ReasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonOther
}
