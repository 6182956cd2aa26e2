package hub

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ValueStore is a small durable key/value store: SetValue is on disk when
// it returns. hub/badgerstore's Store is one (its named values). The door
// lists keep their per-door state in it so a hub restart resumes where it
// stopped (docs/door-lists.md, "What survives a restart").
type ValueStore interface {
	Value(key string) ([]byte, error) // nil, nil when absent
	SetValue(key string, value []byte) error
	DeleteValue(key string) error
	Values(prefix string) (map[string][]byte, error)
}

// The door lists' keys in a ValueStore, per door:
//
//	doorsync/state/<door>    JSON: desired and acknowledged version and digest, drift
//	doorsync/acked/<door>    the acknowledged list, encoded (docs/door-lists.md)
//	doorsync/revoked/<door>  since when each revocation is pending: kind(1) | id length(1) | id | Unix nanoseconds(8)
//	doorsync/xfer/<door>     the delivery under way: version(4) | digest(8) | next chunk(4)
//
// The acknowledged list is written before the state naming its digest; a
// state whose acknowledged digest does not match the stored list (a crash
// between the two writes) is restored as drifted: nothing is assumed about
// that lock's list until it reports again.
const (
	kvSyncState   = "doorsync/state/"
	kvSyncAcked   = "doorsync/acked/"
	kvSyncRevoked = "doorsync/revoked/"
	kvSyncXfer    = "doorsync/xfer/"
)

type doorStateJSON struct {
	DesiredVersion uint64 `json:"desired_version"`
	DesiredDigest  string `json:"desired_digest"`
	AckedVersion   uint64 `json:"acked_version"`
	AckedDigest    string `json:"acked_digest"`
	Drift          bool   `json:"drift,omitempty"`
}

// savedDoor is what was last written for a door, so only what changed is
// written again.
type savedDoor struct {
	state      []byte
	ackedDig   [sha256.Size]byte
	ackedKnown bool
	revoked    []byte
}

func (d *doorSync) stateBytes() []byte {
	b, _ := json.Marshal(doorStateJSON{
		DesiredVersion: d.desired.version, DesiredDigest: hex.EncodeToString(d.desired.digest[:]),
		AckedVersion: d.acked.version, AckedDigest: hex.EncodeToString(d.acked.digest[:]), Drift: d.drift,
	})
	return b
}

func (d *doorSync) revokedBytes() []byte {
	var b []byte
	for _, r := range d.revokedSince {
		b = append(b, byte(r.kind), byte(len(r.id)))
		b = append(b, r.id...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.since.UnixNano()))
	}
	return b
}

// encodeIssued is an issued list's encoding, in (kind, id) order: the
// entry set's own bytes, not to be changed (ValueStore.SetValue does not
// keep them).
func encodeIssued(v issued) []byte { return v.entries.encoding() }

// restoreDoor rebuilds a door's state from its stored values. The desired
// list's entries are not stored: they are computed again from the catalog
// (Desire fills them when the digest is the same; another digest becomes
// the next version).
func (s *DoorSync) restoreDoor(door string, state, acked, revoked []byte) error {
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
	d.desired = issued{version: j.DesiredVersion, digest: [sha256.Size]byte(dd)} // entries nil: from the catalog
	d.acked = issued{version: j.AckedVersion, digest: [sha256.Size]byte(ad), entries: noEntries}
	d.drift = j.Drift
	entries, err := decodeEntrySet(acked)
	if err != nil || ListDigest(acked) != d.acked.digest {
		// The acknowledged list is not the one the state names: unknown.
		// Its digest is forgotten too (no list has the zero digest), so
		// the lock's next report of it is drift as well, and a full
		// reload, not a delta from a list the hub does not have.
		d.drift = true
		d.acked.digest = [sha256.Size]byte{}
	} else {
		d.acked.entries = entries
	}
	// Revocations of credentials in the acknowledged list only; of one
	// stored twice, the last.
	since := map[int]time.Time{}
	for b := revoked; len(b) >= 2; {
		n := int(b[1])
		if len(b) < 2+n+8 {
			break
		}
		if i := d.acked.entries.find(EntryKind(b[0]), b[2:2+n]); i >= 0 {
			since[i] = time.Unix(0, int64(binary.BigEndian.Uint64(b[2+n:])))
		}
		b = b[2+n+8:]
	}
	d.revokedSince = nil
	for _, i := range slices.Sorted(maps.Keys(since)) { // entry order is (kind, id) order
		kind, id := d.acked.entries.key(i)
		d.revokedSince = append(d.revokedSince, revocation{kind: kind, id: id, since: since[i]})
	}
	return nil
}

// Persist loads the door lists' state from kv and keeps it there from now
// on: versions go on from where they were, each lock's acknowledged list
// and the moment each revocation became pending survive a restart, and a
// delivery interrupted by the restart resumes at its chunk
// (ListProgress). Call it once, before the door lists are used. A door
// whose stored state cannot be read is taken for drifted (reloaded at its
// lock's next wake), never for current.
func (d *DoorLists) Persist(kv ValueStore) error {
	states, err := kv.Values(kvSyncState)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.kv = kv
	d.saved = map[string]savedDoor{}
	for key, state := range states {
		door := strings.TrimPrefix(key, kvSyncState)
		acked, err := kv.Value(kvSyncAcked + door)
		if err != nil {
			return err
		}
		revoked, err := kv.Value(kvSyncRevoked + door)
		if err != nil {
			return err
		}
		if err := d.sync.restoreDoor(door, state, acked, revoked); err != nil {
			d.sync.door(door).drift = true
			d.fail(err)
		}
		d.saved[door] = savedDoor{state: state, ackedDig: ListDigest(acked), ackedKnown: acked != nil, revoked: revoked}
	}
	return nil
}

// save writes what changed of the doors' state, all at once when the
// store takes several values in one write (badgerstore's SetValues).
// Called with d.mu held, after every change, so what is on disk is never
// ahead of what the hub knows; a failed write leaves the stored state
// older, which a restart reads as more pending, never less, and is
// written again at the door's next change.
func (d *DoorLists) save(doors ...string) {
	if d.kv == nil {
		return
	}
	var keys []string
	var values [][]byte
	after := map[string]savedDoor{}
	for _, door := range doors {
		k, v, a, ok := d.changes(door)
		if ok {
			keys, values = append(keys, k...), append(values, v...)
			after[door] = a
		}
	}
	if len(keys) == 0 {
		return
	}
	var err error
	if b, ok := d.kv.(interface {
		SetValues(keys []string, values [][]byte) error
	}); ok {
		err = b.SetValues(keys, values)
	} else {
		for i := range keys {
			if err = d.kv.SetValue(keys[i], values[i]); err != nil {
				break
			}
		}
	}
	if err != nil {
		d.fail(err)
		return
	}
	for door, a := range after {
		d.saved[door] = a
	}
}

// changes is what to write for a door, in order — its acknowledged list
// before the state naming it — and what is saved after.
func (d *DoorLists) changes(door string) (keys []string, values [][]byte, after savedDoor, ok bool) {
	ds := d.sync.doors[door]
	if ds == nil {
		return nil, nil, savedDoor{}, false
	}
	after = d.saved[door]
	if !after.ackedKnown || after.ackedDig != ds.acked.digest {
		if enc := encodeIssued(ds.acked); ListDigest(enc) == ds.acked.digest {
			keys, values = append(keys, kvSyncAcked+door), append(values, enc)
			after.ackedDig, after.ackedKnown = ds.acked.digest, true
		}
	}
	// Nothing stored reads as no revocation pending.
	if rb := ds.revokedBytes(); !bytes.Equal(rb, after.revoked) {
		keys, values = append(keys, kvSyncRevoked+door), append(values, rb)
		after.revoked = rb
	}
	if sb := ds.stateBytes(); !bytes.Equal(sb, after.state) {
		keys, values = append(keys, kvSyncState+door), append(values, sb)
		after.state = sb
	}
	return keys, values, after, len(keys) > 0
}

// OnError sets fn to hear state that could not be persisted.
func (d *DoorLists) OnError(fn func(error)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onError = fn
}

func (d *DoorLists) fail(err error) {
	if d.onError != nil {
		d.onError(err)
	}
}

// ListProgress returns the chunk a delivery of the door's list (by its
// version and the radio's digest) stopped at before a hub restart; 0 when
// none is known. radio/session resumes there; a lock that lost its partial
// list answers out_of_order naming chunk 0, and the delivery starts over.
func (d *DoorLists) ListProgress(door string, version uint32, digest [MinAckDigest]byte) int {
	d.mu.Lock()
	kv := d.kv
	d.mu.Unlock()
	if kv == nil {
		return 0
	}
	b, err := kv.Value(kvSyncXfer + door)
	if err != nil || len(b) != 16 || binary.BigEndian.Uint32(b) != version || !bytes.Equal(b[4:12], digest[:]) {
		return 0
	}
	return int(binary.BigEndian.Uint32(b[12:]))
}

// ListProgressed records that a delivery of the door's list got to chunk
// next (the lock stored every chunk before it).
func (d *DoorLists) ListProgressed(door string, version uint32, digest [MinAckDigest]byte, next int) {
	d.mu.Lock()
	kv := d.kv
	d.mu.Unlock()
	if kv == nil {
		return
	}
	b := binary.BigEndian.AppendUint32(nil, version)
	b = append(b, digest[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(next))
	if err := kv.SetValue(kvSyncXfer+door, b); err != nil {
		d.mu.Lock()
		d.fail(err)
		d.mu.Unlock()
	}
}
