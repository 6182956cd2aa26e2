package serialport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/coproc"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

var fastLink = link.Config{AckTimeout: 20 * time.Millisecond, MaxAckTimeout: 40 * time.Millisecond, MaxRetransmits: 3}

// fakeCoproc is the other end of a net.Pipe: a link that answers version
// requests (unless silent) and echoes lock envelopes back.
type fakeCoproc struct {
	silent atomic.Bool // answers nothing, but its link still acknowledges
	resets atomic.Int32
	mu     sync.Mutex
	end    net.Conn
	l      *link.Link
}

func (c *fakeCoproc) attach(t *testing.T, end net.Conn) {
	l, err := link.Open(context.Background(), end, withLog(fastLink))
	if err != nil {
		t.Error(err)
		return
	}
	c.mu.Lock()
	c.end, c.l = end, l
	c.mu.Unlock()
	go func() {
		for {
			p, err := l.Recv(context.Background())
			if err != nil {
				return
			}
			m, err := coproc.Parse(p)
			if err != nil { // a lock envelope: echo it
				_ = l.Send(context.Background(), p)
				continue
			}
			switch m := m.(type) {
			case *coproc.Reset:
				c.resets.Add(1)
				c.silent.Store(false)
				_ = l.Send(context.Background(), coproc.Append(nil, &coproc.Version{Token: m.Token, Protocol: 1, MaxLocks: 8}))
			case *coproc.VersionRequest:
				if !c.silent.Load() {
					_ = l.Send(context.Background(), coproc.Append(nil, &coproc.Version{Token: m.Token, Protocol: 1, Firmware: lockmsg.Firmware{Major: 9}, MaxLocks: 8}))
				}
			}
		}
	}()
}

// unplug closes the coprocessor's end: the hub's link sees a port error.
func (c *fakeCoproc) unplug() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.l.Close(ctx)
}

func withLog(c link.Config) link.Config { c.Logger = slog.New(slog.DiscardHandler); return c }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines leaked:\n%s", buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openRadio opens a Radio whose port is a net.Pipe to c; while plugged is
// false, opening fails as with an unplugged device.
func openRadio(t *testing.T, c *fakeCoproc, plugged *atomic.Bool, cfg Config) (*Radio, *syncBuffer) {
	logs := &syncBuffer{}
	cfg.Path = "/dev/fake-radio"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	cfg.Link = withLog(fastLink)
	cfg.open = func(string, int) (io.ReadWriteCloser, error) {
		if !plugged.Load() {
			return nil, ErrNotFound
		}
		hub, co := net.Pipe()
		c.attach(t, co)
		return hub, nil
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Error(err)
		}
		c.unplug()
	})
	return r, logs
}

func TestReconnectAfterUnplug(t *testing.T) {
	noLeaks(t)
	c := &fakeCoproc{}
	var plugged atomic.Bool
	plugged.Store(true)
	r, logs := openRadio(t, c, &plugged, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	env := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: 7, RSSI: lockmsg.RSSIUnknown, Sealed: make([]byte, lockmsg.Overhead)})
	if err := r.Send(ctx, env); err != nil {
		t.Fatal(err)
	}
	if p, err := r.Recv(ctx); err != nil || !bytes.Equal(p, env) {
		t.Fatalf("Recv = % x, %v", p, err)
	}
	waitFor(t, "firmware known", time.Second, func() bool { return r.Status().Firmware == "9.0.0" })

	plugged.Store(false)
	c.unplug()
	waitFor(t, "disconnected", time.Second, func() bool { return !r.Status().Connected })
	time.Sleep(300 * time.Millisecond) // a few failed opens
	unplugged := time.Now()
	plugged.Store(true)
	// A Send made while unplugged waits for the reconnection.
	if err := r.Send(ctx, env); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(unplugged); d > 2*time.Second {
		t.Errorf("reconnected after %v", d)
	}
	st := r.Status()
	if !st.Connected || st.Connects != 2 || st.Disconnects != 1 || st.OpenFailures == 0 {
		t.Errorf("status %+v", st)
	}
	for _, line := range []string{"radio connected", "radio disconnected; reconnecting", "radio reconnected", "down_for="} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs.String())
		}
	}
}

func TestRecoveryLadder(t *testing.T) {
	noLeaks(t)
	c := &fakeCoproc{}
	c.silent.Store(true)
	var plugged atomic.Bool
	plugged.Store(true)
	r, logs := openRadio(t, c, &plugged, Config{ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 150 * time.Millisecond})
	waitFor(t, "reset", 3*time.Second, func() bool { return c.resets.Load() == 1 })
	waitFor(t, "answering", time.Second, func() bool { return r.Status().Answering })
	st := r.Status()
	if st.Reopens != 1 || st.Resets != 1 || st.ProbeFailures != 2 {
		t.Errorf("status %+v", st)
	}
	for _, line := range []string{"rung=reopen", "rung=reset", "coprocessor answers again"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs.String())
		}
	}
}

func TestSendAfterClose(t *testing.T) {
	noLeaks(t)
	var plugged atomic.Bool // never plugged
	r, _ := openRadio(t, &fakeCoproc{}, &plugged, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := r.Send(ctx, []byte{1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send while unplugged: %v", err)
	}
	_ = r.Close(context.Background())
	if err := r.Send(context.Background(), []byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}
