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
			return []status.Door{{Door: "lobby", Known: true, Lock: "0000a1b2", BatteryPercent: 90}}
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
	if err != nil || !strings.Contains(out, "lobby") || !strings.Contains(out, "90%") {
		t.Errorf("%q %v", out, err)
	}
	out, err = run(t, "--config", cfg, "doors", "--json")
	if err != nil || !strings.Contains(out, `"lock":"0000a1b2"`) {
		t.Errorf("%q %v", out, err)
	}
}
