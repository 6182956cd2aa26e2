package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) (path, stateDir string) {
	t.Helper()
	dir := t.TempDir()
	stateDir = filepath.Join(dir, "state")
	path = filepath.Join(dir, "doorhub.yaml")
	body = strings.ReplaceAll(body, "STATE", stateDir)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, stateDir
}

func TestMainStartsAndStops(t *testing.T) {
	path, state := writeConfig(t, "hub_id: hub-test\nstate_dir: STATE\nradio:\n  port: /dev/null\nstatus:\n  listen: 127.0.0.1:0\n  socket: \"\"\n")
	var out, errs bytes.Buffer
	m := NewMain(&out, &errs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Done() || m.Store == nil || m.Engine == nil {
		t.Fatal("daemon not up")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "db")); err != nil {
		t.Fatalf("no database: %v", err)
	}
	if !strings.Contains(errs.String(), "msg=ready") {
		t.Fatalf("log: %s", errs.String())
	}
	// The floor was persisted on close: a restart starts from it.
	m2 := NewMain(&out, &errs, nil)
	_ = m2.ParseFlags([]string{"--config", path})
	if err := m2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if f, _ := m2.Store.LoadFloor(); f.IsZero() {
		t.Fatal("floor not persisted")
	}
}

func TestCheckConfig(t *testing.T) {
	good, _ := writeConfig(t, "hub_id: hub-test\nstate_dir: STATE\n")
	var out bytes.Buffer
	m := NewMain(&out, &out, nil)
	_ = m.ParseFlags([]string{"--check-config", "--config", good})
	if err := m.Run(context.Background()); err != nil || !m.Done() || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("good config: %v %q", err, out.String())
	}
	bad, _ := writeConfig(t, "hub_id: \"\"\nstate_dir: rel\nradio:\n  baud: 7\n")
	m = NewMain(&out, &out, nil)
	_ = m.ParseFlags([]string{"--check-config", "--config", bad})
	err := m.Run(context.Background())
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, f := range []string{"hub_id", "state_dir", "radio.baud"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%v does not name %s", err, f)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	m := NewMain(&out, &out, nil)
	_ = m.ParseFlags([]string{"--version"})
	if err := m.Run(context.Background()); err != nil || !strings.HasPrefix(out.String(), "doorhubd ") {
		t.Fatalf("%v %q", err, out.String())
	}
	if err := NewMain(&out, &out, nil).ParseFlags([]string{"extra"}); err == nil {
		t.Fatal("extra argument accepted")
	}
}
