package link

import (
	"github.com/doorhub/doorhub/radio/internal/annotated"

	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// hx parses annotated hex (see package annotated).
func hx(s string) []byte { return annotated.Hex(s) }

var frameTests = []struct {
	name string
	f    Frame
	hex  string
}{
	{"data", Frame{Kind: Data, Epoch: 0x5eed0001, Seq: 7, Payload: []byte{0xca, 0xfe}}, `
		11           # version 1, DATA
		5e ed 00 01  # epoch of the sender's stream
		07           # sequence 7
		ca fe        # payload`},
	{"data without payload", Frame{Kind: Data, Epoch: 0x5eed0001, Seq: 8}, `
		11 5e ed 00 01 08`},
	{"ack", Frame{Kind: Ack, Epoch: 0x5eed0001, Seq: 8}, `
		12           # version 1, ACK
		5e ed 00 01  # the stream acknowledged
		08           # next expected: everything before 8 arrived`},
	{"resync", Frame{Kind: Resync, Epoch: 0x0badcafe}, `
		13           # version 1, RESYNC
		0b ad ca fe  # the stream the receiver does not know
		00           # no sequence`},
}

func TestFrames(t *testing.T) {
	for _, tc := range frameTests {
		want := hx(tc.hex)
		if got := AppendFrame(nil, tc.f); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendFrame = % x, want % x", tc.name, got, want)
		}
		if f, err := ParseFrame(want); err != nil || !reflect.DeepEqual(f, tc.f) {
			t.Errorf("%s: ParseFrame = %+v, %v", tc.name, f, err)
		}
	}
}

var malformedFrames = []struct{ name, hex, why string }{
	{"empty", ``, "0 bytes"},
	{"shorter than the header", `11 5e ed 00 01`, "5 bytes"},
	{"version 2", `21 5e ed 00 01 07`, "version 2"},
	{"version 0", `01 5e ed 00 01 07`, "version 0"},
	{"unknown kind", `14 5e ed 00 01 07`, "kind(4)"},
	{"epoch 0", `11 00 00 00 00 07 ca fe`, "epoch 0"},
	{"ack with a payload", `12 5e ed 00 01 08 ca`, "ACK with a payload"},
	{"resync with a sequence", `13 5e ed 00 01 01`, "RESYNC with sequence 1"},
	{"payload too long", `11 5e ed 00 01 07` + strings.Repeat(" 00", MaxPayload+1), "payload of 251 bytes"},
}

func TestMalformedFrames(t *testing.T) {
	for _, tc := range malformedFrames {
		_, err := ParseFrame(hx(tc.hex))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: %v, want ErrMalformed: %s", tc.name, err, tc.why)
		}
	}
}

// FuzzFrame: ParseFrame never panics, and what it accepts re-encodes to
// the same bytes.
func FuzzFrame(f *testing.F) {
	for _, tc := range frameTests {
		f.Add(hx(tc.hex))
	}
	for _, tc := range malformedFrames {
		f.Add(hx(tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			return
		}
		if again := AppendFrame(nil, fr); !bytes.Equal(again, b) {
			t.Fatalf("% x re-encodes to % x", b, again)
		}
	})
}
