package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/doorhub/doorhub/hub"
)

// Errors of the Badger store, besides those of hub.Store.
var (
	// ErrBroken is returned by every write once the store could not make
	// its disk and its memory agree (a failed write whose rollback failed,
	// or a committed journal that could not be replayed). Reads go on; a
	// restart recovers from what the disk holds.
	ErrBroken = errors.New("badgerstore: store needs a restart")
	// ErrFormat is returned by Open for a database of an unknown layout.
	ErrFormat = errors.New("badgerstore: unknown database layout")
)

// Store is the durable hub.Store: the credential set in Badger, indexed in
// memory by a hub.Catalog. See the package documentation for what it
// guarantees.
type Store struct {
	db  *badger.DB
	dir string
	// allocPool is Badger's pool of table buffers (buffers.go); nil if
	// this Badger has none where the store looks.
	allocPool *z.AllocatorPool
	opts      Options
	log       *slog.Logger

	// life guards the database against Close: every operation that uses
	// db holds it for reading; Close takes it for writing.
	life   sync.RWMutex
	closed bool
	// closing is set as Close begins, before it waits for the life lock:
	// a snapshot's Commit waiting for Badger to settle stops waiting.
	closing atomic.Bool
	snaps   map[*snapshot]struct{} // open snapshot writers; guarded by life (write) or snapMu
	snapMu  sync.Mutex

	// writeMu serialises every change: batches, snapshot commits, first
	// uses, the floor. gen, broken and nextJournal are guarded by it.
	writeMu     sync.Mutex
	gen         uint64
	broken      error
	nextJournal uint64
	nextGen     atomic.Uint64

	// mu guards what readers see. It is held for writing while the
	// catalog changes and, in Apply, until the change is on disk: a reader
	// never sees a set the disk does not hold.
	mu      sync.RWMutex
	cat     *hub.Catalog
	version uint64
	floor   time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reaper *reaper

	// Test hooks: testHookPersist fails the persisting of a batch;
	// testHookJournaled fails a journaled batch right after its commit
	// point, as a crash there would.
	testHookPersist   func() error
	testHookJournaled func() error
}

var _ hub.Store = (*Store)(nil)

// Open opens (or creates) the store in dir. It replays a journaled batch
// a crash interrupted, loads the current generation into memory, and
// starts the background work (removing dropped generations, value log
// garbage collection) that Close stops.
func Open(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With(slog.String("component", "badgerstore"))
	if err := removeTornLogFiles(dir, log); err != nil {
		return nil, err
	}
	db, err := badger.Open(opts.badger(dir, log))
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %s: %w", dir, err)
	}
	s := &Store{db: db, dir: dir, opts: opts, log: log, snaps: map[*snapshot]struct{}{},
		reaper: newReaper(db, log), allocPool: allocPool(db)}
	if s.allocPool == nil {
		log.Warn("badgerstore: Badger's table buffer pool not found; its buffers are released only as Badger lets them go")
	}
	s.reaper.release = func() { _, _ = s.ReleaseTablePages() }
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(3)
	go s.reaper.run(s.ctx, &s.wg)
	go s.gcLoop(s.ctx)
	go s.tidyLoop(s.ctx)
	return s, nil
}

// logHeaderSize is the size of the header Badger writes at the start of
// every value log and memtable write-ahead file, right after creating it.
const logHeaderSize = 20

// removeTornLogFiles removes value log (*.vlog) and memtable write-ahead
// (*.mem) files shorter than their header. A kill between Badger creating
// such a file and writing its header leaves one, and Badger v4 then
// refuses to open the database ("...: Create a new file"): it takes the
// empty file for one to create and reports that as an error. The file
// holds nothing, so nothing refers to it; removing it is what Badger
// would do.
func removeTornLogFiles(dir string, log *slog.Logger) error {
	var files []string
	for _, pattern := range []string{"*.vlog", "*.mem"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() >= logHeaderSize {
			continue
		}
		log.Warn("removing a log file a crash left without its header", slog.String("file", p),
			slog.Int64("size", fi.Size()))
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("badgerstore: remove torn log file: %w", err)
		}
	}
	return nil
}

func (s *Store) init() error {
	meta, err := s.readMeta()
	if err != nil {
		return err
	}
	if meta.fresh {
		err := s.db.Update(func(txn *badger.Txn) error {
			if err := txn.Set([]byte(keyFormat), u64(formatVersion)); err != nil {
				return err
			}
			return txn.Set([]byte(keyGen), u64(meta.gen))
		})
		if err != nil {
			return fmt.Errorf("badgerstore: initialising: %w", err)
		}
	}
	if meta.journal != 0 {
		// A batch committed through the journal; its replay into the
		// generation did not finish.
		if err := s.replayJournal(meta.gen, meta.journal); err != nil {
			return fmt.Errorf("badgerstore: replaying journal %d (version %d): %w", meta.journal, meta.version, err)
		}
	}
	start := time.Now()
	cat, err := s.loadCatalog(meta.gen)
	if err != nil {
		return err
	}
	s.cat, s.version, s.gen, s.floor = cat, meta.version, meta.gen, meta.floor
	maxGen, maxJournal, err := s.queueOrphans(meta.gen)
	if err != nil {
		return err
	}
	s.nextGen.Store(maxGen + 1)
	s.nextJournal = maxJournal + 1
	s.log.Debug("opened", slog.Uint64("version", meta.version), slog.Uint64("generation", meta.gen),
		slog.Duration("load", time.Since(start)))
	return nil
}

type meta struct {
	fresh   bool
	gen     uint64
	version uint64
	journal uint64
	floor   time.Time
}

func (s *Store) readMeta() (meta, error) {
	m := meta{gen: 1}
	err := s.db.View(func(txn *badger.Txn) error {
		get := func(key string) ([]byte, error) {
			item, err := txn.Get([]byte(key))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return item.ValueCopy(nil)
		}
		format, err := get(keyFormat)
		if err != nil {
			return err
		}
		if format == nil {
			m.fresh = true
			return nil
		}
		if f, err := parseU64(format); err != nil || f != formatVersion {
			return fmt.Errorf("%w: format %x", ErrFormat, format)
		}
		for _, f := range []struct {
			key string
			dst *uint64
		}{{keyGen, &m.gen}, {keyVersion, &m.version}, {keyJournal, &m.journal}} {
			b, err := get(f.key)
			if err != nil || b == nil {
				if err != nil {
					return err
				}
				if f.key == keyGen {
					return fmt.Errorf("%w: no %s", ErrFormat, keyGen)
				}
				continue
			}
			if *f.dst, err = parseU64(b); err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
		}
		b, err := get(keyFloor)
		if err != nil {
			return err
		}
		if b != nil {
			if err := m.floor.UnmarshalBinary(b); err != nil {
				return fmt.Errorf("%s: %w", keyFloor, err)
			}
		}
		return nil
	})
	if err != nil {
		return meta{}, fmt.Errorf("badgerstore: reading metadata: %w", err)
	}
	return m, nil
}

// loadChunk is how many records go into the catalog per Catalog.Load: a
// load of a million records never holds more than this many decoded ops.
const loadChunk = 1024

// loadCatalog reads generation gen into a new catalog, kind by kind in
// dependency order, and the first uses of its guest codes.
func (s *Store) loadCatalog(gen uint64) (*hub.Catalog, error) {
	cat, err := s.loadCatalogBeside(gen, 0, hub.Counts{})
	if err == nil {
		cat.Trim() // its size was not known: give back what growing left
	}
	return cat, err
}

// loadCatalogBeside is loadCatalog while another catalog is in memory (a
// snapshot's generation, loaded beside the current set): every gcEvery
// chunks (0: never) it collects the decoding's garbage and gives back the
// table pages it read (ReleaseTablePages), so that neither piles up on
// top of two catalogs; size, when known (the snapshot's counts), sizes the
// catalog's tables up front (hub.Catalog.Reserve).
func (s *Store) loadCatalogBeside(gen uint64, gcEvery int, size hub.Counts) (*hub.Catalog, error) {
	cat := hub.NewCatalog()
	cat.Reserve(size)
	chunks := 0
	site := ""
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	ops := make([]hub.Op, 0, loadChunk)
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		err := cat.Load(site, ops)
		clear(ops)
		ops = ops[:0]
		if chunks++; gcEvery > 0 && chunks%gcEvery == 0 {
			runtime.GC()
			_, _ = s.ReleaseTablePages() // an old kernel: nothing to do
		}
		return err
	}
	for _, kc := range loadOrder {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: kindPrefix(gen, kc.kind), PrefetchValues: false})
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				op, err := kc.decode(v)
				if err != nil {
					return err
				}
				if op.Site != nil {
					site = op.Site.ID
				}
				ops = append(ops, op)
				return nil
			})
			if err == nil && len(ops) == loadChunk {
				err = flush()
			}
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("badgerstore: loading %s: %w", item.KeyCopy(nil), err)
			}
		}
		it.Close()
		if err := flush(); err != nil {
			return nil, fmt.Errorf("badgerstore: loading generation %d, %s records: %w", gen, kc.kind, err)
		}
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFirstUse)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		id := string(it.Item().Key()[len(prefixFirstUse):])
		if cat.GuestCode(id) == nil {
			continue
		}
		var t time.Time
		if err := it.Item().Value(t.UnmarshalBinary); err != nil {
			return nil, fmt.Errorf("badgerstore: first use of %q: %w", id, err)
		}
		cat.SetFirstUse(id, t)
	}
	return cat, nil
}

// queueOrphans hands every generation but the current one, and every
// journal, to the reaper: what an aborted or interrupted snapshot, a
// replaced generation or a replayed journal left behind. It returns the
// highest generation and journal id seen, so that new ones never reuse a
// number whose keys may still be there.
func (s *Store) queueOrphans(current uint64) (maxGen, maxJournal uint64, err error) {
	maxGen = current
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixRecords)})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			gen, ok := genOf(it.Item().Key())
			if !ok {
				return fmt.Errorf("%w: key %q", ErrFormat, it.Item().Key())
			}
			maxGen = max(maxGen, gen)
			if gen != current {
				s.reaper.add(genPrefix(gen))
			}
			it.Seek(genPrefix(gen + 1))
		}
		jt := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixJournal)})
		defer jt.Close()
		for jt.Rewind(); jt.Valid(); {
			j, ok := journalOf(jt.Item().Key())
			if !ok {
				return fmt.Errorf("%w: key %q", ErrFormat, jt.Item().Key())
			}
			maxJournal = max(maxJournal, j)
			s.reaper.add(journalPrefix(j))
			jt.Seek(journalPrefix(j + 1))
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("badgerstore: scanning generations: %w", err)
	}
	return maxGen, maxJournal, nil
}

// enter starts an operation on the database; false once closed.
func (s *Store) enter() bool {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return false
	}
	return true
}

func (s *Store) leave() { s.life.RUnlock() }

// View implements hub.Reader: fn sees one whole set, never a batch or a
// snapshot half applied. It keeps working after Close, on the last set.
func (s *Store) View(fn func(*hub.Catalog)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.cat)
}

// Version implements hub.Store.
func (s *Store) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Apply implements hub.Store. The batch goes into the catalog, then its
// changes (the final state of every record it touched, cascades
// included) and the new version go to disk in one synced transaction, or
// through the journal when they do not fit in one. Readers wait meanwhile.
// If the disk write fails, the catalog is reloaded from disk.
func (s *Store) Apply(ctx context.Context, b *hub.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := hub.CheckBatch(b, s.version, s.cat.Site()); err != nil {
		return err
	}
	changes, err := s.cat.Apply(b.Site, b.Ops)
	if err != nil {
		return err
	}
	committed, err := s.persist(changes, b.Version)
	if err != nil {
		if !committed {
			s.reload(b.Version, err)
		} else {
			s.version = b.Version
			s.broken = fmt.Errorf("%w: version %d is committed but its journal was not replayed: %v", ErrBroken, b.Version, err)
			s.log.Error("journal replay failed; writes refused until a restart", slog.Uint64("version", b.Version), slog.Any("err", err))
		}
		return fmt.Errorf("badgerstore: writing version %d: %w", b.Version, err)
	}
	s.version = b.Version
	return nil
}

// persist writes a batch's changes and version. committed reports whether
// the version is on disk even though err is set (a journal whose replay
// failed).
func (s *Store) persist(changes []hub.Change, version uint64) (committed bool, err error) {
	if s.testHookPersist != nil {
		if err := s.testHookPersist(); err != nil {
			return false, err
		}
	}
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, ch := range changes {
		key := recordKey(s.gen, ch.Kind, ch.ID)
		if ch.Value == nil {
			err = txn.Delete(key)
		} else {
			var val []byte
			if val, err = json.Marshal(ch.Value); err != nil {
				return false, err
			}
			err = txn.Set(key, val)
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			txn.Discard()
			return s.persistJournaled(changes, version)
		}
		if err != nil {
			return false, err
		}
	}
	// A guest code the batch deleted (even if it put it again) lost its
	// first use in the catalog; the disk follows.
	for _, id := range forgottenFirstUses(s.cat, changes) {
		if err = txn.Delete(firstUseKey(id)); err != nil {
			break
		}
	}
	if err == nil {
		err = txn.Set([]byte(keyVersion), u64(version))
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		txn.Discard()
		return s.persistJournaled(changes, version)
	}
	if err != nil {
		return false, err
	}
	return false, txn.Commit()
}

// forgottenFirstUses lists the guest codes among the changes that have no
// first use in cat: a code a batch deleted forgets its first use, also
// when the batch put it again.
func forgottenFirstUses(cat *hub.Catalog, changes []hub.Change) []string {
	var ids []string
	for _, ch := range changes {
		if ch.Kind != hub.KindGuestCode {
			continue
		}
		if _, used := cat.FirstUse(ch.ID); !used {
			ids = append(ids, ch.ID)
		}
	}
	return ids
}

// journalChunk is how many changes one journal value holds.
const journalChunk = 512

// persistJournaled writes changes too many for one transaction: first the
// changes under j/<journal>/ (several transactions, nothing refers to them
// yet), then, in one transaction, m/journal and m/version — the commit
// point — then the changes into the generation, then m/journal goes. A
// crash after the commit point is finished by Open; before it, the journal
// is an orphan the reaper removes.
func (s *Store) persistJournaled(changes []hub.Change, version uint64) (committed bool, err error) {
	journal := s.nextJournal
	s.nextJournal++
	wb := s.db.NewWriteBatch()
	wb.SetMaxPendingTxns(2)
	entries := make([]journalEntry, 0, journalChunk)
	seq := 0
	writeChunk := func() error {
		b, err := json.Marshal(entries)
		if err != nil {
			return err
		}
		entries = entries[:0]
		seq++
		return wb.Set(journalKey(journal, seq), b)
	}
	for _, ch := range changes {
		e := journalEntry{Kind: ch.Kind, ID: ch.ID, V: json.RawMessage("null")}
		if ch.Value != nil {
			if e.V, err = json.Marshal(ch.Value); err != nil {
				wb.Cancel()
				return false, err
			}
		}
		entries = append(entries, e)
		if len(entries) == journalChunk {
			if err := writeChunk(); err != nil {
				wb.Cancel()
				return false, err
			}
		}
	}
	for _, id := range forgottenFirstUses(s.cat, changes) {
		entries = append(entries, journalEntry{Kind: kindFirstUse, ID: id, V: json.RawMessage("null")})
		if len(entries) == journalChunk {
			if err := writeChunk(); err != nil {
				wb.Cancel()
				return false, err
			}
		}
	}
	if len(entries) > 0 {
		if err := writeChunk(); err != nil {
			wb.Cancel()
			return false, err
		}
	}
	if err := wb.Flush(); err != nil {
		s.reaper.add(journalPrefix(journal))
		return false, fmt.Errorf("journal: %w", err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(keyJournal), u64(journal)); err != nil {
			return err
		}
		return txn.Set([]byte(keyVersion), u64(version))
	})
	if err != nil {
		s.reaper.add(journalPrefix(journal))
		return false, fmt.Errorf("journal commit: %w", err)
	}
	if s.testHookJournaled != nil {
		if err := s.testHookJournaled(); err != nil {
			return true, err
		}
	}
	if err := s.replayJournal(s.gen, journal); err != nil {
		return true, fmt.Errorf("journal replay: %w", err)
	}
	// The journal's chunks went into the value log, and were read back,
	// through its mapping: ~10 MB resident after a 20,000-record diff
	// until the tidy loop next saw the tables change.
	_, _ = s.ReleaseTablePages()
	s.log.Debug("batch applied through the journal", slog.Uint64("version", version), slog.Int("changes", len(changes)))
	return true, nil
}

// replayJournal writes a journal into generation gen, removes m/journal
// and leaves the journal keys to the reaper. Writing a record's
// final state twice is harmless, so a replay interrupted by a crash is
// simply done again.
func (s *Store) replayJournal(gen, journal uint64) error {
	wb := s.db.NewWriteBatch()
	wb.SetMaxPendingTxns(2)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: journalPrefix(journal)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var entries []journalEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &entries) }); err != nil {
				return err
			}
			for _, e := range entries {
				key := recordKey(gen, e.Kind, e.ID)
				if e.Kind == kindFirstUse {
					key = firstUseKey(e.ID)
				}
				var err error
				if string(e.V) == "null" {
					err = wb.Delete(key)
				} else {
					err = wb.Set(key, e.V)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		wb.Cancel()
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(keyJournal)) }); err != nil {
		return err
	}
	s.reaper.add(journalPrefix(journal))
	return nil
}

// reload makes the catalog agree with the disk again after a batch that
// is in the catalog failed to reach the disk. Called with mu held.
func (s *Store) reload(version uint64, cause error) {
	m, err := s.readMeta()
	if err == nil && m.version == version {
		// The commit reported an error but went through.
		s.version = version
		s.log.Warn("a write reported an error but is on disk", slog.Uint64("version", version), slog.Any("err", cause))
		if m.journal != 0 {
			// Only Open may replay it now: later batches written straight
			// into the generation would be overwritten by the replay.
			s.broken = fmt.Errorf("%w: version %d is committed but its journal was not replayed", ErrBroken, version)
		}
		return
	}
	var cat *hub.Catalog
	if err == nil {
		cat, err = s.loadCatalog(s.gen)
	}
	if err != nil {
		// Readers keep the set with the batch applied: the best knowledge
		// there is, and what a restart will ask the cloud for again.
		s.broken = fmt.Errorf("%w: version %d failed to persist (%v) and the set could not be reloaded: %v",
			ErrBroken, version, cause, err)
		s.log.Error("store broken; writes refused until a restart", slog.Any("err", s.broken))
		return
	}
	cat.Supersede(s.cat)
	s.cat = cat
	s.log.Warn("a batch failed to persist; the set was reloaded from disk",
		slog.Uint64("version", version), slog.Any("err", cause))
}

// RecordFirstUse implements hub.Reader: the earliest use of a guest code
// that exists is kept, on disk before it is visible.
func (s *Store) RecordFirstUse(codeID string, at time.Time) error {
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	u, used := s.cat.FirstUse(codeID)
	exists := s.cat.GuestCode(codeID) != nil
	s.mu.RUnlock()
	if !exists || used && !at.Before(u) {
		return nil
	}
	b, err := at.MarshalBinary()
	if err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(firstUseKey(codeID), b) }); err != nil {
		return fmt.Errorf("badgerstore: recording a first use: %w", err)
	}
	s.mu.Lock()
	s.cat.SetFirstUse(codeID, at)
	s.mu.Unlock()
	return nil
}

// LoadFloor implements hub.FloorStore.
func (s *Store) LoadFloor() (time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.floor, nil
}

// SaveFloor implements hub.FloorStore; the floor never goes down.
func (s *Store) SaveFloor(t time.Time) error {
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t = t.Round(0) // no monotonic reading on disk
	if !t.After(s.floor) {
		return nil
	}
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyFloor), b) }); err != nil {
		return fmt.Errorf("badgerstore: saving the floor: %w", err)
	}
	s.mu.Lock()
	s.floor = t
	s.mu.Unlock()
	return nil
}

// Close stops the background work, drops unfinished snapshots and closes
// the database. Readers keep the last set; every write returns
// hub.ErrClosed. A second Close returns nil.
func (s *Store) Close() error {
	s.closing.Store(true)
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return nil
	}
	s.closed = true
	s.snapMu.Lock()
	for w := range s.snaps {
		w.cancel()
	}
	s.snaps = nil
	s.snapMu.Unlock()
	s.life.Unlock()
	s.cancel()
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("badgerstore: close: %w", err)
	}
	return nil
}

// Sizes is how much disk the store uses, by kind of file.
type Sizes struct {
	LSM       int64 `json:"lsm_bytes"`       // sorted tables (*.sst)
	ValueLog  int64 `json:"value_log_bytes"` // value log files (*.vlog)
	MemTables int64 `json:"memtable_bytes"`  // memtable write-ahead files (*.mem)
}

// Size reports the store's files, for metrics.
func (s *Store) Size() (Sizes, error) {
	var sz Sizes
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return sz, err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".sst":
			sz.LSM += info.Size()
		case ".vlog":
			sz.ValueLog += info.Size()
		case ".mem":
			sz.MemTables += info.Size()
		}
	}
	return sz, nil
}

// gcLoop runs the value log garbage collector every GCInterval until the
// store closes; each round rewrites files while there is enough garbage.
func (s *Store) gcLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.GCInterval)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for ctx.Err() == nil {
			err := s.db.RunValueLogGC(s.opts.GCDiscardRatio)
			if err == nil {
				continue
			}
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) &&
				time.Since(lastLog) > time.Hour {
				lastLog = time.Now()
				s.log.Warn("value log garbage collection failed", slog.Any("err", err))
			}
			break
		}
	}
}
