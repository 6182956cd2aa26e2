// Package annotated reads the byte-annotated hex of the radio packages'
// test tables and docs: on each line, the hex pairs before a '#'.
package annotated

import (
	"encoding/hex"
	"strings"
)

// Hex parses annotated hex and panics on a malformed table: tables are
// code, and a typo in one is a bug in the test.
func Hex(s string) []byte {
	var out []byte
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(line), ""))
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out
}
