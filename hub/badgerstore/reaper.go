package badgerstore

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// reaper removes key ranges nothing refers to any more (replaced or
// orphaned generations, replayed or orphaned journals) in the background,
// a chunk of keys per transaction. It uses ordinary deletes rather than
// DB.DropPrefix, which blocks every write of the database while it runs
// and would fail a concurrent Apply with ErrBlockedWrites. A prefix still
// queued at Close is found again by the next Open.
type reaper struct {
	db  *badger.DB
	log *slog.Logger

	mu    sync.Mutex
	queue [][]byte
	busy  bool
	wake  chan struct{}
	idle  *sync.Cond
	// release, if set, is called every releaseEvery keys removed: the
	// scans and the compactions of the tombstones read tables through
	// their mappings (Store.ReleaseTablePages gives those pages back).
	release func()
}

// releaseEvery: the reaper gives back the table pages its scans read
// every this many keys removed (reads change no table, so the store's
// tidy loop does not see them).
const releaseEvery = 16 * loadChunk

func newReaper(db *badger.DB, log *slog.Logger) *reaper {
	r := &reaper{db: db, log: log, wake: make(chan struct{}, 1)}
	r.idle = sync.NewCond(&r.mu)
	return r
}

// add queues a prefix for removal.
func (r *reaper) add(prefix []byte) {
	r.mu.Lock()
	for _, p := range r.queue {
		if bytes.Equal(p, prefix) {
			r.mu.Unlock()
			return
		}
	}
	r.queue = append(r.queue, prefix)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// waitIdle waits until the queue is empty and nothing is being removed
// (for tests).
func (r *reaper) waitIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) > 0 || r.busy {
		r.idle.Wait()
	}
}

func (r *reaper) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		// Release waiters: nothing more will be removed.
		r.mu.Lock()
		r.queue, r.busy = nil, false
		r.idle.Broadcast()
		r.mu.Unlock()
	}()
	backoff := time.Second
	var lastLog time.Time
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.busy = false
			r.idle.Broadcast()
			r.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				continue
			}
		}
		prefix := r.queue[0]
		r.busy = true
		r.mu.Unlock()

		n, err := r.remove(ctx, prefix)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if time.Since(lastLog) > time.Minute {
				lastLog = time.Now()
				r.log.Warn("removing a dropped generation failed; will retry",
					slog.String("prefix", string(prefix)), slog.Any("err", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		r.log.Debug("removed a dropped key range", slog.String("prefix", string(prefix)), slog.Int("keys", n))
		r.mu.Lock()
		r.queue = r.queue[1:]
		r.mu.Unlock()
	}
}

// reapChunk is how many keys one delete transaction holds.
const reapChunk = 1000

// remove deletes every key under prefix, a chunk at a time, resuming each
// scan after the last key deleted so that tombstones are not walked again.
func (r *reaper) remove(ctx context.Context, prefix []byte) (int, error) {
	total := 0
	from := prefix
	for ctx.Err() == nil {
		keys := make([][]byte, 0, reapChunk)
		err := r.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
			defer it.Close()
			for it.Seek(from); it.Valid() && len(keys) < reapChunk; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return total, err
		}
		err = r.db.Update(func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if total/releaseEvery != (total+len(keys))/releaseEvery && r.release != nil {
			r.release()
		}
		total += len(keys)
		from = append(keys[len(keys)-1], 0)
	}
	return total, ctx.Err()
}
