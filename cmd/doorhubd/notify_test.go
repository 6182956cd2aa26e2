package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// notifySocket is systemd's end of the notify protocol: a real unixgram
// socket in a temp dir, named by NOTIFY_SOCKET (as go-systemd's own tests
// do). watchdog sets WATCHDOG_USEC for this process; 0 leaves it off.
func notifySocket(t *testing.T, watchdog time.Duration) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
		t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
		t.Setenv("WATCHDOG_PID", "")
	}
	return conn
}

// next returns the next datagram, or "" when none came within d.
func next(t *testing.T, conn *net.UnixConn, d time.Duration) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := conn.ReadFromUnix(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// waitFor reads messages until one starts with prefix, for at most d.
func waitFor(t *testing.T, conn *net.UnixConn, prefix string, d time.Duration) bool {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if strings.HasPrefix(next(t, conn, 100*time.Millisecond), prefix) {
			return true
		}
	}
	return false
}

// startDaemon runs the real Main on a temp dir with the radio on
// /dev/null and the status endpoint on a loopback port, as main() does.
func startDaemon(t *testing.T) (*Main, *notifier) {
	t.Helper()
	path, _ := writeConfig(t, "hub_id: hub-notify\nstate_dir: STATE\nradio:\n  port: /dev/null\n"+
		"status:\n  listen: 127.0.0.1:0\n  socket: \"\"\n  token_file: \"\"\n")
	var out, errs bytes.Buffer
	m := NewMain(&out, &errs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	sd := newNotifier()
	sd.Starting(m)
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sd.Ready(m)
	return m, sd
}

// TestNotifyReadyWatchdogStopping: systemd sees a status line while the
// daemon starts, READY=1 once Run returned, watchdog pings while it runs,
// and STOPPING=1 last.
func TestNotifyReadyWatchdogStopping(t *testing.T) {
	conn := notifySocket(t, 200*time.Millisecond)
	m, sd := startDaemon(t)
	if sd.watchdog != 200*time.Millisecond {
		t.Fatalf("watchdog %v, want 200ms from WATCHDOG_USEC", sd.watchdog)
	}

	var got []string
	pings := 0
	for deadline := time.Now().Add(10 * time.Second); pings < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("%d watchdog pings in 10s; messages: %q", pings, got)
		}
		msg := next(t, conn, time.Second)
		if msg == "" {
			continue
		}
		got = append(got, msg)
		if strings.HasPrefix(msg, "WATCHDOG=1") {
			pings++
		}
	}
	sd.Stopping()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for msg := next(t, conn, 200*time.Millisecond); msg != ""; msg = next(t, conn, 200*time.Millisecond) {
		got = append(got, msg)
	}

	if len(got) < 5 {
		t.Fatalf("messages %q", got)
	}
	t.Logf("systemd saw: %q", got)
	if !strings.HasPrefix(got[0], "STATUS=starting") {
		t.Errorf("first message %q, want STATUS=starting...", got[0])
	}
	if !strings.HasPrefix(got[1], "READY=1\nSTATUS=ready: hub-notify, store version 0") {
		t.Errorf("second message %q, want READY=1 with the status line", got[1])
	}
	for _, msg := range got[2 : len(got)-1] {
		if !strings.HasPrefix(msg, "WATCHDOG=1") {
			t.Errorf("between READY and STOPPING: %q", msg)
		}
	}
	if last := got[len(got)-1]; !strings.HasPrefix(last, "STOPPING=1") {
		t.Errorf("last message %q, want STOPPING=1", last)
	}
}

// TestWatchdogStopsWhenStoreFails: once the store stops answering, the
// pings stop (systemd then kills and restarts the daemon) and the status
// line says why.
func TestWatchdogStopsWhenStoreFails(t *testing.T) {
	conn := notifySocket(t, 200*time.Millisecond)
	m, sd := startDaemon(t)
	defer func() { sd.Stopping(); _ = m.Close() }()
	if !waitFor(t, conn, "WATCHDOG=1", 5*time.Second) {
		t.Fatal("no watchdog ping while the store answers")
	}

	if err := m.Store.Close(); err != nil {
		t.Fatal(err)
	}
	var unhealthy bool
	pingsAfter := 0
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		msg := next(t, conn, 100*time.Millisecond)
		switch {
		case strings.HasPrefix(msg, "STATUS=unhealthy: store:"):
			unhealthy = true
		case strings.HasPrefix(msg, "WATCHDOG=1") && unhealthy:
			pingsAfter++
		}
	}
	if !unhealthy {
		t.Fatal("no STATUS=unhealthy after the store closed")
	}
	if pingsAfter > 0 {
		t.Fatalf("%d watchdog pings after the store stopped answering", pingsAfter)
	}
}

// TestNotifyOutsideSystemd: without NOTIFY_SOCKET nothing is sent and the
// daemon runs and stops as usual; --check-config sends nothing even under
// systemd (ExecStartPre= is not the main process).
func TestNotifyOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	m, sd := startDaemon(t)
	if sd.watchdog != 0 {
		t.Fatalf("watchdog %v without WATCHDOG_USEC", sd.watchdog)
	}
	sd.Stopping()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	conn := notifySocket(t, 0)
	path, _ := writeConfig(t, "hub_id: hub-notify\nstate_dir: STATE\n")
	var out bytes.Buffer
	c := NewMain(&out, &out, nil)
	_ = c.ParseFlags([]string{"--check-config", "--config", path})
	newNotifier().Starting(c)
	if err := c.Run(context.Background()); err != nil || !c.Done() {
		t.Fatalf("check-config: %v", err)
	}
	if msg := next(t, conn, 100*time.Millisecond); msg != "" {
		t.Fatalf("--check-config sent %q", msg)
	}
}
