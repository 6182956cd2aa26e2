package cloudlink

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// SchemaVersion is the envelope's "v".
const SchemaVersion = 1

// SignatureLabel opens every signed byte string; it binds a signature to
// this protocol and schema version.
const SignatureLabel = "doorhub-cloudlink-v1"

// TimeLayout is how a Signer writes issued_at and expires_at: UTC with
// milliseconds. A verifier accepts any RFC 3339 UTC time with a 'Z' and 0
// to 9 fractional digits, and signs over the string as sent.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// DefaultSkew is the clock difference a Verifier tolerates on either side
// of a message's validity window.
const DefaultSkew = 2 * time.Minute

// SigningBytes is exactly what the cloud signs and the hub verifies: the
// label, the type, the hub id, the topic, the id, issued_at and expires_at
// as they appear in the envelope, each followed by a line feed, then the
// body bytes exactly as they appear in the payload.
//
// No field before the body can hold a line feed (their formats forbid it),
// so the string is unambiguous; the caller checks the formats first.
func SigningBytes(typ Type, hubID, topic, id, issuedAt, expiresAt string, body []byte) []byte {
	return appendSigningBytes(nil, typ, hubID, topic, id, issuedAt, expiresAt, body)
}

func appendSigningBytes(b []byte, typ Type, hubID, topic, id, issuedAt, expiresAt string, body []byte) []byte {
	b = slices.Grow(b, len(SignatureLabel)+len(typ)+len(hubID)+len(topic)+len(id)+len(issuedAt)+len(expiresAt)+7+len(body))
	for _, s := range []string{SignatureLabel, string(typ), hubID, topic, id, issuedAt, expiresAt} {
		b = append(b, s...)
		b = append(b, '\n')
	}
	return append(b, body...)
}

// scratch holds the buffers a message is signed or verified from, and a
// body is written into before it is copied into its payload: up to
// MaxPayload each, made once, not for every chunk of a snapshot.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getScratch() *[]byte { return scratch.Get().(*[]byte) }

func putScratch(b *[]byte, used []byte) {
	if cap(used) <= 2*MaxPayload {
		*b = used[:0]
		scratch.Put(b)
	}
}

// Outgoing is a message ready to publish.
type Outgoing struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Type    Type
	// ID is the downlink envelope id; "" for uplink messages.
	ID string
}

// Downlink is a verified message from the cloud.
type Downlink struct {
	Topic     string
	Type      Type
	Hub       string
	ID        string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Body is one of *Batch, *SnapshotChunk, *Resync, *Unlock, *TimeHint,
	// matching Type.
	Body Body
}

// body is the message's body, nil for a nil message.
func (d *Downlink) body() Body {
	if d == nil {
		return nil
	}
	return d.Body
}

// Signer seals downlink messages with the cloud's Ed25519 key. It is safe
// for concurrent use if Rand is.
type Signer struct {
	key ed25519.PrivateKey
	// Rand makes message ids; crypto/rand when nil.
	Rand io.Reader
	// Now is the issuing time; time.Now when nil.
	Now func() time.Time
}

// NewSigner returns a signer with the cloud's private key.
func NewSigner(key ed25519.PrivateKey) *Signer { return &Signer{key: key} }

// PublicKey is the key hubs pin.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// SealOptions fixes what a Signer otherwise chooses.
type SealOptions struct {
	// ID: 16 random bytes as base64url when empty.
	ID string
	// IssuedAt: Signer.Now when zero. Written at millisecond precision.
	IssuedAt time.Time
	// ExpiresAt: IssuedAt plus the type's default lifetime when zero.
	ExpiresAt time.Time
}

// Seal signs body for a hub. It checks the body's schema, the lifetime
// against the type's maximum and the payload against MaxPayload.
func (s *Signer) Seal(hubID string, body Body, o SealOptions) (*Outgoing, error) {
	return s.seal(hubID, body, o, func(dst []byte) ([]byte, error) {
		raw, err := json.Marshal(body)
		return append(dst, raw...), err
	})
}

// sealCut seals a chunk that SplitSnapshot (cutSnapshot) cut: its ops are
// compact as json.Marshal writes them, so they go in as they are instead
// of being compacted again (the bytes are the same).
func (s *Signer) sealCut(hubID string, c *SnapshotChunk, o SealOptions) (*Outgoing, error) {
	return s.seal(hubID, c, o, func(dst []byte) ([]byte, error) {
		if n := len(c.Ops) + 512; cap(dst) < n {
			dst = make([]byte, 0, n)
		}
		if raw, ok := c.appendJSON(dst); ok {
			return raw, nil
		}
		raw, err := json.Marshal(c)
		return append(dst, raw...), err
	})
}

// seal seals body, written by marshal (appending to its argument).
func (s *Signer) seal(hubID string, body Body, o SealOptions, marshal func(dst []byte) ([]byte, error)) (*Outgoing, error) {
	typ := body.MessageType()
	info := types[typ]
	if !typ.Downlink() {
		return nil, fmt.Errorf("%w: %s is not a downlink type", ErrSchema, typ)
	}
	if err := body.check(); err != nil {
		return nil, fmt.Errorf("%s body: %w", typ, err)
	}
	topic, err := Topic(hubID, info.channel)
	if err != nil {
		return nil, err
	}
	if o.ID == "" {
		if o.ID, err = NewNonce(s.Rand); err != nil {
			return nil, err
		}
	} else if err := checkNonce("id", o.ID); err != nil {
		return nil, err
	}
	if o.IssuedAt.IsZero() {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		o.IssuedAt = now()
	}
	o.IssuedAt = o.IssuedAt.UTC().Truncate(time.Millisecond)
	if o.ExpiresAt.IsZero() {
		o.ExpiresAt = o.IssuedAt.Add(info.defaultLifetime)
	}
	o.ExpiresAt = o.ExpiresAt.UTC().Truncate(time.Millisecond)
	if life := o.ExpiresAt.Sub(o.IssuedAt); life <= 0 || life > info.maxLifetime {
		return nil, fmt.Errorf("%w: lifetime %v is not within (0, %v] for %s", ErrSchema, life, info.maxLifetime, typ)
	}
	rawBuf := getScratch()
	raw, err := marshal(*rawBuf)
	defer func() { putScratch(rawBuf, raw) }()
	if err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrSchema, typ, err)
	}
	issued, expires := o.IssuedAt.Format(TimeLayout), o.ExpiresAt.Format(TimeLayout)
	msgBuf := getScratch()
	msg := appendSigningBytes(*msgBuf, typ, hubID, topic, o.ID, issued, expires, raw)
	sig := ed25519.Sign(s.key, msg)
	putScratch(msgBuf, msg)

	// The envelope is written by hand so that the body lands in it byte
	// for byte as signed; every other field is plain ASCII.
	// Everything but the body takes at most about 360 bytes (64-byte hub
	// id and message id): the payload is made once, at its size.
	p := make([]byte, 0, len(raw)+512)
	p = append(p, `{"v":`...)
	p = strconv.AppendInt(p, SchemaVersion, 10)
	p = appendField(p, "type", string(typ))
	p = appendField(p, "hub", hubID)
	p = appendField(p, "id", o.ID)
	p = appendField(p, "issued_at", issued)
	p = appendField(p, "expires_at", expires)
	p = append(p, `,"body":`...)
	p = append(p, raw...)
	p = appendField(p, "sig", base64.StdEncoding.EncodeToString(sig))
	p = append(p, '}')
	if len(p) > MaxPayload {
		return nil, fmt.Errorf("%w: %s message of %d bytes, at most %d", ErrOversize, typ, len(p), MaxPayload)
	}
	return &Outgoing{Topic: topic, Payload: p, QoS: info.channel.QoS(), Type: typ, ID: o.ID}, nil
}

func appendField(p []byte, name, value string) []byte {
	p = append(p, ',', '"')
	p = append(p, name...)
	p = append(p, '"', ':')
	return strconv.AppendQuote(p, value)
}

// NewNonce returns 16 random bytes as base64url without padding (22
// characters): the form of message ids, sessions, streams and nonces.
func NewNonce(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("cloudlink: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ParsePublicKey reads a pinned cloud key: 32 bytes as standard base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("cloud public key: want %d bytes as base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// Keys are the pinned cloud public keys: one, or two while the cloud
	// rotates its key. A message verifies if any of them signed it.
	Keys []ed25519.PublicKey
	// Skew is tolerated on either side of the validity window; DefaultSkew
	// when zero.
	Skew time.Duration
	// Replay remembers command and time ids; a new cache of
	// DefaultReplayCapacity when nil.
	Replay *ReplayCache
}

// Verifier opens the downlink messages of one hub. It is safe for
// concurrent use.
type Verifier struct {
	hub    string
	keys   []ed25519.PublicKey
	skew   time.Duration
	replay *ReplayCache
}

// NewVerifier returns a verifier for hubID with the pinned keys.
func NewVerifier(hubID string, o VerifierOptions) (*Verifier, error) {
	if err := ValidateHubID(hubID); err != nil {
		return nil, err
	}
	if len(o.Keys) == 0 {
		return nil, errors.New("cloudlink: a verifier needs at least one pinned key")
	}
	for _, k := range o.Keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("cloudlink: a pinned key must be %d bytes", ed25519.PublicKeySize)
		}
	}
	if o.Skew <= 0 {
		o.Skew = DefaultSkew
	}
	if o.Replay == nil {
		o.Replay = NewReplayCache(DefaultReplayCapacity)
	}
	return &Verifier{hub: hubID, keys: append([]ed25519.PublicKey(nil), o.Keys...), skew: o.Skew, replay: o.Replay}, nil
}

// Replay is the verifier's replay cache (to persist its entries).
func (v *Verifier) Replay() *ReplayCache { return v.replay }

// downEnvelope is the downlink envelope as it is on the wire.
type downEnvelope struct {
	V         json.RawMessage `json:"v"`
	Type      Type            `json:"type"`
	Hub       string          `json:"hub"`
	ID        string          `json:"id"`
	IssuedAt  string          `json:"issued_at"`
	ExpiresAt string          `json:"expires_at"`
	Body      json.RawMessage `json:"body"`
	Sig       string          `json:"sig"`
}

// Open verifies a downlink message received on topic at the hub's now and
// decodes its body. The checks run in the order of docs/cloud-protocol.md,
// "Verification"; the first that fails decides the error, which wraps
// exactly one of ErrOversize, ErrWrongTopic, ErrWrongHub, ErrMalformed,
// ErrUnsupportedVersion, ErrSchema, ErrBadSignature, ErrNotYetValid,
// ErrExpired, ErrReplay or ErrReplayCacheFull. A message that fails is not
// remembered and must change nothing.
//
// While now is untrusted, a message is refused only once expired (the
// clock may be behind, so issued_at is not checked), and a "time" message
// is not checked against the clock at all: its freshness is the nonce it
// echoes, which the hub checks.
func (v *Verifier) Open(topic string, payload []byte, now hub.Now) (*Downlink, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrOversize, len(payload), MaxPayload)
	}
	topicHub, ch, err := ParseTopic(topic)
	if err != nil {
		return nil, err
	}
	if !ch.Downlink() {
		return nil, fmt.Errorf("%w: %s is not a downlink channel", ErrWrongTopic, ch)
	}
	if topicHub != v.hub {
		return nil, fmt.Errorf("%w: topic is for hub %q, this is %q", ErrWrongHub, topicHub, v.hub)
	}
	env, err := decodeDownEnvelope(payload)
	if err != nil {
		return nil, err
	}
	if env.Hub != v.hub {
		return nil, fmt.Errorf("%w: envelope is for hub %q, this is %q", ErrWrongHub, clip(env.Hub, MaxHubIDLength), v.hub)
	}
	info, ok := types[env.Type]
	if !ok || !env.Type.Downlink() {
		return nil, fmt.Errorf("%w: unknown downlink type %q", ErrSchema, clip(string(env.Type), 32))
	}
	if info.channel != ch {
		return nil, fmt.Errorf("%w: a %s message does not belong on %s", ErrWrongTopic, env.Type, ch)
	}
	if err := checkNonce("id", env.ID); err != nil {
		return nil, err
	}
	issued, err := parseTime("issued_at", env.IssuedAt)
	if err != nil {
		return nil, err
	}
	expires, err := parseTime("expires_at", env.ExpiresAt)
	if err != nil {
		return nil, err
	}
	if life := expires.Sub(issued); life <= 0 || life > info.maxLifetime {
		return nil, fmt.Errorf("%w: lifetime %v is not within (0, %v] for %s", ErrSchema, life, info.maxLifetime, env.Type)
	}
	if len(env.Body) == 0 || env.Body[0] != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object", ErrSchema)
	}
	if err := v.checkSignature(env, topic); err != nil {
		return nil, err
	}
	if err := v.checkWindow(env.Type, issued, expires, now); err != nil {
		return nil, err
	}
	body := info.newBody()
	if c, ok := body.(*SnapshotChunk); ok {
		// The bulk of the downlink: read in one pass, the payload
		// being valid JSON already.
		err = decodeChunk(env.Body, c)
	} else {
		err = json.Unmarshal(env.Body, body)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrSchema, env.Type, err)
	}
	if err := body.check(); err != nil {
		return nil, fmt.Errorf("%s body: %w", env.Type, err)
	}
	if info.remember {
		// An untrusted clock may run ahead: it purges no id that could
		// still be replayed once the clock is right — unless the cache
		// is full, when it is the best clock there is.
		until := expires.Add(v.skew)
		if now.Trusted {
			err = v.replay.Remember(env.ID, until, now.Time)
		} else if err = v.replay.Remember(env.ID, until, time.Time{}); errors.Is(err, ErrReplayCacheFull) {
			err = v.replay.Remember(env.ID, until, now.Time)
		}
		if err != nil {
			return nil, err
		}
	}
	return &Downlink{
		Topic: topic, Type: env.Type, Hub: env.Hub, ID: env.ID,
		IssuedAt: issued, ExpiresAt: expires, Body: body,
	}, nil
}

func (v *Verifier) checkSignature(env *downEnvelope, topic string) error {
	if env.Sig == "" {
		return fmt.Errorf("%w: the message is not signed", ErrBadSignature)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(env.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: sig is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	buf := getScratch()
	msg := appendSigningBytes(*buf, env.Type, env.Hub, topic, env.ID, env.IssuedAt, env.ExpiresAt, env.Body)
	defer func() { putScratch(buf, msg) }()
	for _, k := range v.keys {
		if ed25519.Verify(k, msg, sig) {
			return nil
		}
	}
	return fmt.Errorf("%w: no pinned key verifies the %s message %s", ErrBadSignature, env.Type, env.ID)
}

func (v *Verifier) checkWindow(typ Type, issued, expires time.Time, now hub.Now) error {
	if !now.Trusted {
		if typ == TypeTime {
			return nil
		}
	} else if issued.After(now.Time.Add(v.skew)) {
		return fmt.Errorf("%w: issued at %s, now %s", ErrNotYetValid,
			issued.Format(TimeLayout), now.Time.UTC().Format(TimeLayout))
	}
	if !now.Time.Before(expires.Add(v.skew)) {
		return fmt.Errorf("%w: expired at %s, now %s", ErrExpired,
			expires.Format(TimeLayout), now.Time.UTC().Format(TimeLayout))
	}
	return nil
}

// decodeEnvelope runs the shared first steps of decoding an envelope
// (decodeDownEnvelope does the same for downlink envelopes in one pass):
// one JSON object (ErrMalformed), "v" present (ErrSchema) and 1
// (ErrUnsupportedVersion), no unknown or mistyped field (ErrSchema).
func decodeEnvelope[E any](payload []byte, env *E) (*E, error) {
	p := bytes.TrimSpace(payload)
	var probe struct {
		V json.RawMessage `json:"v"`
	}
	// Unmarshal checks the whole payload's syntax, trailing data included.
	if len(p) == 0 || p[0] != '{' || json.Unmarshal(p, &probe) != nil {
		return nil, fmt.Errorf("%w: not one JSON object", ErrMalformed)
	}
	if probe.V == nil {
		return nil, fmt.Errorf("%w: the schema version \"v\" is missing", ErrSchema)
	}
	if string(probe.V) != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Errorf("%w: v is %s, this hub speaks %d", ErrUnsupportedVersion, clip(string(probe.V), 16), SchemaVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrSchema, err)
	}
	return env, nil
}

// parseTime reads an envelope time: RFC 3339, UTC with 'Z', 0 to 9
// fractional digits.
func parseTime(field, s string) (time.Time, error) {
	bad := fmt.Errorf("%w: %s must be an RFC 3339 UTC time like 2026-11-27T18:00:00.000Z", ErrSchema, field)
	const base = len("2006-01-02T15:04:05")
	if len(s) < base+1 || len(s) > base+11 || s[len(s)-1] != 'Z' {
		return time.Time{}, bad
	}
	for i := 0; i < base; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return time.Time{}, bad
			}
		case 10:
			if c != 'T' {
				return time.Time{}, bad
			}
		case 13, 16:
			if c != ':' {
				return time.Time{}, bad
			}
		default:
			if c < '0' || c > '9' {
				return time.Time{}, bad
			}
		}
	}
	if frac := s[base : len(s)-1]; frac != "" {
		if len(frac) < 2 || frac[0] != '.' {
			return time.Time{}, bad
		}
		for i := 1; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return time.Time{}, bad
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, bad
	}
	return t.UTC(), nil
}

// Uplink is a message from the hub. The hub builds one and calls Encode;
// the cloud gets one from DecodeUplink.
//
// Uplink messages are not signed: the broker authenticates the hub (its
// client certificate or credentials) and lets it publish only under its
// own prefix, which DecodeUplink checks against the envelope.
type Uplink struct {
	Hub string
	// Stream is the id of the hub's uplink stream: random, made when the
	// hub's state is created; a new stream restarts Seq.
	Stream string
	// Seq numbers the messages of the stream that the hub stores before
	// sending (1, 2, 3, ...; every type but status and time_request, which
	// carry 0). With Stream it lets the cloud drop a duplicate delivery
	// and ignore a report older than one it has.
	Seq    uint64
	SentAt time.Time
	// Body is one of *Status, *Ack, *Need, *Activity, *DoorsReport,
	// *PendingReport, *Reply, *SecurityEvent, *TimeRequest.
	Body Body
	// Topic is set by DecodeUplink.
	Topic string
}

// upEnvelope is the uplink envelope as it is on the wire.
type upEnvelope struct {
	V      json.RawMessage `json:"v"`
	Type   Type            `json:"type"`
	Hub    string          `json:"hub"`
	Stream string          `json:"stream"`
	Seq    uint64          `json:"seq"`
	SentAt time.Time       `json:"sent_at"`
	Body   json.RawMessage `json:"body"`
}

// unsequenced are the uplink types sent without Seq.
func unsequenced(t Type) bool { return t == TypeStatus || t == TypeTimeRequest }

func (u *Uplink) checkHeader(typ Type) error {
	if err := checkNonce("stream", u.Stream); err != nil {
		return err
	}
	if unsequenced(typ) != (u.Seq == 0) {
		if u.Seq == 0 {
			return schemaf("a %s message needs a seq of at least 1", typ)
		}
		return schemaf("a %s message carries seq 0", typ)
	}
	if u.SentAt.IsZero() {
		return schemaf("sent_at is required")
	}
	return nil
}

// Encode checks the message and returns it ready to publish. The last
// will is the Encode of the offline Status.
func (u *Uplink) Encode() (*Outgoing, error) {
	if u.Body == nil {
		return nil, schemaf("uplink without a body")
	}
	typ := u.Body.MessageType()
	if typ.Downlink() {
		return nil, schemaf("%s is not an uplink type", typ)
	}
	topic, err := Topic(u.Hub, typ.Channel())
	if err != nil {
		return nil, err
	}
	if err := u.checkHeader(typ); err != nil {
		return nil, err
	}
	if err := u.Body.check(); err != nil {
		return nil, fmt.Errorf("%s body: %w", typ, err)
	}
	raw, err := json.Marshal(u.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrSchema, typ, err)
	}
	p, err := json.Marshal(upEnvelope{
		V: json.RawMessage(strconv.Itoa(SchemaVersion)), Type: typ, Hub: u.Hub,
		Stream: u.Stream, Seq: u.Seq, SentAt: u.SentAt.UTC(), Body: raw,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if len(p) > MaxPayload {
		return nil, fmt.Errorf("%w: %s message of %d bytes, at most %d", ErrOversize, typ, len(p), MaxPayload)
	}
	ch := typ.Channel()
	return &Outgoing{Topic: topic, Payload: p, QoS: ch.QoS(), Retain: ch.Retained(), Type: typ}, nil
}

// DecodeUplink decodes a hub's message received on topic. Errors wrap
// ErrOversize, ErrWrongTopic, ErrWrongHub (the envelope names another hub
// than the topic), ErrMalformed, ErrUnsupportedVersion or ErrSchema.
func DecodeUplink(topic string, payload []byte) (*Uplink, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrOversize, len(payload), MaxPayload)
	}
	topicHub, ch, err := ParseTopic(topic)
	if err != nil {
		return nil, err
	}
	if ch.Downlink() {
		return nil, fmt.Errorf("%w: %s is not an uplink channel", ErrWrongTopic, ch)
	}
	env, err := decodeEnvelope(payload, &upEnvelope{})
	if err != nil {
		return nil, err
	}
	if env.Hub != topicHub {
		return nil, fmt.Errorf("%w: envelope is for hub %q, the topic for %q", ErrWrongHub, clip(env.Hub, MaxHubIDLength), topicHub)
	}
	info, ok := types[env.Type]
	if !ok || env.Type.Downlink() {
		return nil, fmt.Errorf("%w: unknown uplink type %q", ErrSchema, clip(string(env.Type), 32))
	}
	if info.channel != ch {
		return nil, fmt.Errorf("%w: a %s message does not belong on %s", ErrWrongTopic, env.Type, ch)
	}
	u := &Uplink{Hub: env.Hub, Stream: env.Stream, Seq: env.Seq, SentAt: env.SentAt, Topic: topic}
	if err := u.checkHeader(env.Type); err != nil {
		return nil, err
	}
	if len(env.Body) == 0 || env.Body[0] != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object", ErrSchema)
	}
	u.Body = info.newBody()
	if err := json.Unmarshal(env.Body, u.Body); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrSchema, env.Type, err)
	}
	if err := u.Body.check(); err != nil {
		return nil, fmt.Errorf("%s body: %w", env.Type, err)
	}
	return u, nil
}
