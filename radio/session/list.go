package session

import (
	"log/slog"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// Lists is what the sessions need to keep each lock's own list
// (docs/door-lists.md): the door's desired list, encoded, with its
// version, and where to report the list a lock holds (the digest of every
// status and list_ack). Declared here, implemented by the daemon's wiring
// over hub.DoorListOf and hub.DoorSync.
type Lists interface {
	// DoorList returns the desired list of a door: its version and its
	// encoding, empty for an empty list (sent as a clear, § 6.5); ok false
	// for a door it does not know. Version 0 is the list a lock is paired
	// with (empty): nothing is sent for it.
	DoorList(door string) (version uint32, data []byte, ok bool)
	// ListHeld hears the digest of the list a door's lock holds (zero: no
	// list).
	ListHeld(door string, digest [lockmsg.DigestSize]byte, at time.Time)
}

// ListResume is implemented by Lists that remember how far a delivery
// got (hub.DoorLists over its store), so that one interrupted by a hub
// restart resumes at its chunk instead of starting over. The session
// sends the remembered chunk first; a lock that does not hold the chunks
// before it answers out_of_order naming the one it expects, and the
// delivery goes on from there.
type ListResume interface {
	// ListProgress returns the next chunk of a delivery of the door's
	// list by version and digest; 0 when none is known.
	ListProgress(door string, version uint32, digest [lockmsg.DigestSize]byte) int
	// ListProgressed records that the lock stored every chunk before next.
	ListProgressed(door string, version uint32, digest [lockmsg.DigestSize]byte, next int)
}

// ListEntries is implemented by Lists that can name the credential of a
// list entry by the reference a lock gives in its offline decisions
// (hub.DoorLists.EntryCredential).
type ListEntries interface {
	EntryCredential(door string, ref uint32) (hub.Presentation, bool)
}

// offlineIdentity fills an offline decision with who the entry that
// decided belongs to: the engine's decision for that credential at that
// door and moment gives the identity and its visibility (the privacy
// rule); the outcome and reason stay the lock's.
func (s *lockSession) offlineIdentity(d *hub.Decision, entry uint32, at hub.Now) {
	le, ok := s.l.opts.Lists.(ListEntries)
	if !ok || entry == 0 || d.Door == "" {
		return
	}
	p, ok := le.EntryCredential(d.Door, entry)
	if !ok {
		return
	}
	// Explain when the decider can (hub.Engine): the same answer, and no
	// state of the engine changes for a decision it did not make.
	var h hub.Decision
	if ex, ok := s.l.opts.Decider.(interface {
		Explain(doorID string, p hub.Presentation, now hub.Now) hub.Decision
	}); ok {
		h = ex.Explain(d.Door, p, at)
	} else {
		h = s.l.opts.Decider.Decide(d.Door, p, at)
	}
	d.Subject, d.PersonID, d.HostID, d.Service = h.Subject, h.PersonID, h.HostID, h.Service
	d.GrantID, d.GuestGrant, d.DeviceID, d.Resident = h.GrantID, h.GuestGrant, h.DeviceID, h.Resident
	d.Visibility = h.Visibility
}

// maxListRestarts bounds the full restarts of one transfer after a digest
// mismatch; the next heartbeat starts over.
const maxListRestarts = 2

// listTransfer is a list on its way to a lock, one chunk at a time
// (docs/radio-protocol.md § 6.5). It lives in the session's goroutine
// only. After a hub restart the lock's next status shows its digest still
// differs; with a ListResume the transfer resumes at the chunk it got to
// (the version and digest are the same, since the hub's versions
// survive), without one it starts again from chunk 0, which abandons the
// lock's partial list. The lock's active list stays the old one until the
// new one is whole.
type listTransfer struct {
	chunks   []*lockmsg.ListChunk
	next     int // the chunk sent and not yet acknowledged
	restarts int
	// full is the whole list while chunks carry a delta: sent instead if
	// the lock refuses the delta (digest_mismatch).
	full []byte
}

// ListDeltas is implemented by Lists that can say what changed since the
// list a lock holds (hub.DoorLists.ListDelta): then only the changed
// entries go over the radio (docs/door-lists.md, "Deltas").
type ListDeltas interface {
	// ListDelta returns a delta from the list with the radio digest held
	// to the door's desired list of version; ok false when the hub does
	// not know the held list.
	ListDelta(door string, held [lockmsg.DigestSize]byte, version uint32) (delta []byte, ok bool)
}

// splitList cuts an encoded list, or a delta to the list of digest d,
// into chunks; an empty list is one chunk of the clear form.
func splitList(version uint32, data []byte, d [lockmsg.DigestSize]byte) []*lockmsg.ListChunk {
	if len(data) == 0 {
		return []*lockmsg.ListChunk{{Version: version}}
	}
	n := (len(data) + lockmsg.MaxChunkData - 1) / lockmsg.MaxChunkData
	out := make([]*lockmsg.ListChunk, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, &lockmsg.ListChunk{Version: version, Index: uint16(i), Count: uint16(n), Digest: d,
			Data: data[i*lockmsg.MaxChunkData : min(len(data), (i+1)*lockmsg.MaxChunkData)]})
	}
	return out
}

// syncList compares the digest a lock reported (a status, a list_ack, or
// the last one before a presentation) with its door's desired list and,
// when they differ, sends a delta when the hub knows the held list and
// that is shorter, otherwise the whole list (the clear form for an empty
// one); a transfer of the same list already under way goes on at its
// chunk.
func (s *lockSession) syncList(pr *lockmsg.Pairing, door string, held [lockmsg.DigestSize]byte, now time.Time) {
	ls := s.l.opts.Lists
	if ls == nil || door == "" {
		return
	}
	s.held, s.hasHeld = held, true
	ls.ListHeld(door, held, now)
	version, data, ok := ls.DoorList(door)
	if !ok || version == 0 || len(data) > 0xffff*lockmsg.MaxChunkData {
		s.xfer = nil
		return
	}
	var want [lockmsg.DigestSize]byte // an empty list: the lock holds none
	if len(data) > 0 {
		want = lockmsg.ListDigest(data)
	}
	if want == held {
		s.xfer = nil
		return
	}
	if x := s.xfer; x != nil && x.chunks[0].Version == version && x.chunks[0].Digest == want {
		s.sendChunk(pr)
		return
	}
	if dl, ok := ls.(ListDeltas); ok && len(data) > 0 {
		// What changed since the list the lock holds, when the hub knows
		// it and that is shorter. A delta is not resumed after a restart:
		// it is short, and its chunk 0 restarts the lock's partial one.
		if delta, ok := dl.ListDelta(door, held, version); ok && len(delta) < len(data) {
			s.xfer = &listTransfer{chunks: splitList(version, delta, want), full: data}
			s.log.Info("sending lock list delta", slog.Uint64("version", uint64(version)), slog.Int("chunks", len(s.xfer.chunks)),
				slog.Int("bytes", len(delta)), slog.Int("list_bytes", len(data)))
			s.sendChunk(pr)
			return
		}
	}
	s.startFull(pr, door, version, data, want)
}

// startFull starts sending the whole list, resuming at the chunk a
// ListResume remembers.
func (s *lockSession) startFull(pr *lockmsg.Pairing, door string, version uint32, data []byte, want [lockmsg.DigestSize]byte) {
	s.xfer = &listTransfer{chunks: splitList(version, data, want)}
	if r, ok := s.l.opts.Lists.(ListResume); ok {
		if next := r.ListProgress(door, version, want); next > 0 && next < len(s.xfer.chunks) {
			s.xfer.next = next
		}
	}
	s.log.Info("sending lock list", slog.Uint64("version", uint64(version)), slog.Int("chunks", len(s.xfer.chunks)),
		slog.Int("from_chunk", s.xfer.next))
	s.sendChunk(pr)
}

func (s *lockSession) sendChunk(pr *lockmsg.Pairing) {
	x := s.xfer
	if x == nil || x.next >= len(x.chunks) {
		return
	}
	if _, err := s.send(pr, x.chunks[x.next]); err != nil {
		s.log.Debug("list chunk not sent; resumes at the next wake", slog.Any(logErr, err))
	}
}

// listAck takes a lock's answer to a chunk.
func (s *lockSession) listAck(pr *lockmsg.Pairing, door string, m *lockmsg.ListAck, now time.Time) {
	if ls := s.l.opts.Lists; ls != nil && door != "" {
		s.held, s.hasHeld = m.Digest, true
		ls.ListHeld(door, m.Digest, now)
	}
	x := s.xfer
	if x == nil || m.Version != x.chunks[0].Version {
		return
	}
	switch m.Status {
	case lockmsg.ListChunkStored:
		if int(m.Chunk) == x.next {
			x.next++
			if r, ok := s.l.opts.Lists.(ListResume); ok && door != "" && x.full == nil {
				r.ListProgressed(door, x.chunks[0].Version, x.chunks[0].Digest, x.next)
			}
			s.sendChunk(pr)
		}
	case lockmsg.ListComplete:
		s.xfer = nil
		s.log.Info("lock list applied", slog.Uint64("version", uint64(m.Version)))
	case lockmsg.ListOutOfOrder:
		if int(m.Chunk) < len(x.chunks) {
			x.next = int(m.Chunk)
			s.sendChunk(pr)
		}
	case lockmsg.ListDigestMismatch:
		if x.full != nil {
			// The lock did not hold the delta's base (or took it
			// wrong): the whole list.
			s.log.Info("lock refused a list delta; sending the whole list", slog.Uint64("version", uint64(m.Version)))
			s.startFull(pr, door, x.chunks[0].Version, x.full, x.chunks[0].Digest)
			return
		}
		if x.restarts++; x.restarts <= maxListRestarts {
			x.next = 0
			s.sendChunk(pr)
			return
		}
		s.xfer = nil
		s.log.Warn("lock refused its list: digest mismatch", slog.Uint64("version", uint64(m.Version)))
	default: // too large, busy: the next status tries again
		s.xfer = nil
		s.log.Warn("lock did not take its list", slog.String("status", m.Status.String()))
	}
}
