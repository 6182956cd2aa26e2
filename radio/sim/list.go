package sim

import (
	"encoding/hex"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// lockList is a simulated lock's own list (docs/door-lists.md): the active
// list it decides from when alone, and a partial one while chunks come in
// (docs/radio-protocol.md § 6.5). The active list changes only when the
// last chunk is in and the digest matches: never half a list. Not safe for
// concurrent use; the lock's mutex guards it.
type lockList struct {
	capacity int
	version  uint32
	digest   [lockmsg.DigestSize]byte // zero: no list
	entries  []hub.ListEntry

	partVersion uint32
	partDigest  [lockmsg.DigestSize]byte
	partNext    uint16
	partData    []byte

	chunks int // received, for tests
}

// chunk takes one list chunk and returns the answer.
func (l *lockList) chunk(m *lockmsg.ListChunk) *lockmsg.ListAck {
	ack := &lockmsg.ListAck{Version: m.Version, Chunk: m.Index}
	l.chunks++
	if m.Clear() {
		// The door's list is empty: drop the list and any partial one.
		*l = lockList{capacity: l.capacity, chunks: l.chunks, version: m.Version}
		ack.Status = lockmsg.ListComplete
		return ack
	}
	if m.Index == 0 {
		l.partVersion, l.partDigest, l.partNext, l.partData = m.Version, m.Digest, 0, nil
	}
	if m.Version != l.partVersion || m.Digest != l.partDigest || m.Index != l.partNext {
		ack.Status, ack.Digest = lockmsg.ListOutOfOrder, l.digest
		if m.Version == l.partVersion && m.Digest == l.partDigest {
			ack.Chunk = l.partNext
		} else {
			ack.Chunk = 0
		}
		return ack
	}
	l.partData = append(l.partData, m.Data...)
	l.partNext++
	if l.partNext < m.Count {
		ack.Status, ack.Digest = lockmsg.ListChunkStored, l.digest
		return ack
	}
	data := l.partData
	l.partVersion, l.partNext, l.partData = 0, 0, nil
	var entries []hub.ListEntry
	var err error
	if hub.IsListDelta(data) {
		// A delta applies to the active list only; the result must be
		// the list the chunks name.
		if entries, err = hub.ApplyListDelta(l.entries, l.digest, data); err == nil {
			data = (&hub.DoorList{Entries: entries}).Encode()
		}
	} else {
		entries, err = hub.DecodeList(data)
	}
	switch {
	case err != nil || lockmsg.ListDigest(data) != m.Digest:
		ack.Status = lockmsg.ListDigestMismatch
	case l.capacity > 0 && hub.ListCredentials(entries) > l.capacity:
		ack.Status = lockmsg.ListTooLarge
	default:
		l.version, l.digest, l.entries = m.Version, m.Digest, entries
		ack.Status = lockmsg.ListComplete
	}
	ack.Digest = l.digest
	return ack
}

// reset forgets the list, as a lock whose memory was wiped.
func (l *lockList) reset() { *l = lockList{capacity: l.capacity, chunks: l.chunks} }

// decide is the lock's own decision at its clock's now, for its door,
// with the reference of the list entry that decided (hub.EntryRef; 0 for
// a credential it has no entry for).
func (l *lockList) decide(door string, m *lockmsg.AccessRequest, now time.Time) (lockmsg.Reason, uint32) {
	p := hub.Presentation{}
	var kind hub.EntryKind
	var id []byte
	switch m.Kind {
	case lockmsg.CredKeycard:
		p.Kind, p.CardID = hub.CredKeycard, hex.EncodeToString(m.CardID)
		kind, id = hub.EntryKeycard, m.CardID
	case lockmsg.CredMobile:
		p.Kind, p.PublicKey, p.Nonce, p.Signature = hub.CredMobile, m.PublicKey[:], m.Nonce[:], m.Signature[:]
		kind, id = hub.EntryPhone, m.PublicKey[:]
	default:
		return lockmsg.ReasonUnknownCredential, 0
	}
	var entry uint32
	for i := range l.entries {
		if l.entries[i].Kind == kind && string(l.entries[i].ID) == string(id) {
			entry = hub.EntryRef(kind, id)
			break
		}
	}
	r, ok := lockmsg.ReasonOf(string(hub.LockDecide(l.entries, door, p, now.Unix())))
	if !ok {
		return lockmsg.ReasonUnknownCredential, entry
	}
	return r, entry
}

// offline is the door's offline mode its list carries (secure without a
// list).
func (l *lockList) offline() hub.OfflineMode { return hub.ListOfflineMode(l.entries) }
