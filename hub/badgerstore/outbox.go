package badgerstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/eventlog"
	"github.com/doorhub/doorhub/hub/internal/seqset"
)

// The outbox's keys, beside the store's in the same database (one Badger
// per hub keeps memory down):
//
//	o/stream          the stream id, made when the outbox is first opened
//	o/seq             the last record seq given out, 8 bytes big-endian
//	o/msg             message seqs reserved so far, 8 bytes big-endian
//	o/e/<seq>         one activity record (seq as 16 hex digits), JSON
//	o/s/<name>        small state of the cloud link (the replay cache)
const (
	keyOutboxStream = "o/stream"
	keyOutboxSeq    = "o/seq"
	keyOutboxMsg    = "o/msg"
	prefixOutboxRec = "o/e/"
	prefixOutboxSt  = "o/s/"
)

func outboxKey(seq uint64) []byte { return fmt.Appendf(nil, "%s%016x", prefixOutboxRec, seq) }

func outboxSeqOf(key []byte) (uint64, bool) {
	if len(key) != len(prefixOutboxRec)+16 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(key[len(prefixOutboxRec):]), 16, 64)
	return v, err == nil
}

// OutboxOptions tunes the outbox. Zero values take the defaults.
type OutboxOptions struct {
	// Logger: the store's when nil.
	Logger *slog.Logger
	// MaxBatch is the most records one group commit (one fsync) holds.
	// Default 512.
	MaxBatch int
	// Reserve is the free disk space below which the outbox stops writing
	// and holds records in memory, so that the credential store and
	// Badger's own files keep room. Default 64 MiB.
	Reserve uint64
	// FreeSpace reports the free bytes of the database's file system;
	// statfs on the store's directory when nil.
	FreeSpace func() (uint64, error)
	// MemoryLimit is the most records held in memory while the disk
	// refuses them; beyond it the oldest are discarded and counted in an
	// overflow marker. Default 20,000 (a few MB).
	MemoryLimit int
	// RetryInterval is how often a degraded outbox tries the disk again.
	// Default 5 s.
	RetryInterval time.Duration
	// OnAlarm hears every change of the degraded state (the status flag
	// of the daemon).
	OnAlarm func(hub.OutboxStatus)
	// SegmentSize is the size of the log outbox's segment files
	// (OpenLogOutbox); eventlog.DefaultSegmentSize when 0.
	SegmentSize int64
}

func (o *OutboxOptions) defaults(s *Store) {
	if o.Logger == nil {
		o.Logger = s.log
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.Reserve == 0 {
		o.Reserve = 64 << 20
	}
	if o.FreeSpace == nil {
		dir := s.dir
		o.FreeSpace = func() (uint64, error) {
			var st syscall.Statfs_t
			if err := syscall.Statfs(dir, &st); err != nil {
				return 0, err
			}
			return st.Bavail * uint64(st.Bsize), nil
		}
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = 20000
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 5 * time.Second
	}
}

// Outbox is the durable hub.Outbox: the activity stream, kept until the
// cloud link removes what the broker acknowledged, either in a log of its
// own (OpenLogOutbox: hub/eventlog segments in the store's directory; the
// daemon's) or as keys of the store's Badger database (OpenOutbox: the
// earlier layout, which OpenLogOutbox takes over). Both behave the same;
// the log's appends do not wait behind Badger's memtable flushes.
//
// Appends are group-committed: one writer goroutine takes every record
// waiting (up to MaxBatch), writes them and the new last seq in one
// synced transaction (in a log outbox: one synced eventlog.Write, with
// the removals waiting) and only then answers each Append. Seqs are given
// out in that write, so the stream has no gap and no seq is used twice,
// across crashes too.
//
// When the disk is nearly full (free space under Reserve) or a write
// fails, the outbox is degraded: Append returns hub.ErrNotDurable and the
// record waits in memory, in order; the outbox logs an error, calls
// OnAlarm, and retries every RetryInterval. Past MemoryLimit it discards
// the oldest held record and counts it; when the disk takes records again
// an overflow marker saying how many were lost, and when, goes into the
// stream before the records still held. Nothing is dropped silently.
type Outbox struct {
	s    *Store
	opts OutboxOptions
	log  *slog.Logger
	// elog holds the records when the outbox is a log outbox
	// (OpenLogOutbox); nil: they are keys in Badger (OpenOutbox).
	elog *eventlog.Log

	stream  string
	reqs    chan *appendReq
	changed chan struct{}
	quit    chan struct{}
	done    chan struct{}

	// life guards reqs against Close: Append sends under the read lock.
	life   sync.RWMutex
	closed bool

	mu       sync.Mutex
	next     uint64     // the seq the next stored record gets
	stored   seqset.Set // the seqs stored and not removed
	msgNext  uint64
	msgLimit uint64
	// Degraded state, owned by the writer, read by Status under mu.
	degraded  string
	since     time.Time
	held      []hub.Activity
	lost      hub.Lost
	discarded uint64
	lastLog   time.Time // of the writer: rate-limits the degraded log line
	// encoded holds, while the writer commits a batch, the records' JSON
	// Append made (encodeUnnumbered), in the batch's order.
	encoded [][]byte

	// testHookCommit, when set, fails a group commit (a disk error).
	testHookCommit atomic.Pointer[func() error]
}

var _ hub.Outbox = (*Outbox)(nil)

// appendReq asks the writer to store a, or, with remove set (a log
// outbox), to write the acknowledgement of those ranges.
type appendReq struct {
	a hub.Activity
	// encoded is a's JSON with seq 0, made by Append (a log outbox), so
	// that the writer only puts the seq in.
	encoded []byte
	remove  [][2]uint64
	done    chan appendResult
}

type appendResult struct {
	seq uint64
	err error
}

// ErrOutboxOpen is returned by OpenOutbox when the store already has one.
var ErrOutboxOpen = errors.New("badgerstore: the store's outbox is already open")

// OpenOutbox opens the outbox in the store's database, creating its
// stream on first use, and starts its writer. Close it before the store.
func (s *Store) OpenOutbox(opts OutboxOptions) (*Outbox, error) {
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
	go o.writer()
	return o, nil
}

// load reads the stream, the counters and which records are stored.
func (o *Outbox) load() error {
	db := o.s.db
	var last, msg uint64
	err := db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get([]byte(keyOutboxStream)); err == nil {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			o.stream = string(v)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		for _, c := range []struct {
			key string
			dst *uint64
		}{{keyOutboxSeq, &last}, {keyOutboxMsg, &msg}} {
			item, err := txn.Get([]byte(c.key))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error {
				var err error
				*c.dst, err = parseU64(v)
				return err
			}); err != nil {
				return fmt.Errorf("%s: %w", c.key, err)
			}
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixOutboxRec)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			seq, ok := outboxSeqOf(it.Item().Key())
			if !ok {
				return fmt.Errorf("%w: key %q", ErrFormat, it.Item().Key())
			}
			o.stored.Add(seq, seq)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("badgerstore: opening the outbox: %w", err)
	}
	if _, hi, ok := o.stored.Last(); ok && hi > last {
		last = hi // cannot happen: o/seq is written with the records
	}
	o.next = last + 1
	o.msgNext, o.msgLimit = msg+1, msg
	if o.stream == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		o.stream = base64.RawURLEncoding.EncodeToString(b[:])
		if err := db.Update(func(txn *badger.Txn) error {
			return txn.Set([]byte(keyOutboxStream), []byte(o.stream))
		}); err != nil {
			return fmt.Errorf("badgerstore: creating the outbox stream: %w", err)
		}
	}
	return nil
}

// Stream implements hub.Outbox.
func (o *Outbox) Stream() string { return o.stream }

// Changed implements hub.Outbox.
func (o *Outbox) Changed() <-chan struct{} { return o.changed }

// Append implements hub.Outbox: it returns once the record and its seq
// are on disk, synced, with other records of the same group commit.
func (o *Outbox) Append(ctx context.Context, a hub.Activity) (uint64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	r := &appendReq{a: a, done: make(chan appendResult, 1)}
	if o.elog != nil {
		r.encoded = encodeUnnumbered(&r.a)
	}
	o.life.RLock()
	if o.closed {
		o.life.RUnlock()
		return 0, hub.ErrOutboxClosed
	}
	select {
	case o.reqs <- r:
	case <-ctx.Done():
		o.life.RUnlock()
		return 0, ctx.Err()
	}
	o.life.RUnlock()
	select {
	case res := <-r.done:
		return res.seq, res.err
	case <-ctx.Done():
		// The record may still be stored; the caller cannot count on it.
		return 0, ctx.Err()
	}
}

// writer takes the waiting records and commits them in groups until Close.
func (o *Outbox) writer() {
	defer close(o.done)
	batch := make([]*appendReq, 0, o.opts.MaxBatch)
	retry := time.NewTicker(o.opts.RetryInterval)
	defer retry.Stop()
	for {
		select {
		case r := <-o.reqs:
			batch = append(batch, r)
		case <-retry.C:
			o.retryHeld()
			continue
		case <-o.quit:
			for {
				select {
				case r := <-o.reqs:
					batch = append(batch, r)
					if len(batch) == o.opts.MaxBatch {
						o.commit(batch)
						batch = batch[:0]
					}
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				o.commit(batch)
			}
			o.retryHeld()
			return
		}
	fill:
		for len(batch) < o.opts.MaxBatch {
			select {
			case r := <-o.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		o.commit(batch)
		clear(batch)
		batch = batch[:0]
	}
}

// commit stores a group of records, or holds them in memory when the disk
// cannot take them; either way it answers every request. Removals (of a
// log outbox) go in the same write, or alone when the records cannot.
func (o *Outbox) commit(all []*appendReq) {
	var batch, removes []*appendReq
	var acks [][2]uint64
	for _, r := range all {
		if r.remove != nil {
			removes = append(removes, r)
			acks = append(acks, r.remove...)
		} else {
			batch = append(batch, r)
		}
	}
	if len(batch) == 0 {
		o.commitRemoves(removes, acks)
		return
	}
	recs := make([]hub.Activity, len(batch))
	encoded := make([][]byte, len(batch))
	for i, r := range batch {
		recs[i], encoded[i] = r.a, r.encoded
	}
	o.mu.Lock()
	degraded := o.degraded != ""
	o.mu.Unlock()
	if degraded {
		o.retryHeld()
	}
	o.mu.Lock()
	degraded = o.degraded != ""
	o.mu.Unlock()
	var err error
	if !degraded {
		var first uint64
		o.encoded = encoded
		first, err = o.write(recs, acks)
		o.encoded = nil
		if err == nil {
			for i, r := range batch {
				r.done <- appendResult{seq: first + uint64(i)}
			}
			for _, r := range removes {
				r.done <- appendResult{}
			}
			o.signal()
			return
		}
		o.degrade(err)
	}
	o.commitRemoves(removes, acks)
	o.hold(recs)
	for _, r := range batch {
		r.done <- appendResult{err: hub.ErrNotDurable}
	}
}

// commitRemoves writes acknowledgements alone (they take no new space in
// a preallocated segment) and answers their requests.
func (o *Outbox) commitRemoves(removes []*appendReq, acks [][2]uint64) {
	if len(removes) == 0 {
		return
	}
	_, err := o.write(nil, acks)
	for _, r := range removes {
		r.done <- appendResult{err: err}
	}
}

// write stores records (after checking the free space) and, in a log
// outbox, acknowledgements, synced, and returns the first seq the records
// got. Keys in Badger are one transaction; a log outbox's, one
// eventlog.Write.
func (o *Outbox) write(recs []hub.Activity, acks [][2]uint64) (uint64, error) {
	if len(recs) > 0 {
		if free, err := o.opts.FreeSpace(); err == nil && free < o.opts.Reserve {
			return 0, fmt.Errorf("disk nearly full: %d bytes free, the outbox keeps %d in reserve", free, o.opts.Reserve)
		}
	}
	if o.elog != nil {
		return o.writeLog(recs, acks)
	}
	if !o.s.enter() {
		return 0, hub.ErrClosed
	}
	defer o.s.leave()
	o.mu.Lock()
	first := o.next
	o.mu.Unlock()
	txn := o.s.db.NewTransaction(true)
	defer txn.Discard()
	for i := range recs {
		recs[i].Seq = first + uint64(i)
		v, err := json.Marshal(&recs[i])
		if err != nil {
			return 0, err
		}
		if err := txn.Set(outboxKey(recs[i].Seq), v); err != nil {
			return 0, err
		}
	}
	last := first + uint64(len(recs)) - 1
	if err := txn.Set([]byte(keyOutboxSeq), u64(last)); err != nil {
		return 0, err
	}
	if hook := o.testHookCommit.Load(); hook != nil {
		if err := (*hook)(); err != nil {
			return 0, err
		}
	}
	if err := txn.Commit(); err != nil {
		return 0, err
	}
	o.mu.Lock()
	o.next = last + 1
	o.stored.Add(first, last)
	o.mu.Unlock()
	return first, nil
}

func (o *Outbox) signal() {
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

// degrade enters (or stays in) the degraded state.
func (o *Outbox) degrade(cause error) {
	o.mu.Lock()
	first := o.degraded == ""
	o.degraded = cause.Error()
	if first {
		o.since = time.Now()
	}
	o.mu.Unlock()
	if first {
		o.log.Error("activity records cannot be stored durably; holding them in memory (decisions go on)",
			slog.Any("err", cause), slog.Int("memory_limit", o.opts.MemoryLimit))
		o.alarm()
	}
}

// hold keeps records in memory, discarding the oldest beyond MemoryLimit.
func (o *Outbox) hold(recs []hub.Activity) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held = append(o.held, recs...)
	if over := len(o.held) - o.opts.MemoryLimit; over > 0 {
		for _, a := range o.held[:over] {
			if o.lost.Count == 0 || a.At.Before(o.lost.From) {
				o.lost.From = a.At
			}
			if a.At.After(o.lost.To) {
				o.lost.To = a.At
			}
			o.lost.Count++
		}
		o.discarded += uint64(over)
		o.held = append(o.held[:0:0], o.held[over:]...)
	}
}

// retryHeld stores what is held in memory, the overflow marker first, if
// the disk takes it now. Like hold, it runs on the writer goroutine only,
// which owns held and lost (mu makes them readable by Status).
func (o *Outbox) retryHeld() {
	o.mu.Lock()
	degraded := o.degraded != ""
	o.mu.Unlock()
	if !degraded {
		return
	}
	stored := 0
	for len(o.held) > 0 || o.lost.Count > 0 {
		var recs []hub.Activity
		lost := o.lost
		if lost.Count > 0 {
			recs = append(recs, hub.Activity{Kind: hub.ActivityOverflow, At: lost.To, Lost: &lost})
		}
		n := min(len(o.held), o.opts.MaxBatch-len(recs))
		recs = append(recs, o.held[:n]...)
		if _, err := o.write(recs, nil); err != nil {
			o.mu.Lock()
			o.degraded = err.Error()
			held := len(o.held)
			o.mu.Unlock()
			if time.Since(o.lastLog) >= time.Minute {
				o.lastLog = time.Now()
				o.log.Error("activity records still held in memory: the disk does not take them",
					slog.Int("held", held), slog.Uint64("discarded", o.discarded), slog.Any("err", err))
			}
			return
		}
		o.mu.Lock()
		o.lost = hub.Lost{}
		o.held = o.held[n:]
		o.mu.Unlock()
		stored += n
	}
	o.mu.Lock()
	o.held = nil
	o.degraded, o.since = "", time.Time{}
	o.mu.Unlock()
	o.signal()
	o.log.Warn("activity records stored again; the outbox is no longer degraded", slog.Int("records", stored),
		slog.Uint64("discarded_since_start", o.discarded))
	o.alarm()
}

func (o *Outbox) alarm() {
	if o.opts.OnAlarm != nil {
		o.opts.OnAlarm(o.Status())
	}
}

// Read implements hub.Outbox.
func (o *Outbox) Read(from, to uint64, max int) ([]hub.Activity, error) {
	o.mu.Lock()
	ranges := o.stored.Within(from, to)
	o.mu.Unlock()
	if len(ranges) == 0 || max <= 0 {
		return nil, nil
	}
	if o.elog != nil {
		return o.readLog(from, to, max)
	}
	if !o.s.enter() {
		return nil, hub.ErrClosed
	}
	defer o.s.leave()
	var out []hub.Activity
	err := o.s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixOutboxRec), PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for _, r := range ranges {
			for it.Seek(outboxKey(r[0])); it.Valid() && len(out) < max; it.Next() {
				seq, ok := outboxSeqOf(it.Item().Key())
				if !ok || seq > r[1] {
					break
				}
				var a hub.Activity
				if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
					return fmt.Errorf("record %d: %w", seq, err)
				}
				out = append(out, a)
			}
			if len(out) >= max {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading the outbox: %w", err)
	}
	return out, nil
}

// Remove implements hub.Outbox: the stored records of [from, to] go, in
// one transaction per few thousand.
func (o *Outbox) Remove(from, to uint64) error {
	o.mu.Lock()
	ranges := o.stored.Within(from, to+1)
	o.mu.Unlock()
	if len(ranges) == 0 {
		return nil
	}
	if o.elog != nil {
		return o.removeLog(ranges)
	}
	if !o.s.enter() {
		return hub.ErrClosed
	}
	defer o.s.leave()
	wb := o.s.db.NewWriteBatch()
	for _, r := range ranges {
		for seq := r[0]; seq <= r[1]; seq++ {
			if err := wb.Delete(outboxKey(seq)); err != nil {
				wb.Cancel()
				return fmt.Errorf("badgerstore: removing from the outbox: %w", err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("badgerstore: removing from the outbox: %w", err)
	}
	o.mu.Lock()
	for _, r := range ranges {
		o.stored.Remove(r[0], r[1])
	}
	o.mu.Unlock()
	return nil
}

// Bounds implements hub.Outbox.
func (o *Outbox) Bounds() (first, next uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if lo, _, ok := o.stored.First(); ok {
		first = lo
	}
	return first, o.next
}

// msgLease is how many message seqs are reserved on disk at once: a
// restart skips at most this many.
const msgLease = 1000

// NextMessageSeq implements hub.Outbox.
func (o *Outbox) NextMessageSeq() (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.msgNext > o.msgLimit {
		limit := o.msgLimit + msgLease
		if !o.s.enter() {
			return 0, hub.ErrClosed
		}
		err := o.s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyOutboxMsg), u64(limit)) })
		o.s.leave()
		if err != nil {
			return 0, fmt.Errorf("badgerstore: reserving message seqs: %w", err)
		}
		o.msgLimit = limit
	}
	n := o.msgNext
	o.msgNext++
	return n, nil
}

// Status implements hub.Outbox.
func (o *Outbox) Status() hub.OutboxStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	return hub.OutboxStatus{
		Stream: o.stream, Pending: int(o.stored.Count()), Next: o.next,
		Degraded: o.degraded != "", Reason: o.degraded, Since: o.since,
		Held: len(o.held), Discarded: o.discarded,
	}
}

// LoadState returns a small piece of the cloud link's state saved by
// SaveState (nil when there is none).
func (o *Outbox) LoadState(name string) ([]byte, error) {
	if !o.s.enter() {
		return nil, hub.ErrClosed
	}
	defer o.s.leave()
	var v []byte
	err := o.s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(prefixOutboxSt + name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	return v, err
}

// SaveState stores a small piece of the cloud link's state (the replay
// cache), synced.
func (o *Outbox) SaveState(name string, value []byte) error {
	if !o.s.enter() {
		return hub.ErrClosed
	}
	defer o.s.leave()
	return o.s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(prefixOutboxSt+name), value) })
}

// Close stores what is waiting, stops the writer and reports records it
// could not store (held in memory: lost with the process). Appends after
// Close return hub.ErrOutboxClosed. Close it before the store.
func (o *Outbox) Close() error {
	o.life.Lock()
	if o.closed {
		o.life.Unlock()
		return nil
	}
	o.closed = true
	o.life.Unlock()
	close(o.quit)
	<-o.done
	if o.elog != nil {
		if err := o.elog.Close(); err != nil {
			o.log.Error("closing the activity log", slog.Any("err", err))
		}
	}
	st := o.Status()
	if st.Held > 0 || o.lost.Count > 0 {
		o.log.Error("activity records held in memory are lost at close", slog.Int("held", st.Held),
			slog.Uint64("not_yet_marked", o.lost.Count))
		return fmt.Errorf("badgerstore: outbox closed with %d records not stored: %w", st.Held, hub.ErrNotDurable)
	}
	return nil
}
