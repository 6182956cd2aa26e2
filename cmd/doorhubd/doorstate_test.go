package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/session"
)

// TestDoorsReport: each door of the site with its lock — reachable while
// heard from within the offline threshold, battery band, open and locked
// from the door sensor — and what the lock holds of its list; a lock
// paired to a door the site lacks is left out; nothing names a person or
// a credential.
func TestDoorsReport(t *testing.T) {
	now := time.Now()
	pub, _, _ := ed25519.GenerateKey(nil)
	store := hub.NewMemStore()
	if err := store.Apply(context.Background(), radiotest.Batch(now, pub)); err != nil {
		t.Fatal(err)
	}
	lists := hub.NewDoorLists(store, func() time.Time { return now })
	// The lobby's lock acknowledged its list; the apartment's holds one
	// the hub never issued.
	_, data, ok := lists.DoorList(radiotest.Lobby)
	if !ok {
		t.Fatal("no lobby list")
	}
	var dg [hub.MinAckDigest]byte
	full := sha256.Sum256(data)
	copy(dg[:], full[:])
	lists.ListHeld(radiotest.Lobby, dg, now)
	lists.ListHeld(radiotest.Apartment, [hub.MinAckDigest]byte{1, 2, 3}, now)

	locks := []session.LockStatus{
		{Lock: "0000000a", Door: radiotest.Lobby, LastSeen: now.Add(-time.Minute), BatteryPercent: 18, DoorState: "closed_locked"},
		{Lock: "0000000b", Door: radiotest.Apartment, LastSeen: now.Add(-time.Hour), BatteryPercent: 5, DoorState: "open"},
		{Lock: "0000000c", Door: "boiler-room", LastSeen: now, BatteryPercent: 90, DoorState: "unknown"},
	}
	rep := doorsReport(now, now, 25*time.Minute, store, lists, locks)
	if err := checkBody(rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]cloudlink.DoorState{}
	for _, d := range rep.Doors {
		got[d.Door] = d
	}
	if len(got) != 2 {
		t.Fatalf("doors %+v, want the site's two", rep.Doors)
	}
	lobby, apt := got[radiotest.Lobby], got[radiotest.Apartment]
	if lobby.Lock != "0000000a" || !lobby.Reachable || lobby.BatteryBand != cloudlink.BatteryLow || *lobby.BatteryPercent != 18 ||
		*lobby.Open || !*lobby.Locked || lobby.List != cloudlink.ListCurrent {
		t.Errorf("lobby %+v", lobby)
	}
	if apt.Lock != "0000000b" || apt.Reachable || apt.LastSeen == nil || apt.BatteryBand != cloudlink.BatteryCritical ||
		!*apt.Open || *apt.Locked || apt.List != cloudlink.ListDrift {
		t.Errorf("apartment %+v", apt)
	}
	b, _ := json.Marshal(rep)
	for _, secret := range []string{radiotest.Card, "p-", "person", "card"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the report holds %q: %s", secret, b)
		}
	}

	// A door whose lock never spoke since the hub started, and one with
	// no lock: unreachable, no last_seen; and no report without a radio.
	rep = doorsReport(now, now, 25*time.Minute, store, lists, []session.LockStatus{{Lock: "0000000a", Door: radiotest.Lobby, BatteryPercent: -1}})
	for _, d := range rep.Doors {
		if d.Reachable || d.LastSeen != nil || d.BatteryPercent != nil || d.BatteryBand != "" || d.Open != nil {
			t.Errorf("%+v", d)
		}
	}
	if r := (doorReports{&Main{}}).Doors(); r != nil {
		t.Errorf("a report before the radio is up: %+v", r)
	}
}

// checkBody validates a body as the cloud does, through an uplink.
func checkBody(b cloudlink.Body) error {
	out, err := (&cloudlink.Uplink{Hub: "hub-1", Stream: "Zk3pW8qLrT2vNa6cXe1bHg", Seq: 1, SentAt: time.Now(), Body: b}).Encode()
	if err != nil {
		return err
	}
	_, err = cloudlink.DecodeUplink(out.Topic, out.Payload)
	return err
}

// TestDoorStatePublisher: a significant change goes up at the next check
// (or at once after Kick), at most one report per gap; a change of
// last_seen or battery percent alone waits for the refresh; nothing goes
// up while there is nothing to report.
func TestDoorStatePublisher(t *testing.T) {
	var mu sync.Mutex
	var cur *cloudlink.DoorsReport
	var sent []*cloudlink.DoorsReport
	set := func(r *cloudlink.DoorsReport) { mu.Lock(); cur = r; mu.Unlock() }
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	report := func() *cloudlink.DoorsReport { mu.Lock(); defer mu.Unlock(); return cur }
	publish := func(r *cloudlink.DoorsReport) { mu.Lock(); sent = append(sent, r); mu.Unlock() }
	seen := time.Now()
	state := func(reachable bool, pct int, seen time.Time) *cloudlink.DoorsReport {
		return &cloudlink.DoorsReport{At: time.Now(), Doors: []cloudlink.DoorState{{Door: "front", Lock: "0000000a",
			Reachable: reachable, LastSeen: &seen, BatteryPercent: &pct, BatteryBand: cloudlink.BatteryBandOf(pct),
			List: cloudlink.ListCurrent}}}
	}
	p := startDoorStatePublisher(report, publish, doorStateTiming{check: 20 * time.Millisecond, gap: 50 * time.Millisecond, refresh: 400 * time.Millisecond})
	defer p.Close()

	time.Sleep(100 * time.Millisecond)
	if n := count(); n != 0 {
		t.Fatalf("%d reports with nothing to report", n)
	}
	set(state(true, 80, seen))
	waitUntil(t, "the first report", time.Second, func() bool { return count() == 1 })
	// A heartbeat: last_seen and percent move, the band does not.
	set(state(true, 79, seen.Add(time.Minute)))
	time.Sleep(150 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("a heartbeat alone sent a report before the refresh (%d)", n)
	}
	// The lock goes silent: offline goes up at once.
	set(state(false, 79, seen.Add(time.Minute)))
	waitUntil(t, "offline reported", time.Second, func() bool { return count() == 2 })
	// Three significant changes within one gap: at most two reports
	// inside it, the last state always in one.
	set(state(true, 20, seen.Add(2*time.Minute)))
	p.Kick()
	set(state(true, 5, seen.Add(2*time.Minute)))
	p.Kick()
	set(state(false, 5, seen.Add(2*time.Minute)))
	p.Kick()
	waitUntil(t, "the last state", time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) > 2 && !sent[len(sent)-1].Doors[0].Reachable && *sent[len(sent)-1].Doors[0].BatteryPercent == 5
	})
	// Only volatile changes: one refresh report after refresh, not more.
	n := count()
	set(state(false, 4, seen.Add(3*time.Minute)))
	waitUntil(t, "the refresh", 2*time.Second, func() bool { return count() == n+1 })
	time.Sleep(200 * time.Millisecond)
	if count() != n+1 {
		t.Fatalf("the same state sent again: %d reports", count())
	}
}
