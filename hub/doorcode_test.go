package hub_test

import (
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestDoorcodeVectors checks every vector in docs/doorcode.md, so the
// document a cloud team implements from cannot drift from the code.
func TestDoorcodeVectors(t *testing.T) {
	doc, err := os.ReadFile("../docs/doorcode.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		var f []string
		for _, cell := range strings.Split(strings.Trim(line, "| "), "|") {
			f = append(f, strings.Trim(strings.TrimSpace(cell), "`"))
		}
		if len(f) != 7 {
			continue
		}
		secret, err := hex.DecodeString(f[0])
		if err != nil {
			t.Fatalf("vector %q: secret: %v", line, err)
		}
		reroll, _ := strconv.ParseUint(f[4], 10, 32)
		length, _ := strconv.Atoi(f[5])
		if got := hub.DailyDoorcode(secret, f[1], f[2], f[3], uint32(reroll), length); got != f[6] {
			t.Errorf("vector %q: got %s", line, got)
		}
		n++
	}
	if n < 5 {
		t.Fatalf("found %d vectors in docs/doorcode.md", n)
	}
}

func TestDoorcodeProperties(t *testing.T) {
	s := []byte("0123456789abcdef")
	for length := hub.MinDoorcodeLength; length <= hub.MaxDoorcodeLength; length++ {
		seen := map[string]bool{}
		for i := 0; i < 2000; i++ {
			c := hub.DailyDoorcode(s, "d", "p"+strconv.Itoa(i), "2026-01-01", 0, length)
			if len(c) != length || strings.Trim(c, "0123456789") != "" {
				t.Fatalf("code %q for length %d", c, length)
			}
			seen[c] = true
		}
		if len(seen) < 1900 { // a few birthday collisions at most
			t.Errorf("length %d: only %d distinct codes of 2000", length, len(seen))
		}
	}
}

func TestLocalDayAcrossDST(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	// 2027-03-28: clocks go forward, a 23-hour day.
	date, start, end := hub.LocalDay(time.Date(2027, 3, 28, 12, 0, 0, 0, time.UTC), loc)
	if date != "2027-03-28" || end.Sub(start) != 23*time.Hour {
		t.Fatalf("date %s, length %v", date, end.Sub(start))
	}
	// Just before local midnight is still that day; midnight is the next.
	if d, _, _ := hub.LocalDay(time.Date(2026, 11, 27, 22, 59, 59, 0, time.UTC), loc); d != "2026-11-27" {
		t.Fatalf("got %s", d)
	}
	if d, _, _ := hub.LocalDay(time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC), loc); d != "2026-11-28" {
		t.Fatalf("got %s", d)
	}
}
