package radio_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/frame"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// The examples of docs/radio-protocol.md are generated here: bytes from
// the codecs, annotations from the field layout. TestProtocolDoc checks
// that every generated block in the doc is what this file produces and
// that the hex in the doc decodes to the value the example states;
// `go test ./radio -run TestProtocolDoc -update` rewrites the blocks.

var update = flag.Bool("update", false, "rewrite the generated blocks of docs/radio-protocol.md")

const protocolDoc = "../docs/radio-protocol.md"

type span struct {
	n    int
	text string
}

type example struct {
	name  string
	b     []byte
	spans []span
	// check decodes b (the bytes as read back from the doc) and says
	// whether they mean what the example states.
	check func(b []byte) error
}

var (
	testKey = lockmsg.Key{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	keys    = lockmsg.NewKeys(testKey)
)

const testLock lockmsg.LockID = 0x0000a1b2

func digest(s string) (d [lockmsg.DigestSize]byte) {
	b, _ := hex.DecodeString(s)
	copy(d[:], b)
	return d
}

var status = lockmsg.Status{
	Firmware: lockmsg.Firmware{Major: 1, Minor: 4, Patch: 2}, BatteryPercent: 87, BatteryMillivolts: 5830,
	Door: lockmsg.DoorClosedLocked, ListVersion: 12, ListDigest: digest("0102030405060708"),
	RSSI: -61, Clock: 1767225600, ClockSet: true, PendingEvents: 3,
}

func statusSpans() []span {
	return []span{
		{3, "firmware 1.4.2 (major, minor, patch)"},
		{1, "battery 87 % (0xff: unknown)"},
		{2, "battery 5830 mV"},
		{1, "door 1 closed_locked"},
		{4, "list version 12"},
		{8, "list digest"},
		{1, "RSSI -61 dBm of the hub's last frame (0x80: unknown)"},
		{4, "lock clock 1767225600 = 2026-01-01T00:00:00Z"},
		{1, "flags: bit 0 clock_set"},
		{2, "3 events pending"},
	}
}

func mustBody(m lockmsg.Message) []byte {
	b, err := lockmsg.AppendBody(nil, m)
	if err != nil {
		panic(err)
	}
	return b
}

// body is the example of a message body, in clear (as sealed before
// encryption).
func body(name string, m lockmsg.Message, spans ...span) example {
	return example{name: "body " + name, b: mustBody(m), spans: spans, check: func(b []byte) error {
		got, err := lockmsg.ParseBody(m.Type(), b)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, m) {
			return fmt.Errorf("decodes to %+v, doc states %+v", got, m)
		}
		return nil
	}}
}

func sealed(name string, counter uint32, m lockmsg.Message, what string) example {
	b, err := lockmsg.Seal(nil, keys, testLock, counter, m)
	if err != nil {
		panic(err)
	}
	n := len(b) - lockmsg.Overhead
	return example{name: "sealed " + name, b: b, spans: []span{
		{1, fmt.Sprintf("type %s", m.Type())},
		{4, fmt.Sprintf("counter %d", counter)},
		{n, what + ", AES-128-CTR encrypted"},
		{8, "AES-CMAC, first 8 bytes"},
	}, check: func(b []byte) error {
		h, got, err := lockmsg.Unseal(keys, testLock, b)
		if err != nil {
			return err
		}
		if h.Counter != counter || !reflect.DeepEqual(got, m) {
			return fmt.Errorf("unseals to %d %+v", h.Counter, got)
		}
		return nil
	}}
}

func control(name string, m coproc.Message, spans ...span) example {
	return example{name: "control " + name, b: coproc.Append(nil, m), spans: spans, check: func(b []byte) error {
		got, err := coproc.Parse(b)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, m) {
			return fmt.Errorf("decodes to %+v, doc states %+v", got, m)
		}
		return nil
	}}
}

func linkFrame(name string, f link.Frame, spans ...span) example {
	return example{name: "link " + name, b: link.AppendFrame(nil, f), spans: spans, check: func(b []byte) error {
		got, err := link.ParseFrame(b)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, f) {
			return fmt.Errorf("parses to %+v", got)
		}
		return nil
	}}
}

// cobsSpans annotates the groups of a stuffed frame with what each
// decodes to.
func cobsSpans(wire []byte) []span {
	spans := []span{{1, "delimiter"}}
	stuffed := wire[1 : len(wire)-1]
	for i := 0; i < len(stuffed); {
		code := int(stuffed[i])
		end := i + code
		data := fmt.Sprintf("% x", stuffed[i+1:end])
		if code > 7 {
			data = fmt.Sprintf("%d bytes", code-1)
		}
		var text string
		switch {
		case code == 0xff:
			text = fmt.Sprintf("COBS ff: %s, no zero", data)
		case end >= len(stuffed):
			text = fmt.Sprintf("COBS %02x: %s (end)", code, data)
		case code == 1:
			text = "COBS 01: 00"
		default:
			text = fmt.Sprintf("COBS %02x: %s 00", code, data)
		}
		spans = append(spans, span{code, text})
		i = end
	}
	return append(spans, span{1, "delimiter"})
}

// wire is a serial frame as it crosses the line.
func wire(name string, payload []byte) example {
	w := frame.Encode(payload)
	return example{name: "wire " + name, b: w, spans: cobsSpans(w), check: func(b []byte) error {
		return decoderSays(b, []string{hex.EncodeToString(payload)})
	}}
}

// decoderSays runs a frame decoder over b and compares what it yields, a
// payload as hex or an error, with want.
func decoderSays(b []byte, want []string) error {
	var d frame.Decoder
	var got []string
	for len(b) > 0 {
		n, p, err := d.Next(b)
		b = b[n:]
		switch {
		case err != nil:
			got = append(got, err.Error())
		case p != nil:
			got = append(got, hex.EncodeToString(p))
		}
	}
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		return fmt.Errorf("decoder yields %q, doc states %q", got, want)
	}
	return nil
}

func malformedWire(name string, b []byte, want []string, spans ...span) example {
	return example{name: "bad wire " + name, b: b, spans: spans, check: func(b []byte) error { return decoderSays(b, want) }}
}

func malformedLink(name string, b []byte, why string, spans ...span) example {
	return example{name: "bad link " + name, b: b, spans: spans, check: func(b []byte) error {
		_, err := link.ParseFrame(b)
		if !errors.Is(err, link.ErrMalformed) || !strings.Contains(err.Error(), why) {
			return fmt.Errorf("ParseFrame: %v, doc states malformed: %s", err, why)
		}
		return nil
	}}
}

// malformedMsg is a sealed message a hub-side Pairing must drop with want.
// prior are sealed messages the hub opened before.
func malformedMsg(name string, b []byte, want error, prior [][]byte, spans ...span) example {
	return example{name: "bad message " + name, b: b, spans: spans, check: func(b []byte) error {
		p, err := lockmsg.NewPairing(testLock, testKey, lockmsg.RoleHub, &lockmsg.MemoryCounterStore{}, lockmsg.PairingOptions{})
		if err != nil {
			return err
		}
		for _, m := range prior {
			if _, _, err := p.Open(m); err != nil {
				return err
			}
		}
		if _, _, err := p.Open(b); !errors.Is(err, want) {
			return fmt.Errorf("Open: %v, doc states %v", err, want)
		}
		return nil
	}}
}

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func examples() []example {
	mobile := &lockmsg.AccessRequest{Kind: lockmsg.CredMobile}
	for i := range mobile.PublicKey {
		mobile.PublicKey[i] = 0xaa
	}
	for i := range mobile.Nonce {
		mobile.Nonce[i] = byte(0x10 + i)
	}
	for i := range mobile.Signature {
		mobile.Signature[i] = 0x5e
	}
	doorcode := &lockmsg.AccessRequest{Kind: lockmsg.CredDoorcode, Code: "4711093"}
	decision := &lockmsg.Decision{Request: 513, Reason: lockmsg.ReasonAllowedByGrant, UnlockSeconds: 5}
	sealedReq, _ := lockmsg.Seal(nil, keys, testLock, 513, doorcode)
	sealedDec, _ := lockmsg.Seal(nil, keys, testLock, 514, decision)
	env := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: testLock, RSSI: -61, Sealed: sealedReq})
	linkData := link.Frame{Kind: link.Data, Epoch: 0x5eed0001, Seq: 7, Payload: env}
	linkBytes := link.AppendFrame(nil, linkData)
	ack := link.Frame{Kind: link.Ack, Epoch: 0x5eed0001, Seq: 8}

	flipped := bytes.Clone(sealedReq)
	flipped[7] ^= 0x01
	reflected := sealedDec
	badType := append([]byte{0x08}, sealedReq[1:]...)

	exs := []example{
		// Serial framing.
		wire("ack", link.AppendFrame(nil, ack)),
		malformedWire("idle", hx("00 00 00"), nil,
			span{3, "delimiters only: no frame, no error"}),
		malformedWire("bad crc", hx("00 08 01 02 03 f1 30 f2 1f 00"), []string{frame.ErrCRC.Error()},
			span{1, "delimiter"}, span{1, "COBS code 08"}, span{3, "payload 01 02 03"},
			span{4, "CRC-32C should be f1 30 f2 1e"}, span{1, "delimiter"}),
		malformedWire("truncated", hx("00 03 11 22 00"), []string{frame.ErrTruncated.Error()},
			span{1, "delimiter"}, span{3, "decodes to 2 bytes: less than a CRC"}, span{1, "delimiter"}),
		malformedWire("bad stuffing", hx("00 05 11 22 00"), []string{frame.ErrStuffing.Error()},
			span{1, "delimiter"}, span{3, "code 05 announces 4 bytes, 2 follow"}, span{1, "delimiter"}),
		malformedWire("garbage between frames", hx("00 08 01 02 03 f1 30 f2 1e 00 de ad be ef 00 08 01 02 03 f1 30 f2 1e 00"),
			[]string{"010203", frame.ErrStuffing.Error(), "010203"},
			span{10, "a frame: payload 01 02 03"}, span{4, "garbage: code de announces 221 bytes"}, span{10, "the next frame, intact"}),

		// Link frames.
		linkFrame("data", linkData, span{1, "version 1, kind 1 DATA"}, span{4, "epoch 5eed0001: the sender's stream"},
			span{1, "sequence 7"}, span{len(env), "payload: the envelope below"}),
		linkFrame("ack", ack, span{1, "version 1, kind 2 ACK"}, span{4, "epoch 5eed0001: the stream acknowledged"},
			span{1, "next expected 8: frames ..7 arrived"}),
		linkFrame("resync", link.Frame{Kind: link.Resync, Epoch: 0x0badcafe}, span{1, "version 1, kind 3 RESYNC"},
			span{4, "epoch 0badcafe: a stream the receiver does not know"}, span{1, "sequence 0"}),
		malformedLink("version 2", hx("21 5eed0001 07"), "version 2", span{1, "version 2"}, span{5, "..."}),
		malformedLink("epoch 0", hx("11 00000000 07 cafe"), "epoch 0", span{1, "DATA"}, span{4, "epoch 0"}, span{3, "..."}),
		malformedLink("ack with payload", hx("12 5eed0001 08 ca"), "ACK with a payload", span{6, "ACK"}, span{1, "a payload byte"}),

		// Envelope, sealed messages.
		{name: "envelope uplink", b: env, spans: []span{
			{1, "kind 01: a lock message"}, {4, "lock 0000a1b2"}, {1, "RSSI -61 dBm (coprocessor's measurement)"},
			{len(sealedReq), "the sealed access request below"},
		}, check: func(b []byte) error {
			e, err := lockmsg.ParseEnvelope(b)
			if err != nil || e.Lock != testLock || e.RSSI != -61 || !bytes.Equal(e.Sealed, sealedReq) {
				return fmt.Errorf("ParseEnvelope = %+v, %v", e, err)
			}
			return nil
		}},
		sealed("access request", 513, doorcode, "body 02 07 34 37 31 31 30 39 33"),
		sealed("decision", 514, decision, "body 00 00 02 01 01 00 05"),
		wire("access request", linkBytes),

		// Bodies, lock -> hub.
		body("hello", &lockmsg.Hello{Status: status, Reason: lockmsg.BootPowerOn, RxFloor: 511, ListCapacity: 1000},
			append(statusSpans(), span{1, "boot reason 1 power_on"}, span{4, "rx floor 511"}, span{2, "list capacity 1000"})...),
		body("heartbeat", &lockmsg.Heartbeat{Status: status}, statusSpans()...),
		body("access request keycard", &lockmsg.AccessRequest{Kind: lockmsg.CredKeycard, CardID: hx("04a1b2c3d4e5f6")},
			span{1, "kind 1 keycard"}, span{1, "length 7 (4..32)"}, span{7, "card id"}),
		body("access request doorcode", doorcode, span{1, "kind 2 doorcode"}, span{1, "length 7 (5..7)"}, span{7, `digits "4711093"`}),
		body("access request mobile", mobile, span{1, "kind 3 mobile"}, span{32, "phone's Ed25519 public key"},
			span{16, "the lock's nonce"}, span{64, "phone's signature"}),
		body("door event", &lockmsg.DoorEvent{Seq: 77, Clock: 1767225600, Event: lockmsg.EventHeldOpen, Detail: 95},
			span{4, "event seq 77"}, span{4, "lock clock"}, span{1, "event 2 held_open"}, span{2, "detail: open 95 s"}),
		body("offline events", &lockmsg.OfflineEvents{Records: []lockmsg.OfflineDecision{
			{Seq: 78, Clock: 1767225660, Kind: lockmsg.CredKeycard, Reason: lockmsg.ReasonAllowedByGrant, Entry: 42},
			{Seq: 79, Clock: 1767225720, Kind: lockmsg.CredDoorcode, Reason: lockmsg.ReasonUnknownCredential}}},
			span{1, "2 records"},
			span{4, "seq 78"}, span{4, "lock clock 2026-01-01T00:01:00Z"}, span{1, "keycard"}, span{1, "reason 01 allowed_by_grant"}, span{4, "list entry 42"},
			span{4, "seq 79"}, span{4, "lock clock 2026-01-01T00:02:00Z"}, span{1, "doorcode"}, span{1, "reason 11 unknown_credential"}, span{4, "no entry"}),
		body("list ack", &lockmsg.ListAck{Version: 13, Chunk: 2, Status: lockmsg.ListChunkStored, Digest: digest("0102030405060708")},
			span{4, "list version 13"}, span{2, "chunk 2"}, span{1, "status 1 chunk_stored"}, span{8, "digest of the active list (still 12)"}),
		body("command result", &lockmsg.CommandResult{Request: 900, Status: lockmsg.CommandJammed},
			span{4, "answers hub counter 900"}, span{1, "status 2 jammed"}),
		body("counter floor", &lockmsg.CounterFloor{From: lockmsg.LockToHub, Floor: 1023},
			span{4, "floor 1023: hub counters up to 1023 are dropped"}),

		// Bodies, hub -> lock.
		body("status ack", &lockmsg.StatusAck{Request: 513, Clock: 1767225601, ClockTrusted: true, More: true, ListVersion: 13},
			span{4, "answers lock counter 513"}, span{4, "hub clock 2026-01-01T00:00:01Z"},
			span{1, "flags: bit 0 clock_trusted, bit 1 more"}, span{4, "wanted list version 13"}),
		body("decision allow", decision, span{4, "answers access request 513"}, span{1, "reason 01 allowed_by_grant"}, span{2, "unlock 5 s"}),
		body("decision deny", &lockmsg.Decision{Request: 515, Reason: lockmsg.ReasonExpired},
			span{4, "answers access request 515"}, span{1, "reason 1b expired"}, span{2, "unlock 0"}),
		body("remote unlock", &lockmsg.RemoteUnlock{UnlockSeconds: 10}, span{2, "unlock 10 s"}),
		body("time sync", &lockmsg.TimeSync{Clock: 1767225601, Trusted: true}, span{4, "hub clock"}, span{1, "flags: bit 0 trusted"}),
		body("list chunk", &lockmsg.ListChunk{Version: 13, Index: 0, Count: 3, Digest: digest("a1a2a3a4a5a6a7a8"), Data: []byte("entries")},
			span{4, "list version 13"}, span{2, "chunk 0"}, span{2, "of 3"}, span{8, "digest of the whole list"}, span{7, "entries (opaque here)"}),
		body("event ack", &lockmsg.EventAck{Through: 79}, span{4, "events up to seq 79 are stored"}),
		body("door assign", &lockmsg.DoorAssign{Door: "main-entrance"}, span{1, "length 13 (1..64)"}, span{13, `door id "main-entrance"`}),

		// Coprocessor control envelopes.
		control("version request", &coproc.VersionRequest{Token: 0x2a}, span{1, "kind 02 version_request"}, span{4, "token 0000002a"}),
		control("version", &coproc.Version{Token: 0x2a, Protocol: 1, Firmware: lockmsg.Firmware{Major: 2, Minor: 0, Patch: 1}, MaxLocks: 64},
			span{1, "kind 03 version"}, span{4, "token 0000002a: answers the request above"}, span{1, "protocol 1"},
			span{3, "firmware 2.0.1"}, span{2, "relays for up to 64 locks"}),
		control("reset", &coproc.Reset{Token: 0x2b}, span{1, "kind 04 reset"}, span{4, "token 0000002b: echoed by the version sent after the restart"}),
		control("undelivered", &coproc.Undelivered{Lock: testLock, Type: lockmsg.TypeDoorAssign, Counter: 900, Reason: coproc.LockAsleep},
			span{1, "kind 05 undelivered"}, span{4, "lock 0000a1b2"}, span{1, "type door_assign(0x47)"}, span{4, "hub counter 900"},
			span{1, "reason 1 lock_asleep"}),

		// Messages a hub drops.
		malformedMsg("forged", flipped, lockmsg.ErrForged, nil,
			span{5, "header of the access request above"}, span{len(flipped) - 5, "one bit flipped in the ciphertext: the MAC fails"}),
		malformedMsg("replayed", sealedReq, lockmsg.ErrReplay, [][]byte{sealedReq},
			span{len(sealedReq), "the access request above, a second time"}),
		malformedMsg("reflected", reflected, lockmsg.ErrDirection, nil,
			span{len(reflected), "the hub's own decision above, sent back to it"}),
		malformedMsg("unknown type", badType, lockmsg.ErrMalformed, nil,
			span{1, "type 08: not assigned"}, span{len(badType) - 1, "rest of the access request"}),
	}
	return exs
}

// render writes an example as an annotated hex block: up to 16 bytes a
// line, the annotation after '#'.
func render(ex example) string {
	var sb strings.Builder
	off := 0
	const width = 16*3 - 1
	for _, s := range ex.spans {
		b := ex.b[off : off+s.n]
		off += s.n
		for first := true; first || len(b) > 0; first = false {
			n := min(len(b), 16)
			h := fmt.Sprintf("% x", b[:n])
			b = b[n:]
			if first {
				fmt.Fprintf(&sb, "%-*s  # %s\n", width, h, s.text)
			} else {
				fmt.Fprintf(&sb, "%s\n", h)
			}
		}
	}
	if off != len(ex.b) {
		panic(fmt.Sprintf("example %s: spans cover %d of %d bytes", ex.name, off, len(ex.b)))
	}
	return "```text\n" + sb.String() + "```\n"
}

var blockRE = regexp.MustCompile("(?s)<!-- BEGIN generated: example ([^>]+?) -->\n(.*?)<!-- END generated: example ([^>]+?) -->")

// parseBlock reads the bytes back from a rendered block: hex before '#'.
func parseBlock(block string) ([]byte, error) {
	var out []byte
	for _, line := range strings.Split(block, "\n") {
		if strings.HasPrefix(line, "```") {
			continue
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(line), ""))
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func TestProtocolDoc(t *testing.T) {
	docBytes, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docBytes)
	byName := map[string]example{}
	for _, ex := range examples() {
		if _, dup := byName[ex.name]; dup {
			t.Fatalf("two examples named %q", ex.name)
		}
		byName[ex.name] = ex
	}
	used := map[string]bool{}
	out := blockRE.ReplaceAllStringFunc(doc, func(m string) string {
		sub := blockRE.FindStringSubmatch(m)
		name, block := sub[1], sub[2]
		if sub[3] != name {
			t.Errorf("block %q ends as %q", name, sub[3])
			return m
		}
		ex, ok := byName[name]
		if !ok {
			t.Errorf("the doc has a block %q that no example generates", name)
			return m
		}
		used[name] = true
		want := render(ex)
		if !*update {
			if block != want {
				t.Errorf("block %q is stale; run go test ./radio -run TestProtocolDoc -update\n--- doc\n%s--- code\n%s", name, block, want)
			}
			b, err := parseBlock(block)
			if err != nil {
				t.Errorf("block %q: %v", name, err)
			} else if err := ex.check(b); err != nil {
				t.Errorf("block %q does not decode as stated: %v", name, err)
			}
		}
		return "<!-- BEGIN generated: example " + name + " -->\n" + want + "<!-- END generated: example " + name + " -->"
	})
	for name := range byName {
		if !used[name] {
			t.Errorf("example %q is not in the doc", name)
		}
	}
	if *update && out != doc {
		if err := os.WriteFile(protocolDoc, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote", protocolDoc)
	}
}

// TestExamplesDecode checks each example against its own statement, so a
// broken example is caught even before the doc is regenerated.
func TestExamplesDecode(t *testing.T) {
	for _, ex := range examples() {
		render(ex) // spans cover the bytes
		if err := ex.check(ex.b); err != nil {
			t.Errorf("%s: %v", ex.name, err)
		}
	}
}

// TestDocSizes checks the sizes and times the doc states.
func TestDocSizes(t *testing.T) {
	onWire := func(m lockmsg.Message) int {
		s, err := lockmsg.Seal(nil, keys, testLock, 1, m)
		if err != nil {
			t.Fatal(err)
		}
		env := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: testLock, Sealed: s})
		return len(frame.Encode(link.AppendFrame(nil, link.Frame{Kind: link.Data, Epoch: 1, Payload: env})))
	}
	ms := func(n int) float64 { return float64(n) * 10 / 115200 * 1000 } // 8N1: 10 bits a byte
	keycard := onWire(&lockmsg.AccessRequest{Kind: lockmsg.CredKeycard, CardID: []byte{1, 2, 3, 4}})
	decision := onWire(&lockmsg.Decision{Request: 1, Reason: lockmsg.ReasonExpired})
	ack := len(frame.Encode(link.AppendFrame(nil, link.Frame{Kind: link.Ack, Epoch: 1, Seq: 1})))
	for _, c := range []struct {
		what      string
		got, want int
		ms        float64
	}{
		{"keycard request", keycard, 38, 3.3}, {"decision", decision, 39, 3.4}, {"link ack", ack, 13, 1.1},
		{"largest frame", frame.MaxWire, 264, 22.9},
	} {
		if c.got != c.want || fmt.Sprintf("%.1f", ms(c.got)) != fmt.Sprintf("%.1f", c.ms) {
			t.Errorf("%s: %d bytes, %.2f ms; doc says %d, %.1f ms", c.what, c.got, ms(c.got), c.want, c.ms)
		}
	}
	if link.MaxPayload != 250 || lockmsg.MaxEnvelope != 250 || lockmsg.MaxSealed != 244 || lockmsg.MaxBody != 231 || frame.MaxPayload != 256 {
		t.Error("the size table of section 1 is out of date")
	}
	if w := frame.MaxWire * link.DefaultWindow; fmt.Sprintf("%.0f", ms(w)) != "92" {
		t.Errorf("a full window of the largest frames is %.1f ms, doc says 92", ms(w))
	}
	if total := link.DefaultAckTimeout + 2*link.DefaultAckTimeout + 3*link.DefaultMaxAckTimeout; total != 3750*time.Millisecond {
		t.Errorf("failure after %v, doc says 3.75 s", total)
	}
}

// TestDocTables checks the type table of section 6 and the reason table
// of section 7 against the code.
func TestDocTables(t *testing.T) {
	docBytes, err := os.ReadFile(protocolDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docBytes)
	types := regexp.MustCompile("(?m)^\\| `([0-9a-f]{2})` \\| ([a-z_]+) \\| (lock|hub) → (lock|hub) \\|").FindAllStringSubmatch(doc, -1)
	if len(types) != 16 {
		t.Fatalf("found %d rows in the type table", len(types))
	}
	for _, row := range types {
		b, _ := hex.DecodeString(row[1])
		typ := lockmsg.Type(b[0])
		dir := lockmsg.LockToHub
		if row[3] == "hub" {
			dir = lockmsg.HubToLock
		}
		if want := fmt.Sprintf("%s(0x%s)", row[2], row[1]); typ.String() != want || typ.Direction() != dir {
			t.Errorf("doc: type %s %s %s; code: %s %s", row[1], row[2], dir, typ, typ.Direction())
		}
	}
	reasons := regexp.MustCompile("(?m)^\\| `([0-9a-f]{2})` \\| `([a-z_]+)` \\| (yes|no) \\|").FindAllStringSubmatch(doc, -1)
	if len(reasons) != len(lockmsg.Reasons()) {
		t.Errorf("doc lists %d reason codes, code has %d", len(reasons), len(lockmsg.Reasons()))
	}
	for _, row := range reasons {
		b, _ := hex.DecodeString(row[1])
		r := lockmsg.Reason(b[0])
		if r.String() != row[2] || r.Allowed() != (row[3] == "yes") {
			t.Errorf("doc: reason %s %s %s; code: %s allowed=%v", row[1], row[2], row[3], r, r.Allowed())
		}
	}
}
