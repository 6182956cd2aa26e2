package hub

import (
	"bytes"
	"fmt"
	"slices"
)

// A delta turns the list a lock holds into the door's desired list when the
// hub knows what the lock holds (the digest it reports is that of a list
// the hub issued): only the entries that changed go over the radio
// (docs/door-lists.md, "Deltas"). Encoding:
//
//	0xd0 | base digest (8: the radio digest of the list it applies to) | ops
//	op = 0x01 put | entry encoding            (an entry added or changed)
//	   | 0x02 remove | kind (1) | id length (1) | id
//
// Ops are in strictly increasing (kind, id) order. No list starts with
// 0xd0 (entry kinds are 1, 2 and 0x10), so a lock tells a delta from a
// whole list by its first byte. The lock applies a delta only to the list
// whose digest is the base, and switches to the result only when its
// digest is the one the chunks name — otherwise digest_mismatch, and the
// hub sends the whole list.

// DeltaMarker is the first byte of a delta.
const DeltaMarker = 0xd0

const (
	deltaPut    = 0x01
	deltaRemove = 0x02
)

// IsListDelta reports whether chunk data is a delta rather than a list.
func IsListDelta(data []byte) bool { return len(data) > 0 && data[0] == DeltaMarker }

// EncodeListDelta encodes the change from base (whose radio digest is
// baseDigest) to target; both sorted by (kind, id).
func EncodeListDelta(baseDigest [MinAckDigest]byte, base, target []ListEntry) []byte {
	out := append([]byte{DeltaMarker}, baseDigest[:]...)
	i, j := 0, 0
	for i < len(base) || j < len(target) {
		var c int
		switch {
		case i == len(base):
			c = 1
		case j == len(target):
			c = -1
		default:
			c = compareEntry(&base[i], &target[j])
		}
		switch {
		case c < 0: // only in base: removed
			out = append(out, deltaRemove, byte(base[i].Kind), byte(len(base[i].ID)))
			out = append(out, base[i].ID...)
			i++
		case c > 0: // only in target: added
			out = append(out, deltaPut)
			out = target[j].AppendEncode(out)
			j++
		default:
			if !slices.Equal(base[i].Windows, target[j].Windows) {
				out = append(out, deltaPut)
				out = target[j].AppendEncode(out)
			}
			i++
			j++
		}
	}
	return out
}

// ErrDeltaBase is returned by ApplyListDelta for a delta made for another
// list than the one given.
var ErrDeltaBase = fmt.Errorf("hub: the delta is for another list")

// ApplyListDelta applies a delta to base, the list whose radio digest is
// baseDigest, and returns the new list. It returns ErrDeltaBase when the
// delta names another base, and an error wrapping ErrListEncoding for a
// malformed delta or one whose ops are out of order or remove what base
// does not hold.
func ApplyListDelta(base []ListEntry, baseDigest [MinAckDigest]byte, delta []byte) ([]ListEntry, error) {
	if !IsListDelta(delta) || len(delta) < 1+MinAckDigest {
		return nil, fmt.Errorf("%w: not a delta", ErrListEncoding)
	}
	if !bytes.Equal(delta[1:1+MinAckDigest], baseDigest[:]) {
		return nil, ErrDeltaBase
	}
	b := delta[1+MinAckDigest:]
	out := make([]ListEntry, 0, len(base))
	i := 0
	var last *ListEntry
	for len(b) > 0 {
		op := b[0]
		var e ListEntry
		switch op {
		case deltaPut:
			var err error
			if e, b, err = DecodeListEntry(b[1:]); err != nil {
				return nil, err
			}
		case deltaRemove:
			if len(b) < 3 || len(b) < 3+int(b[2]) {
				return nil, fmt.Errorf("%w: short remove", ErrListEncoding)
			}
			e = ListEntry{Kind: EntryKind(b[1]), ID: append([]byte(nil), b[3:3+int(b[2])]...)}
			b = b[3+int(b[2]):]
		default:
			return nil, fmt.Errorf("%w: delta op %#x", ErrListEncoding, op)
		}
		if last != nil && compareEntry(last, &e) >= 0 {
			return nil, fmt.Errorf("%w: delta ops out of order", ErrListEncoding)
		}
		last = &e
		for i < len(base) && compareEntry(&base[i], &e) < 0 {
			out = append(out, base[i])
			i++
		}
		held := i < len(base) && compareEntry(&base[i], &e) == 0
		if held {
			i++
		}
		switch {
		case op == deltaPut:
			out = append(out, e)
		case !held:
			return nil, fmt.Errorf("%w: delta removes an entry the list does not hold", ErrListEncoding)
		}
	}
	return append(out, base[i:]...), nil
}

// issuedEntries is an issued list's entries in (kind, id) order.
func issuedEntries(v issued) []ListEntry { return v.entries.list() }

// ListDelta returns a delta that turns the list a door's lock holds —
// named by its radio digest, which must be one the hub issued for that
// door and still knows (the acknowledged one or one since) — into the
// desired list of the given version. ok is false when the hub does not
// know that list, or the version is no longer the desired one; the
// caller then sends the whole list.
func (d *DoorLists) ListDelta(door string, held [MinAckDigest]byte, version uint32) (delta []byte, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sync.listDelta(door, held, version)
}

// listDelta is ListDelta over the sync state.
func (s *DoorSync) listDelta(door string, held [MinAckDigest]byte, version uint32) (delta []byte, ok bool) {
	ds := s.doors[door]
	if ds == nil || ds.desired.entries == nil || uint64(version) != ds.desired.version || allZero(held[:]) {
		return nil, false
	}
	for _, v := range append([]issued{ds.acked}, ds.between...) {
		if v.entries == nil || [MinAckDigest]byte(v.digest[:MinAckDigest]) != held || ds.drift {
			continue
		}
		return encodeSetDelta(held, v.entries, ds.desired.entries), true
	}
	return nil, false
}
