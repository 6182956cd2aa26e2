package hub

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// FuzzDecodeEntrySet: decodeEntrySet takes exactly what DecodeList takes,
// and the set it makes holds those entries: the same bytes, each found by
// its key at its place, its windows decoded as DecodeList decodes them,
// and the same set when made from the decoded entries.
func FuzzDecodeEntrySet(f *testing.F) {
	card := ListEntry{Kind: EntryKeycard, ID: []byte{1, 2, 3, 4}, Windows: []ListWindow{{Start: 1, End: 5}, {Start: 9}}}
	card2 := ListEntry{Kind: EntryKeycard, ID: []byte{1, 2, 3, 4, 0}}
	phone := ListEntry{Kind: EntryPhone, ID: make([]byte, ed25519.PublicKeySize), Windows: []ListWindow{{1, 2}}}
	setting := ListEntry{Kind: EntrySetting, ID: []byte{SettingOffline, 1}}
	f.Add((&DoorList{Entries: []ListEntry{card, card2, phone, setting}}).Encode())
	f.Add((&DoorList{Entries: []ListEntry{card2, card}}).Encode()) // out of order
	f.Add((&DoorList{Entries: []ListEntry{card, card}}).Encode())  // twice
	f.Add(phone.AppendEncode(nil)[:20])                            // short
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeEntrySet(b)
		want, werr := DecodeList(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeEntrySet: %v, DecodeList: %v", err, werr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(s.encoding(), b) || s.Len() != len(want) {
			t.Fatalf("set of %d entries, %x; DecodeList %d", s.Len(), s.encoding(), len(want))
		}
		if got := s.list(); !refEqualEntries(got, want) {
			t.Fatalf("entries %v, DecodeList %v", got, want)
		}
		var buf [2]ListWindow
		for i, e := range want {
			if got := s.find(e.Kind, e.ID); got != i {
				t.Fatalf("find(%d %x) = %d, want %d", e.Kind, e.ID, got, i)
			}
			if got := s.windows(i, buf[:]); len(got) != len(e.Windows) || (len(got) > 0 && !bytes.Equal(
				(&ListEntry{Windows: got}).AppendEncode(nil), (&ListEntry{Windows: e.Windows}).AppendEncode(nil))) {
				t.Fatalf("windows of %d: %v, want %v", i, got, e.Windows)
			}
			if s.find(e.Kind, append(bytes.Clone(e.ID), 0)) >= 0 && (i+1 >= len(want) || !bytes.Equal(want[i+1].ID, append(bytes.Clone(e.ID), 0))) {
				t.Fatalf("find of an id not in the list found one")
			}
		}
		again := newEntrySet(want)
		if !bytes.Equal(again.enc, s.enc) || len(again.off) != len(s.off) {
			t.Fatalf("made from its entries: %x, decoded %x", again.enc, s.enc)
		}
		for i := range s.off {
			if again.off[i] != s.off[i] {
				t.Fatalf("offset %d: %d, decoded %d", i, again.off[i], s.off[i])
			}
		}
	})
}

// TestEntrySetFromUnsortedEntries: entries out of order or twice make the
// set a map of them made — sorted, the last of a key kept.
func TestEntrySetFromUnsortedEntries(t *testing.T) {
	a := ListEntry{Kind: EntryKeycard, ID: []byte{1, 1, 1, 1}, Windows: []ListWindow{{Start: 1}}}
	b := ListEntry{Kind: EntryKeycard, ID: []byte{2, 2, 2, 2}, Windows: []ListWindow{{Start: 2}}}
	b2 := ListEntry{Kind: EntryKeycard, ID: []byte{2, 2, 2, 2}, Windows: []ListWindow{{Start: 3}}}
	s := newEntrySet([]ListEntry{b, a, b2})
	want := (&DoorList{Entries: []ListEntry{a, b2}}).Encode()
	if !bytes.Equal(s.encoding(), want) || s.Len() != 2 {
		t.Fatalf("set %x, want %x", s.encoding(), want)
	}
	if i := s.find(EntryKeycard, []byte{2, 2, 2, 2}); i != 1 || s.windows(i, nil)[0].Start != 3 {
		t.Fatalf("find: %d", i)
	}
	if s.find(EntryKeycard, []byte{3, 3, 3, 3}) != -1 || s.find(EntryPhone, []byte{1, 1, 1, 1}) != -1 {
		t.Fatal("found an entry not in the set")
	}
	var unknown *entrySet
	if unknown.Len() != 0 || unknown.find(EntryKeycard, a.ID) != -1 || len(unknown.encoding()) != 0 || unknown.encoding() == nil {
		t.Fatal("an unknown set does not read as empty")
	}
}
