package lockmsg

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestCMACRFC4493 checks the four examples of RFC 4493 section 4, the
// subkeys of section 4 included, and the same inputs split across parts.
func TestCMACRFC4493(t *testing.T) {
	key := unhex("2b7e151628aed2a6abf7158809cf4f3c")
	c := newCMAC(key)
	if got := hex.EncodeToString(c.k1[:]); got != "fbeed618357133667c85e08f7236a8de" {
		t.Errorf("K1 = %s", got)
	}
	if got := hex.EncodeToString(c.k2[:]); got != "f7ddac306ae266ccf90bc11ee46d513b" {
		t.Errorf("K2 = %s", got)
	}
	msg := unhex("6bc1bee22e409f96e93d7e117393172a" +
		"ae2d8a571e03ac9c9eb76fac45af8e51" +
		"30c81c46a35ce411e5fbc1191a0a52ef" +
		"f69f2445df4f9b17ad2b417be66c3710")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		m := msg[:tc.n]
		got := c.sum(m)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("CMAC of %d bytes = %x, want %s", tc.n, got, tc.want)
		}
		for cut := 0; cut <= tc.n; cut += 7 {
			if split := c.sum(m[:cut], nil, m[cut:]); !bytes.Equal(split[:], got[:]) {
				t.Errorf("CMAC of %d bytes split at %d = %x", tc.n, cut, split)
			}
		}
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
