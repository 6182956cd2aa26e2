package cloudlink_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// TestRoundTrip seals or encodes one message of every type and decodes it
// back to the same value, on the right topic with the right QoS.
func TestRoundTrip(t *testing.T) {
	seen := map[cloudlink.Type]bool{}
	for _, ex := range examples(t) {
		t.Run(ex.name, func(t *testing.T) {
			out := encodeExample(t, ex)
			var typ cloudlink.Type
			if ex.down != nil {
				typ = ex.body.MessageType()
				msg, err := newVerifier(t).Open(out.Topic, out.Payload, trustedAt(t0.Add(time.Second)))
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !reflect.DeepEqual(msg.Body, ex.body) {
					t.Errorf("body:\n got %#v\nwant %#v", msg.Body, ex.body)
				}
				if msg.ID != ex.down.ID || !msg.IssuedAt.Equal(ex.down.IssuedAt) || !msg.ExpiresAt.Equal(ex.down.ExpiresAt) ||
					msg.Hub != testHub || msg.Type != typ || msg.Topic != out.Topic {
					t.Errorf("envelope: got %+v", msg)
				}
			} else {
				typ = ex.up.Body.MessageType()
				got, err := cloudlink.DecodeUplink(out.Topic, out.Payload)
				if err != nil {
					t.Fatalf("DecodeUplink: %v", err)
				}
				want := *ex.up
				want.Topic = out.Topic
				if !reflect.DeepEqual(got, &want) {
					t.Errorf("uplink:\n got %#v\nwant %#v", got, &want)
				}
			}
			seen[typ] = true
			wantTopic := cloudlink.Prefix + "/" + testHub + "/" + string(typ.Channel())
			if out.Topic != wantTopic || out.QoS != typ.Channel().QoS() || out.Retain != typ.Channel().Retained() {
				t.Errorf("published on %s qos %d retain %v", out.Topic, out.QoS, out.Retain)
			}
			if len(out.Payload) > cloudlink.MaxPayload {
				t.Errorf("payload of %d bytes", len(out.Payload))
			}
		})
	}
	for _, typ := range cloudlink.Types() {
		if !seen[typ] {
			t.Errorf("no example of %s", typ)
		}
	}
}

// rawSeal signs arbitrary envelope fields, so that tests can make messages
// that Seal refuses to make.
func rawSeal(key ed25519.PrivateKey, typ, hubID, topic, id, issued, expires string, body []byte) []byte {
	sig := ed25519.Sign(key, cloudlink.SigningBytes(cloudlink.Type(typ), hubID, topic, id, issued, expires, body))
	return []byte(fmt.Sprintf(`{"v":1,"type":%q,"hub":%q,"id":%q,"issued_at":%q,"expires_at":%q,"body":%s,"sig":%q}`,
		typ, hubID, id, issued, expires, body, base64.StdEncoding.EncodeToString(sig)))
}

func topicOf(hubID string, c cloudlink.Channel) string {
	t, err := cloudlink.Topic(hubID, c)
	if err != nil {
		panic(err)
	}
	return t
}

// TestVerify is the table of ways a downlink message is refused, each with
// its sentinel; the message never takes effect.
func TestVerify(t *testing.T) {
	signer := cloudlink.NewSigner(testKey)
	unlock := &cloudlink.Unlock{Door: "front", By: "p-maria"}
	opts := cloudlink.SealOptions{ID: "Tz8yU3iO6pA1sD4fG7hJ0k", IssuedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	good, err := signer.Seal(testHub, unlock, opts)
	if err != nil {
		t.Fatal(err)
	}
	cmdTopic := good.Topic
	now := trustedAt(t0.Add(10 * time.Second))
	edit := func(old, new string) []byte {
		if !bytes.Contains(good.Payload, []byte(old)) {
			t.Fatalf("payload lacks %q", old)
		}
		return bytes.Replace(good.Payload, []byte(old), []byte(new), 1)
	}
	forOther, err := signer.Seal(otherHub, unlock, opts)
	if err != nil {
		t.Fatal(err)
	}
	forgedPayload := func() []byte {
		p, err := cloudlink.NewSigner(otherKey).Seal(testHub, unlock, opts)
		if err != nil {
			t.Fatal(err)
		}
		return p.Payload
	}()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(good.Payload, &env); err != nil {
		t.Fatal(err)
	}
	without := func(field string) []byte {
		m := map[string]json.RawMessage{}
		for k, v := range env {
			if k != field {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return b
	}
	with := func(field, raw string) []byte {
		m := map[string]json.RawMessage{}
		for k, v := range env {
			m[k] = v
		}
		m[field] = json.RawMessage(raw)
		b, _ := json.Marshal(m)
		return b
	}
	body := []byte(`{"door":"front"}`)
	iss, exp := "2026-11-27T18:00:00.000Z", "2026-11-27T18:01:00.000Z"

	cases := []struct {
		name    string
		topic   string
		payload []byte
		now     hub.Now
		keys    []ed25519.PublicKey
		want    error
	}{
		{name: "forged: signed by an unpinned key", payload: forgedPayload, want: cloudlink.ErrBadSignature},
		{name: "unsigned", payload: without("sig"), want: cloudlink.ErrBadSignature},
		{name: "empty signature", payload: with("sig", `""`), want: cloudlink.ErrBadSignature},
		{name: "signature not base64", payload: with("sig", `"not base64!"`), want: cloudlink.ErrBadSignature},
		{name: "signature too short", payload: with("sig", `"AAAA"`), want: cloudlink.ErrBadSignature},
		{name: "wrong pinned key", payload: good.Payload, keys: []ed25519.PublicKey{otherKey.Public().(ed25519.PublicKey)}, want: cloudlink.ErrBadSignature},
		{name: "wrong hub: another hub's message on its topic", topic: forOther.Topic, payload: forOther.Payload, want: cloudlink.ErrWrongHub},
		{name: "wrong hub: another hub's message replayed on ours", payload: forOther.Payload, want: cloudlink.ErrWrongHub},
		{name: "wrong hub: envelope hub rewritten", payload: edit(`"hub":"hub-0001"`, `"hub":"hub-0002"`), want: cloudlink.ErrWrongHub},
		{name: "hub rewritten on another hub's message", payload: bytes.Replace(forOther.Payload, []byte(`"hub":"hub-0002"`), []byte(`"hub":"hub-0001"`), 1), want: cloudlink.ErrBadSignature},
		{name: "wrong topic: command on the batch channel", topic: topicOf(testHub, cloudlink.ChanBatch), payload: good.Payload, want: cloudlink.ErrWrongTopic},
		{name: "wrong topic: on an uplink channel", topic: topicOf(testHub, cloudlink.ChanReply), payload: good.Payload, want: cloudlink.ErrWrongTopic},
		{name: "wrong topic: not a doorhub topic", topic: "other/hub-0001/down/command", payload: good.Payload, want: cloudlink.ErrWrongTopic},
		{name: "wrong topic: type rewritten to fit", payload: edit(`"type":"unlock"`, `"type":"resync"`), want: cloudlink.ErrBadSignature},
		{name: "expired", payload: good.Payload, now: trustedAt(t0.Add(time.Minute + cloudlink.DefaultSkew)), want: cloudlink.ErrExpired},
		{name: "expired, clock untrusted", payload: good.Payload, now: untrustedAt(t0.Add(time.Hour)), want: cloudlink.ErrExpired},
		{name: "not yet valid", payload: good.Payload, now: trustedAt(t0.Add(-cloudlink.DefaultSkew - time.Second)), want: cloudlink.ErrNotYetValid},
		{name: "tampered body byte", payload: edit(`"door":"front"`, `"door":"frunt"`), want: cloudlink.ErrBadSignature},
		{name: "tampered expiry", payload: edit(`"expires_at":"2026-11-27T18:01:00.000Z"`, `"expires_at":"2026-11-27T18:09:00.000Z"`), want: cloudlink.ErrBadSignature},
		{name: "tampered id", payload: edit(`"id":"Tz8yU3iO6pA1sD4fG7hJ0k"`, `"id":"Tz8yU3iO6pA1sD4fG7hJ0K"`), want: cloudlink.ErrBadSignature},
		{name: "body whitespace added", payload: edit(`"body":{"door"`, `"body":{ "door"`), want: cloudlink.ErrBadSignature},
		{name: "oversize payload", payload: append(append([]byte{}, good.Payload...), bytes.Repeat([]byte(" "), cloudlink.MaxPayload)...), want: cloudlink.ErrOversize},
		{name: "malformed: truncated", payload: good.Payload[:len(good.Payload)-1], want: cloudlink.ErrMalformed},
		{name: "malformed: not an object", payload: []byte(`[1,2]`), want: cloudlink.ErrMalformed},
		{name: "malformed: trailing data", payload: append(append([]byte{}, good.Payload...), '{', '}'), want: cloudlink.ErrMalformed},
		{name: "malformed: empty", payload: nil, want: cloudlink.ErrMalformed},
		{name: "unknown schema version", payload: edit(`{"v":1,`, `{"v":2,`), want: cloudlink.ErrUnsupportedVersion},
		{name: "schema version as a string", payload: edit(`{"v":1,`, `{"v":"1",`), want: cloudlink.ErrUnsupportedVersion},
		{name: "schema version missing", payload: without("v"), want: cloudlink.ErrSchema},
		{name: "unknown envelope field", payload: with("key_id", `"k1"`), want: cloudlink.ErrSchema},
		{name: "unknown type", payload: edit(`"type":"unlock"`, `"type":"explode"`), want: cloudlink.ErrSchema},
		{name: "uplink type downlink", payload: edit(`"type":"unlock"`, `"type":"ack"`), want: cloudlink.ErrSchema},
		{name: "id too short", payload: edit(`"id":"Tz8yU3iO6pA1sD4fG7hJ0k"`, `"id":"short"`), want: cloudlink.ErrSchema},
		{name: "time with an offset", payload: edit(`"issued_at":"2026-11-27T18:00:00.000Z"`, `"issued_at":"2026-11-27T19:00:00.000+01:00"`), want: cloudlink.ErrSchema},
		{name: "body not an object", payload: edit(`"body":{"door":"front","by":"p-maria"}`, `"body":["front"]`), want: cloudlink.ErrSchema},
		{name: "lifetime too long, signed", payload: rawSeal(testKey, "unlock", testHub, cmdTopic, "Tz8yU3iO6pA1sD4fG7hJ0k", iss, "2026-11-27T19:00:00.000Z", body), want: cloudlink.ErrSchema},
		{name: "expires before issued, signed", payload: rawSeal(testKey, "unlock", testHub, cmdTopic, "Tz8yU3iO6pA1sD4fG7hJ0k", exp, iss, body), want: cloudlink.ErrSchema},
		{name: "body breaks its schema, signed", payload: rawSeal(testKey, "unlock", testHub, cmdTopic, "Tz8yU3iO6pA1sD4fG7hJ0k", iss, exp, []byte(`{"door":""}`)), want: cloudlink.ErrSchema},
		{name: "body of the wrong types, signed", payload: rawSeal(testKey, "unlock", testHub, cmdTopic, "Tz8yU3iO6pA1sD4fG7hJ0k", iss, exp, []byte(`{"door":7}`)), want: cloudlink.ErrSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.topic == "" {
				c.topic = cmdTopic
			}
			if c.now == (hub.Now{}) {
				c.now = now
			}
			if c.keys == nil {
				c.keys = []ed25519.PublicKey{testPublic}
			}
			replay := cloudlink.NewReplayCache(0)
			v, err := cloudlink.NewVerifier(testHub, cloudlink.VerifierOptions{Keys: c.keys, Replay: replay})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := v.Open(c.topic, c.payload, c.now)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, %v; want %v", msg, err, c.want)
			}
			if msg != nil {
				t.Errorf("a refused message was returned: %+v", msg)
			}
			if replay.Len() != 0 {
				t.Errorf("a refused message was remembered")
			}
			if got := cloudlink.ReasonOf(err); got == cloudlink.ReasonOther {
				t.Errorf("ReasonOf(%v) = %s", err, got)
			}
		})
	}

	// The good message itself opens, once.
	v := newVerifier(t)
	if _, err := v.Open(cmdTopic, good.Payload, now); err != nil {
		t.Fatalf("good message: %v", err)
	}
	if _, err := v.Open(cmdTopic, good.Payload, now); !errors.Is(err, cloudlink.ErrReplay) {
		t.Fatalf("replayed nonce: %v, want ErrReplay", err)
	}
	// Sealed again with the same id but a new time: still the same nonce.
	again, err := signer.Seal(testHub, unlock, cloudlink.SealOptions{ID: opts.ID, IssuedAt: t0.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(cmdTopic, again.Payload, now); !errors.Is(err, cloudlink.ErrReplay) {
		t.Fatalf("same nonce, new times: %v, want ErrReplay", err)
	}
	// Once expired, the nonce is forgotten, and the message is refused as
	// expired instead.
	if _, err := v.Open(cmdTopic, good.Payload, trustedAt(t0.Add(time.Hour))); !errors.Is(err, cloudlink.ErrExpired) {
		t.Fatalf("after expiry: %v, want ErrExpired", err)
	}
}

// TestVerifyBatchesAreNotRemembered: batches and chunks are ordered by
// version, not by nonce; a redelivered batch reaches the store, which
// treats it as stale.
func TestVerifyBatchesAreNotRemembered(t *testing.T) {
	ex := examples(t)[0]
	out := sealExample(t, ex)
	v := newVerifier(t)
	for i := 0; i < 2; i++ {
		if _, err := v.Open(out.Topic, out.Payload, trustedAt(t0)); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if v.Replay().Len() != 0 {
		t.Errorf("a batch id was remembered")
	}
}

// TestVerifyReplayCacheFull: a full cache refuses rather than forgets.
func TestVerifyReplayCacheFull(t *testing.T) {
	v, err := cloudlink.NewVerifier(testHub, cloudlink.VerifierOptions{
		Keys: []ed25519.PublicKey{testPublic}, Replay: cloudlink.NewReplayCache(2)})
	if err != nil {
		t.Fatal(err)
	}
	s := cloudlink.NewSigner(testKey)
	s.Now = func() time.Time { return t0 }
	for i := 0; i < 3; i++ {
		out, err := s.Seal(testHub, &cloudlink.Resync{}, cloudlink.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Open(out.Topic, out.Payload, trustedAt(t0))
		if i < 2 && err != nil || i == 2 && !errors.Is(err, cloudlink.ErrReplayCacheFull) {
			t.Fatalf("command %d: %v", i, err)
		}
	}
}

// TestVerifyKeyRotation: while two keys are pinned, either verifies.
func TestVerifyKeyRotation(t *testing.T) {
	v, err := cloudlink.NewVerifier(testHub, cloudlink.VerifierOptions{
		Keys: []ed25519.PublicKey{testPublic, otherKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []ed25519.PrivateKey{testKey, otherKey} {
		out, err := cloudlink.NewSigner(k).Seal(testHub, &cloudlink.Unlock{Door: "front"}, cloudlink.SealOptions{IssuedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Open(out.Topic, out.Payload, trustedAt(t0)); err != nil {
			t.Errorf("signed by a pinned key: %v", err)
		}
	}
}

// TestVerifyUntrustedClock: a hub whose clock is behind still takes
// messages; one whose clock is ahead still takes signed time, so that it
// can correct itself.
func TestVerifyUntrustedClock(t *testing.T) {
	s := cloudlink.NewSigner(testKey)
	s.Now = func() time.Time { return t0 }
	seal := func(b cloudlink.Body) *cloudlink.Outgoing {
		out, err := s.Seal(testHub, b, cloudlink.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	behind := untrustedAt(t0.AddDate(-1, 0, 0))
	ahead := untrustedAt(t0.AddDate(1, 0, 0))
	batch := seal(examples(t)[0].body)
	tm := seal(&cloudlink.TimeHint{Now: t0, Request: "Rt7uH3jK9lZ2xC6vB0nM4q"})

	v := newVerifier(t)
	if _, err := v.Open(batch.Topic, batch.Payload, behind); err != nil {
		t.Errorf("batch, clock a year behind: %v", err)
	}
	if _, err := v.Open(batch.Topic, batch.Payload, trustedAt(behind.Time)); !errors.Is(err, cloudlink.ErrNotYetValid) {
		t.Errorf("batch, trusted clock a year behind: %v, want ErrNotYetValid", err)
	}
	if _, err := v.Open(batch.Topic, batch.Payload, ahead); !errors.Is(err, cloudlink.ErrExpired) {
		t.Errorf("batch, clock a year ahead: %v, want ErrExpired", err)
	}
	msg, err := v.Open(tm.Topic, tm.Payload, ahead)
	if err != nil {
		t.Fatalf("time, clock a year ahead: %v", err)
	}
	if h := msg.Body.(*cloudlink.TimeHint); !h.Now.Equal(t0) {
		t.Errorf("time hint says %v", h.Now)
	}
	if _, err := v.Open(tm.Topic, tm.Payload, trustedAt(t0.AddDate(1, 0, 0))); !errors.Is(err, cloudlink.ErrExpired) {
		t.Errorf("time, trusted clock a year ahead: %v, want ErrExpired", err)
	}
}

// TestSealRefuses: the cloud side cannot make a message the hub would
// refuse.
func TestSealRefuses(t *testing.T) {
	s := cloudlink.NewSigner(testKey)
	big := &cloudlink.Batch{Batch: hub.Batch{Site: "s1", Version: 2, Base: 1}}
	for i := 0; i < 2000; i++ {
		big.Ops = append(big.Ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{
			ID: fmt.Sprintf("p-%05d", i), Email: fmt.Sprintf("person-%05d@example.org", i), Name: strings.Repeat("x", 40)}})
	}
	cases := []struct {
		name string
		hub  string
		body cloudlink.Body
		opts cloudlink.SealOptions
		want error
	}{
		{"oversize", testHub, big, cloudlink.SealOptions{}, cloudlink.ErrOversize},
		{"uplink type", testHub, &cloudlink.Ack{Version: 1}, cloudlink.SealOptions{}, cloudlink.ErrSchema},
		{"bad hub id", "hub/0001", &cloudlink.Resync{}, cloudlink.SealOptions{}, cloudlink.ErrSchema},
		{"lifetime too long", testHub, &cloudlink.Unlock{Door: "front"}, cloudlink.SealOptions{IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}, cloudlink.ErrSchema},
		{"bad id", testHub, &cloudlink.Unlock{Door: "front"}, cloudlink.SealOptions{ID: "no spaces allowed here"}, cloudlink.ErrSchema},
		{"bad body", testHub, &cloudlink.Unlock{Door: "front", HoldSeconds: -1}, cloudlink.SealOptions{}, cloudlink.ErrSchema},
		{"batch not above its base", testHub, &cloudlink.Batch{Batch: hub.Batch{Site: "s1", Version: 3, Base: 3}}, cloudlink.SealOptions{}, cloudlink.ErrSchema},
	}
	for _, c := range cases {
		if out, err := s.Seal(c.hub, c.body, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: Seal = %v, %v; want %v", c.name, out, err, c.want)
		}
	}
}

// TestSealDefaults: a random id, now, and the type's default lifetime.
func TestSealDefaults(t *testing.T) {
	s := cloudlink.NewSigner(testKey)
	s.Now = func() time.Time { return t0.Add(123456789 * time.Nanosecond) }
	a, err := s.Seal(testHub, &cloudlink.Unlock{Door: "front"}, cloudlink.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Seal(testHub, &cloudlink.Unlock{Door: "front"}, cloudlink.SealOptions{})
	if a.ID == b.ID || len(a.ID) != 22 {
		t.Errorf("ids %q and %q", a.ID, b.ID)
	}
	msg, err := newVerifier(t).Open(a.Topic, a.Payload, trustedAt(t0))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(123 * time.Millisecond); !msg.IssuedAt.Equal(want) || !msg.ExpiresAt.Equal(want.Add(cloudlink.DefaultUnlockLifetime)) {
		t.Errorf("window %v to %v", msg.IssuedAt, msg.ExpiresAt)
	}
	if !bytes.Contains(a.Payload, []byte(`"issued_at":"2026-11-27T18:00:00.123Z"`)) {
		t.Errorf("payload %s", a.Payload)
	}
}

// TestVerifyTimeFormats: any RFC 3339 UTC time with 'Z' and 0 to 9
// fractional digits is accepted, and signed as written.
func TestVerifyTimeFormats(t *testing.T) {
	topic := topicOf(testHub, cloudlink.ChanCommand)
	body := []byte(`{"door":"front"}`)
	for i, c := range []struct {
		issued, expires string
		ok              bool
	}{
		{"2026-11-27T18:00:00Z", "2026-11-27T18:01:00Z", true},
		{"2026-11-27T18:00:00.5Z", "2026-11-27T18:01:00.123456789Z", true},
		{"2026-11-27T18:00:00.Z", "2026-11-27T18:01:00Z", false},
		{"2026-11-27T18:00:00.1234567890Z", "2026-11-27T18:01:00Z", false},
		{"2026-11-27 18:00:00Z", "2026-11-27T18:01:00Z", false},
		{"2026-11-27T18:00:00z", "2026-11-27T18:01:00Z", false},
		{"2026-13-27T18:00:00Z", "2026-11-27T18:01:00Z", false},
		{"2026-11-27T18:00:00+00:00", "2026-11-27T18:01:00Z", false},
	} {
		id := fmt.Sprintf("time-format-case-%02d", i)
		p := rawSeal(testKey, "unlock", testHub, topic, id, c.issued, c.expires, body)
		_, err := newVerifier(t).Open(topic, p, trustedAt(t0))
		if c.ok != (err == nil) || err != nil && !errors.Is(err, cloudlink.ErrSchema) {
			t.Errorf("%s / %s: %v", c.issued, c.expires, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	k, err := cloudlink.ParsePublicKey(base64.StdEncoding.EncodeToString(testPublic))
	if err != nil || !k.Equal(testPublic) {
		t.Fatalf("ParsePublicKey = %x, %v", k, err)
	}
	for _, bad := range []string{"", "AAAA", base64.RawStdEncoding.EncodeToString(testPublic), base64.StdEncoding.EncodeToString(testKey)} {
		if _, err := cloudlink.ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

// TestVerifyUntrustedClockKeepsReplayIDs: an untrusted clock running an
// hour ahead does not forget a remembered unlock while the cache has
// room, so once the clock is right again the unlock, still within its
// lifetime, is refused as a replay. When the cache is full, the untrusted
// clock is the best there is: it purges, and new ids still come in.
func TestVerifyUntrustedClockKeepsReplayIDs(t *testing.T) {
	v, err := cloudlink.NewVerifier(testHub, cloudlink.VerifierOptions{
		Keys: []ed25519.PublicKey{testPublic}, Replay: cloudlink.NewReplayCache(2)})
	if err != nil {
		t.Fatal(err)
	}
	s := cloudlink.NewSigner(testKey)
	seal := func(b cloudlink.Body, at time.Time) *cloudlink.Outgoing {
		out, err := s.Seal(testHub, b, cloudlink.SealOptions{IssuedAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ahead := untrustedAt(t0.Add(time.Hour))
	unlock := seal(&cloudlink.Unlock{Door: "front"}, t0)
	if _, err := v.Open(unlock.Topic, unlock.Payload, trustedAt(t0)); err != nil {
		t.Fatal(err)
	}
	// A time hint while the clock runs an hour ahead (time is not
	// checked against an untrusted clock).
	hint := seal(&cloudlink.TimeHint{Now: t0.Add(time.Hour)}, t0.Add(time.Hour))
	if _, err := v.Open(hint.Topic, hint.Payload, ahead); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(unlock.Topic, unlock.Payload, trustedAt(t0.Add(30*time.Second))); !errors.Is(err, cloudlink.ErrReplay) {
		t.Fatalf("the unlock again, the clock right again: %v, want ErrReplay", err)
	}
	// Full (the unlock and the hint): the next id purges by the
	// untrusted clock, which drops the unlock, and comes in.
	hint2 := seal(&cloudlink.TimeHint{Now: t0.Add(time.Hour)}, t0.Add(time.Hour))
	if _, err := v.Open(hint2.Topic, hint2.Payload, ahead); err != nil {
		t.Fatalf("a new id, the cache full: %v", err)
	}
}
