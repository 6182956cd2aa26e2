package badgerstore

import (
	"testing"

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
