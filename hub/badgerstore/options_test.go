package badgerstore

import (
	"log/slog"
	"strings"
	"testing"
)

// TestBadgerCacheAdviceIsDebug checks that Badger's minutely advice about
// a small cache (the block cache is small on purpose) stays out of the
// warnings, and that other warnings stay in.
func TestBadgerCacheAdviceIsDebug(t *testing.T) {
	var warn, debug strings.Builder
	lw := slogAdapter{slog.New(slog.NewTextHandler(&warn, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	ld := slogAdapter{slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, l := range []slogAdapter{lw, ld} {
		// Badger's own format strings (db.go, monitorCache).
		l.Warningf("%s might be too small. Metrics: %s\n", "Block cache", "hit: 1 miss: 9")
		l.Warningf("Cache life expectancy (in seconds): %+v\n", "histogram")
		l.Warningf("value log %s\n", "full")
	}
	if got := warn.String(); strings.Contains(got, "too small") || strings.Contains(got, "life expectancy") ||
		!strings.Contains(got, `level=WARN msg="value log full"`) {
		t.Errorf("at warn level: %q", got)
	}
	if got := debug.String(); !strings.Contains(got, `level=DEBUG msg="Block cache might be too small`) {
		t.Errorf("the advice is not kept at debug level: %q", got)
	}
}
