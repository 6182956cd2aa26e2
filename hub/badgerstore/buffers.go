package badgerstore

import (
	"context"
	"reflect"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/ristretto/v2/z"
)

// Badger builds every table whole in memory, in buffers (z.Allocator) it
// takes from a pool of up to 8 and puts back when the table is written.
// A pooled buffer keeps the size of the largest table it built, and the
// pool gives back one buffer every 2 s, and only while no table is being
// built. After a bulk write — a snapshot's new generation, its
// compactions — it thus holds 8 buffers of 1–3 MB each for up to 16 s
// more: a third of the peak of a wholly different snapshot, beside the
// current catalog and then the new one (docs/store.md, "Badger's
// buffers").
//
// Badger has no option for the pool and does not export it. The store
// reaches it by reflection, once at Open, and ReleaseBuffers empties it
// when the store knows the write is over. If a Badger release renames or
// retypes the field, allocPool finds nothing, ReleaseBuffers does
// nothing and the store logs it once at Open (TestAllocPoolFound fails
// first).

// allocPool returns db's table-builder buffer pool, or nil if Badger
// does not have one where this version expects it.
func allocPool(db *badger.DB) *z.AllocatorPool {
	v := reflect.ValueOf(db)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	f := v.Elem().FieldByName("allocPool")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*z.AllocatorPool]() {
		return nil
	}
	return *(**z.AllocatorPool)(unsafe.Pointer(f.UnsafeAddr()))
}

// freshAllocatorSize is what a new allocator holds (z.NewAllocator's
// smallest buffer): a pool that hands one out was empty.
const freshAllocatorSize = 512

// drainAllocPool releases the buffers pool holds; tables being built keep
// theirs and return them to the pool when done. It returns how many
// buffers and bytes it released (to the Go heap: the next collection
// frees them).
func drainAllocPool(pool *z.AllocatorPool) (n int, bytes uint64) {
	if pool == nil {
		return 0, 0
	}
	// The pool holds at most 8; a fresh allocator means it is empty. The
	// bound only guards against a pool that changed its ways.
	for range 64 {
		a := pool.Get(1, "doorhub-release")
		size := a.Allocated()
		a.Release()
		if size <= freshAllocatorSize {
			break
		}
		n++
		bytes += size
	}
	return n, bytes
}

// ReleaseBuffers gives the table buffers Badger pooled after its last
// writes back to the Go heap, where the next collection frees them
// (doorhubd's settle loop runs one when it is worth it), instead of
// waiting up to 16 s for Badger to let them go. Tables being built keep
// theirs. It returns how many bytes it released.
func (s *Store) ReleaseBuffers() uint64 {
	if !s.enter() {
		return 0
	}
	defer s.leave()
	_, bytes := drainAllocPool(s.allocPool)
	return bytes
}

// tidyEvery is how often the store looks whether Badger wrote tables
// since it last looked, and if so gives back their pages and the buffers
// it pooled to build them. Badger writes each new table through a
// mapping, so its pages stay resident: after a bulk write — a new
// generation, a large diff through the journal, the compactions that go
// on after either — they piled up between the daemon's settles (every
// 10 s). A trace of the wholly different 100,000-credential snapshot in
// the daemon caught 26 MB of them at its 95 MiB peak, the Go memory at
// 67; 9 MB of them still when they were released only while the
// generation itself was written.
const tidyEvery = 500 * time.Millisecond

// tidyLoop gives back table pages and pooled buffers every tidyEvery
// while Badger's tables change, until ctx ends. Idle, it only reads the
// levels' table counts and sizes.
func (s *Store) tidyLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(tidyEvery)
	defer t.Stop()
	last := s.tablesSignature()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sig := s.tablesSignature()
		if sig == last {
			continue
		}
		last = sig
		_, _ = s.ReleaseTablePages()
		drainAllocPool(s.allocPool)
	}
}

// tablesSignature is each level's table count and size: it changes
// whenever Badger adds or removes a table.
func (s *Store) tablesSignature() [maxLevels][2]int64 {
	var sig [maxLevels][2]int64
	for i, l := range s.db.Levels() {
		sig[i%maxLevels][0] += int64(l.NumTables)
		sig[i%maxLevels][1] += l.Size
	}
	return sig
}

// maxLevels is Badger's default number of levels (the store keeps it).
const maxLevels = 7
