package badgerstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/eventlog"
	"github.com/doorhub/doorhub/hub/internal/seqset"
)

// OutboxLogDir is the directory of a log outbox's segments, inside the
// store's directory (Badger's directory lock covers it).
const OutboxLogDir = "outbox"

// OpenLogOutbox opens the outbox with its records in an append-only log
// of their own (hub/eventlog, in OutboxLogDir of the store's directory)
// rather than as keys of the shared Badger database: an append then waits
// for one fdatasync of the log and for nothing Badger does (memtable
// flushes, compactions). The stream id, the message seqs and the cloud
// link's state stay in Badger; they are written rarely.
//
// Its behaviour is OpenOutbox's, and it takes over an outbox OpenOutbox
// kept: on open, records still stored as Badger keys are written into the
// log with their seqs, synced, and only then deleted from Badger; the
// stream id stays and seqs go on above every seq given before. An
// interrupted take-over is finished by the next open; one that cannot
// write (a full disk) leaves the records as keys and opens the outbox as
// OpenOutbox would, so that the hub starts and decides, and the next open
// tries again.
func (s *Store) OpenLogOutbox(opts OutboxOptions) (*Outbox, error) {
	opts.defaults(s)
	if !s.enter() {
		return nil, hub.ErrClosed
	}
	defer s.leave()
	o := &Outbox{
		s: s, opts: opts, log: opts.Logger.With(slog.String("component", "outbox")),
		reqs: make(chan *appendReq, 4*opts.MaxBatch), changed: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	if err := o.load(); err != nil {
		return nil, err
	}
	elog, err := eventlog.Open(filepath.Join(s.dir, OutboxLogDir), eventlog.Options{
		SegmentSize: opts.SegmentSize, Logger: o.log})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: opening the outbox log: %w", err)
	}
	if err := o.migrate(elog); err != nil {
		// The records stay where they are, as keys (those already written
		// into the log are skipped next time), and the outbox runs as the
		// Badger-kept one until the next open tries again: the log then
		// holds nothing above o/seq, so no seq is given twice.
		o.next = max(o.next, elog.Next())
		elog.Close()
		o.log.Error("activity records not moved into the outbox log; they stay in the store's database until the next start",
			slog.Any("err", err))
		go o.writer()
		return o, nil
	}
	o.elog = elog
	o.stored = seqset.Set(elog.Stored())
	// o/seq is a floor for the seqs also when the log lost its Skip.
	o.next = max(o.next, elog.Next())
	go o.writer()
	return o, nil
}

// testHookMigrate, when set, fails the move of Badger-kept records into
// the log (a full disk).
var testHookMigrate atomic.Pointer[func() error]

// migrate moves the records load found as Badger keys into elog, and
// makes elog's next seq at least the outbox's.
func (o *Outbox) migrate(elog *eventlog.Log) error {
	if first, _, ok := o.stored.First(); ok {
		_, last, _ := o.stored.Last()
		moved := 0
		for from := first; from <= last; {
			recs, err := o.Read(from, last+1, 1000)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			var batch []eventlog.Record
			for i := range recs {
				if recs[i].Seq < elog.Next() {
					continue // moved by an open a crash interrupted
				}
				b, err := json.Marshal(&recs[i])
				if err != nil {
					return err
				}
				batch = append(batch, eventlog.Record{Seq: recs[i].Seq, Data: b})
			}
			if hook := testHookMigrate.Load(); hook != nil {
				if err := (*hook)(); err != nil {
					return err
				}
			}
			if len(batch) > 0 {
				if err := elog.Write(batch, nil); err != nil {
					return err
				}
			}
			moved += len(batch)
			from = recs[len(recs)-1].Seq + 1
		}
		if err := o.Remove(first, last); err != nil {
			return err
		}
		o.log.Info("activity records moved from the store's database into the outbox log",
			slog.Int("records", moved), slog.Uint64("first_seq", first), slog.Uint64("last_seq", last))
	}
	// Records are numbered above o/seq in any case (o.next); the skip
	// makes the log know it too. It can wait for a disk with room.
	if err := elog.Skip(o.next); err != nil {
		o.log.Warn("activity log: could not note the seq to go on from; o/seq keeps it", slog.Any("err", err))
	}
	return nil
}

// writeLog is write for a log outbox.
func (o *Outbox) writeLog(recs []hub.Activity, acks [][2]uint64) (uint64, error) {
	if hook := o.testHookCommit.Load(); hook != nil {
		if err := (*hook)(); err != nil {
			return 0, err
		}
	}
	o.mu.Lock()
	first := o.next
	o.mu.Unlock()
	batch := make([]eventlog.Record, len(recs))
	for i := range recs {
		recs[i].Seq = first + uint64(i)
		var b []byte
		if len(o.encoded) == len(recs) {
			b = numbered(o.encoded[i], recs[i].Seq)
		}
		if b == nil {
			var err error
			if b, err = json.Marshal(&recs[i]); err != nil {
				return 0, err
			}
		}
		batch[i] = eventlog.Record{Seq: recs[i].Seq, Data: b}
	}
	if err := o.elog.Write(batch, acks); err != nil {
		if errors.Is(err, eventlog.ErrClosed) {
			return 0, hub.ErrClosed
		}
		return 0, err
	}
	o.mu.Lock()
	if len(recs) > 0 {
		last := first + uint64(len(recs)) - 1
		o.next = last + 1
		o.stored.Add(first, last)
	}
	for _, a := range acks {
		o.stored.Remove(a[0], a[1])
	}
	o.mu.Unlock()
	return first, nil
}

// readLog is Read for a log outbox.
func (o *Outbox) readLog(from, to uint64, max int) ([]hub.Activity, error) {
	var out []hub.Activity
	err := o.elog.Read(from, to, max, func(seq uint64, data []byte) error {
		var a hub.Activity
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		out = append(out, a)
		return nil
	})
	if errors.Is(err, eventlog.ErrClosed) {
		return nil, hub.ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading the outbox: %w", err)
	}
	return out, nil
}

// removeLog is Remove for a log outbox: the acknowledgement goes through
// the writer, in the group commit of the records waiting.
func (o *Outbox) removeLog(ranges [][2]uint64) error {
	r := &appendReq{remove: ranges, done: make(chan appendResult, 1)}
	o.life.RLock()
	if o.closed {
		o.life.RUnlock()
		return hub.ErrClosed
	}
	o.reqs <- r
	o.life.RUnlock()
	if err := (<-r.done).err; err != nil {
		return fmt.Errorf("badgerstore: removing from the outbox: %w", err)
	}
	return nil
}

// unnumbered is how the JSON of a hub.Activity with seq 0 starts (Seq is
// its first field).
const unnumbered = `{"seq":0,`

// encodeUnnumbered returns a's JSON with seq 0, or nil when it cannot:
// the callers of Append encode in parallel, and the writer only puts the
// seq in (numbered), off its serial path.
func encodeUnnumbered(a *hub.Activity) []byte {
	c := *a
	c.Seq = 0
	b, err := json.Marshal(&c)
	if err != nil || !bytes.HasPrefix(b, []byte(unnumbered)) {
		return nil
	}
	return b
}

// numbered returns the JSON of encodeUnnumbered with seq put in, nil
// when there is none.
func numbered(enc []byte, seq uint64) []byte {
	if enc == nil {
		return nil
	}
	b := make([]byte, 0, len(enc)+20)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	return append(b, enc[len(unnumbered):]...)
}
