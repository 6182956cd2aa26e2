package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
)

// errSnapshotDone is returned by a snapshot writer used after Commit or
// Abort.
var errSnapshotDone = errors.New("badgerstore: snapshot already committed or aborted")

// BeginSnapshot implements hub.Store. A snapshot of the site the store
// holds (not an empty store) is compared with the current set as its chunks arrive, keeping
// only what differs (a hub.SnapshotDiff), and applied at Commit as one
// batch; one that differs in more than Options.SnapshotDiffMax records, or
// of another site, is checked (a hub.SnapshotCheck) and written into a new
// generation, which Commit loads into a new catalog once it is on disk.
// Either way readers and batches go on with the current set until Commit.
func (s *Store) BeginSnapshot(ctx context.Context, site string, version uint64) (hub.SnapshotWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := hub.CheckSnapshotStart(site, version, s.Version()); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, hub.ErrClosed
	}
	defer s.leave()
	w := &snapshot{s: s, site: site, version: version, heapBefore: liveHeap()}
	w.build = s.currentRecords() <= s.opts.snapshotBuildMax()
	s.writeMu.Lock()
	// An empty store has nothing to compare with: it loads the snapshot
	// into a new generation straight away.
	if cur := s.cat.Site(); s.opts.snapshotDiffMax() > 0 && cur != nil && cur.ID == site {
		w.diff = s.cat.DiffSnapshot(site)
	}
	s.writeMu.Unlock()
	if w.diff == nil {
		w.startGeneration()
	}
	s.snapMu.Lock()
	s.snaps[w] = struct{}{}
	s.snapMu.Unlock()
	return w, nil
}

type snapshot struct {
	s       *Store
	site    string
	version uint64

	mu sync.Mutex
	// diff, while the snapshot is applied as a diff; guarded by the
	// store's writeMu.
	diff *hub.SnapshotDiff
	// Otherwise gen, check and wb: the new generation, the checks of
	// its chunks, its writes. With build (a small current set:
	// Options.SnapshotBuildMax) cat replaces check: the new catalog is
	// built as the chunks arrive, not read back from disk at Commit.
	gen     uint64
	build   bool
	check   *hub.SnapshotCheck
	cat     *hub.Catalog
	wb      *badger.WriteBatch
	records int
	// heapBefore is the live Go heap when the snapshot began.
	heapBefore uint64
	err        error
	done       bool
}

// startGeneration sets the snapshot up to write a new generation.
func (w *snapshot) startGeneration() {
	w.gen = w.s.nextGen.Add(1) - 1
	if w.build {
		w.cat = hub.NewCatalog()
	} else {
		w.check = hub.NewSnapshotCheck(w.site)
	}
	w.wb = w.s.db.NewWriteBatch()
	// Two transactions in flight bound the memory a snapshot holds in
	// Badger to twice 15% of a memtable.
	w.wb.SetMaxPendingTxns(2)
}

// errCatalogReloaded is the error of a snapshot diff whose catalog the
// store replaced (a failed write reloaded it from disk).
var errCatalogReloaded = errors.New("badgerstore: the set was reloaded from disk during the snapshot; ask for it again")

// addDiff compares a chunk with the current set; past SnapshotDiffMax
// differing records the snapshot falls back to a new generation. Called
// with w.mu held and the store entered.
func (w *snapshot) addDiff(ops []hub.Op) error {
	s := w.s
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if w.diff.Live() != s.cat {
		return errCatalogReloaded
	}
	if err := w.diff.Add(ops); err != nil {
		return fmt.Errorf("snapshot chunk: %w", err)
	}
	w.records += len(ops)
	if n := w.diff.Len(); n > s.opts.snapshotDiffMax() || w.records >= diffProbe && n*2 > w.records {
		return w.toGeneration()
	}
	return nil
}

// diffProbe: once a snapshot compared this many records and more than
// half of them differ, it is another set, not a resync, and falls back
// to a new generation at once rather than after SnapshotDiffMax
// differing records. A diff keeps every record that differs, and at the
// fall back writes them all out beside the chunks still queued: with
// 20,000 that was a 14 MB spike at the start of a wholly different
// 100,000-credential snapshot. Both ways apply the same set.
const diffProbe = 5000

// toGeneration turns a diff snapshot into one that writes a new
// generation: what it holds so far (the current set's records it keeps
// and the ones it changes) is checked and written.
// Called with writeMu held.
func (w *snapshot) toGeneration() error {
	d := w.diff
	d.Close()
	w.diff = nil
	w.startGeneration()
	w.s.log.Debug("snapshot differs too much to apply as a diff; writing a new generation",
		slog.Uint64("version", w.version), slog.Int("records", w.records))
	chunk := make([]hub.Op, 0, loadChunk)
	flush := func() error {
		err := w.addGeneration(chunk)
		clear(chunk)
		chunk = chunk[:0]
		return err
	}
	err := d.Records(func(op hub.Op) error {
		chunk = append(chunk, op)
		if len(chunk) == loadChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

// addGeneration checks ops as Catalog.Load would and writes them into the
// new generation. No catalog is built yet: Commit loads the generation
// once it is on disk, so that the new catalog and Badger's write buffers
// are never in memory at the same time, beside the current catalog.
func (w *snapshot) addGeneration(ops []hub.Op) error {
	var err error
	if w.cat != nil {
		err = w.cat.Load(w.site, ops)
	} else {
		err = w.check.Add(ops)
	}
	if err != nil {
		return fmt.Errorf("snapshot chunk: %w", err)
	}
	for i := range ops {
		kind, id, rec := opRecord(&ops[i])
		val, err := json.Marshal(rec)
		if err == nil {
			err = w.wb.Set(recordKey(w.gen, kind, id), val)
		}
		if err != nil {
			return fmt.Errorf("badgerstore: writing snapshot %d: %w", w.version, err)
		}
	}
	// The table pages and pooled buffers the write's flushes and
	// compactions leave are given back by the store's tidy loop
	// (buffers.go) as Badger's tables change.
	return nil
}

// Add implements hub.SnapshotWriter: the ops are compared with the
// current set (a diff snapshot), or checked and written into the new
// generation.
func (w *snapshot) Add(ops []hub.Op) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errSnapshotDone
	}
	if w.err != nil {
		return w.err
	}
	if !w.s.enter() {
		return hub.ErrClosed
	}
	defer w.s.leave()
	if w.diff != nil {
		w.err = w.addDiff(ops)
		return w.err
	}
	if w.err = w.addGeneration(ops); w.err != nil {
		return w.err
	}
	w.records += len(ops)
	return nil
}

// Commit implements hub.SnapshotWriter: once the new generation is on
// disk it is loaded into a new catalog (which checks it again, and finds
// colliding emails and device keys), one synced transaction points m/gen
// at it and sets the version; then the new catalog replaces the old one
// and the old generation goes to the reaper. Readers and batches use the
// old set until then.
func (w *snapshot) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errSnapshotDone
	}
	s := w.s
	if !s.enter() {
		return hub.ErrClosed
	}
	defer s.leave()
	if w.err != nil {
		w.abort()
		return w.err
	}
	if w.diff != nil {
		done, err := w.commitDiff()
		if done || err != nil {
			return err
		}
		// It fell back to a new generation: commit that.
	}
	if w.cat != nil && w.cat.Site() == nil || w.cat == nil && !w.check.HasSite() {
		w.abort()
		return &hub.ValidationError{Field: "snapshot.ops", Reason: "a snapshot must hold the site"}
	}
	var size hub.Counts
	if w.check != nil {
		size = w.check.Counts()
	}
	w.check = nil
	if err := w.wb.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("badgerstore: writing snapshot %d: %w", w.version, err)
	}
	// Readers and batches go on meanwhile, on the current set. Beside a
	// large one, the new catalog is loaded once Badger settled, with
	// frequent collections: two catalogs and Badger's buffers at once are
	// the peak this bounds. Beside a small one (a fresh hub's first
	// snapshot) it was built as the chunks arrived.
	cat := w.cat
	w.cat = nil
	if cat == nil {
		start := time.Now()
		s.settle(w.heapBefore, s.opts.snapshotSettle())
		s.log.Debug("loading the snapshot's generation", slog.Uint64("version", w.version),
			slog.Duration("settled", time.Since(start)))
		var err error
		if cat, err = s.loadCatalogBeside(w.gen, loadGCEvery, size); err != nil {
			w.abort()
			return fmt.Errorf("snapshot %d: %w", w.version, err)
		}
	}
	if err := w.flip(cat); err != nil {
		return err
	}
	// The old catalog is garbage now: give its memory back rather than
	// keep it for the next snapshot, which may be months away.
	drainAllocPool(s.allocPool)
	debug.FreeOSMemory()
	s.log.Debug("snapshot committed", slog.Uint64("version", w.version), slog.Int("records", w.records))
	return nil
}

// flip makes the new generation, loaded into cat, the current one: under
// the write lock, one synced transaction sets m/gen and the version and
// drops the first uses of codes cat lacks, then cat replaces the current
// catalog and the old generation goes to the reaper.
func (w *snapshot) flip(cat *hub.Catalog) error {
	s := w.s
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.broken != nil {
		w.abort()
		return s.broken
	}
	if w.version < s.version {
		w.abort()
		return fmt.Errorf("%w: snapshot version %d, store at %d", hub.ErrStaleBatch, w.version, s.version)
	}
	// The first uses of codes the snapshot keeps stay (loadCatalog read
	// those on disk; Supersede adds any recorded since); the others go.
	cat.Supersede(s.cat)
	err := s.db.Update(func(txn *badger.Txn) error {
		var stale [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFirstUse), PrefetchValues: false})
		for it.Rewind(); it.Valid(); it.Next() {
			if cat.GuestCode(string(it.Item().Key()[len(prefixFirstUse):])) == nil {
				stale = append(stale, it.Item().KeyCopy(nil))
			}
		}
		it.Close()
		for _, k := range stale {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if err := txn.Set([]byte(keyGen), u64(w.gen)); err != nil {
			return err
		}
		return txn.Set([]byte(keyVersion), u64(w.version))
	})
	if err != nil {
		if m, merr := s.readMeta(); merr != nil || m.gen != w.gen {
			w.abort()
			return fmt.Errorf("badgerstore: committing snapshot %d: %w", w.version, err)
		}
		// The commit reported an error but went through: follow the disk.
		s.log.Warn("a snapshot commit reported an error but is on disk", slog.Any("err", err))
	}
	s.mu.Lock()
	old := s.gen
	s.cat, s.version, s.gen = cat, w.version, w.gen
	s.mu.Unlock()
	s.reaper.add(genPrefix(old))
	w.finish()
	return nil
}

// commitDiff applies a diff snapshot as one batch: under the write lock,
// the catalog applies the diff (all or nothing) and the changes and the
// version are persisted as a batch's are, in one transaction or through
// the journal (Store.persist), in the current generation. A diff with
// more deletions than SnapshotDiffMax falls back to a new generation
// (done false, the caller commits that). Called with w.mu held and the
// store entered.
func (w *snapshot) commitDiff() (done bool, err error) {
	s := w.s
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	fail := func(err error) (bool, error) {
		w.diff.Close()
		w.finish()
		return true, err
	}
	switch {
	case s.broken != nil:
		return fail(s.broken)
	case w.version < s.version:
		return fail(fmt.Errorf("%w: snapshot version %d, store at %d", hub.ErrStaleBatch, w.version, s.version))
	case w.diff.Live() != s.cat:
		return fail(errCatalogReloaded)
	case !w.diff.HasSite():
		return fail(&hub.ValidationError{Field: "snapshot.ops", Reason: "a snapshot must hold the site"})
	}
	if n := w.diff.Len() + w.diff.Deletions(); n > s.opts.snapshotDiffMax() {
		if err := w.toGeneration(); err != nil {
			w.abort()
			return true, err
		}
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changes, err := s.cat.ApplySnapshot(w.diff)
	if err != nil {
		// The catalog is as it was. Add checked all Load checks but the
		// collisions of emails and device keys, which only applying
		// finds: let a fresh load judge them, as the generation path
		// does (a genuine collision is refused there with Load's error;
		// a placeholder email a real person happens to use is not one).
		s.log.Debug("snapshot diff refused; trying it as a new generation", slog.Uint64("version", w.version), slog.Any("err", err))
		if err := w.toGeneration(); err != nil {
			w.abort()
			return true, err
		}
		return false, nil
	}
	w.finish()
	committed, err := s.persist(changes, w.version)
	if err != nil {
		if !committed {
			s.reload(w.version, err)
		} else {
			s.version = w.version
			s.broken = fmt.Errorf("%w: version %d is committed but its journal was not replayed: %v", ErrBroken, w.version, err)
			s.log.Error("journal replay failed; writes refused until a restart", slog.Uint64("version", w.version), slog.Any("err", err))
		}
		return true, fmt.Errorf("badgerstore: writing snapshot %d: %w", w.version, err)
	}
	s.version = w.version
	s.log.Debug("snapshot committed as a diff", slog.Uint64("version", w.version), slog.Int("records", w.records),
		slog.Int("changes", len(changes)))
	return true, nil
}

// Abort implements hub.SnapshotWriter: the new generation goes to the
// reaper; the store keeps its set.
func (w *snapshot) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if !w.s.enter() {
		// Close cancelled the write batch; the next Open removes the
		// generation.
		w.done = true
		return
	}
	defer w.s.leave()
	w.abort()
}

// abort drops the snapshot; called with w.mu held and the store entered
// (and, for a diff snapshot, without writeMu).
func (w *snapshot) abort() {
	if w.diff != nil {
		w.s.writeMu.Lock()
		w.diff.Close()
		w.s.writeMu.Unlock()
	}
	if w.wb != nil {
		w.wb.Cancel()
		w.s.reaper.add(genPrefix(w.gen))
	}
	w.finish()
}

func (w *snapshot) finish() {
	w.done = true
	w.check, w.cat = nil, nil
	w.diff = nil
	w.s.snapMu.Lock()
	delete(w.s.snaps, w)
	w.s.snapMu.Unlock()
}

// cancel stops the write batch at Close (with the store's life lock held
// for writing, so no Add is running).
func (w *snapshot) cancel() {
	if w.wb != nil {
		w.wb.Cancel()
	}
}

// currentRecords counts the current set's people, grants and keycards.
func (s *Store) currentRecords() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.cat.Counts()
	return c.People + c.Grants + c.Keycards
}

// settleSlack is how much more live heap than before the write Commit
// accepts before loading a new generation.
const settleSlack = 4 << 20

// loadGCEvery: while a new generation is loaded beside the current
// catalog, a garbage collection runs every this many chunks of
// loadChunk records, so that the decoding's garbage (~2 MB a chunk) does
// not pile up on top of two catalogs: the Go memory limit alone would
// let the heap grow to it first.
const loadGCEvery = 2

// settle waits, at most max, until Badger is done with a bulk write:
// until no level of the LSM tree needs compacting and the live Go heap
// is back within settleSlack of heapBefore. A generation's write leaves
// Badger compacting it for a few seconds, and Badger keeps the table
// builders' buffers (up to 8, each as large as the largest table it
// built: a few MB) in a pool that releases one every 2 s once idle.
// Loading the new catalog on top of them is what made the peak of a
// wholly different snapshot (docs/performance.md, "Access core").
func (s *Store) settle(heapBefore uint64, max time.Duration) {
	deadline := time.Now().Add(max)
	for {
		busy := false
		for _, l := range s.db.Levels() {
			if l.Score >= 1 || l.Adjusted >= 1 {
				busy = true
				break
			}
		}
		if !busy {
			// Compactions done: the buffers Badger pooled for them are
			// garbage once released.
			drainAllocPool(s.allocPool)
			runtime.GC()
			busy = liveHeap() > heapBefore+settleSlack
		}
		if !busy || !time.Now().Before(deadline) || s.closing.Load() {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// liveHeap is the Go heap's live bytes as of the last garbage collection.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}
