// Package eventlog is an append-only log of records in segment files:
// the activity outbox's storage (hub/badgerstore's log outbox), apart
// from the credential store's Badger so that its appends wait for one
// data flush of their own and nothing else.
//
// # Layout
//
// A directory of segment files seg-<16 hex digits>.log, numbered in the
// order they are used. Each is preallocated (written with zeros to
// Options.SegmentSize and synced before it is used), so a write fills
// blocks the file already has and fdatasync flushes data only — no size
// or extent change to journal. One spare is prepared in the background
// while the current segment fills. frame.go gives the byte layout: a
// header with the segment's first seq and a random salt, then frames
// (length, CRC-32C, seq, payload) of records and of acknowledgements
// (ranges of seqs removed).
//
// # Guarantees
//
//   - Write is durable when it returns nil: its frames are written and
//     fdatasync'ed (with the segment header, when it started a segment).
//     Writes are serialised; a caller group-commits by handing many
//     records (and acknowledgements) to one Write.
//   - Seqs increase through the log and are never given twice: after a
//     crash, Next is above every record read back and every segment base.
//   - After a crash, Open reads back every record of every Write that
//     returned nil, and perhaps records of a Write that did not return;
//     it stops each segment at its first frame that fails its checks (a
//     torn write), truncates the file there, and writes on in a new
//     segment with a new salt, so bytes past the tail never come back.
//     A segment's base cuts frames of earlier segments at or above it
//     (records of a failed Write, written again), and a segment that
//     starts below an earlier one replaces it.
//   - A failed Write (a disk error, no room for a new segment) changes
//     nothing visible; the next Write starts a new segment. Open
//     succeeds without room for a segment: the log is readable and its
//     writes fail until there is room.
//   - A removed record is gone for Read at once and for good once the
//     acknowledgement's Write returned. A segment is deleted when none
//     of its records is stored and every older segment was deleted; the
//     segment written to stays.
//
// # Concurrency
//
// All methods are safe for concurrent use. Read runs beside Write; it
// sees a Write's records only once the Write returned. Open starts at
// most one goroutine at a time, the preparation of the next segment,
// and Close waits for it.
package eventlog
