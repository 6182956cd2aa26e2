// Package brokertest runs MQTT brokers for tests and demos, on loopback
// only: an embedded broker (mochi-mqtt) in the process, which a test can
// stop and start again on the same port, and a real mosquitto, either the
// one CI started (DOORHUB_MOSQUITTO=127.0.0.1:PORT) or one the test
// starts itself.
package brokertest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is an embedded MQTT broker on a loopback port.
type Broker struct {
	mu    sync.Mutex
	srv   *mochi.Server
	addr  string
	tls   *tls.Config
	log   *slog.Logger
	admit func(clientID string) bool
}

// Admit decides which clients may connect (nil: all). A test uses it to
// let the cloud in before the hubs after a restart, as a broker that
// authenticates would refuse a client for a while.
func (b *Broker) Admit(fn func(clientID string) bool) {
	b.mu.Lock()
	b.admit = fn
	b.mu.Unlock()
}

func (b *Broker) admits(clientID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.admit == nil || b.admit(clientID)
}

// admitHook authenticates by Broker.Admit and allows every topic.
type admitHook struct {
	mochi.HookBase
	b *Broker
}

func (h *admitHook) ID() string { return "brokertest-admit" }

func (h *admitHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *admitHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	return h.b.admits(cl.ID)
}

func (h *admitHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool { return true }

// Start starts a broker on addr ("127.0.0.1:0" picks a port), with TLS
// when tlsConfig is set. It refuses any address that is not loopback.
func Start(addr string, tlsConfig *tls.Config) (*Broker, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("brokertest: %s is not a loopback address", addr)
	}
	b := &Broker{addr: addr, tls: tlsConfig, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := b.start(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Broker) start() error {
	srv := mochi.New(&mochi.Options{Logger: b.log, InlineClient: false})
	if err := srv.AddHook(&admitHook{b: b}, nil); err != nil {
		return err
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.addr, TLSConfig: b.tls})
	var err error
	for i := 0; i < 50; i++ { // the port of a broker just stopped may linger a moment
		if err = srv.AddListener(l); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("brokertest: listen on %s: %w", b.addr, err)
	}
	b.addr = l.Address()
	if err := srv.Serve(); err != nil {
		return err
	}
	b.srv = srv
	return nil
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL is the broker's URL for paho: tcp://... or tls://...
func (b *Broker) URL() string {
	if b.tls != nil {
		return "tls://" + b.Addr()
	}
	return "tcp://" + b.Addr()
}

// Stop kills the broker: every connection drops and every session is
// lost, as when a broker without persistence dies.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

// Restart starts the broker again on the same port, empty.
func (b *Broker) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return errors.New("brokertest: the broker is running")
	}
	return b.start()
}

// EnvMosquitto names the variable with the address of the mosquitto that
// CI started.
const EnvMosquitto = "DOORHUB_MOSQUITTO"

// MosquittoURL returns the URL of the mosquitto CI started. Without one it
// skips the test, or fails it when CI=true: CI must not pass with the
// mosquitto tests silently skipped.
func MosquittoURL(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvMosquitto)
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: .ci/run must start mosquitto for these tests", EnvMosquitto)
		}
		t.Skipf("no mosquitto: set %s=127.0.0.1:PORT (.ci/run does)", EnvMosquitto)
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		t.Fatalf("%s=%q: want a loopback host:port", EnvMosquitto, addr)
	}
	return "tcp://" + addr
}

// Mosquitto is a mosquitto process the test started, on a loopback port,
// that it can kill and start again.
type Mosquitto struct {
	bin, conf, addr string
	cmd             *exec.Cmd
}

// StartMosquitto starts mosquitto (from PATH or /usr/sbin) on a free
// loopback port, without persistence. It skips the test when mosquitto is
// not installed, unless CI=true.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr == nil {
			bin = "/usr/sbin/mosquitto"
		} else if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto is not installed: .ci/run installs it")
		} else {
			t.Skip("mosquitto is not installed (apt-get install mosquitto)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	body := "listener " + port + " 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{bin: bin, conf: conf, addr: addr}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

// URL is the broker's URL.
func (m *Mosquitto) URL() string { return "tcp://" + m.addr }

// Start starts the process and waits until it listens.
func (m *Mosquitto) Start() error {
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	stderr, _ := m.cmd.StderrPipe()
	if err := m.cmd.Start(); err != nil {
		return err
	}
	go func() { // drain its log
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_ = strings.TrimSpace(sc.Text())
		}
	}()
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", m.addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Stop()
	return fmt.Errorf("brokertest: mosquitto did not listen on %s", m.addr)
}

// Stop kills the process (SIGKILL) and waits for it.
func (m *Mosquitto) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}
