package lockmsg

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzBody: no body makes ParseBody panic; every body it accepts re-encodes
// to the same bytes, and survives sealing and unsealing unchanged.
func FuzzBody(f *testing.F) {
	for _, tc := range bodyTests {
		f.Add(uint8(tc.msg.Type()), hx(tc.body), uint32(1))
	}
	for _, tc := range malformedBodies {
		f.Add(uint8(tc.typ), hx(tc.body), uint32(7))
	}
	k := NewKeys(testKey)
	f.Fuzz(func(t *testing.T, typ uint8, body []byte, counter uint32) {
		m, err := ParseBody(Type(typ), body)
		if err != nil {
			if m != nil {
				t.Fatal("a message with an error")
			}
			return
		}
		if m.Type() != Type(typ) {
			t.Fatalf("parsed %s as %s", Type(typ), m.Type())
		}
		again, err := AppendBody(nil, m)
		if err != nil || !bytes.Equal(again, body) {
			t.Fatalf("re-encoding %+v: % x, %v; was % x", m, again, err, body)
		}
		if counter == 0 || len(body) > MaxBody {
			return
		}
		sealed, err := Seal(nil, k, testLock, counter, m)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		h, m2, err := Unseal(k, testLock, sealed)
		if err != nil || h.Counter != counter || !reflect.DeepEqual(m, m2) {
			t.Fatalf("Unseal: %v %+v %v", h, m2, err)
		}
	})
}

// FuzzOpen: arbitrary bytes never panic Open, never pass as a message
// unless they are an authentic one, and every input is counted once.
func FuzzOpen(f *testing.F) {
	k := NewKeys(testKey)
	for _, v := range sealVectors {
		f.Add(hx(v.sealed))
	}
	good, _ := Seal(nil, k, testLock, 9, &Heartbeat{Status: testStatus})
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := NewPairing(testLock, testKey, RoleHub, &MemoryCounterStore{}, PairingOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h, m, err := p.Open(b)
		s := p.Stats()
		if n := s.Accepted + s.Forged + s.Replayed + s.Reflected + s.Malformed; n != 1 && !(err == nil && n == 0) {
			t.Fatalf("stats %+v after one Open", s)
		}
		if err != nil {
			return
		}
		// Accepted: it must be exactly what sealing the message gives.
		again, err := Seal(nil, k, testLock, h.Counter, m)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted % x, which is not a sealed %+v", b, m)
		}
	})
}

// FuzzEnvelope: ParseEnvelope never panics and what it accepts re-encodes
// to the same bytes.
func FuzzEnvelope(f *testing.F) {
	for _, tc := range envelopeTests {
		f.Add(hx(tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if again := AppendEnvelope(nil, e); !bytes.Equal(again, b) {
			t.Fatalf("% x re-encodes to % x", b, again)
		}
	})
}
