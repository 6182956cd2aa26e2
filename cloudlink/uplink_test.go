package cloudlink_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// TestDecodeUplinkRefuses is the table of uplink messages the cloud
// refuses, each with its sentinel.
func TestDecodeUplinkRefuses(t *testing.T) {
	ack, err := (&cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: 7, SentAt: t0,
		Body: &cloudlink.Ack{Site: "s1", Version: 42}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(ack.Payload, []byte(old)) {
			t.Fatalf("payload lacks %q: %s", old, ack.Payload)
		}
		return bytes.Replace(ack.Payload, []byte(old), []byte(new), 1)
	}
	cases := []struct {
		name    string
		topic   string
		payload []byte
		want    error
	}{
		{"another hub's topic", topicOf(otherHub, cloudlink.ChanAck), ack.Payload, cloudlink.ErrWrongHub},
		{"a downlink topic", topicOf(testHub, cloudlink.ChanBatch), ack.Payload, cloudlink.ErrWrongTopic},
		{"the type's wrong topic", topicOf(testHub, cloudlink.ChanNeed), ack.Payload, cloudlink.ErrWrongTopic},
		{"not a doorhub topic", "doorhub/v1/things/hub-0001/up/ack", ack.Payload, cloudlink.ErrWrongTopic},
		{"oversize", "", append(bytes.Repeat([]byte(" "), cloudlink.MaxPayload), ack.Payload...), cloudlink.ErrOversize},
		{"malformed", "", ack.Payload[:20], cloudlink.ErrMalformed},
		{"not an object", "", []byte(`"ack"`), cloudlink.ErrMalformed},
		{"schema version 2", "", edit(`"v":1`, `"v":2`), cloudlink.ErrUnsupportedVersion},
		{"no schema version", "", edit(`"v":1,`, ``), cloudlink.ErrSchema},
		{"unknown envelope field", "", edit(`"v":1,`, `"v":1,"sig":"x",`), cloudlink.ErrSchema},
		{"a downlink type", "", edit(`"type":"ack"`, `"type":"unlock"`), cloudlink.ErrSchema},
		{"unknown type", "", edit(`"type":"ack"`, `"type":"hello"`), cloudlink.ErrSchema},
		{"seq 0 on a stored type", "", edit(`"seq":7`, `"seq":0`), cloudlink.ErrSchema},
		{"negative seq", "", edit(`"seq":7`, `"seq":-7`), cloudlink.ErrSchema},
		{"bad stream", "", edit(testStream, "short"), cloudlink.ErrSchema},
		{"body not an object", "", edit(`"body":{"site":"s1","version":42}`, `"body":42`), cloudlink.ErrSchema},
		{"body of the wrong types", "", edit(`"version":42`, `"version":"42"`), cloudlink.ErrSchema},
	}
	for _, c := range cases {
		if c.topic == "" {
			c.topic = ack.Topic
		}
		if u, err := cloudlink.DecodeUplink(c.topic, c.payload); !errors.Is(err, c.want) || u != nil {
			t.Errorf("%s: DecodeUplink = %v, %v; want %v", c.name, u, err, c.want)
		}
	}
}

func TestEncodeUplinkRefuses(t *testing.T) {
	events := make([]cloudlink.ActivityEvent, cloudlink.MaxEventsPerMessage)
	for i := range events {
		events[i] = cloudlink.NewAccessEvent(cloudlink.EventID(testStream, uint64(i+1)), uint64(i+1), hub.Decision{
			Door: "front", At: t0, Kind: hub.CredKeycard, Allowed: true, Reason: hub.AllowedByGrant, ClockTrusted: true,
			Subject: hub.SubjectPerson, PersonID: fmt.Sprintf("p-%05d", i), GrantID: fmt.Sprintf("g-%05d", i), Visibility: hub.Visible})
	}
	cases := []struct {
		name string
		u    cloudlink.Uplink
		want error
	}{
		{"too many events for one message", cloudlink.Uplink{Seq: 1, Body: &cloudlink.Activity{Events: events}}, cloudlink.ErrOversize},
		{"no events", cloudlink.Uplink{Seq: 1, Body: &cloudlink.Activity{}}, cloudlink.ErrSchema},
		{"status with a seq", cloudlink.Uplink{Seq: 3, Body: &cloudlink.Status{State: cloudlink.StateOnline, Session: testSess, Since: t0}}, cloudlink.ErrSchema},
		{"ack without a seq", cloudlink.Uplink{Body: &cloudlink.Ack{Version: 1}}, cloudlink.ErrSchema},
		{"bad state", cloudlink.Uplink{Body: &cloudlink.Status{State: "sleepy", Session: testSess, Since: t0}}, cloudlink.ErrSchema},
		{"a downlink body", cloudlink.Uplink{Seq: 1, Body: &cloudlink.Resync{}}, cloudlink.ErrSchema},
		{"no body", cloudlink.Uplink{Seq: 1}, cloudlink.ErrSchema},
		{"reply without a reason", cloudlink.Uplink{Seq: 1, Body: &cloudlink.Reply{Command: "Tz8yU3iO6pA1sD4fG7hJ0k", Type: cloudlink.TypeUnlock, Status: cloudlink.ReplyRefused}}, cloudlink.ErrSchema},
		{"reply to a non-command", cloudlink.Uplink{Seq: 1, Body: &cloudlink.Reply{Command: "Tz8yU3iO6pA1sD4fG7hJ0k", Type: cloudlink.TypeBatch, Status: cloudlink.ReplyDone}}, cloudlink.ErrSchema},
		{"card id instead of a card ref", cloudlink.Uplink{Seq: 1, Body: &cloudlink.PendingReport{At: t0, KeycardsTotal: 1,
			Keycards: []cloudlink.KeycardPending{{CardRef: "04a1b2c3d4e5f6", OwnerID: "p-anna"}}}}, cloudlink.ErrSchema},
	}
	for _, c := range cases {
		u := c.u
		u.Hub, u.Stream, u.SentAt = testHub, testStream, t0
		if out, err := u.Encode(); !errors.Is(err, c.want) {
			t.Errorf("%s: Encode = %v, %v; want %v", c.name, out, err, c.want)
		}
	}
}

// TestSecurityEvent describes a refused message without copying it.
func TestSecurityEvent(t *testing.T) {
	out, err := cloudlink.NewSigner(otherKey).Seal(testHub, &cloudlink.Unlock{Door: "front"},
		cloudlink.SealOptions{ID: "Xc4vB6nM8qW0eR2tY4uI6o", IssuedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	_, openErr := newVerifier(t).Open(out.Topic, out.Payload, trustedAt(t0))
	ev := cloudlink.NewSecurityEvent(out.Topic, out.Payload, openErr, t0)
	if ev.Reason != cloudlink.ReasonBadSignature || ev.Type != cloudlink.TypeUnlock || ev.Message != "Xc4vB6nM8qW0eR2tY4uI6o" ||
		ev.Size != len(out.Payload) || ev.Count != 1 || ev.Topic != out.Topic {
		t.Errorf("event %+v", ev)
	}
	u := &cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: 1, SentAt: t0, Body: &ev}
	enc, err := u.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sig := out.Payload[bytes.Index(out.Payload, []byte(`"sig":`))+7:][:86]
	if bytes.Contains(enc.Payload, []byte(`"door"`)) || bytes.Contains(enc.Payload, sig) {
		t.Errorf("the event copies the payload: %s", enc.Payload)
	}
	// Garbage: nothing claimed, a clipped topic, still a valid event.
	garbage := []byte(`{"type":"<script>","id":"` + strings.Repeat("x", 5000) + `"}`)
	ev = cloudlink.NewSecurityEvent(strings.Repeat("t\xff", 300), garbage, cloudlink.ErrMalformed, t0)
	if ev.Type != "" || ev.Message != "" || len(ev.Topic) > cloudlink.MaxTopicBytes || ev.Reason != cloudlink.ReasonMalformed {
		t.Errorf("garbage event %+v", ev)
	}
	u.Body = &ev
	if _, err := u.Encode(); err != nil {
		t.Errorf("garbage event does not encode: %v", err)
	}
	if got := cloudlink.ReasonOf(errors.New("something else")); got != cloudlink.ReasonOther {
		t.Errorf("ReasonOf(other) = %s", got)
	}
}

func TestRejectionCode(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("x: %w", hub.ErrInvalid):              cloudlink.RejectInvalid,
		fmt.Errorf("x: %w", hub.ErrWrongSite):            cloudlink.RejectWrongSite,
		fmt.Errorf("x: %w", hub.ErrNotFound):             cloudlink.RejectNotFound,
		fmt.Errorf("x: %w", hub.ErrConflict):             cloudlink.RejectConflict,
		fmt.Errorf("x: %w", cloudlink.ErrSnapshotDigest): cloudlink.RejectSnapshot,
		errors.New("disk full"):                          cloudlink.RejectStore,
	} {
		if got := cloudlink.RejectionCode(err); got != want {
			t.Errorf("RejectionCode(%v) = %s, want %s", err, got, want)
		}
	}
}

// TestCardRef: stable, keyed by the site secret, never the card id.
func TestCardRef(t *testing.T) {
	secret := []byte("0123456789abcdef-site-secret")
	a := cloudlink.CardRef(secret, "04a1b2c3d4e5f6")
	if a != "a3c840413ea2fd66" {
		t.Errorf("CardRef = %s", a)
	}
	if cloudlink.CardRef(secret, "04a1b2c3d4e5f7") == a || cloudlink.CardRef([]byte("another-site-secret!"), "04a1b2c3d4e5f6") == a {
		t.Errorf("CardRef ignores its input")
	}
}
