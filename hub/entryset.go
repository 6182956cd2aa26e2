package hub

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"
)

// entrySet is one version of a door's list as the door sync state keeps it
// (pending.go): the list's encoding itself — its entries' AppendEncode
// bytes in strictly increasing (kind, id) order, exactly what
// DoorList.Encode returns and the list's digest is over — and where each
// entry starts. An entry is found by (kind, id) by binary search and its
// windows are decoded when asked for. A keycard with one window takes
// 28 bytes and its offset 4; the map of windows by (kind, id) it replaces
// took about 135 (docs/performance.md, "The door sync state").
//
// A set is never changed once built, so versions of a door's list that
// are the same list share one. A nil *entrySet is a list whose entries are
// unknown (a desired list restored after a restart and not computed
// again); read, it is empty, as a nil map was.
type entrySet struct {
	enc []byte
	off []uint32 // off[i]: where entry i starts in enc
}

// noEntries is the empty list, known.
var noEntries = &entrySet{}

// newEntrySet makes the set of a list's entries, which DoorList keeps
// sorted by (kind, id). Entries out of order are sorted, and of entries
// with the same (kind, id) the last is kept, as a map of them kept it.
func newEntrySet(entries []ListEntry) *entrySet {
	if len(entries) == 0 {
		return noEntries
	}
	for i := 1; i < len(entries); i++ {
		if compareEntry(&entries[i-1], &entries[i]) >= 0 {
			entries = sortedLastOf(entries)
			break
		}
	}
	n := 0
	for i := range entries {
		n += entries[i].EncodedLen()
	}
	s := &entrySet{enc: make([]byte, 0, n), off: make([]uint32, len(entries))}
	for i := range entries {
		s.off[i] = uint32(len(s.enc))
		s.enc = entries[i].AppendEncode(s.enc)
	}
	return s
}

// sortedLastOf is entries sorted by (kind, id), keeping the last of
// entries with the same key.
func sortedLastOf(entries []ListEntry) []ListEntry {
	byKey := make(map[string]int, len(entries))
	var out []ListEntry
	for _, e := range entries {
		k := string(append([]byte{byte(e.Kind)}, e.ID...))
		if i, ok := byKey[k]; ok {
			out[i] = e
			continue
		}
		byKey[k] = len(out)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ListEntry) int { return compareEntry(&a, &b) })
	return out
}

// decodeEntrySet is the set of an encoded list, checked as DecodeList
// checks it: every entry well formed, in strictly increasing (kind, id)
// order. The set keeps its own copy of b.
func decodeEntrySet(b []byte) (*entrySet, error) {
	var off []uint32
	for at := 0; at < len(b); {
		n, err := entryLen(b[at:])
		if err != nil {
			return nil, err
		}
		if len(off) > 0 {
			prev := int(off[len(off)-1])
			if compareKeys(b[prev:], b[at:]) >= 0 {
				return nil, fmt.Errorf("%w: entries out of order", ErrListEncoding)
			}
		}
		off = append(off, uint32(at))
		at += n
	}
	if len(off) == 0 {
		return noEntries, nil
	}
	return &entrySet{enc: bytes.Clone(b), off: append([]uint32(nil), off...)}, nil
}

// entryLen is the length of the entry encoded at the front of b, which
// must be well formed as DecodeListEntry requires.
func entryLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("%w: short header", ErrListEncoding)
	}
	kind, n := EntryKind(b[0]), int(b[1])
	switch {
	case kind == EntryKeycard && (n < 4 || n > MaxCardIDBytes):
		return 0, fmt.Errorf("%w: card id of %d bytes", ErrListEncoding, n)
	case kind == EntryPhone && n != ed25519.PublicKeySize:
		return 0, fmt.Errorf("%w: public key of %d bytes", ErrListEncoding, n)
	case kind == EntrySetting && n != 2:
		return 0, fmt.Errorf("%w: setting of %d bytes", ErrListEncoding, n)
	case kind != EntryKeycard && kind != EntryPhone && kind != EntrySetting:
		return 0, fmt.Errorf("%w: kind %d", ErrListEncoding, kind)
	}
	if len(b)-2 < n+2 {
		return 0, fmt.Errorf("%w: short id", ErrListEncoding)
	}
	count := int(binary.BigEndian.Uint16(b[2+n:]))
	if len(b)-(4+n) < 16*count {
		return 0, fmt.Errorf("%w: short windows", ErrListEncoding)
	}
	if kind == EntrySetting && count != 0 {
		return 0, fmt.Errorf("%w: setting with windows", ErrListEncoding)
	}
	return 4 + n + 16*count, nil
}

// compareKey orders entries by (kind, id).
func compareKey(ak EntryKind, aid []byte, bk EntryKind, bid []byte) int {
	if ak != bk {
		if ak < bk {
			return -1
		}
		return 1
	}
	return bytes.Compare(aid, bid)
}

// compareKeys orders two encoded entries by (kind, id).
func compareKeys(a, b []byte) int {
	if a[0] != b[0] {
		if a[0] < b[0] {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[2:2+int(a[1])], b[2:2+int(b[1])])
}

// Len is the number of entries; 0 for an unknown list.
func (s *entrySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.off)
}

// entry is the encoding of entry i.
func (s *entrySet) entry(i int) []byte {
	end := len(s.enc)
	if i+1 < len(s.off) {
		end = int(s.off[i+1])
	}
	return s.enc[s.off[i]:end:end]
}

// key is entry i's kind and id; id is part of the set's encoding, not to
// be changed.
func (s *entrySet) key(i int) (EntryKind, []byte) {
	e := s.enc[s.off[i]:]
	return EntryKind(e[0]), e[2 : 2+int(e[1]) : 2+int(e[1])]
}

// find is the index of the entry of (kind, id); -1 when there is none.
func (s *entrySet) find(kind EntryKind, id []byte) int {
	lo, hi := 0, s.Len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k, mid := s.key(m)
		if k < kind || (k == kind && bytes.Compare(mid, id) < 0) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < s.Len() {
		if k, mid := s.key(lo); k == kind && bytes.Equal(mid, id) {
			return lo
		}
	}
	return -1
}

// windows appends entry i's windows to buf[:0] and returns it; none for
// i < 0 (no entry). A caller passing a buffer as large as the entry's
// windows allocates nothing.
func (s *entrySet) windows(i int, buf []ListWindow) []ListWindow {
	buf = buf[:0]
	if i < 0 {
		return buf
	}
	e := s.enc[s.off[i]:]
	n := int(e[1])
	count := int(binary.BigEndian.Uint16(e[2+n:]))
	w := e[4+n:]
	for k := range count {
		buf = append(buf, ListWindow{
			Start: int64(binary.BigEndian.Uint64(w[16*k:])),
			End:   int64(binary.BigEndian.Uint64(w[16*k+8:])),
		})
	}
	return buf
}

// encoding is the list's encoding (empty, not nil, for no entries: what
// DoorList.Encode returns for an empty list). It is the set's own: not to
// be changed.
func (s *entrySet) encoding() []byte {
	if s.Len() == 0 {
		return []byte{}
	}
	return s.enc
}

// list is the set's entries decoded, in order.
func (s *entrySet) list() []ListEntry {
	out := make([]ListEntry, 0, s.Len())
	for i := range s.Len() {
		kind, id := s.key(i)
		out = append(out, ListEntry{Kind: kind, ID: bytes.Clone(id), Windows: s.windows(i, nil)})
	}
	return out
}

// mergeEntries calls fn for each (kind, id) with an entry in a or b, in
// increasing order, with the entry's index in each set (-1: none there).
// same reports whether the two entries are the same, windows and all.
func mergeEntries(a, b *entrySet, fn func(i, j int, same bool)) {
	i, j, na, nb := 0, 0, a.Len(), b.Len()
	for i < na || j < nb {
		var c int
		switch {
		case i == na:
			c = 1
		case j == nb:
			c = -1
		default:
			c = compareKeys(a.enc[a.off[i]:], b.enc[b.off[j]:])
		}
		switch {
		case c < 0:
			fn(i, -1, false)
			i++
		case c > 0:
			fn(-1, j, false)
			j++
		default:
			fn(i, j, a == b || bytes.Equal(a.entry(i), b.entry(j)))
			i++
			j++
		}
	}
}

// encodeSetDelta is EncodeListDelta(baseDigest, base, target) over sets,
// byte for byte, without decoding them: an entry whose encoding differs
// has different windows.
func encodeSetDelta(baseDigest [MinAckDigest]byte, base, target *entrySet) []byte {
	out := append([]byte{DeltaMarker}, baseDigest[:]...)
	mergeEntries(base, target, func(i, j int, same bool) {
		switch {
		case j < 0: // only in base: removed
			kind, id := base.key(i)
			out = append(out, deltaRemove, byte(kind), byte(len(id)))
			out = append(out, id...)
		case !same:
			out = append(out, deltaPut)
			out = append(out, target.entry(j)...)
		}
	})
	return out
}
