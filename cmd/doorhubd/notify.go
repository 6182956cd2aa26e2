package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/doorhub/doorhub/hub"
)

// statusEvery is how often the STATUS= line is refreshed when systemd's
// watchdog is off (with the watchdog it is refreshed with every ping).
const statusEvery = 30 * time.Second

// aliveKey is read from the store on every watchdog tick: a read
// transaction proves Badger answers without writing to the SD card.
const aliveKey = "doorhubd.alive"

// notifier is the daemon's side of systemd's notify protocol
// (sd_notify(3)): STATUS= while starting, READY=1 once Run has opened the
// store, the radio and the status endpoint, WATCHDOG=1 from a loop that
// checks the daemon still works, STOPPING=1 before Close. Outside systemd
// (no NOTIFY_SOCKET) every message is dropped and the loop only keeps the
// status line current.
//
// The package's only use of go-systemd is here (deps_test.go).
type notifier struct {
	// watchdog is WatchdogSec= as systemd passed it in WATCHDOG_USEC;
	// zero when the watchdog is off. Pings go out at half of it.
	watchdog time.Duration

	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	failed     bool // the last send failed; log again only on recovery
	lastStatus string
	lastErr    string
	probe      chan error // the check still running from an earlier tick
}

// newNotifier reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID from the
// environment.
func newNotifier() *notifier {
	n := &notifier{}
	n.watchdog, _ = daemon.SdWatchdogEnabled(false)
	return n
}

// Starting says what the daemon is doing while Run opens its components.
// --version and --check-config send nothing: as ExecStartPre= they are not
// the main process, and systemd would log the message as refused.
func (n *notifier) Starting(m *Main) {
	if m.ShowVersion || m.CheckConfig {
		return
	}
	n.send("STATUS=starting: opening the store, the cloud link, the radio and the status endpoint")
}

// Ready sends READY=1 with the first status line and starts the loop that
// pings the watchdog. Call it after Run returned without error.
func (n *notifier) Ready(m *Main) {
	n.log = m.Log
	n.lastStatus = statusLine(m)
	n.send("READY=1\nSTATUS=" + n.lastStatus)
	if n.log != nil && n.watchdog > 0 {
		n.log.Info("systemd watchdog on", slog.Duration("timeout", n.watchdog))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(1)
	go n.loop(ctx, m)
}

// Stopping stops the loop and sends STOPPING=1. Call it before Close.
func (n *notifier) Stopping() {
	if n.cancel != nil {
		n.cancel()
		n.wg.Wait()
	}
	n.send("STOPPING=1\nSTATUS=stopping: closing the status endpoint, the radio, the cloud link and the store")
}

// loop pings the watchdog at half its timeout, but only when the daemon
// answers (alive): a daemon whose store or locks are stuck gets no ping,
// and systemd kills and restarts it (Restart=on-failure).
func (n *notifier) loop(ctx context.Context, m *Main) {
	defer n.wg.Done()
	every := statusEvery
	if n.watchdog > 0 {
		every = n.watchdog / 2
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.alive(m, every/2); err != nil {
			n.unhealthy(err)
			continue
		}
		if n.lastErr != "" && n.log != nil {
			n.log.Info("daemon answers again")
		}
		n.lastErr = ""
		msg := "WATCHDOG=1"
		if s := statusLine(m); s != n.lastStatus {
			n.lastStatus = s
			msg += "\nSTATUS=" + s
		}
		if n.watchdog > 0 || msg != "WATCHDOG=1" {
			n.send(msg)
		}
	}
}

// unhealthy reports a failed check once per distinct error, in the log
// and the status line, and sends no ping.
func (n *notifier) unhealthy(err error) {
	e := err.Error()
	if e == n.lastErr {
		return
	}
	n.lastErr = e
	if n.log != nil {
		n.log.Error("daemon does not answer; no watchdog ping", slog.Any("err", err))
	}
	n.lastStatus = "unhealthy: " + oneLine(e)
	n.send("STATUS=" + n.lastStatus)
}

// alive runs checkAlive with a deadline. A check that outlives its
// deadline keeps running; the next ticks wait for it instead of piling
// up goroutines on a stuck lock, and fail until it returns.
func (n *notifier) alive(m *Main, timeout time.Duration) error {
	if n.probe == nil {
		n.probe = make(chan error, 1)
		go func(ch chan<- error) { ch <- checkAlive(m) }(n.probe)
	}
	select {
	case err := <-n.probe:
		n.probe = nil
		return err
	case <-time.After(timeout):
		return fmt.Errorf("the store, catalog or clock did not answer within %s", timeout)
	}
}

// checkAlive touches what every decision needs: a Badger read
// transaction, the catalog's lock, the clock's lock and the radio's
// locks. A deadlock in any of them stops the pings.
func checkAlive(m *Main) error {
	if m.Store == nil || m.Clock == nil {
		return errors.New("not running")
	}
	if _, err := m.Store.Value(aliveKey); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	m.Store.View(func(*hub.Catalog) {})
	_ = m.Clock.Status()
	if m.Radio != nil {
		_ = m.Radio.Port.Status()
		_ = m.Radio.Locks.Locks()
	}
	return nil
}

// statusLine is what `systemctl status doorhub` shows: what a technician
// asks first.
func statusLine(m *Main) string {
	if m.Store == nil || m.Clock == nil {
		return "starting"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ready: %s, store version %d", m.Config.HubID, m.Store.Version())
	var doors int
	m.Store.View(func(c *hub.Catalog) { doors = len(c.Doors()) })
	fmt.Fprintf(&b, ", %d doors", doors)
	if st := m.Clock.Status(); st.Trusted {
		fmt.Fprintf(&b, ", clock trusted (%s)", st.Source)
	} else {
		b.WriteString(", clock untrusted")
	}
	switch {
	case m.Radio == nil:
	case m.radioReady() != nil:
		fmt.Fprintf(&b, ", radio %s: %s", m.Config.Radio.Port, m.radioReady())
	default:
		fmt.Fprintf(&b, ", radio connected, %d locks paired", len(m.Radio.Locks.Locks()))
	}
	switch {
	case m.Config.Cloud.Broker == "":
		b.WriteString(", no cloud configured")
	case m.Cloud != nil && m.Cloud.Connected():
		b.WriteString(", cloud connected")
	default:
		b.WriteString(", cloud not connected")
	}
	return b.String()
}

func (n *notifier) send(state string) {
	_, err := daemon.SdNotify(false, state)
	switch {
	case err != nil && !n.failed:
		n.failed = true
		if n.log != nil {
			n.log.Warn("systemd notify failed", slog.Any("err", err))
		}
	case err == nil:
		n.failed = false
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
