package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub"
)

func TestPendingCommand(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	dir := t.TempDir()
	s, err := controlplane.Open(controlplane.Options{StateDir: dir, Broker: b.URL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := map[string]string{controlplane.EnvState: dir}
	mustRun(t, env, "site", "create", "--name", "Elm", "--timezone", "UTC", "--doorcode-length", "6")
	mustRun(t, env, "hub", "add", "--id", "hub-1")
	if out := mustRun(t, env, "pending", "--hub", "hub-1"); !strings.Contains(out, "hub hub-1: no pending report yet") {
		t.Fatalf("before a report: %q", out)
	}
	if _, err := run(t, env, "pending", "--hub", "nope"); err == nil || !strings.Contains(err.Error(), `no hub "nope"`) {
		t.Fatalf("an unknown hub: %v", err)
	}

	// A door's offline mode, at creation and later.
	mustRun(t, env, "door", "add", "--name", "Front", "--type", "entrance", "--offline", "as-is")
	offline := func(id string) hub.OfflineMode {
		var m hub.OfflineMode
		s.Console.Store().View(func(c *hub.Catalog) { m = c.Door(id).Offline })
		return m
	}
	if m := offline("front"); m != hub.OfflineAsIs {
		t.Fatalf("front added %q", m)
	}
	mustRun(t, env, "door", "offline", "--door", "front", "--mode", "secure")
	if m := offline("front"); m != hub.OfflineSecure {
		t.Fatalf("front set %q", m)
	}
	if _, err := run(t, env, "door", "offline", "--door", "front", "--mode", "open"); err == nil || !strings.Contains(err.Error(), "secure or as-is") {
		t.Fatalf("a mode that does not exist: %v", err)
	}
	if _, err := run(t, env, "door", "offline", "--door", "back", "--mode", "as-is"); err == nil || !strings.Contains(err.Error(), `door "back"`) {
		t.Fatalf("a door that does not exist: %v", err)
	}
}

func TestShowPending(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	oldest := at.Add(-90 * time.Minute)
	var b bytes.Buffer
	showPending(&b, []controlplane.PendingView{{Hub: "hub-1", Received: true, At: at, Version: 7, SiteVersion: 8, HubBehind: true,
		Doors: []controlplane.PendingDoorView{
			{Door: "d1", Name: "Front", Synced: true, SyncedVersion: 7},
			{Door: "d2", Name: "Gym", Pending: 2, SyncedVersion: 5, Overflow: 3, Oldest: &oldest, OldestAgeSeconds: 5400},
		},
		Keycards:      []cloudlink.KeycardPending{{CardRef: "5d7f4cb973e2029e", OwnerID: "p-ben", Active: false, Doors: []string{"d2"}}},
		KeycardsTotal: 3}})
	want := `hub hub-1 at version 7, reported 2026-11-27T12:00:00Z — the hub has not applied the site's version 8 yet
DOOR   STATE    PENDING  SYNCED VERSION  OVERFLOW  OLDEST UNAPPLIED
Front  synced   0        7               0         -
Gym    pending  2        5               3         2026-11-27T10:30:00Z (1h30m0s ago)
3 keycard changes pending
  keycard 5d7f4cb973e2029e of p-ben: deactivation pending at d2
  and 2 more not listed in the hub's report
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
