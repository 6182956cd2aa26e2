// Command doorhub-demo is `make demo`: a small building run by the real
// binaries on this machine. It starts doorhub-cloud with an MQTT broker in
// its process and seeds a demo site through doorhub-cloud's own commands,
// starts doorhub-sim with a lock per door and doorhubd with the config
// `doorhub-cloud hub add` printed, pairs the locks with `doorhub pair`,
// then lets simulated people come and go while it tails the hub's
// activity. Ctrl-C (or --for) stops every process it started and waits
// for each; nothing is left running.
//
// Everything lives in one directory (--dir, wiped at start and removed at
// a clean stop) so that the commands the demo prints work from another
// shell while it runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	d := &demo{out: newLineWriter(os.Stdout)}
	fs := flag.NewFlagSet("doorhub-demo", flag.ContinueOnError)
	exe, _ := os.Executable()
	fs.StringVar(&d.bin, "bin", filepath.Dir(exe), "directory holding doorhubd, doorhub, doorhub-sim and doorhub-cloud")
	fs.StringVar(&d.dir, "dir", filepath.Join(os.TempDir(), "doorhub-demo"), "the demo's directory (wiped at start)")
	fs.DurationVar(&d.every, "every", 3*time.Second, "how often a simulated person comes or goes")
	fs.DurationVar(&d.lasts, "for", 0, "stop by itself after this long (0: run until interrupted)")
	fs.StringVar(&d.listen, "listen", "127.0.0.1:8765", "the hub's status endpoint (another free loopback port when taken)")
	fs.BoolVar(&d.keep, "keep", false, "keep the directory (logs, state) after stopping")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if d.lasts > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.lasts)
		defer cancel()
	}
	os.Exit(d.run(ctx))
}

// run sets the building up, runs it until ctx ends, stops everything and
// returns the exit status.
func (d *demo) run(ctx context.Context) int {
	// One demo per directory: a second would wipe the first's state.
	lock, err := os.OpenFile(d.dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			err = fmt.Errorf("another doorhub-demo is running in %s (stop it, or give this one --dir)", d.dir)
		}
	}
	if err != nil {
		d.say("doorhub-demo: %v", err)
		return 1
	}
	defer func() {
		_ = os.Remove(lock.Name())
		lock.Close()
	}()
	err = d.setUp(ctx)
	if err == nil {
		d.comeAndGo(ctx)
	}
	interrupted := ctx.Err() != nil
	left := d.stopAll()
	switch {
	case err != nil && !interrupted:
		d.say("doorhub-demo: %v", err)
		d.say("logs: %s", filepath.Join(d.dir, "logs"))
		return 1
	case len(left) > 0:
		d.say("doorhub-demo: still running after stopping: %v", left)
		return 1
	}
	if !d.keep {
		_ = os.RemoveAll(d.dir)
	}
	d.say("\nstopped doorhubd, doorhub-sim and doorhub-cloud; nothing is left running.")
	return 0
}

// say prints a line for the person watching.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}
