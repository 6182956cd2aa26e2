package sim_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/sim"
)

func TestControlSocket(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	s, err := sim.New(sim.Config{Locks: 2, Seed: 42, DecisionTimeout: 100 * time.Millisecond, Logger: quiet,
		Link: link.Config{Logger: quiet}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	plug, err := sim.NewPlug(s, filepath.Join(dir, "radio"))
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer plug.Close()
	sock := filepath.Join(dir, "sim.sock")
	ctl, err := sim.ServeControl(s, plug, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := sim.ServeControl(s, plug, sock); err == nil {
		t.Error("a second simulator on the same socket")
	}
	ctx := context.Background()
	call := func(req sim.Request) sim.Response {
		t.Helper()
		resp, err := sim.Call(ctx, sock, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Verb, err)
		}
		return resp
	}
	labels := call(sim.Request{Verb: "labels"}).Labels
	again, _ := sim.New(sim.Config{Locks: 2, Seed: 42})
	if len(labels) != 2 || labels[0] != again.Labels()[0] {
		t.Fatalf("labels %v: a seed makes them reproducible", labels)
	}
	// Nobody at the other end: the lock decides alone.
	res := call(sim.Request{Verb: "present", Lock: labels[0].ID, Card: "04a1b2c3"}).Result
	if res == nil || !res.Offline || res.Allowed {
		t.Errorf("present without a hub: %+v", res)
	}
	call(sim.Request{Verb: "fault", Faults: &sim.Faults{Drop: 0.5}})
	if f := call(sim.Request{Verb: "fault"}).Faults; f.Drop != 0.5 {
		t.Errorf("faults %+v", f)
	}
	call(sim.Request{Verb: "unplug"})
	if plug.Device() != "" {
		t.Error("still plugged")
	}
	if dev := call(sim.Request{Verb: "replug"}).Device; !strings.HasPrefix(dev, "/dev/pts/") {
		t.Errorf("replug: %q", dev)
	}
	call(sim.Request{Verb: "isolate", Lock: labels[1].ID, On: true})
	if _, err := sim.Call(ctx, sock, sim.Request{Verb: "present", Lock: "0"}); err == nil {
		t.Error("lock 0 accepted")
	}
	if _, err := sim.Call(ctx, sock, sim.Request{Verb: "nonsense"}); err == nil {
		t.Error("unknown verb accepted")
	}
}
