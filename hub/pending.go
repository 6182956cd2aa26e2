package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"
)

// DoorSync tracks, per door, the desired lock list and what the lock
// acknowledged, so "pending" says exactly where a lock and the hub
// disagree (docs/door-lists.md, "Pending"). A change is pending at a door
// until the lock acknowledged a list that contains it; a credential's
// activation or deactivation is pending while any door where the lock's
// list differs for it has not acknowledged. It is pure state: the radio
// session feeds it digests, the catalog feeds it lists. Not safe for
// concurrent use; its owner guards it.
type DoorSync struct {
	doors map[string]*doorSync
}

// issued is one list version the hub computed for a door.
type issued struct {
	version uint64
	digest  [sha256.Size]byte
	// entries: nil when unknown (a desired list restored after a restart,
	// not computed again).
	entries *entrySet
	// offered: the list was handed to the radio to send to the lock
	// (Offer). Only such a version can come back as acknowledged, so
	// only such a version is kept once a newer one is desired.
	offered bool
}

type doorSync struct {
	desired issued
	// acked is the list the lock acknowledged; version 0 and no entries
	// before its first acknowledgement (a lock is paired with an empty
	// list).
	acked issued
	// older versions issued after acked and offered to the lock, which it
	// may still acknowledge (a delivery that raced a newer change). A
	// version never offered is not kept: while a lock sleeps through many
	// changes, its door would otherwise hold every list in between (at
	// 100,000 credentials, 6 MB a set of 200 doors' lists).
	between []issued
	// drift: the lock reported a digest the hub never issued for it; its
	// list is unknown until a full reload is acknowledged.
	drift bool
	// revokedSince: for each credential the lock still admits somewhere
	// the desired list does not, since when; in (kind, id) order.
	revokedSince []revocation
}

// revocation is a credential of the acknowledged list the lock admits
// where the desired list does not, and since when.
type revocation struct {
	kind  EntryKind
	id    []byte // part of the acknowledged list's encoding
	since time.Time
}

var emptyDigest = ListDigest(nil)

// maxBetween bounds the versions remembered between the acknowledged and
// the desired one.
const maxBetween = 16

// NewDoorSync returns an empty tracker.
func NewDoorSync() *DoorSync { return &DoorSync{doors: map[string]*doorSync{}} }

func (s *DoorSync) door(id string) *doorSync {
	d := s.doors[id]
	if d == nil {
		d = &doorSync{
			desired: issued{digest: emptyDigest, entries: noEntries},
			acked:   issued{digest: emptyDigest, entries: noEntries},
		}
		s.doors[id] = d
	}
	return d
}

// holds reports whether the door's desired list is the one with the
// digest, its entries known.
func (s *DoorSync) holds(door string, digest [sha256.Size]byte) bool {
	d := s.doors[door]
	return d != nil && d.desired.digest == digest && d.desired.entries != nil
}

// Desire records a door's newly computed list at the moment at. A list
// with the digest already desired changes nothing; otherwise it becomes
// the next version. It returns the desired version.
func (s *DoorSync) Desire(l *DoorList, at time.Time) uint64 {
	d := s.door(l.Door)
	entries := func() *entrySet {
		if d.acked.entries != nil && d.acked.digest == l.Digest {
			return d.acked.entries // the same list: one copy
		}
		return newEntrySet(l.Entries)
	}
	if l.Digest == d.desired.digest {
		if d.desired.entries == nil {
			// Restored after a restart: the same list, computed again.
			d.desired.entries = entries()
			d.refresh(at)
		}
		return d.desired.version
	}
	// A restored desired list whose entries are not known any more is not
	// remembered, nor one never offered to the lock: a lock acknowledging
	// it is taken for drifted.
	if d.desired.version > d.acked.version && d.desired.entries != nil && d.desired.offered {
		d.between = append(d.between, d.desired)
		if len(d.between) > maxBetween {
			// A lock acknowledging a version this old is treated as
			// drifted and reloaded: safe, only slower.
			d.between = d.between[1:]
		}
	}
	d.desired = issued{version: d.desired.version + 1, digest: l.Digest, entries: entries()}
	d.refresh(at)
	return d.desired.version
}

// Offer records that the door's desired list at version was handed to
// the radio for its lock: the lock may acknowledge it even after a newer
// one is desired.
func (s *DoorSync) Offer(door string, version uint64) {
	if d := s.doors[door]; d != nil && d.desired.version == version {
		d.desired.offered = true
	}
}

// MinAckDigest is the shortest digest prefix Ack accepts: the radio's
// list digest (docs/radio-protocol.md § 6.5) is the first 8 bytes.
const MinAckDigest = 8

// Ack records the digest of the list a door's lock reports it holds: the
// whole SHA-256 digest or a prefix of at least MinAckDigest bytes (shorter
// counts as unknown). All zero bytes is a lock with no list, which holds
// what the empty list holds. A digest of a version the hub issued makes
// that version the acknowledged one; any other marks the door drifted (its
// list unknown, a full reload needed). It reports whether the lock now
// holds the desired list.
func (s *DoorSync) Ack(door string, digest []byte, at time.Time) bool {
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
				d.acked, d.between, d.drift, found = v, append([]issued(nil), d.between[i+1:]...), false, true
				break
			}
		}
		if !found {
			d.drift = !matches(d.acked.digest)
		}
	}
	if d.drift && d.desired.version == 0 {
		// The reload of an empty list (a clear) needs a version to name it.
		d.desired.version = 1
	}
	d.refresh(at)
	return !d.drift && d.acked.version == d.desired.version
}

// refresh recomputes the pending revocations after a change of either
// list, keeping the moment each one became pending.
func (d *doorSync) refresh(at time.Time) {
	from := ceilSeconds(at)
	var next []revocation
	prev := d.revokedSince // sorted as the lists: read along with them
	acked, desired := d.acked.entries, d.desired.entries
	var hb, wb [4]ListWindow
	if acked != desired {
		mergeEntries(acked, desired, func(i, j int, same bool) {
			if i < 0 || same || !admitsBeyond(acked.windows(i, hb[:]), desired.windows(j, wb[:]), from) {
				return
			}
			kind, id := acked.key(i)
			for len(prev) > 0 && compareKey(prev[0].kind, prev[0].id, kind, id) < 0 {
				prev = prev[1:]
			}
			since := at
			if len(prev) > 0 && compareKey(prev[0].kind, prev[0].id, kind, id) == 0 {
				since = prev[0].since
			}
			next = append(next, revocation{kind: kind, id: id, since: since})
		})
	}
	d.revokedSince = next
}

// admitsBeyond reports whether windows a admit at some second from on that
// windows b do not. Both are sorted, disjoint and not adjacent.
func admitsBeyond(a, b []ListWindow, from int64) bool {
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

// DoorPending is what is pending at one door.
type DoorPending struct {
	Door           string `json:"door"`
	DesiredVersion uint64 `json:"desired_version"`
	AckedVersion   uint64 `json:"acked_version"`
	// Current: the lock acknowledged the desired list.
	Current bool `json:"current"`
	// DesiredDigest and AckedDigest are the lists' SHA-256 digests, hex;
	// a lock reports the first 8 bytes (docs/radio-protocol.md § 6.5).
	DesiredDigest string `json:"desired_digest"`
	AckedDigest   string `json:"acked_digest"`
	// Drift: the lock reported a list the hub never issued; a full reload
	// is needed and nothing about its list is assumed.
	Drift bool `json:"drift,omitempty"`
	// Activations and Revocations count credentials the lock's list
	// admits less, or more, than the desired one.
	Activations int `json:"activations"`
	Revocations int `json:"revocations"`
	// OldestRevocation is when the oldest revocation the lock has not
	// applied became pending; zero when none. RevocationAge is its age
	// ("revocation freshness").
	OldestRevocation time.Time     `json:"oldest_revocation,omitzero"`
	RevocationAge    time.Duration `json:"revocation_age"`
}

// Pending reports every door's state at now, sorted by door.
func (s *DoorSync) Pending(now time.Time) []DoorPending {
	out := make([]DoorPending, 0, len(s.doors))
	ids := mapKeys(s.doors)
	sort.Strings(ids)
	for _, id := range ids {
		out = append(out, s.DoorPending(id, now))
	}
	return out
}

// DoorPending reports one door's state at now.
func (s *DoorSync) DoorPending(door string, now time.Time) DoorPending {
	d := s.door(door)
	p := DoorPending{Door: door, DesiredVersion: d.desired.version, AckedVersion: d.acked.version,
		Drift: d.drift, Current: !d.drift && d.acked.version == d.desired.version && d.acked.digest == d.desired.digest,
		DesiredDigest: hex.EncodeToString(d.desired.digest[:]), AckedDigest: hex.EncodeToString(d.acked.digest[:])}
	from := ceilSeconds(now)
	desired, acked := d.desired.entries, d.acked.entries
	var wb, hb [4]ListWindow
	if desired != nil && desired != acked {
		mergeEntries(desired, acked, func(i, j int, same bool) {
			if i >= 0 && !same && admitsBeyond(desired.windows(i, wb[:]), acked.windows(j, hb[:]), from) {
				p.Activations++
			}
		})
	}
	p.Revocations = len(d.revokedSince)
	for _, r := range d.revokedSince {
		if p.OldestRevocation.IsZero() || r.since.Before(p.OldestRevocation) {
			p.OldestRevocation = r.since
		}
	}
	if !p.OldestRevocation.IsZero() {
		p.RevocationAge = now.Sub(p.OldestRevocation)
	}
	return p
}

// CredentialPending lists the doors where the credential's entry in the
// lock's acknowledged list differs from the desired one from now on — an
// activation or a deactivation not yet applied there — and every drifted
// door (whose list is unknown). Empty: applied everywhere.
func (s *DoorSync) CredentialPending(kind EntryKind, id []byte, now time.Time) []string {
	from := ceilSeconds(now)
	var out []string
	var wb, hb [4]ListWindow
	for door, d := range s.doors {
		if d.desired.entries == nil {
			continue // restored and not computed again: not a door of the catalog
		}
		want := d.desired.entries.windows(d.desired.entries.find(kind, id), wb[:])
		held := d.acked.entries.windows(d.acked.entries.find(kind, id), hb[:])
		if d.drift || admitsBeyond(want, held, from) || admitsBeyond(held, want, from) {
			out = append(out, door)
		}
	}
	sort.Strings(out)
	return out
}

// KeycardPending is CredentialPending for a keycard by its hex card id.
func (s *DoorSync) KeycardPending(cardID string, now time.Time) []string {
	id, err := hexDecode(cardID)
	if err != nil {
		return nil
	}
	return s.CredentialPending(EntryKeycard, id, now)
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return len(b) > 0
}

// KeycardsPending lists, by card id (hex), the doors where a keycard's
// entry in the lock's acknowledged list differs from the desired one from
// now on — its activation or deactivation not applied there — and, for a
// card in a drifted door's desired or acknowledged list, that door (its
// lock's list is unknown). Doors sorted.
func (s *DoorSync) KeycardsPending(now time.Time) map[string][]string {
	from := ceilSeconds(now)
	out := map[string][]string{}
	var wb, hb [4]ListWindow
	for door, d := range s.doors {
		desired, acked := d.desired.entries, d.acked.entries
		if desired == nil {
			continue // restored and not computed again: not a door of the catalog
		}
		if desired == acked && !d.drift {
			continue // the lock holds the desired list
		}
		mergeEntries(desired, acked, func(i, j int, same bool) {
			in, at := desired, i
			if i < 0 {
				in, at = acked, j
			}
			kind, id := in.key(at)
			if kind != EntryKeycard || (same && !d.drift) {
				return
			}
			want, held := desired.windows(i, wb[:]), acked.windows(j, hb[:])
			if d.drift || admitsBeyond(want, held, from) || admitsBeyond(held, want, from) {
				h := hex.EncodeToString(id)
				out[h] = append(out[h], door)
			}
		})
	}
	for _, doors := range out {
		sort.Strings(doors)
	}
	return out
}
