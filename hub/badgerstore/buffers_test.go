package badgerstore

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/doorhub/doorhub/hub/storetest"
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
// ReleaseBuffers takes them out (and has nothing left to take a second
// time), and the store reads, writes and reopens as before.
func TestReleaseBuffers(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	// Several memtables' worth: flushes and compactions build tables,
	// whose buffers go back to the pool.
	require.NoError(t, synth{n: 20_000}.writeSnapshot(st, 1))
	require.NoError(t, st.db.Flatten(2))
	released := st.ReleaseBuffers()
	require.Greater(t, released, uint64(freshAllocatorSize), "a bulk write pools table buffers")
	require.Zero(t, st.ReleaseBuffers(), "the pool is empty after a release")

	require.NoError(t, synth{n: 20_000, other: true}.writeSnapshot(st, 2))
	require.Equal(t, uint64(2), st.Version())
	require.NoError(t, st.Close())
	require.Zero(t, st.ReleaseBuffers(), "a closed store releases nothing")

	st = openTest(t, dir)
	defer func() { require.NoError(t, st.Close()) }()
	require.Equal(t, uint64(2), st.Version())
	require.Equal(t, 20_000, st.currentRecords()/3)
}

// tidyLoops counts the goroutines running Store.tidy.
func tidyLoops() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "badgerstore.(*Store).tidy(")
}

// waitTidyLoops waits up to 2 s for n tidy loops.
func waitTidyLoops(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for tidyLoops() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d tidy loops running, want %d", tidyLoops(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTidyWhileGenerationIsWritten: a snapshot written as a new
// generation has a loop giving back table pages and pooled buffers until
// it is committed, aborted or the store closes; a diff has none.
func TestTidyWhileGenerationIsWritten(t *testing.T) {
	dir := t.TempDir()
	st := openTest(t, dir)
	waitTidyLoops(t, 0)
	require.NoError(t, synth{n: 1000}.writeSnapshot(st, 1)) // committed: its loop ended
	waitTidyLoops(t, 0)

	w, err := st.BeginSnapshot(context.Background(), storetest.SiteID, 2) // a diff
	require.NoError(t, err)
	require.NoError(t, synth{n: 1000, changeEvery: 10}.chunks(500, w.Add))
	waitTidyLoops(t, 0)
	require.NoError(t, w.Commit())

	st.opts.SnapshotDiffMax = -1
	w, err = st.BeginSnapshot(context.Background(), storetest.SiteID, 3)
	require.NoError(t, err)
	waitTidyLoops(t, 1)
	require.NoError(t, synth{n: 1000, other: true}.chunks(500, w.Add))
	w.Abort()
	waitTidyLoops(t, 0)

	w, err = st.BeginSnapshot(context.Background(), storetest.SiteID, 3)
	require.NoError(t, err)
	waitTidyLoops(t, 1)
	require.NoError(t, st.Close()) // the loop sees the store closed
	waitTidyLoops(t, 0)
	w.Abort()
}
