package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

type explainer struct{ got status.ExplainRequest }

func (x *explainer) Explain(r status.ExplainRequest) (status.ExplainResult, error) {
	x.got = r
	d := hub.Decision{Door: r.Door, Kind: hub.CredKeycard, Allowed: true, Reason: "allowed_by_grant", GrantID: "g1",
		PersonID: "p-visible", Subject: "person", Visibility: hub.Visible}
	return status.ExplainResult{Door: r.Door, At: r.At, Decisions: []status.Explanation{
		status.Explained(d, &hub.Grant{ID: "g1", PersonID: "p-visible", KeyID: "lobby-key", Method: "app"})}}, nil
}

// serveAll runs an endpoint with every read API on a unix socket only.
func serveAll(t *testing.T) (cfgPath string, rec *status.Recent, x *explainer) {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(diagToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "d.sock")
	rec, x = status.NewRecent(100), &explainer{}
	s, err := status.Open(status.Options{Socket: sock, TokenFile: token, Recent: rec, Explainer: x, Metrics: status.NewMetrics(),
		Report: func() status.Report {
			return status.Report{HubID: "hub-7", Version: "v9", Uptime: "1h0m0s",
				Clock:    hub.ClockStatus{Now: time.Now(), Reason: "no NTP sync yet"},
				Store:    status.StoreReport{Version: 42, Counts: hub.Counts{Doors: 3}},
				Cloud:    status.CloudReport{Configured: true, State: "disconnected", Broker: "tls://broker:8883"},
				Outbox:   &status.OutboxReport{OutboxStatus: hub.OutboxStatus{Pending: 5}, Oldest: time.Now(), OldestAgeSeconds: 90},
				Radio:    status.RadioReport{Port: "/dev/doorhub-radio", State: "answering"},
				Recovery: map[string]uint64{"radio_reopens": 2}}
		},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	cfg := fmt.Sprintf("hub_id: h\nstate_dir: %s\nstatus:\n  listen: \"\"\n  socket: %q\n  token_file: %s\n", dir, sock, token)
	cfgPath = filepath.Join(dir, "doorhub.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, rec, x
}

func TestStatus(t *testing.T) {
	cfg, _, _ := serveAll(t)
	out, err := run(t, "--config", cfg, "status")
	for _, want := range []string{"hub-7", "NOT TRUSTED: no NTP sync yet", "version 42: 3 doors", "disconnected (tls://broker:8883)",
		"5 events waiting, oldest 1m30s", "answering on /dev/doorhub-radio", "radio_reopens 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q: %s (%v)", want, out, err)
		}
	}
	out, err = run(t, "--config", cfg, "status", "--json")
	var r status.Report
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || r.HubID != "hub-7" {
		t.Errorf("%q %v", out, err)
	}
}

func TestEvents(t *testing.T) {
	cfg, rec, _ := serveAll(t)
	now := hub.Now{Time: time.Now(), Trusted: true}
	rec.Add(hub.AccessActivity(hub.Decision{Door: "apt-1", At: now.Time, Kind: hub.CredKeycard, Allowed: true,
		Reason: "allowed_by_grant", PersonID: "resident-1", Resident: true, Visibility: hub.IdentityRemoved}))
	rec.Add(hub.AccessActivity(hub.Decision{Door: "lobby", At: now.Time, Kind: hub.CredDoorcode, Reason: "wrong_code",
		PersonID: "visitor-1", Visibility: hub.Visible}))
	out, err := run(t, "--config", cfg, "events")
	if err != nil || !strings.Contains(out, "apt-1") || !strings.Contains(out, "(private)") || !strings.Contains(out, "visitor-1") ||
		strings.Contains(out, "resident-1") {
		t.Errorf("%q %v", out, err)
	}
	out, err = run(t, "--config", cfg, "events", "--json", "--limit", "1")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"reason":"wrong_code"`) {
		t.Errorf("%q %v", out, err)
	}

	// --follow prints what happens next, until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	var buf syncBuffer
	root := newRoot(&buf, &buf, nil)
	root.SetArgs([]string{"--config", cfg, "events", "--follow", "--json", "--limit", "0"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	time.Sleep(100 * time.Millisecond)
	rec.Add(hub.DoorActivity("gym", hub.ActivityJam, now, -1))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), `"door":"gym"`) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow: %v", err)
	}
	if out := buf.String(); !strings.Contains(out, `"kind":"jam"`) || strings.Contains(out, "lobby") {
		t.Errorf("follow printed %q", out)
	}
}

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

func TestExplain(t *testing.T) {
	cfg, _, x := serveAll(t)
	out, err := run(t, "--config", cfg, "explain", "--door", "lobby", "--card", "A1:B2:C3", "--at", "2026-05-01T18:00:00+02:00")
	if err != nil || !strings.Contains(out, "keycard: ALLOWED (allowed_by_grant)") || !strings.Contains(out, "grant g1: key lobby-key") {
		t.Errorf("%q %v", out, err)
	}
	if x.got.Card != "a1b2c3" || !x.got.At.Equal(time.Date(2026, 5, 1, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("daemon got %+v", x.got)
	}
	out, err = run(t, "--config", cfg, "explain", "--door", "lobby", "--email", "a@example.org", "--json")
	if err != nil || !strings.Contains(out, `"grant_id":"g1"`) || x.got.Email != "a@example.org" {
		t.Errorf("%q %v", out, err)
	}
	for _, args := range [][]string{{"--door", "lobby"}, {"--door", "lobby", "--card", "a1", "--code", "1234"},
		{"--card", "a1"}, {"--door", "lobby", "--code", "1234", "--at", "yesterday"}} {
		if _, err := run(t, append([]string{"--config", cfg, "explain"}, args...)...); err == nil {
			t.Errorf("explain %v: no error", args)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	cfg, _, _ := serveAll(t)
	out, err := run(t, "--config", cfg, "config", "check")
	if err != nil || !strings.Contains(out, ": ok") {
		t.Errorf("%q %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("hub_id: h\nstate_dir: /tmp/x\nradio:\n  baud: -1\nnonsense: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "--config", bad, "config", "check", "--json")
	var res struct {
		OK       bool
		Problems []string
	}
	if err == nil || json.Unmarshal([]byte(out), &res) != nil || res.OK || len(res.Problems) == 0 {
		t.Errorf("%q %v", out, err)
	}
}

func TestCompletion(t *testing.T) {
	out, err := run(t, "completion", "bash")
	if err != nil || !strings.Contains(out, "__start_doorhub") {
		t.Errorf("%.200q %v", out, err)
	}
}

func TestDoorCompletion(t *testing.T) {
	cfg, _ := serve(t, true)
	out, err := run(t, "--config", cfg, "__complete", "explain", "--door", "lo")
	if err != nil || !strings.Contains(out, "lobby") {
		t.Errorf("%q %v", out, err)
	}
}
