package hub

// The door sync state as it was before entry sets (hub/entryset.go): each
// list's entries in a map by (kind, id). Kept, renamed, as the reference
// TestDoorSyncAgreesWithReference compares DoorSync with.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

type refKey struct {
	kind EntryKind
	id   string
}

type refIssued struct {
	version uint64
	digest  [sha256.Size]byte
	entries map[refKey][]ListWindow
	offered bool
}

type refDoor struct {
	desired      refIssued
	acked        refIssued
	between      []refIssued
	drift        bool
	revokedSince map[refKey]time.Time
}

type refSync struct {
	doors map[string]*refDoor
}

func newRefSync() *refSync { return &refSync{doors: map[string]*refDoor{}} }

func (s *refSync) door(id string) *refDoor {
	d := s.doors[id]
	if d == nil {
		d = &refDoor{
			desired:      refIssued{digest: emptyDigest, entries: map[refKey][]ListWindow{}},
			acked:        refIssued{digest: emptyDigest, entries: map[refKey][]ListWindow{}},
			revokedSince: map[refKey]time.Time{},
		}
		s.doors[id] = d
	}
	return d
}

func (s *refSync) holds(door string, digest [sha256.Size]byte) bool {
	d := s.doors[door]
	return d != nil && d.desired.digest == digest && d.desired.entries != nil
}

func (s *refSync) Desire(l *DoorList, at time.Time) uint64 {
	d := s.door(l.Door)
	entries := func() map[refKey][]ListWindow {
		m := make(map[refKey][]ListWindow, len(l.Entries))
		for _, e := range l.Entries {
			m[refKey{e.Kind, string(e.ID)}] = e.Windows
		}
		return m
	}
	if l.Digest == d.desired.digest {
		if d.desired.entries == nil {
			d.desired.entries = entries()
			d.refresh(at)
		}
		return d.desired.version
	}
	if d.desired.version > d.acked.version && d.desired.entries != nil && d.desired.offered {
		d.between = append(d.between, d.desired)
		if len(d.between) > maxBetween {
			d.between = d.between[1:]
		}
	}
	d.desired = refIssued{version: d.desired.version + 1, digest: l.Digest, entries: entries()}
	d.refresh(at)
	return d.desired.version
}

func (s *refSync) Offer(door string, version uint64) {
	if d := s.doors[door]; d != nil && d.desired.version == version {
		d.desired.offered = true
	}
}

func (s *refSync) Ack(door string, digest []byte, at time.Time) bool {
	d := s.door(door)
	if allZero(digest) {
		digest = emptyDigest[:]
	}
	matches := func(full [sha256.Size]byte) bool {
		return len(digest) >= MinAckDigest && len(digest) <= len(full) && string(full[:len(digest)]) == string(digest)
	}
	switch {
	case matches(d.desired.digest):
		d.acked, d.between, d.drift = d.desired, nil, false
	default:
		found := false
		for i, v := range d.between {
			if matches(v.digest) {
				d.acked, d.between, d.drift, found = v, append([]refIssued(nil), d.between[i+1:]...), false, true
				break
			}
		}
		if !found {
			d.drift = !matches(d.acked.digest)
		}
	}
	if d.drift && d.desired.version == 0 {
		d.desired.version = 1
	}
	d.refresh(at)
	return !d.drift && d.acked.version == d.desired.version
}

func (d *refDoor) refresh(at time.Time) {
	from := ceilSeconds(at)
	next := map[refKey]time.Time{}
	for k, held := range d.acked.entries {
		if refAdmitsBeyond(held, d.desired.entries[k], from) {
			since, ok := d.revokedSince[k]
			if !ok {
				since = at
			}
			next[k] = since
		}
	}
	d.revokedSince = next
}

func refAdmitsBeyond(a, b []ListWindow, from int64) bool {
	for _, w := range a {
		if endOf(w) <= from {
			continue
		}
		w.Start = max(w.Start, from)
		covered := false
		for _, v := range b {
			if v.Start <= w.Start && endOf(w) <= endOf(v) {
				covered = true
				break
			}
		}
		if !covered {
			return true
		}
	}
	return false
}

func (s *refSync) Pending(now time.Time) []DoorPending {
	out := make([]DoorPending, 0, len(s.doors))
	ids := mapKeys(s.doors)
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, s.DoorPending(id, now))
	}
	return out
}

func (s *refSync) DoorPending(door string, now time.Time) DoorPending {
	d := s.door(door)
	p := DoorPending{Door: door, DesiredVersion: d.desired.version, AckedVersion: d.acked.version,
		Drift: d.drift, Current: !d.drift && d.acked.version == d.desired.version && d.acked.digest == d.desired.digest,
		DesiredDigest: hex.EncodeToString(d.desired.digest[:]), AckedDigest: hex.EncodeToString(d.acked.digest[:])}
	from := ceilSeconds(now)
	for k, want := range d.desired.entries {
		if refAdmitsBeyond(want, d.acked.entries[k], from) {
			p.Activations++
		}
	}
	p.Revocations = len(d.revokedSince)
	for _, since := range d.revokedSince {
		if p.OldestRevocation.IsZero() || since.Before(p.OldestRevocation) {
			p.OldestRevocation = since
		}
	}
	if !p.OldestRevocation.IsZero() {
		p.RevocationAge = now.Sub(p.OldestRevocation)
	}
	return p
}

func (s *refSync) CredentialPending(kind EntryKind, id []byte, now time.Time) []string {
	k := refKey{kind, string(id)}
	from := ceilSeconds(now)
	var out []string
	for door, d := range s.doors {
		if d.desired.entries == nil {
			continue
		}
		want, held := d.desired.entries[k], d.acked.entries[k]
		if d.drift || refAdmitsBeyond(want, held, from) || refAdmitsBeyond(held, want, from) {
			out = append(out, door)
		}
	}
	sort.Strings(out)
	return out
}

func (s *refSync) KeycardPending(cardID string, now time.Time) []string {
	id, err := hexDecode(cardID)
	if err != nil {
		return nil
	}
	return s.CredentialPending(EntryKeycard, id, now)
}

func (s *refSync) KeycardsPending(now time.Time) map[string][]string {
	from := ceilSeconds(now)
	out := map[string][]string{}
	for _, door := range mapKeys(s.doors) {
		d := s.doors[door]
		if d.desired.entries == nil {
			continue
		}
		seen := map[refKey]bool{}
		for _, m := range []map[refKey][]ListWindow{d.desired.entries, d.acked.entries} {
			for k := range m {
				if k.kind != EntryKeycard || seen[k] {
					continue
				}
				seen[k] = true
				want, held := d.desired.entries[k], d.acked.entries[k]
				if d.drift || refAdmitsBeyond(want, held, from) || refAdmitsBeyond(held, want, from) {
					id := hex.EncodeToString([]byte(k.id))
					out[id] = append(out[id], door)
				}
			}
		}
	}
	for _, doors := range out {
		sort.Strings(doors)
	}
	return out
}

func refSortedKeys[V any](m map[refKey]V) []refKey {
	keys := make([]refKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].id < keys[j].id
	})
	return keys
}

func refIssuedEntries(v refIssued) []ListEntry {
	keys := refSortedKeys(v.entries)
	out := make([]ListEntry, 0, len(keys))
	for _, k := range keys {
		out = append(out, ListEntry{Kind: k.kind, ID: []byte(k.id), Windows: v.entries[k]})
	}
	return out
}

func (s *refSync) listDelta(door string, held [MinAckDigest]byte, version uint32) (delta []byte, ok bool) {
	ds := s.doors[door]
	if ds == nil || ds.desired.entries == nil || uint64(version) != ds.desired.version || allZero(held[:]) {
		return nil, false
	}
	for _, v := range append([]refIssued{ds.acked}, ds.between...) {
		if v.entries == nil || [MinAckDigest]byte(v.digest[:MinAckDigest]) != held || ds.drift {
			continue
		}
		return EncodeListDelta(held, refIssuedEntries(v), refIssuedEntries(ds.desired)), true
	}
	return nil, false
}

func (s *refSync) entryCredential(door string, ref uint32) (Presentation, bool) {
	ds := s.doors[door]
	if ds == nil || ref == 0 {
		return Presentation{}, false
	}
	var found *refKey
	for _, v := range append([]refIssued{ds.acked, ds.desired}, ds.between...) {
		for k := range v.entries {
			if k.kind == EntrySetting || EntryRef(k.kind, []byte(k.id)) != ref {
				continue
			}
			if found != nil && *found != k {
				return Presentation{}, false
			}
			kk := k
			found = &kk
		}
	}
	if found == nil {
		return Presentation{}, false
	}
	switch found.kind {
	case EntryKeycard:
		return Presentation{Kind: CredKeycard, CardID: hex.EncodeToString([]byte(found.id))}, true
	case EntryPhone:
		return Presentation{Kind: CredMobile, PublicKey: []byte(found.id)}, true
	}
	return Presentation{}, false
}

func (d *refDoor) stateBytes() []byte {
	b, _ := json.Marshal(doorStateJSON{
		DesiredVersion: d.desired.version, DesiredDigest: hex.EncodeToString(d.desired.digest[:]),
		AckedVersion: d.acked.version, AckedDigest: hex.EncodeToString(d.acked.digest[:]), Drift: d.drift,
	})
	return b
}

func (d *refDoor) revokedBytes() []byte {
	var b []byte
	for _, k := range refSortedKeys(d.revokedSince) {
		b = append(b, byte(k.kind), byte(len(k.id)))
		b = append(b, k.id...)
		b = binary.BigEndian.AppendUint64(b, uint64(d.revokedSince[k].UnixNano()))
	}
	return b
}

func refEncodeIssued(v refIssued) []byte {
	keys := refSortedKeys(v.entries)
	l := DoorList{Entries: make([]ListEntry, 0, len(keys))}
	for _, k := range keys {
		l.Entries = append(l.Entries, ListEntry{Kind: k.kind, ID: []byte(k.id), Windows: v.entries[k]})
	}
	return l.Encode()
}

func (s *refSync) restoreDoor(door string, state, acked, revoked []byte) error {
	var j doorStateJSON
	if err := json.Unmarshal(state, &j); err != nil {
		return fmt.Errorf("hub: door sync state of %q: %w", door, err)
	}
	dd, err1 := hex.DecodeString(j.DesiredDigest)
	ad, err2 := hex.DecodeString(j.AckedDigest)
	if err1 != nil || err2 != nil || len(dd) != sha256.Size || len(ad) != sha256.Size {
		return fmt.Errorf("hub: door sync state of %q: bad digest", door)
	}
	d := s.door(door)
	d.desired = refIssued{version: j.DesiredVersion, digest: [sha256.Size]byte(dd)}
	d.acked = refIssued{version: j.AckedVersion, digest: [sha256.Size]byte(ad), entries: map[refKey][]ListWindow{}}
	d.drift = j.Drift
	entries, err := DecodeList(acked)
	if err != nil || ListDigest(acked) != d.acked.digest {
		d.drift = true
		d.acked.digest = [sha256.Size]byte{}
	} else {
		for _, e := range entries {
			d.acked.entries[refKey{e.Kind, string(e.ID)}] = e.Windows
		}
	}
	d.revokedSince = map[refKey]time.Time{}
	for b := revoked; len(b) >= 2; {
		n := int(b[1])
		if len(b) < 2+n+8 {
			break
		}
		k := refKey{EntryKind(b[0]), string(b[2 : 2+n])}
		since := time.Unix(0, int64(binary.BigEndian.Uint64(b[2+n:])))
		if _, ok := d.acked.entries[k]; ok {
			d.revokedSince[k] = since
		}
		b = b[2+n+8:]
	}
	return nil
}

// refEqualEntries reports whether two lists encode the same.
func refEqualEntries(a, b []ListEntry) bool {
	return bytes.Equal((&DoorList{Entries: a}).Encode(), (&DoorList{Entries: b}).Encode())
}
