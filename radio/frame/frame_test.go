package frame

import (
	"github.com/doorhub/doorhub/radio/internal/annotated"

	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// hx parses annotated hex (see package annotated).
func hx(s string) []byte { return annotated.Hex(s) }

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

var encodeTests = []struct {
	name    string
	payload []byte
	wire    string
}{
	{"empty payload", nil, `
		00              # delimiter
		01 01 01 01 01  # COBS of CRC 00 00 00 00: four zeros, each a code 01
		00              # delimiter`},
	{"three bytes", []byte{0x01, 0x02, 0x03}, `
		00              # delimiter
		08              # code: 7 non-zero bytes follow, no zero implied (end)
		01 02 03        # payload
		f1 30 f2 1e     # CRC-32C(01 02 03), big-endian
		00              # delimiter`},
	{"a zero inside", []byte{0x11, 0x00, 0x22}, `
		00              # delimiter
		02 11           # code 02: one byte, then the zero
		06 22           # code 06: five bytes, no zero implied (end): 22 and the CRC
		74 01 b2 a7     # CRC-32C(11 00 22)
		00              # delimiter`},
	{"single zero", []byte{0x00}, `
		00              # delimiter
		01              # code 01: no byte, then the zero
		05 52 7d 53 51  # code 05: the CRC
		00              # delimiter`},
	{"ascii", []byte("hello"), `
		00
		0a 68 65 6c 6c 6f  # code 0a, "hello"
		9a 71 bb 4c        # CRC-32C("hello")
		00`},
}

func TestEncode(t *testing.T) {
	for _, tc := range encodeTests {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			got := AppendEncode([]byte("prefix"), tc.payload)
			if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
				t.Fatalf("AppendEncode(% x)\n got % x\nwant % x", tc.payload, got[6:], want)
			}
			var d Decoder
			n, p, err := d.Next(want)
			if n != len(want) || err != nil || !bytes.Equal(p, tc.payload) {
				t.Fatalf("Next(% x) = %d, % x, %v", want, n, p, err)
			}
		})
	}
}

func TestCRCCheckValue(t *testing.T) {
	if got := CRC([]byte("123456789")); got != 0xE3069283 {
		t.Fatalf("CRC-32C check value = %08x, want e3069283", got)
	}
}

func TestEncodeSizes(t *testing.T) {
	for _, n := range []int{0, 1, 249, 250, 253, 254, MaxPayload} {
		for _, fill := range []byte{0x00, 0x5a} {
			p := repeat(fill, n)
			w := Encode(p)
			if len(w) > EncodedLen(n) {
				t.Errorf("n=%d fill=%02x: %d bytes > EncodedLen %d", n, fill, len(w), EncodedLen(n))
			}
			if len(w) > MaxWire {
				t.Errorf("n=%d: %d bytes > MaxWire", n, len(w))
			}
			if z := bytes.Count(w, []byte{0}); z != 2 {
				t.Errorf("n=%d fill=%02x: %d zero bytes, want the 2 delimiters", n, fill, z)
			}
			if got, err := Decode(w[1 : len(w)-1]); err != nil || !bytes.Equal(got, p) {
				t.Errorf("n=%d fill=%02x: Decode = %v, %v", n, fill, len(got), err)
			}
		}
	}
	if n := len(Encode(repeat(0x5a, MaxPayload))); n != MaxWire {
		t.Errorf("largest frame is %d bytes, MaxWire says %d", n, MaxWire)
	}
	if n := len(Encode(repeat(0x5a, 249))); n != 249+7 {
		t.Errorf("249-byte payload: %d bytes on the wire, doc says n+7", n)
	}
}

func TestEncodePanicsOnOversize(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a payload longer than MaxPayload")
		}
	}()
	Encode(make([]byte, MaxPayload+1))
}

// result is one frame or error out of a Decoder.
type result struct {
	payload string // hex
	err     error
}

// decodeAll feeds chunks to a fresh decoder and collects every result.
func decodeAll(chunks ...[]byte) []result {
	var d Decoder
	var out []result
	for _, src := range chunks {
		for len(src) > 0 {
			n, p, err := d.Next(src)
			src = src[n:]
			if p != nil || err != nil {
				out = append(out, result{hex.EncodeToString(p), err})
			}
		}
	}
	return out
}

// frameA and frameB are two valid frames used around the malformed ones.
var (
	frameA = hx(`00 08 01 02 03 f1 30 f2 1e 00`)       // payload 01 02 03
	frameB = hx(`00 0a 68 65 6c 6c 6f 9a 71 bb 4c 00`) // payload "hello"
	okA    = result{payload: "010203"}
	okB    = result{payload: hex.EncodeToString([]byte("hello"))}
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var decodeTests = []struct {
	name string
	in   []byte
	want []result
}{
	{"two frames", cat(frameA, frameB), []result{okA, okB}},
	{"frames sharing one delimiter", cat(frameA, frameB[1:]), []result{okA, okB}},
	{"empty: idle delimiters only", hx(`00 00 00 00`), nil},
	{"empty frames between frames", cat(frameA, hx(`00 00`), frameB), []result{okA, okB}},
	{"bad CRC", hx(`
		00
		08 01 02 03     # payload 01 02 03
		f1 30 f2 1f     # CRC off by one bit
		00`), []result{{err: ErrCRC}}},
	{"bad CRC then good frame", cat(hx(`00 08 01 02 07 f1 30 f2 1e 00`), frameB), []result{{err: ErrCRC}, okB}},
	{"truncated: shorter than the CRC", hx(`
		00
		03 11 22        # decodes to 11 22: not even a CRC
		00`), []result{{err: ErrTruncated}}},
	{"cut short: reads as bad stuffing, next frame intact", cat(frameA[:5], frameB), []result{{err: ErrStuffing}, okB}},
	{"bad stuffing: code runs past the delimiter", hx(`
		00
		05 11 22        # code 05 announces 4 bytes, 2 follow
		00`), []result{{err: ErrStuffing}}},
	{"oversize: no delimiter for more than MaxStuffed bytes", cat(hx(`00`), repeat(0x41, MaxStuffed+40), frameB),
		[]result{{err: ErrTooLong}, okB}},
	{"oversize: valid COBS of a 257-byte payload", cat(hx(`00`), stuffedZeros(MaxPayload+1), hx(`00`), frameA),
		[]result{{err: ErrTooLong}, okA}},
	{"garbage between frames", cat(frameA, hx(`de ad be ef`), frameB), []result{okA, {err: ErrStuffing}, okB}},
	{"garbage before the first frame", cat(hx(`13 37 42`), frameA), []result{{err: ErrStuffing}, okA}},
	{"garbage without zeros, then a frame", cat(repeat(0xff, 1000), frameA), []result{{err: ErrTooLong}, okA}},
	{"no leading delimiter: garbage merges into the frame", cat(hx(`13 37`), frameA[1:]), []result{{err: ErrStuffing}}},
}

// stuffedZeros returns the COBS form of n zero bytes followed by their CRC:
// n+4 content bytes as n code-01 groups, then the CRC.
func stuffedZeros(n int) []byte {
	p := make([]byte, n)
	var crc [4]byte
	c := CRC(p)
	crc[0], crc[1], crc[2], crc[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	out := repeat(0x01, n)
	// The CRC as one group (assumes it holds no zero, checked below).
	if bytes.IndexByte(crc[:], 0) >= 0 {
		panic("test CRC holds a zero")
	}
	return append(append(out, 5), crc[:]...)
}

func TestDecoder(t *testing.T) {
	for _, tc := range decodeTests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(how string, got []result) {
				t.Helper()
				if len(got) != len(tc.want) {
					t.Fatalf("%s: got %v, want %v", how, got, tc.want)
				}
				for i := range got {
					if got[i].payload != tc.want[i].payload || !errors.Is(got[i].err, tc.want[i].err) {
						t.Fatalf("%s: result %d = %v, want %v", how, i, got[i], tc.want[i])
					}
				}
			}
			check("whole", decodeAll(tc.in))
			var bytewise [][]byte
			for i := range tc.in {
				bytewise = append(bytewise, tc.in[i:i+1])
			}
			check("byte by byte", decodeAll(bytewise...))
			for _, cut := range []int{1, 3, 7, 64, 263} {
				if cut < len(tc.in) {
					check("split", decodeAll(tc.in[:cut], tc.in[cut:]))
				}
			}
		})
	}
}

func TestDecodeStandalone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stuffed []byte
		err     error
	}{
		{"valid", frameA[1 : len(frameA)-1], nil},
		{"holds a delimiter", hx(`08 01 00 03 f1 30 f2 1e`), ErrStuffing},
		{"oversize", repeat(0x41, MaxStuffed+1), ErrTooLong},
		{"bad stuffing", hx(`ff 01 02`), ErrStuffing},
		{"empty", nil, ErrTruncated},
	} {
		_, err := Decode(append([]byte(nil), tc.stuffed...))
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: Decode = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestDecoderReset(t *testing.T) {
	var d Decoder
	d.Next(frameA[:6])
	d.Reset()
	n, p, err := d.Next(frameB[1:])
	if n != len(frameB)-1 || err != nil || string(p) != "hello" {
		t.Fatalf("after Reset: %d %q %v", n, p, err)
	}
}

func BenchmarkEncode(b *testing.B) {
	p := repeat(0x5a, 40)
	buf := make([]byte, 0, MaxWire)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		buf = AppendEncode(buf[:0], p)
	}
}

func BenchmarkDecode(b *testing.B) {
	w := Encode(repeat(0x5a, 40))
	b.SetBytes(int64(len(w)))
	var d Decoder
	for b.Loop() {
		if _, p, err := d.Next(w); p == nil || err != nil {
			b.Fatal(err)
		}
	}
}
