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
)

func TestDoorsCommand(t *testing.T) {
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
	if out := mustRun(t, env, "doors", "--hub", "hub-1"); !strings.Contains(out, "hub hub-1: no door-state report yet") {
		t.Fatalf("before a report: %q", out)
	}
	if out := mustRun(t, env, "doors", "--json"); !strings.Contains(out, `"received": false`) {
		t.Fatalf("--json: %q", out)
	}
	if _, err := run(t, env, "doors", "--hub", "nope"); err == nil || !strings.Contains(err.Error(), `no hub "nope"`) {
		t.Fatalf("an unknown hub: %v", err)
	}
}

func TestShowDoors(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	seen := at.Add(-90 * time.Second)
	pct := 18
	f, tr := false, true
	var b bytes.Buffer
	showDoors(&b, []controlplane.DoorsView{{Hub: "hub-1", Received: true, At: at, Doors: []controlplane.DoorStateView{
		{Name: "Front", LastSeenAgeSeconds: 90, DoorState: cloudlink.DoorState{Door: "front", Lock: "0000000a", Reachable: true,
			LastSeen: &seen, Open: &f, Locked: &tr, BatteryPercent: &pct, BatteryBand: cloudlink.BatteryLow, List: cloudlink.ListCurrent}},
		{Name: "Gym", DoorState: cloudlink.DoorState{Door: "gym", List: cloudlink.ListDrift,
			Alarms: []cloudlink.EventKind{cloudlink.EventDoorForced}}},
	}}, {Hub: "hub-2"}})
	want := `hub hub-1, reported 2026-11-27T12:00:00Z
DOOR   LOCK      STATE    LAST SEEN                         BATTERY  LIST     DOOR SENSOR     ALARMS
Front  0000000a  online   2026-11-27T11:58:30Z (1m30s ago)  18% low  current  closed, locked  -
Gym    -         offline  -                                 -        drift    -               door_forced
hub hub-2: no door-state report yet
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
