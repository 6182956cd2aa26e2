package eventlog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// unhex reads hex with spaces and comments (from "//" to the end of a
// line) left out.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const salt = 0x0102030405060708

// A record frame of seq 5 holding "hi" in the segment of salt, byte by
// byte.
const frameHi = `
	02000000         // payload length 2
	0cca8c00         // CRC-32C of salt (8 bytes LE), length, seq and payload
	0500000000000000 // seq 5
	6869             // "hi"
`

func TestFrameBytes(t *testing.T) {
	want := unhex(t, frameHi)
	got := AppendFrame(nil, salt, 5, []byte("hi"))
	if !bytes.Equal(got, want) {
		t.Fatalf("frame %x\nwant  %x", got, want)
	}
	seq, p, n, _, err := DecodeFrame(append(got, 0xee), salt)
	if err != nil || seq != 5 || string(p) != "hi" || n != 18 {
		t.Fatalf("decoded %d %q %d %v", seq, p, n, err)
	}
	hdr := AppendHeader(nil, 42, salt)
	if len(hdr) != HeaderSize || string(hdr[:8]) != "DHEVLOG1" {
		t.Fatalf("header %x", hdr)
	}
	if base, s, err := DecodeHeader(hdr); base != 42 || s != salt || err != nil {
		t.Fatalf("header decoded %d %x %v", base, s, err)
	}
	from, to := decodeAck(AppendAck(nil, salt, 7, 9)[FrameOverhead:])
	if from != 7 || to != 9 {
		t.Fatalf("ack %d %d", from, to)
	}
}

func TestFrameMalformed(t *testing.T) {
	good := func() []byte { return AppendFrame(nil, salt, 5, []byte("hi")) }
	for _, tc := range []struct {
		name string
		b    []byte
		salt uint64
		want error
	}{
		{"zeros end the frames", make([]byte, 32), salt, errEnd},
		{"fewer bytes than a frame header", good()[:10], salt, errShort},
		{"payload cut short", good()[:17], salt, errShort},
		{"another segment's salt", good(), salt + 1, ErrCorrupt},
		{"flipped payload bit", func() []byte { b := good(); b[16] ^= 1; return b }(), salt, ErrCorrupt},
		{"flipped seq bit", func() []byte { b := good(); b[8] ^= 1; return b }(), salt, ErrCorrupt},
		{"length beyond MaxPayload", unhex(t, "ffffff7f 00000000 0500000000000000"), salt, ErrCorrupt},
		{"zero length with a checksum", unhex(t, "00000000 01000000 0000000000000000"), salt, ErrCorrupt},
		{"ack of the wrong size", AppendFrame(nil, salt, 0, []byte("short")), salt, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, _, err := DecodeFrame(tc.b, tc.salt); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"zero header: an unused segment", make([]byte, HeaderSize), errEnd},
		{"wrong magic", append([]byte("DHEVLOG2"), AppendHeader(nil, 1, salt)[8:]...), ErrCorrupt},
		{"flipped base bit", func() []byte { b := AppendHeader(nil, 1, salt); b[8] ^= 1; return b }(), ErrCorrupt},
		{"short", AppendHeader(nil, 1, salt)[:20], ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeHeader(tc.b); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}
