package cloudlink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// SecurityEvent is the body of a "security" message: the hub refused a
// downlink message (it failed verification) or a snapshot (order or
// digest). The refused message changed nothing. The event names the
// message by its topic, size and digest and, when they could be read, its
// type and id; it never copies the payload, which may carry credentials or
// garbage.
//
// A hub folds repeats of the same reason and topic within a short time
// into one event (Count), so that a flood of garbage costs one message.
type SecurityEvent struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	Topic  string    `json:"topic"`
	// Type and Message (the envelope id) are set when the envelope could
	// be read; they are unverified claims.
	Type    Type   `json:"type,omitempty"`
	Message string `json:"message,omitempty"`
	Size    int    `json:"size"`
	SHA256  string `json:"sha256"`
	// Count is how many refusals this event stands for (at least 1).
	Count  int    `json:"count"`
	Detail string `json:"detail,omitempty"`
}

// MessageType implements Body.
func (*SecurityEvent) MessageType() Type { return TypeSecurity }

func (e *SecurityEvent) check() error {
	if e.At.IsZero() {
		return schemaf("at is required")
	}
	if e.Reason == "" || len(e.Reason) > 64 {
		return schemaf("reason is required")
	}
	if len(e.Topic) > MaxTopicBytes || !utf8.ValidString(e.Topic) {
		return schemaf("topic must be UTF-8 of at most %d bytes", MaxTopicBytes)
	}
	if e.Message != "" {
		if err := checkNonce("message", e.Message); err != nil {
			return err
		}
	}
	if e.Size < 0 || !isLowerHex(e.SHA256, 64) {
		return schemaf("size and sha256 of the refused payload are required")
	}
	if e.Count < 1 {
		return schemaf("count must be at least 1")
	}
	if len(e.Detail) > maxText {
		return schemaf("detail longer than %d bytes", maxText)
	}
	return nil
}

// NewSecurityEvent describes a refused message: err is what Verifier.Open
// (or the snapshot assembler) returned for payload on topic.
func NewSecurityEvent(topic string, payload []byte, err error, at time.Time) SecurityEvent {
	sum := sha256.Sum256(payload)
	ev := SecurityEvent{
		At: at.UTC(), Reason: ReasonOf(err), Topic: clip(topic, MaxTopicBytes),
		Size: len(payload), SHA256: hex.EncodeToString(sum[:]), Count: 1,
	}
	if err != nil {
		ev.Detail = clip(err.Error(), maxText)
	}
	// Read the claimed type and id, keeping them only if well formed.
	var probe struct {
		Type Type   `json:"type"`
		ID   string `json:"id"`
	}
	if len(payload) <= MaxPayload && json.Unmarshal(payload, &probe) == nil {
		if _, ok := types[probe.Type]; ok {
			ev.Type = probe.Type
		}
		if checkNonce("id", probe.ID) == nil {
			ev.Message = probe.ID
		}
	}
	return ev
}

// clip shortens s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
