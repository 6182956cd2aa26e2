package cloudlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// Every decoder has a never-panic fuzzer and a round-trip property:
//
//	FuzzParseTopic       topic text      → ParseTopic → Topic gives it back
//	FuzzOpen             any payload     → Open accepts only what the cloud signed, unchanged
//	FuzzOpenSigned       signed fields   → Open accepts exactly the fields that were signed
//	FuzzSealOpen         message fields  → Seal → Open gives the message back
//	FuzzDecodeUplink     any payload     → DecodeUplink → Encode is a fixed point
//	FuzzUplinkRoundTrip  message fields  → Encode → DecodeUplink gives the message back
//	FuzzSnapshotChunks   chunk order     → the store holds the old set or exactly the snapshot
//	FuzzSnapshotChunk    any chunk body  → the assembler refuses it or applies it, never panics

func FuzzParseTopic(f *testing.F) {
	for _, c := range cloudlink.Channels() {
		f.Add(topicOf(testHub, c))
	}
	f.Add("doorhub/v1/hubs/+/up/#")
	f.Add("$aws/things/x")
	f.Add("doorhub/v1/hubs/a/down/batch/x")
	f.Fuzz(func(t *testing.T, topic string) {
		h, c, err := cloudlink.ParseTopic(topic)
		if err != nil {
			if !errors.Is(err, cloudlink.ErrWrongTopic) {
				t.Fatalf("ParseTopic(%q): %v does not wrap ErrWrongTopic", topic, err)
			}
			return
		}
		back, err := cloudlink.Topic(h, c)
		if err != nil || back != topic {
			t.Fatalf("ParseTopic(%q) = %q, %q; Topic gives %q, %v", topic, h, c, back, err)
		}
	})
}

// signedBodies maps the id of every downlink example to its body's JSON.
func signedBodies(tb testing.TB) map[string]string {
	m := map[string]string{}
	for _, ex := range examples(tb) {
		if ex.down != nil {
			b, _ := json.Marshal(ex.body)
			m[ex.down.ID] = string(b)
		}
	}
	return m
}

func FuzzOpen(f *testing.F) {
	for _, ex := range examples(f) {
		if ex.down != nil {
			out := sealExample(f, ex)
			f.Add(out.Payload, uint8(0), true)
			f.Add(bytes.Replace(out.Payload, []byte(`"v":1`), []byte(`"v":2`), 1), uint8(1), false)
		}
	}
	f.Add([]byte(`{"v":1}`), uint8(2), true)
	f.Add([]byte(`{}`), uint8(3), true)
	bodies := signedBodies(f)
	f.Fuzz(func(t *testing.T, payload []byte, topicSel uint8, trusted bool) {
		// Take the topic the payload claims it belongs on, or another.
		var probe struct{ Type cloudlink.Type }
		_ = json.Unmarshal(payload, &probe)
		ch := probe.Type.Channel()
		if ch == "" || topicSel%4 == 3 {
			ch = cloudlink.Channels()[int(topicSel)%len(cloudlink.Channels())]
		}
		msg, err := newVerifier(t).Open(topicOf(testHub, ch), payload, hub.Now{Time: t0, Trusted: trusted})
		if err != nil {
			if cloudlink.ReasonOf(err) == cloudlink.ReasonOther {
				t.Fatalf("Open: %v wraps no sentinel", err)
			}
			if msg != nil {
				t.Fatal("a refused message was returned")
			}
			return
		}
		// What opens is exactly a message the cloud signed.
		want, ok := bodies[msg.ID]
		if !ok {
			t.Fatalf("opened a message with unknown id %s", msg.ID)
		}
		if got, _ := json.Marshal(msg.Body); string(got) != want {
			t.Fatalf("opened body\n%s\nsigned\n%s", got, want)
		}
	})
}

func FuzzOpenSigned(f *testing.F) {
	for _, ex := range examples(f) {
		if ex.down != nil {
			out := sealExample(f, ex)
			var env struct {
				Type      string
				ID        string
				IssuedAt  string `json:"issued_at"`
				ExpiresAt string `json:"expires_at"`
				Body      json.RawMessage
			}
			if err := json.Unmarshal(out.Payload, &env); err != nil {
				f.Fatal(err)
			}
			f.Add(env.Type, env.ID, env.IssuedAt, env.ExpiresAt, []byte(env.Body))
		}
	}
	f.Add("unlock", "Tz8yU3iO6pA1sD4fG7hJ0k", "2026-11-27T18:00:00Z", "2026-11-27T18:00:01.5Z", []byte(`{"door":"x","hold_seconds":1e99}`))
	f.Add("snapshot_chunk", "Tz8yU3iO6pA1sD4fG7hJ0k", "2026-11-27T18:00:00Z", "2026-11-28T18:00:00Z", []byte(`{"index":-1,"ops":{}}`))
	f.Fuzz(func(t *testing.T, typ, id, issued, expires string, body []byte) {
		ch := cloudlink.Type(typ).Channel()
		if ch == "" {
			ch = cloudlink.ChanCommand
		}
		topic := topicOf(testHub, ch)
		payload := rawSeal(testKey, typ, testHub, topic, id, issued, expires, body)
		msg, err := newVerifier(t).Open(topic, payload, trustedAt(t0))
		if err != nil {
			if cloudlink.ReasonOf(err) == cloudlink.ReasonOther {
				t.Fatalf("Open: %v wraps no sentinel", err)
			}
			return
		}
		it, err1 := time.Parse(time.RFC3339Nano, issued)
		et, err2 := time.Parse(time.RFC3339Nano, expires)
		if string(msg.Type) != typ || msg.ID != id || err1 != nil || err2 != nil || !msg.IssuedAt.Equal(it) || !msg.ExpiresAt.Equal(et) {
			t.Fatalf("opened %+v from %s %s %s %s", msg, typ, id, issued, expires)
		}
		if msg.Body.MessageType() != msg.Type {
			t.Fatalf("a %s message with a %s body", msg.Type, msg.Body.MessageType())
		}
	})
}

func FuzzSealOpen(f *testing.F) {
	f.Add("front", "p-maria", 5, "Tz8yU3iO6pA1sD4fG7hJ0k", int64(0), int64(60_000), "Anna Berg", "anna@example.org", uint64(42))
	f.Add("", "", -1, "", int64(-1), int64(0), "\xff<>&\u2028", "", uint64(0))
	f.Fuzz(func(t *testing.T, door, by string, hold int, id string, offsetMs, lifeMs int64, name, email string, version uint64) {
		s := cloudlink.NewSigner(testKey)
		issued := t0.Add(time.Duration(offsetMs%1e9) * time.Millisecond)
		opts := cloudlink.SealOptions{ID: id, IssuedAt: issued, ExpiresAt: issued.Add(time.Duration(lifeMs%1e10) * time.Millisecond)}
		bodies := []cloudlink.Body{
			&cloudlink.Unlock{Door: door, By: by, HoldSeconds: hold},
			&cloudlink.Batch{Batch: hub.Batch{Site: door, Version: version, Base: version / 2, IssuedAt: issued.UTC(),
				Ops: []hub.Op{{Type: hub.OpPutPerson, Person: &hub.Person{ID: by, Name: name, Email: email}}}}},
			&cloudlink.TimeHint{Now: issued.UTC(), Request: id},
		}
		for _, b := range bodies {
			out, err := s.Seal(testHub, b, opts)
			if err != nil {
				if cloudlink.ReasonOf(err) == cloudlink.ReasonOther {
					t.Fatalf("Seal: %v wraps no sentinel", err)
				}
				continue
			}
			msg, err := newVerifier(t).Open(out.Topic, out.Payload, trustedAt(issued))
			if err != nil {
				t.Fatalf("Open(Seal(%s)): %v\n%s", b.MessageType(), err, out.Payload)
			}
			want, got := normJSON(t, b), normJSON(t, msg.Body)
			if got != want || msg.ID != out.ID {
				t.Fatalf("round trip:\n got %s\nwant %s", got, want)
			}
		}
	})
}

func FuzzDecodeUplink(f *testing.F) {
	for _, ex := range examples(f) {
		if ex.up != nil {
			out := encodeExample(f, ex)
			f.Add(out.Payload, uint8(0))
		}
	}
	f.Add([]byte(`{"v":1,"type":"ack"}`), uint8(1))
	f.Fuzz(func(t *testing.T, payload []byte, topicSel uint8) {
		var probe struct{ Type cloudlink.Type }
		_ = json.Unmarshal(payload, &probe)
		ch := probe.Type.Channel()
		if ch == "" || topicSel%4 == 3 {
			ch = cloudlink.Channels()[int(topicSel)%len(cloudlink.Channels())]
		}
		u, err := cloudlink.DecodeUplink(topicOf(testHub, ch), payload)
		if err != nil {
			if cloudlink.ReasonOf(err) == cloudlink.ReasonOther {
				t.Fatalf("DecodeUplink: %v wraps no sentinel", err)
			}
			return
		}
		// What decodes encodes, and that encoding is a fixed point.
		once, err := u.Encode()
		if errors.Is(err, cloudlink.ErrOversize) {
			return // escaping may grow a payload near the limit
		}
		if err != nil {
			t.Fatalf("decoded, but does not encode: %v", err)
		}
		u2, err := cloudlink.DecodeUplink(once.Topic, once.Payload)
		if err != nil {
			t.Fatalf("encoded, but does not decode: %v\n%s", err, once.Payload)
		}
		twice, err := u2.Encode()
		if err != nil || !bytes.Equal(once.Payload, twice.Payload) {
			t.Fatalf("not a fixed point: %v\n%s\n%s", err, once.Payload, twice.Payload)
		}
	})
}

func FuzzUplinkRoundTrip(f *testing.F) {
	f.Add("hub-0001", testStream, uint64(7), "s1", uint64(42), "Wq3eR5tY7uI9oP1aS3dF5g", "conflict", "detail", "front", 87)
	f.Add("", "", uint64(0), "", uint64(0), "", "", "\xff", "", -1)
	f.Fuzz(func(t *testing.T, hubID, stream string, seq uint64, site string, version uint64, msgID, code, detail, door string, battery int) {
		bodies := []cloudlink.Body{
			&cloudlink.Ack{Site: site, Version: version, Rejected: &cloudlink.Rejection{Message: msgID, Version: version + 1, Error: code, Detail: detail}},
			&cloudlink.Need{Site: site, FromVersion: version, Snapshot: version%2 == 0, Reason: code},
			&cloudlink.DoorsReport{At: t0, Doors: []cloudlink.DoorState{{Door: door, Reachable: true, BatteryPercent: &battery}}},
			&cloudlink.Reply{Command: msgID, Type: cloudlink.TypeUnlock, Status: cloudlink.ReplyFailed, Reason: code, Detail: detail},
			&cloudlink.Status{State: cloudlink.StateOnline, Session: msgID, Since: t0, Software: detail, Site: site, Version: version},
		}
		for _, b := range bodies {
			s := seq
			if b.MessageType() == cloudlink.TypeStatus {
				s = 0
			}
			u := &cloudlink.Uplink{Hub: hubID, Stream: stream, Seq: s, SentAt: t0, Body: b}
			out, err := u.Encode()
			if err != nil {
				if cloudlink.ReasonOf(err) == cloudlink.ReasonOther {
					t.Fatalf("Encode: %v wraps no sentinel", err)
				}
				continue
			}
			back, err := cloudlink.DecodeUplink(out.Topic, out.Payload)
			if err != nil {
				t.Fatalf("DecodeUplink(Encode(%s)): %v\n%s", b.MessageType(), err, out.Payload)
			}
			want, got := normJSON(t, b), normJSON(t, back.Body)
			if got != want || back.Hub != hubID || back.Stream != stream || back.Seq != s || !back.SentAt.Equal(t0) {
				t.Fatalf("round trip:\n got %s\nwant %s", got, want)
			}
		}
	})
}

// fuzzChunks is a snapshot of a few chunks and a stray chunk of another.
type fuzzChunks struct {
	chunks  []cloudlink.SnapshotChunk
	stray   cloudlink.SnapshotChunk
	records string
}

func newFuzzChunks(t testing.TB) *fuzzChunks {
	snap := bigSnapshot(40, 40)
	chunks := split(t, snap, "snap-40-a", cloudlink.MinChunkBytes)
	other := split(t, bigSnapshot(40, 41), "snap-41-b", cloudlink.MinChunkBytes)
	want := hub.NewMemStore()
	if err := hub.Replace(context.Background(), want, snap); err != nil {
		t.Fatal(err)
	}
	return &fuzzChunks{chunks: chunks, stray: other[1], records: records(t, want)}
}

func FuzzSnapshotChunks(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4})
	f.Add([]byte{0, 0, 1, 1, 2, 2, 3, 3, 4, 4})
	f.Add([]byte{0, 2, 1})
	f.Add([]byte{0, 255, 1, 2, 3, 4})
	fc := newFuzzChunks(f)
	f.Fuzz(func(t *testing.T, order []byte) {
		n := len(fc.chunks)
		store := newStore(t)
		before := records(t, store.MemStore)
		asm := cloudlink.NewSnapshotAssembler(store)
		committed := false
		for _, b := range order {
			c := &fc.stray
			if int(b)%(n+1) < n {
				c = &fc.chunks[int(b)%(n+1)]
			}
			done, err := asm.Add(context.Background(), c)
			if err != nil && cloudlink.ReasonOf(err) == cloudlink.ReasonOther && !errors.Is(err, hub.ErrStaleBatch) {
				t.Fatalf("Add: %v", err)
			}
			committed = committed || done
			got := records(t, store.MemStore)
			if committed != (got == fc.records) || !committed && got != before {
				t.Fatalf("after chunk %d: committed %v, yet the store holds another set", c.Index, committed)
			}
		}
	})
}

func FuzzSnapshotChunk(f *testing.F) {
	chunk, _ := json.Marshal(mustChunk(f))
	f.Add(chunk)
	f.Add([]byte(`{"snapshot_id":"s","site":"s1","version":40,"index":0,"count":1,"sha256":"` + strings.Repeat("0", 64) + `","ops":[{"op":"put_door"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var c cloudlink.SnapshotChunk
		if json.Unmarshal(body, &c) != nil {
			return
		}
		store := newStore(t)
		before := records(t, store.MemStore)
		done, err := cloudlink.NewSnapshotAssembler(store).Add(context.Background(), &c)
		if err != nil && done {
			t.Fatal("done with an error")
		}
		if !done && records(t, store.MemStore) != before {
			t.Fatal("a chunk that did not complete a snapshot changed the store")
		}
	})
}

// normJSON is v as JSON in one normal form: invalid UTF-8 in a string
// becomes U+FFFD when encoded, escaped or not; both read back the same.
func normJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	n, _ := json.Marshal(x)
	return string(n)
}
