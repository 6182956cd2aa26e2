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

// defaultMemoryLimit is the Go memory limit when GOMEMLIMIT is not set:
// on a 1 GB Pi the collector should work harder rather than let the
// heap double during a snapshot. The limit counts the Go runtime's memory;
// the binary's mapped code (2–7 MB of its 16 between the settle loop's
// releases, releaseCodePages) and Badger's mapped files come on top of it
// in the resident size. With a 100,000-credential site (33–38
// MB of live heap at rest) 64 MiB keeps a snapshot under 96 MB
// resident: with 80 MiB a typical resync peaked at 92–95 MB because the
// heap's garbage filled the limit (docs/performance.md, "The daemon
// itself"). A site whose live heap outgrows it gets a higher one from
// the settle loop (memoryLimiter), so the collector never runs
// constantly; GOMEMLIMIT fixes it.
const defaultMemoryLimit = 64 << 20

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
