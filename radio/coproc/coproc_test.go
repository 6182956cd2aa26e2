package coproc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/radio/lockmsg"
)

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var good = []struct {
	name string
	m    Message
	wire string
}{
	{"version request", &VersionRequest{Token: 0x01020304}, "02 01020304"},
	{"version", &Version{Token: 7, Protocol: 1, Firmware: firmware(2, 0, 1), MaxLocks: 64}, "03 00000007 01 020001 0040"},
	{"reset", &Reset{Token: 9}, "04 00000009"},
	{"undelivered", &Undelivered{Lock: 0xa1b2, Type: 0x47, Counter: 900, Reason: LockAsleep}, "05 0000a1b2 47 00000384 01"},
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range good {
		b := Append(nil, tc.m)
		if !bytes.Equal(b, hx(tc.wire)) {
			t.Errorf("%s: % x, want %s", tc.name, b, tc.wire)
		}
		m, err := Parse(b)
		if err != nil || !reflect.DeepEqual(m, tc.m) {
			t.Errorf("%s: Parse = %+v, %v", tc.name, m, err)
		}
		if !IsControl(b) {
			t.Errorf("%s: not a control envelope", tc.name)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, wire string }{
		{"empty", ""},
		{"lock envelope", "01 0000a1b2 c3"},
		{"reserved kind", "06 00000001"},
		{"short", "02 010203"},
		{"long", "04 00000009 00"},
		{"protocol 0", "03 00000007 00 020001 0040"},
		{"undelivered lock message", "05 0000a1b2 03 00000384 01"},
		{"undelivered counter 0", "05 0000a1b2 42 00000000 01"},
		{"undelivered reason 0", "05 0000a1b2 42 00000384 00"},
		{"undelivered reason 4", "05 0000a1b2 42 00000384 04"},
	} {
		if m, err := Parse(hx(tc.wire)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v", tc.name, m, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range good {
		f.Add(Append(nil, tc.m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if again := Append(nil, m); !bytes.Equal(again, b) {
			t.Fatalf("% x parsed as %+v re-encodes to % x", b, m, again)
		}
	})
}

func firmware(a, b, c uint8) lockmsg.Firmware { return lockmsg.Firmware{Major: a, Minor: b, Patch: c} }
