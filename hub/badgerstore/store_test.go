package badgerstore

import (
	"io"
	"log/slog"
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// testOptions are the defaults with a small memtable, so that batches of a
// few hundred records already take the journal path.
func testOptions() Options {
	o := DefaultOptions()
	o.MemTableSize = 1 << 20
	o.ValueThreshold = 256
	o.BlockCacheSize = 1 << 20
	o.IndexCacheSize = 1 << 20
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return o
}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) hub.Store { return openTest(t, dir) }, storetest.Durable())
}
