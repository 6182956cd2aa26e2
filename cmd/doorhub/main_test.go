package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

type pairer struct{ got status.PairRequest }

func (p *pairer) Pair(_ context.Context, r status.PairRequest) (status.PairResult, error) {
	p.got = r
	return status.PairResult{Lock: r.Lock, Door: r.Door, New: true}, nil
}

// serve runs an endpoint like doorhubd's and writes the daemon config that
// points at it; socket picks the unix socket over TCP.
func serve(t *testing.T, socket bool) (cfgPath string, p *pairer) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := ""
	if socket {
		sock = filepath.Join(dir, "d.sock")
	}
	p = &pairer{}
	s, err := status.Open(status.Options{Listen: "127.0.0.1:0", Socket: sock, TokenFile: token, Pairer: p,
		Doors: func() []status.Door {
			return []status.Door{{Door: "lobby", Known: true, Lock: "0000a1b2", BatteryPercent: 90},
				{Door: "apt-4b", Known: true, Lock: "0000a1b3", BatteryPercent: 80, LastSeen: time.Now(), ListDigest: "0011223344556677",
					PendingChanges: 2, PendingRevocations: 2, OldestRevocation: time.Now().Add(-5 * time.Minute)},
				{Door: "gym", Known: true, Lock: "0000a1b4", BatteryPercent: 80, LastSeen: time.Now(), ListDigest: "8899aabbccddeeff",
					ListCurrent: true, Overflow: 3}}
		},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	cfg := fmt.Sprintf("hub_id: h\nstate_dir: %s\nstatus:\n  listen: %s\n  socket: %q\n  token_file: %s\n", dir, s.Addr(), sock, token)
	cfgPath = filepath.Join(dir, "doorhub.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, p
}

func run(t *testing.T, args ...string) (string, error) {
	var out bytes.Buffer
	root := newRoot(&out, &out, nil)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestPair(t *testing.T) {
	for _, socket := range []bool{true, false} {
		cfg, p := serve(t, socket)
		out, err := run(t, "--config", cfg, "pair", "--lock", "lock-0000A1B2", "--key", "00112233445566778899aabbccddeeff", "--door", "lobby")
		if err != nil || !strings.Contains(out, "lock 0000a1b2 paired with door lobby") {
			t.Errorf("socket=%v: %q %v", socket, out, err)
		}
		if p.got != (status.PairRequest{Lock: "0000a1b2", Key: "00112233445566778899aabbccddeeff", Door: "lobby"}) {
			t.Errorf("daemon got %+v", p.got)
		}
		out, err = run(t, "--config", cfg, "pair", "--label", `{"id":"0000a1b3","key":"00112233445566778899aabbccddeeff"}`, "--door", "gym", "--json")
		if err != nil || !strings.Contains(out, `"lock":"0000a1b3"`) {
			t.Errorf("label: %q %v", out, err)
		}
	}
	cfg, _ := serve(t, false)
	if _, err := run(t, "--config", cfg, "pair", "--lock", "0000a1b2", "--key", "short", "--door", "lobby"); err == nil {
		t.Error("a bad key was sent")
	}
}

func TestDoors(t *testing.T) {
	cfg, _ := serve(t, true)
	out, err := run(t, "--config", cfg, "doors")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"90%", "LIST", "REVOCATIONS", "2 pending 0011223344556677", "2, oldest 5m",
		"current 8899aabbccddeeff, 3 left out", "2 revocation(s) not applied"} {
		if !strings.Contains(out, want) {
			t.Errorf("doors lack %q:\n%s", want, out)
		}
	}
	// What needs attention first: the lobby's lock was never heard from,
	// then the revocation not applied, then the overflow.
	if a, b, c := strings.Index(out, "lobby"), strings.Index(out, "apt-4b"), strings.Index(out, "gym"); !(a < b && b < c) {
		t.Errorf("doors out of order:\n%s", out)
	}
	out, err = run(t, "--config", cfg, "doors", "--json")
	for _, want := range []string{`"lock":"0000a1b2"`, `"pending_revocations":2`, `"list_digest":"0011223344556677"`,
		`"revocation_age_seconds":300`, `"overflow":3`} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("--json lacks %s: %q %v", want, out, err)
		}
	}
}
