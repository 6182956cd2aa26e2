package hub_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/doorhub/doorhub/hub"
)

func randomList(rng *rand.Rand, pool int) []hub.ListEntry {
	var out []hub.ListEntry
	for i := 0; i < pool; i++ {
		if rng.IntN(2) == 0 {
			continue
		}
		e := hub.ListEntry{Kind: hub.EntryKeycard, ID: []byte{0xc0, byte(i >> 8), byte(i), 1}}
		if i%7 == 0 {
			e = hub.ListEntry{Kind: hub.EntryPhone, ID: bytes.Repeat([]byte{byte(i)}, 32)}
		}
		start := int64(rng.IntN(3)) * 1000
		e.Windows = []hub.ListWindow{{Start: start, End: start + 500 + int64(rng.IntN(2))}}
		out = append(out, e)
	}
	if rng.IntN(2) == 0 {
		out = append(out, hub.ListEntry{Kind: hub.EntrySetting, ID: []byte{hub.SettingOffline, 1}})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return bytes.Compare(out[i].ID, out[j].ID) < 0
	})
	return out
}

func radioDigest(l []hub.ListEntry) [hub.MinAckDigest]byte {
	d := hub.ListDigest((&hub.DoorList{Entries: l}).Encode())
	return [hub.MinAckDigest]byte(d[:hub.MinAckDigest])
}

// TestListDeltaRoundTrip: for random pairs of lists, the delta applied to
// the base gives the target exactly (by digest), and is no larger than the
// changed entries plus one byte each and its header.
func TestListDeltaRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for n := 0; n < 500; n++ {
		base, target := randomList(rng, 40), randomList(rng, 40)
		if n%3 == 0 { // a small change of the base
			target = append([]hub.ListEntry(nil), base...)
			if len(target) > 0 {
				i := rng.IntN(len(target))
				target = append(target[:i], target[i+1:]...)
			}
		}
		bd := radioDigest(base)
		delta := hub.EncodeListDelta(bd, base, target)
		if !hub.IsListDelta(delta) {
			t.Fatal("a delta not marked")
		}
		got, err := hub.ApplyListDelta(base, bd, delta)
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		if radioDigest(got) != radioDigest(target) {
			t.Fatalf("case %d: the delta gives another list", n)
		}
		if _, err := hub.ApplyListDelta(target, radioDigest(target), delta); !errors.Is(err, hub.ErrDeltaBase) && radioDigest(target) != bd {
			t.Fatalf("case %d: a delta applied to another list: %v", n, err)
		}
	}
	// Malformed deltas are refused.
	base := []hub.ListEntry{{Kind: hub.EntryKeycard, ID: []byte{1, 2, 3, 4}, Windows: []hub.ListWindow{{Start: 1}}}}
	bd := radioDigest(base)
	for name, ops := range map[string][]byte{
		"unknown op":        {0x07},
		"remove not held":   {0x02, 1, 4, 9, 9, 9, 9},
		"short remove":      {0x02, 1, 4, 9},
		"out of order":      {0x02, 1, 4, 1, 2, 3, 4, 0x02, 1, 4, 1, 2, 3, 4},
		"put of a bad kind": {0x01, 9, 4, 1, 2, 3, 4, 0, 0},
	} {
		d := append(append([]byte{hub.DeltaMarker}, bd[:]...), ops...)
		if _, err := hub.ApplyListDelta(base, bd, d); !errors.Is(err, hub.ErrListEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
