package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
)

// errSnapshotDone is returned by a snapshot writer used after Commit or
// Abort.
var errSnapshotDone = errors.New("badgerstore: snapshot already committed or aborted")

// BeginSnapshot implements hub.Store. The snapshot is written into a new
// generation as its chunks arrive, while a new catalog is built beside the
// current one; readers and batches go on with the current set until
// Commit.
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
	w := &snapshot{s: s, site: site, version: version, gen: s.nextGen.Add(1) - 1,
		cat: hub.NewCatalog(), wb: s.db.NewWriteBatch()}
	// Two transactions in flight bound the memory a snapshot holds in
	// Badger to twice 15% of a memtable.
	w.wb.SetMaxPendingTxns(2)
	s.snapMu.Lock()
	s.snaps[w] = struct{}{}
	s.snapMu.Unlock()
	return w, nil
}

type snapshot struct {
	s       *Store
	site    string
	version uint64
	gen     uint64

	mu      sync.Mutex
	cat     *hub.Catalog
	wb      *badger.WriteBatch
	records int
	err     error
	done    bool
}

// Add implements hub.SnapshotWriter: the ops go into the new catalog
// (which checks them) and into the new generation.
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
	if err := w.cat.Load(w.site, ops); err != nil {
		w.err = fmt.Errorf("snapshot chunk: %w", err)
		return w.err
	}
	for i := range ops {
		kind, id, rec := opRecord(&ops[i])
		val, err := json.Marshal(rec)
		if err == nil {
			err = w.wb.Set(recordKey(w.gen, kind, id), val)
		}
		if err != nil {
			w.err = fmt.Errorf("badgerstore: writing snapshot %d: %w", w.version, err)
			return w.err
		}
	}
	w.records += len(ops)
	return nil
}

// Commit implements hub.SnapshotWriter: once the new generation is on
// disk, one synced transaction points m/gen at it and sets the version;
// then the new catalog replaces the old one and the old generation goes to
// the reaper.
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
	if w.cat.Site() == nil {
		w.abort()
		return &hub.ValidationError{Field: "snapshot.ops", Reason: "a snapshot must hold the site"}
	}
	if err := w.wb.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("badgerstore: writing snapshot %d: %w", w.version, err)
	}
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
	// The first uses of codes the snapshot keeps stay; the others go.
	w.cat.Supersede(s.cat)
	err := s.db.Update(func(txn *badger.Txn) error {
		var stale [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFirstUse), PrefetchValues: false})
		for it.Rewind(); it.Valid(); it.Next() {
			if w.cat.GuestCode(string(it.Item().Key()[len(prefixFirstUse):])) == nil {
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
	s.cat, s.version, s.gen = w.cat, w.version, w.gen
	s.mu.Unlock()
	s.reaper.add(genPrefix(old))
	w.finish()
	s.log.Debug("snapshot committed", slog.Uint64("version", w.version), slog.Int("records", w.records))
	return nil
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

// abort drops the snapshot; called with w.mu held and the store entered.
func (w *snapshot) abort() {
	w.wb.Cancel()
	w.s.reaper.add(genPrefix(w.gen))
	w.finish()
}

func (w *snapshot) finish() {
	w.done = true
	w.cat = nil
	w.s.snapMu.Lock()
	delete(w.s.snaps, w)
	w.s.snapMu.Unlock()
}

// cancel stops the write batch at Close (with the store's life lock held
// for writing, so no Add is running).
func (w *snapshot) cancel() {
	w.wb.Cancel()
}
