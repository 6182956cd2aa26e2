//go:build linux

package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// exeRss sums the resident size of the process's read-only mappings of
// its own executable, from /proc/self/smaps.
func exeRss(t *testing.T) int64 {
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	var total int64
	ours := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 6 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			ours = fields[5] == exe && (fields[1] == "r-xp" || fields[1] == "r--p")
		case len(fields) == 3 && fields[0] == "Rss:" && ours:
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			require.NoError(t, err)
			total += kb << 10
		case len(fields) >= 1 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			ours = false // an anonymous mapping
		}
	}
	require.NoError(t, sc.Err())
	return total
}

// TestReleaseCodePages: the test binary's code and read-only data stop
// counting in its resident size, and the process goes on running the
// code (it is mapped again from the page cache as it runs).
func TestReleaseCodePages(t *testing.T) {
	before := exeRss(t)
	require.Greater(t, before, int64(1<<20), "the test binary maps under 1 MB of its code")
	advised, err := releaseCodePages()
	require.NoError(t, err)
	require.GreaterOrEqual(t, advised, before, "advised less than was resident")
	after := exeRss(t)
	t.Logf("resident code and read-only data: %d KiB, then %d KiB", before>>10, after>>10)
	require.Less(t, after, before/2)
	// Code that ran before runs again.
	require.Greater(t, exeRss(t), int64(0))
}
