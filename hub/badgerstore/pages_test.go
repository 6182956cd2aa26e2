package badgerstore

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
	"github.com/stretchr/testify/require"
)

// tableRSS is the resident bytes of the store's mapped table files, from
// /proc/self/smaps.
func tableRSS(t *testing.T, dir string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	abs, err := filepath.Abs(dir)
	require.NoError(t, err)
	var rss int64
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			inTable = len(fields) >= 6 && strings.HasPrefix(fields[5], abs+"/") && strings.HasSuffix(fields[5], ".sst")
		case inTable && len(fields) >= 2 && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			require.NoError(t, err)
			rss += kb << 10
		}
	}
	require.NoError(t, sc.Err())
	return rss
}

// TestReleaseTablePages: loading a set leaves its tables' pages resident;
// ReleaseTablePages gives them back, and the store reads, writes and
// reopens as before.
func TestReleaseTablePages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("MADV_PAGEOUT is Linux's")
	}
	dir := t.TempDir()
	st := openTest(t, dir)
	require.NoError(t, synth{n: 20_000}.writeSnapshot(st, 1))
	require.NoError(t, st.Close())
	st = openTest(t, dir) // loads the set: reads every table
	defer func() { require.NoError(t, st.Close()) }()
	before := tableRSS(t, dir)
	require.Greater(t, before, int64(256<<10), "the load left table pages resident")
	advised, err := st.ReleaseTablePages()
	if err != nil {
		t.Skipf("this kernel cannot: %v", err)
	}
	require.GreaterOrEqual(t, advised, before)
	after := tableRSS(t, dir)
	require.Less(t, after, before/4, "resident table bytes: before %d, after %d", before, after)

	// The store reads, writes and reopens as before.
	card := synthCard(7)
	var found bool
	st.View(func(c *hub.Catalog) { found = c.Keycard(card) != nil })
	require.True(t, found)
	require.NoError(t, st.Apply(t.Context(), &hub.Batch{Site: storetest.SiteID, Version: 2, Base: 1, IssuedAt: storetest.T0,
		Ops: []hub.Op{{Type: hub.OpDeleteKeycard, ID: card}}}))
	require.NoError(t, st.Close())
	st = openTest(t, dir)
	require.Equal(t, uint64(2), st.Version())
	st.View(func(c *hub.Catalog) {
		require.Nil(t, c.Keycard(card))
		require.NotNil(t, c.Keycard(synthCard(8)))
		require.Equal(t, 20_000-1, c.Counts().Keycards)
	})
}
