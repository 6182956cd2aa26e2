package frame

import (
	"bytes"
	"testing"
)

// FuzzRoundTrip: every payload up to MaxPayload survives encoding and
// decoding, however the wire bytes are chunked, and the encoding holds no
// zero but its delimiters.
func FuzzRoundTrip(f *testing.F) {
	for _, tc := range encodeTests {
		f.Add(tc.payload, uint8(3))
	}
	f.Add(repeat(0x00, MaxPayload), uint8(1))
	f.Add(repeat(0xff, MaxPayload), uint8(200))
	f.Add(repeat(0x5a, 254), uint8(0))
	f.Fuzz(func(t *testing.T, payload []byte, chunk uint8) {
		if len(payload) > MaxPayload {
			payload = payload[:MaxPayload]
		}
		w := AppendEncode(nil, payload)
		if len(w) > EncodedLen(len(payload)) || len(w) > MaxWire {
			t.Fatalf("encoded %d bytes into %d, bound %d", len(payload), len(w), EncodedLen(len(payload)))
		}
		if z := bytes.Count(w, []byte{Delimiter}); z != 2 || w[0] != 0 || w[len(w)-1] != 0 {
			t.Fatalf("encoding holds %d zeros: % x", z, w)
		}
		var d Decoder
		var got [][]byte
		step := int(chunk) + 1
		for src := w; len(src) > 0; {
			n := min(step, len(src))
			part := src[:n]
			src = src[n:]
			for len(part) > 0 {
				k, p, err := d.Next(part)
				part = part[k:]
				if err != nil {
					t.Fatalf("decoding % x: %v", w, err)
				}
				if p != nil {
					got = append(got, bytes.Clone(p))
				}
			}
		}
		if len(got) != 1 || !bytes.Equal(got[0], payload) {
			t.Fatalf("round trip of % x gave %x", payload, got)
		}
	})
}

// FuzzDecoder: no input makes the decoder panic, over-read or hand out an
// oversize payload; chunking does not change what it finds; every payload
// it accepts re-encodes to a frame that decodes to the same payload.
func FuzzDecoder(f *testing.F) {
	for _, tc := range decodeTests {
		f.Add(tc.in, uint8(5))
	}
	f.Add(hx(`00 ff 00 01 00`), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole := decodeAll(in)
		var parts [][]byte
		step := int(chunk)%17 + 1
		for i := 0; i < len(in); i += step {
			parts = append(parts, in[i:min(i+step, len(in))])
		}
		split := decodeAll(parts...)
		if len(whole) != len(split) {
			t.Fatalf("whole gave %d results, chunked %d", len(whole), len(split))
		}
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("result %d: whole %v, chunked %v", i, whole[i], split[i])
			}
			if whole[i].err != nil {
				continue
			}
			p := mustHex(whole[i].payload)
			if len(p) > MaxPayload {
				t.Fatalf("payload of %d bytes accepted", len(p))
			}
			var d Decoder
			w := Encode(p)
			if _, q, err := d.Next(w); err != nil || !bytes.Equal(p, q) {
				t.Fatalf("re-encoding % x: %v", p, err)
			}
		}
		// One result per zero at most: the decoder cannot invent frames.
		if z := bytes.Count(in, []byte{0}); len(whole) > z+len(in)/MaxStuffed {
			t.Fatalf("%d results from %d delimiters", len(whole), z)
		}
	})
}

func mustHex(s string) []byte { return hx(s) }
