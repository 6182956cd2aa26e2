package radio_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/serialport"
	"github.com/doorhub/doorhub/radio/sim"
)

// TestHungCoprocessorIsReset: the simulated coprocessor's firmware hangs
// (its link still acknowledges, nothing answers); the hub reopens the
// port, then resets it, over a real pseudo-terminal.
func TestHungCoprocessorIsReset(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	s, err := sim.New(sim.Config{Locks: 1, Heartbeat: time.Hour, Logger: quiet, Link: link.Config{Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	plug, err := sim.NewPlug(s, filepath.Join(t.TempDir(), "radio"))
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer plug.Close()
	r, err := serialport.Open(serialport.Config{Path: plug.Path(), Logger: quiet,
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	wait := func(what string, cond func(serialport.Status) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(r.Status()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v", what, r.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("answering", func(st serialport.Status) bool { return st.Answering })
	s.Hang(true)
	wait("reset", func(st serialport.Status) bool { return st.Resets == 1 && st.Answering })
	if st := r.Status(); st.Reopens != 1 || st.Disconnects != 0 {
		t.Errorf("the ladder: %+v", st)
	}
}
