package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// syncPool is the credentials random lists draw from: keycards of several
// id lengths (some sharing a prefix), phones, and the offline setting.
func syncPool(r *rand.Rand) []ListEntry {
	var pool []ListEntry
	for i := range 10 {
		id := make([]byte, 4+r.IntN(5))
		for j := range id {
			id[j] = byte(r.IntN(3)) // small alphabet: shared prefixes
		}
		id[0] = byte(i)
		pool = append(pool, ListEntry{Kind: EntryKeycard, ID: id})
	}
	for i := range 3 {
		id := make([]byte, 32)
		id[0], id[31] = byte(i), byte(r.IntN(256))
		pool = append(pool, ListEntry{Kind: EntryPhone, ID: id})
	}
	pool = append(pool, ListEntry{Kind: EntrySetting, ID: []byte{SettingOffline, 1}})
	slices.SortFunc(pool, func(a, b ListEntry) int { return compareEntry(&a, &b) })
	return slices.CompactFunc(pool, func(a, b ListEntry) bool { return compareEntry(&a, &b) == 0 })
}

// randomWindows are 0–3 sorted, disjoint, not adjacent windows around
// base, the last one sometimes open-ended.
func randomWindows(r *rand.Rand, base int64) []ListWindow {
	n := r.IntN(4)
	if n == 0 && r.IntN(3) > 0 {
		n = 1
	}
	pts := map[int64]bool{}
	for len(pts) < 2*n {
		pts[base-60+r.Int64N(180)] = true
	}
	ps := slices.Sorted(func(yield func(int64) bool) {
		for p := range pts {
			if !yield(p) {
				return
			}
		}
	})
	var ws []ListWindow
	for i := 0; i < len(ps); i += 2 {
		ws = append(ws, ListWindow{Start: ps[i], End: ps[i+1]})
	}
	if n > 0 && r.IntN(3) == 0 {
		ws[n-1].End = 0
	}
	return ws
}

func randomList(r *rand.Rand, door string, pool []ListEntry, base int64) *DoorList {
	l := &DoorList{Door: door}
	for _, p := range pool {
		if r.IntN(3) == 0 {
			continue
		}
		e := ListEntry{Kind: p.Kind, ID: bytes.Clone(p.ID)}
		if p.Kind != EntrySetting {
			e.Windows = randomWindows(r, base)
		}
		l.Entries = append(l.Entries, e)
	}
	l.Digest = ListDigest(l.Encode())
	return l
}

// TestDoorSyncAgreesWithReference drives DoorSync and the map-based
// reference it replaced (pending_ref_test.go) through random desires,
// acknowledgements (of the desired, an intermediate, an older, an unknown
// and a zero digest, whole or by prefix), clock moves and restarts from
// the persisted state, and checks that every query agrees after each step.
func TestDoorSyncAgreesWithReference(t *testing.T) {
	runs := 100
	if testing.Short() {
		runs = 50
	}
	for run := range runs {
		r := rand.New(rand.NewPCG(uint64(run), 7))
		t.Run(fmt.Sprint(run), func(t *testing.T) { syncAgreement(t, r) })
		if t.Failed() {
			return
		}
	}
}

func syncAgreement(t *testing.T, r *rand.Rand) {
	pool := syncPool(r)
	doors := []string{"a", "b", "c"}
	base := int64(1_800_000_000)
	now := time.Unix(base, 0)
	s, ref := NewDoorSync(), newRefSync()
	issuedBy := map[string][]*DoorList{} // every list desired at a door
	var log []string
	check := func() {
		t.Helper()
		if err := compareSync(s, ref, pool, doors, now); err != nil {
			t.Fatalf("%v\nafter:\n%s", err, strings.Join(log, "\n"))
		}
	}
	for range 80 {
		door := doors[r.IntN(len(doors))]
		switch op := r.IntN(40); {
		case op == 39: // a burst of changes while the lock sleeps: more than maxBetween
			for range maxBetween + 2 {
				l := randomList(r, door, pool, ceilSeconds(now))
				issuedBy[door] = append(issuedBy[door], l)
				v := s.Desire(l, now)
				ref.Desire(l, now)
				if r.IntN(2) == 0 { // sent to the lock before the next change
					s.Offer(door, v)
					ref.Offer(door, v)
				}
			}
			log = append(log, "burst "+door)
		case op < 14: // a list computed
			var l *DoorList
			switch ls := issuedBy[door]; {
			case len(ls) > 0 && r.IntN(4) == 0:
				l = ls[r.IntN(len(ls))] // again, or an earlier one
			default:
				l = randomList(r, door, pool, ceilSeconds(now))
				if r.IntN(8) == 0 {
					l.Entries, l.Digest = nil, emptyDigest
				}
				issuedBy[door] = append(issuedBy[door], l)
			}
			v, rv := s.Desire(l, now), ref.Desire(l, now)
			log = append(log, fmt.Sprintf("desire %s %x: %d", door, l.Digest[:4], v))
			if v != rv {
				t.Fatalf("Desire: version %d, reference %d\n%s", v, rv, strings.Join(log, "\n"))
			}
			if r.IntN(4) != 0 { // handed to the radio
				v -= uint64(r.IntN(2)) // or an older version named: nothing
				s.Offer(door, v)
				ref.Offer(door, v)
				log = append(log, fmt.Sprintf("offer %s %d", door, v))
			}
		case op < 28: // a lock reports
			dig := ackDigest(r, ref, door, issuedBy[door])
			ok, rok := s.Ack(door, dig, now), ref.Ack(door, dig, now)
			log = append(log, fmt.Sprintf("ack %s %x: %v", door, dig, ok))
			if ok != rok {
				t.Fatalf("Ack: %v, reference %v\n%s", ok, rok, strings.Join(log, "\n"))
			}
		case op < 36: // time passes, or the clock steps back
			d := time.Duration(r.Int64N(int64(40*time.Second))) - 5*time.Second
			now = now.Add(d)
			log = append(log, fmt.Sprintf("clock %v", d))
		default: // a restart from what was persisted
			s, ref = restartBoth(t, r, s, ref)
			log = append(log, "restart")
		}
		check()
	}
}

// ackDigest is a digest a lock may report for a door.
func ackDigest(r *rand.Rand, ref *refSync, door string, issued []*DoorList) []byte {
	d := ref.doors[door]
	prefix := func(full [sha256.Size]byte) []byte {
		switch r.IntN(3) {
		case 0:
			return full[:]
		case 1:
			return full[:MinAckDigest]
		}
		return bytes.Clone(full[:r.IntN(sha256.Size+1)]) // shorter than 8: unknown
	}
	switch n := r.IntN(10); {
	case n < 3 && d != nil:
		return prefix(d.desired.digest)
	case n < 5 && d != nil && len(d.between) > 0:
		return prefix(d.between[r.IntN(len(d.between))].digest)
	case n < 6 && d != nil:
		return prefix(d.acked.digest)
	case n < 7 && len(issued) > 0:
		return prefix(issued[r.IntN(len(issued))].Digest)
	case n < 8:
		return make([]byte, []int{MinAckDigest, sha256.Size, 4}[r.IntN(3)])
	case n < 9:
		return prefix(emptyDigest)
	}
	b := make([]byte, MinAckDigest)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// restartBoth persists both states as DoorLists does, sometimes damaged,
// and restores fresh ones from them.
func restartBoth(t *testing.T, r *rand.Rand, s *DoorSync, ref *refSync) (*DoorSync, *refSync) {
	t.Helper()
	ns, nref := NewDoorSync(), newRefSync()
	for _, door := range mapKeys(ref.doors) {
		d, rd := s.doors[door], ref.doors[door]
		state, acked, revoked := d.stateBytes(), encodeIssued(d.acked), d.revokedBytes()
		if !bytes.Equal(state, rd.stateBytes()) || !bytes.Equal(acked, refEncodeIssued(rd.acked)) || !bytes.Equal(revoked, rd.revokedBytes()) {
			t.Fatalf("%s: persisted state differs:\n%s\n%s\nacked %x\n      %x\nrevoked %x\n        %x", door,
				state, rd.stateBytes(), acked, refEncodeIssued(rd.acked), revoked, rd.revokedBytes())
		}
		if ListDigest(acked) != rd.acked.digest {
			acked = nil // not written
		}
		switch r.IntN(12) {
		case 0:
			if len(acked) > 0 {
				acked = acked[:r.IntN(len(acked))]
			}
		case 1:
			if len(revoked) > 0 {
				revoked = revoked[:r.IntN(len(revoked))]
			}
		case 2:
			state = state[:len(state)/2]
		case 3:
			revoked = append(revoked, revoked...) // each revocation twice
		}
		err, rerr := ns.restoreDoor(door, state, acked, revoked), nref.restoreDoor(door, state, acked, revoked)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%s: restore: %v, reference %v", door, err, rerr)
		}
		if err != nil {
			ns.door(door).drift, nref.door(door).drift = true, true
		}
	}
	return ns, nref
}

// compareSync checks every query of s against the reference.
func compareSync(s *DoorSync, ref *refSync, pool []ListEntry, doors []string, now time.Time) error {
	if got, want := s.Pending(now), ref.Pending(now); !reflect.DeepEqual(got, want) {
		return fmt.Errorf("Pending:\n%+v\nreference:\n%+v", got, want)
	}
	if got, want := s.KeycardsPending(now), ref.KeycardsPending(now); !reflect.DeepEqual(got, want) {
		return fmt.Errorf("KeycardsPending:\n%v\nreference:\n%v", got, want)
	}
	creds := append(slices.Clone(pool), ListEntry{Kind: EntryKeycard, ID: []byte{9, 9, 9, 9, 9}})
	for _, c := range creds {
		if got, want := s.CredentialPending(c.Kind, c.ID, now), ref.CredentialPending(c.Kind, c.ID, now); !slices.Equal(got, want) {
			return fmt.Errorf("CredentialPending(%d %x): %v, reference %v", c.Kind, c.ID, got, want)
		}
		if c.Kind == EntryKeycard {
			id := hex.EncodeToString(c.ID)
			if got, want := s.KeycardPending(id, now), ref.KeycardPending(id, now); !slices.Equal(got, want) {
				return fmt.Errorf("KeycardPending(%s): %v, reference %v", id, got, want)
			}
		}
	}
	if got := s.KeycardPending("not hex", now); got != nil {
		return fmt.Errorf("KeycardPending of a bad id: %v", got)
	}
	for _, door := range doors {
		d, rd := s.doors[door], ref.doors[door]
		if (d == nil) != (rd == nil) {
			return fmt.Errorf("%s: known %v, reference %v", door, d != nil, rd != nil)
		}
		if d == nil {
			continue
		}
		if err := compareIssued("desired", d.desired, rd.desired); err != nil {
			return fmt.Errorf("%s: %w", door, err)
		}
		if err := compareIssued("acked", d.acked, rd.acked); err != nil {
			return fmt.Errorf("%s: %w", door, err)
		}
		if len(d.between) != len(rd.between) || d.drift != rd.drift {
			return fmt.Errorf("%s: %d between, drift %v; reference %d, %v", door, len(d.between), d.drift, len(rd.between), rd.drift)
		}
		for i := range d.between {
			if err := compareIssued(fmt.Sprint("between ", i), d.between[i], rd.between[i]); err != nil {
				return fmt.Errorf("%s: %w", door, err)
			}
		}
		if s.holds(door, rd.desired.digest) != ref.holds(door, rd.desired.digest) {
			return fmt.Errorf("%s: holds differs", door)
		}
		if got, want := d.stateBytes(), rd.stateBytes(); !bytes.Equal(got, want) {
			return fmt.Errorf("%s: state %s, reference %s", door, got, want)
		}
		if got, want := d.revokedBytes(), rd.revokedBytes(); !bytes.Equal(got, want) {
			return fmt.Errorf("%s: revoked %x, reference %x", door, got, want)
		}
		if got, want := encodeIssued(d.acked), refEncodeIssued(rd.acked); !bytes.Equal(got, want) {
			return fmt.Errorf("%s: acked encoding %x, reference %x", door, got, want)
		}
		helds := [][sha256.Size]byte{rd.acked.digest, rd.desired.digest, {}, {1, 2, 3, 4, 5, 6, 7, 8}}
		for _, v := range rd.between {
			helds = append(helds, v.digest)
		}
		for _, h := range helds {
			for _, version := range []uint32{uint32(rd.desired.version), uint32(rd.desired.version) + 1} {
				held := [MinAckDigest]byte(h[:MinAckDigest])
				got, ok := s.listDelta(door, held, version)
				want, rok := ref.listDelta(door, held, version)
				if ok != rok || !bytes.Equal(got, want) {
					return fmt.Errorf("%s: listDelta(%x, %d): %x %v, reference %x %v", door, held, version, got, ok, want, rok)
				}
			}
		}
		refs := []uint32{0, 12345}
		for _, c := range creds {
			refs = append(refs, EntryRef(c.Kind, c.ID))
		}
		for _, refNo := range refs {
			got, ok := s.entryCredential(door, refNo)
			want, rok := ref.entryCredential(door, refNo)
			if ok != rok || !reflect.DeepEqual(got, want) {
				return fmt.Errorf("%s: entryCredential(%d): %+v %v, reference %+v %v", door, refNo, got, ok, want, rok)
			}
		}
	}
	return nil
}

func compareIssued(name string, v issued, rv refIssued) error {
	if v.version != rv.version || v.digest != rv.digest || (v.entries == nil) != (rv.entries == nil) {
		return fmt.Errorf("%s: version %d digest %x known %v; reference %d %x %v", name,
			v.version, v.digest[:4], v.entries != nil, rv.version, rv.digest[:4], rv.entries != nil)
	}
	if got, want := issuedEntries(v), refIssuedEntries(rv); !refEqualEntries(got, want) {
		return fmt.Errorf("%s: entries %v, reference %v", name, got, want)
	}
	return nil
}
