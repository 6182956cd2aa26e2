package hub_test

import (
	"testing"

	"github.com/doorhub/doorhub/hub"
)

// FuzzApplyListDelta: any bytes as a delta never panic, and whatever a
// delta makes of a list is a list (strictly ordered) that encodes and
// decodes to itself.
func FuzzApplyListDelta(f *testing.F) {
	base := []hub.ListEntry{
		{Kind: hub.EntryKeycard, ID: []byte{1, 2, 3, 4}, Windows: []hub.ListWindow{{Start: 1}}},
		{Kind: hub.EntryKeycard, ID: []byte{5, 6, 7, 8}, Windows: []hub.ListWindow{{Start: 1, End: 9}}},
	}
	bd := radioDigest(base)
	target := []hub.ListEntry{base[1], {Kind: hub.EntrySetting, ID: []byte{hub.SettingOffline, 1}}}
	f.Add(hub.EncodeListDelta(bd, base, target))
	f.Add(hub.EncodeListDelta(bd, base, nil))
	f.Add(append([]byte{hub.DeltaMarker}, bd[:]...))
	f.Fuzz(func(t *testing.T, delta []byte) {
		got, err := hub.ApplyListDelta(base, bd, delta)
		if err != nil {
			return
		}
		enc := (&hub.DoorList{Entries: got}).Encode()
		back, err := hub.DecodeList(enc)
		if err != nil {
			t.Fatalf("a delta made a list that does not decode: %v", err)
		}
		if string((&hub.DoorList{Entries: back}).Encode()) != string(enc) {
			t.Fatal("the list does not round-trip")
		}
	})
}
