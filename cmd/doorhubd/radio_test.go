package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/sim"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// daemonRig is the real Main on a temp dir and doorhub-sim's locks behind
// a real pseudo-terminal, which the daemon opens through go.bug.st/serial.
type daemonRig struct {
	m     *Main
	sim   *sim.Sim
	plug  *sim.Plug
	logs  *syncBuffer
	token string
	phone ed25519.PrivateKey
}

func newDaemonRig(t *testing.T, locks int) *daemonRig {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	pub, priv, _ := ed25519.GenerateKey(nil)

	// The store holds the site before the daemon starts, as after a sync.
	store, err := badgerstore.Open(filepath.Join(state, "db"), badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(context.Background(), radiotest.Batch(time.Now(), pub)); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	s, plug := startSim(t, dir, locks)

	token := "e2e-token"
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("hub_id: hub-e2e\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: 127.0.0.1:0\n  socket: %s\n  token_file: %s\nlog:\n  level: debug\n",
		state, plug.Path(), filepath.Join(dir, "doorhub.sock"), filepath.Join(dir, "token"))
	path := filepath.Join(dir, "doorhub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m := NewMain(logs, logs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &daemonRig{m: m, sim: s, plug: plug, logs: logs, token: token, phone: priv}
	t.Cleanup(func() {
		if err := r.m.Close(); err != nil {
			t.Error(err)
		}
	})
	waitUntil(t, "radio ready", 3*time.Second, func() bool { return m.radioReady() == nil })
	return r
}

func (r *daemonRig) api(t *testing.T, method, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, "http://"+r.m.Status.Addr()+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// pair pairs lock i with door through the endpoint, as `doorhub pair` does.
func (r *daemonRig) pair(t *testing.T, i int, door string) *sim.Lock {
	t.Helper()
	l := r.sim.Labels()[i]
	var res status.PairResult
	if code := r.api(t, "POST", "/api/v1/pair", status.PairRequest{Lock: l.ID, Key: l.Key, Door: door}, &res); code != 200 || !res.New {
		t.Fatalf("pair: %d %+v", code, res)
	}
	return r.sim.Locks()[i]
}

func presentAt(t *testing.T, lk *sim.Lock, c sim.Credential) sim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := lk.Present(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEndToEndOverAPseudoTerminal(t *testing.T) {
	r := newDaemonRig(t, 3)
	lobby, apt := r.pair(t, 0, radiotest.Lobby), r.pair(t, 1, radiotest.Apartment)
	card := sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}

	for _, c := range []struct {
		lk     *sim.Lock
		cred   sim.Credential
		reason string
	}{
		{lobby, card, "allowed_by_grant"},
		{apt, card, "no_key_for_door"},
		{lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.InactiveCard)}, "credential_inactive"},
		{lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.UnknownCard)}, "unknown_credential"},
	} {
		if res := presentAt(t, c.lk, c.cred); res.Reason != c.reason || res.Offline {
			t.Errorf("at %s: %+v, want %s", c.lk.Door(), res, c.reason)
		}
	}
	// A phone answers the lock's challenge with the door the hub assigned.
	door, nonce, err := lobby.Challenge(context.Background())
	if err != nil || door != radiotest.Lobby {
		t.Fatalf("challenge: %q %v", door, err)
	}
	pub := r.phone.Public().(ed25519.PublicKey)
	res := presentAt(t, lobby, sim.Credential{PublicKey: pub, Nonce: nonce, Signature: ed25519.Sign(r.phone, hub.MobileMessage(door, nonce))})
	if !res.Allowed {
		t.Errorf("phone: %+v", res)
	}

	// The doors endpoint shows the locks, with their heartbeats' state.
	waitUntil(t, "lobby lock status", 3*time.Second, func() bool {
		var out struct{ Doors []status.Door }
		r.api(t, "GET", "/api/v1/doors", nil, &out)
		for _, d := range out.Doors {
			if d.Door == radiotest.Lobby && d.Lock == lobby.ID().Hex() && d.BatteryPercent > 0 && !d.LastSeen.IsZero() {
				return true
			}
		}
		return false
	})

	// Unplugged and plugged in again: the hub reconnects by itself within
	// 2 s and says so.
	r.plug.Unplug()
	waitUntil(t, "disconnect noticed", 2*time.Second, func() bool { return r.m.radioReady() != nil })
	time.Sleep(500 * time.Millisecond)
	if err := r.plug.Replug(); err != nil {
		t.Fatal(err)
	}
	took := waitUntil(t, "reconnected", 2*time.Second, func() bool { return r.m.Radio.Port.Status().Connected })
	t.Logf("reconnected %v after the replug", took)
	for _, line := range []string{"radio disconnected; reconnecting", "radio reconnected"} {
		if !strings.Contains(r.logs.String(), line) {
			t.Errorf("log lacks %q", line)
		}
	}
	if res := presentAt(t, lobby, card); !res.Allowed || res.Offline {
		t.Errorf("after the replug: %+v", res)
	}

	// Replayed and forged frames are dropped and counted.
	ctx := context.Background()
	if err := lobby.Inject(ctx, "replay"); err != nil {
		t.Fatal(err)
	}
	if err := lobby.Inject(ctx, "forge"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "drops counted", 2*time.Second, func() bool {
		st := r.m.Radio.Locks.Stats()
		return st.Replayed >= 1 && st.Forged >= 1
	})
	if st := r.m.Radio.Locks.Stats(); st.Decisions != 6 {
		t.Errorf("a replayed request was decided again: %+v", st)
	}
	if !strings.Contains(r.logs.String(), "forged message dropped") {
		t.Error("no log line for the forgery")
	}
	// The third lock was never paired: its hellos are dropped and counted.
	if r.m.Radio.Locks.Stats().Unpaired == 0 {
		t.Error("the unpaired lock's messages were not counted")
	}
}

func TestPairingSurvivesARestart(t *testing.T) {
	r := newDaemonRig(t, 1)
	lk := r.pair(t, 0, radiotest.Lobby)
	card := sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}
	if res := presentAt(t, lk, card); !res.Allowed {
		t.Fatalf("%+v", res)
	}
	path := r.m.ConfigPath
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	m := NewMain(r.logs, r.logs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.m = m
	waitUntil(t, "radio ready", 3*time.Second, func() bool { return m.radioReady() == nil })
	if res := presentAt(t, lk, card); !res.Allowed || res.Offline {
		t.Errorf("after a restart: %+v", res)
	}
}

// startSim starts simulated locks behind a pseudo-terminal linked at
// dir/radio, quick to say hello and to time out; it skips the test where
// no pseudo-terminal can be had.
func startSim(t *testing.T, dir string, locks int) (*sim.Sim, *sim.Plug) {
	t.Helper()
	s, err := sim.New(sim.Config{Locks: locks, Heartbeat: time.Second, HelloRetry: 100 * time.Millisecond,
		DecisionTimeout: 3 * time.Second, Logger: slog.New(slog.DiscardHandler),
		Link: link.Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	plug, err := sim.NewPlug(s, filepath.Join(dir, "radio"))
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(plug.Close)
	s.Start()
	return s, plug
}
