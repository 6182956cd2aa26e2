package badgerstore

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// TestAllocPoolFound: the store reaches Badger's table buffer pool. A
// Badger release that renames or retypes the private field fails here
// first (the store would go on, logging that its buffers stay pooled).
func TestAllocPoolFound(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer func() { require.NoError(t, st.Close()) }()
	require.NotNil(t, st.allocPool, "badger.DB has no allocPool *z.AllocatorPool: update buffers.go")
	require.Nil(t, allocPool(nil))
}

// TestReleaseBuffers: a bulk write leaves table buffers in Badger's pool;
// draining it takes them out (and has nothing left to take a second
// time), and the database reads, writes and reopens as before. On a bare
// Badger: the store's own tidy loop would race the test for the pool.
func TestReleaseBuffers(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(DefaultOptions().badger(dir, slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	pool := allocPool(db)
	require.NotNil(t, pool)
	put := func(prefix string) {
		wb := db.NewWriteBatch()
		val := make([]byte, 200)
		for i := range 30_000 {
			require.NoError(t, wb.Set(fmt.Appendf(nil, "%s%08d", prefix, i), val))
		}
		require.NoError(t, wb.Flush())
	}
	put("a")
	require.NoError(t, db.Flatten(2))
	n, bytes := drainAllocPool(pool)
	require.Positive(t, n, "a bulk write pools table buffers")
	require.Greater(t, bytes, uint64(n*freshAllocatorSize))
	n, _ = drainAllocPool(pool)
	require.Zero(t, n, "the pool is empty after a release")
	put("b")
	require.NoError(t, db.Close())

	db, err = badger.Open(DefaultOptions().badger(dir, slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(txn *badger.Txn) error {
		for _, k := range []string{"a00000000", "b00029999"} {
			if _, err := txn.Get([]byte(k)); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	}))
}

// TestReleaseBuffersClosed: a closed store releases nothing (Badger's
// pool is closed with it: taking from it would panic).
func TestReleaseBuffersClosed(t *testing.T) {
	st := openTest(t, t.TempDir())
	require.NoError(t, synth{n: 2000}.writeSnapshot(st, 1))
	require.NoError(t, st.Close())
	require.Zero(t, st.ReleaseBuffers())
}

// TestTidyAfterBulkWrites: the table pages a bulk write leaves resident
// — a new generation, a large diff through the journal, the compactions
// after them — and the buffers Badger pooled are given back within about
// a second by the store itself, no one calling ReleaseTablePages.
func TestTidyAfterBulkWrites(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("MADV_PAGEOUT is Linux's")
	}
	dir := t.TempDir()
	st := openTest(t, dir)
	defer func() { require.NoError(t, st.Close()) }()
	settled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			pages := tableRSS(t, dir)
			if pages < 256<<10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d bytes of table pages still resident", what, pages)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Tables built, none being built: the pool holds nothing.
		time.Sleep(2 * tidyEvery)
		require.Zero(t, st.ReleaseBuffers(), "%s: buffers left in Badger's pool", what)
	}
	require.NoError(t, synth{n: 20_000}.writeSnapshot(st, 1))
	settled("a new generation")
	require.NoError(t, synth{n: 20_000, changeEvery: 2}.writeSnapshot(st, 2)) // 20,000 changes: a journaled diff
	settled("a large diff")
}
