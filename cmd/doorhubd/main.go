// Command doorhubd is the doorhub daemon: it keeps the site's credential
// set, decides every unlock the locks ask about, and syncs with the cloud.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go heap's soft limit when GOMEMLIMIT is not
// set: on a 1 GB Pi the collector should work harder rather than let the
// heap double during a snapshot. With a 100,000-credential site (36 MB of
// heap at rest) a typical resync peaks at 88 MB RSS with 80 MiB, 101 MB
// with 96 MiB, where the pacer's doubling binds before the limit
// (docs/performance.md, memory). A much larger site should raise it
// (GOMEMLIMIT): a live heap near the limit makes the collector run
// constantly.
const defaultMemoryLimit = 80 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	m := NewMain(os.Stdout, os.Stderr, os.Environ())
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, errHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "doorhubd:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sd := newNotifier()
	sd.Starting(m)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "doorhubd:", err)
		_ = m.Close()
		os.Exit(1)
	}
	if m.Done() {
		return // --version or --check-config
	}
	sd.Ready(m)
	<-ctx.Done()
	sd.Stopping()
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "doorhubd:", err)
		os.Exit(1)
	}
}
