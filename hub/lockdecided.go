package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// A lock that cannot reach the hub decides from its own list and keeps the
// decision; when it reaches the hub again it reports it with its own
// clock, its event counter and the list entry that decided — a reference
// to the entry (EntryRef), never the credential itself. The hub records it
// as activity marked decided by the lock offline (LockDecided).

// entryRefLabel separates entry references from other hashes of
// credential ids.
const entryRefLabel = "doorhub-list-entry-v1"

// EntryRef is the reference a lock gives for a list entry in its offline
// decisions (docs/door-lists.md, "Offline decisions"): the first four
// bytes, big-endian, of SHA-256("doorhub-list-entry-v1" 0x00 kind id);
// never 0, which stands for "no entry" (an unknown credential).
func EntryRef(kind EntryKind, id []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(entryRefLabel))
	h.Write([]byte{0, byte(kind)})
	h.Write(id)
	ref := binary.BigEndian.Uint32(h.Sum(nil))
	if ref == 0 {
		ref = 1
	}
	return ref
}

// LockDecided marks an access decision a lock made alone, offline.
type LockDecided struct {
	// Lock is the lock's radio id (hex).
	Lock string `json:"lock"`
	// Seq is the lock's event counter for the decision.
	Seq uint32 `json:"seq"`
	// Clock is the lock's own clock at the decision, as it reported it
	// (the record's At is that moved onto the hub's clock).
	Clock time.Time `json:"clock"`
	// Entry is the EntryRef of the list entry that decided; 0 when the
	// lock had none for the credential, and left out of records that
	// keep no identity.
	Entry uint32 `json:"entry,omitempty"`
}

// OfflineAccessActivity makes the record of a decision a lock made alone:
// AccessActivity's record, with the privacy rule, marked as decided by
// the lock. A record without identity keeps no entry reference either
// (it would name the credential to whoever holds the site's ids).
func OfflineAccessActivity(d Decision, by LockDecided) Activity {
	a := AccessActivity(d)
	if a.Decision.Visibility != Visible {
		by.Entry = 0
	}
	a.Lock = &by
	return a
}

// OfflineDecision records a decision a lock made alone, as Decision does.
func (l *ActivityLog) OfflineDecision(ctx context.Context, d Decision, by LockDecided) (uint64, error) {
	return l.append(ctx, OfflineAccessActivity(d, by))
}

// EntryCredential names the credential of a list entry of a door by its
// reference (EntryRef), from the lists the hub issued for that door — the
// one its lock acknowledged, the desired one and those in between — so
// that a lock's offline decision is recorded with whose credential it
// was. ok is false when no entry, or more than one, has the reference.
func (d *DoorLists) EntryCredential(door string, ref uint32) (Presentation, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sync.entryCredential(door, ref)
}

// entryCredential is EntryCredential over the sync state.
func (s *DoorSync) entryCredential(door string, ref uint32) (Presentation, bool) {
	ds := s.doors[door]
	if ds == nil || ref == 0 {
		return Presentation{}, false
	}
	var kind EntryKind
	var id []byte
	found := false
	for _, v := range append([]issued{ds.acked, ds.desired}, ds.between...) {
		for i := range v.entries.Len() {
			k, kid := v.entries.key(i)
			if k == EntrySetting || EntryRef(k, kid) != ref {
				continue
			}
			if found && (k != kind || !bytes.Equal(kid, id)) {
				return Presentation{}, false // two credentials share it: name neither
			}
			kind, id, found = k, kid, true
		}
	}
	if !found {
		return Presentation{}, false
	}
	switch kind {
	case EntryKeycard:
		return Presentation{Kind: CredKeycard, CardID: hex.EncodeToString(id)}, true
	case EntryPhone:
		return Presentation{Kind: CredMobile, PublicKey: bytes.Clone(id)}, true
	}
	return Presentation{}, false
}
