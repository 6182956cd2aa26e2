package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/radio/radiotest"
)

// TestDoorStateReachesTheCloud runs the real daemon with its cloud link
// and simulated locks: the cloud gets the door-state report with the
// lobby's lock online, its battery band and its list current, and the
// apartment without a lock; a remote unlock reaches the lock. Run under
// -race it also checks that the cloud link, which starts before the
// radio, reads the radio only once it is up.
func TestDoorStateReachesTheCloud(t *testing.T) {
	saved := doorStateTimes
	doorStateTimes = doorStateTiming{check: 100 * time.Millisecond, gap: 50 * time.Millisecond, refresh: time.Hour}
	t.Cleanup(func() { doorStateTimes = saved })

	rig := startCloudRig(t, "cloud-doors")
	cloud := rig.cloud
	ch := cloud.Hub("hub-doors")
	phone, _, _ := ed25519.GenerateKey(nil)
	site := radiotest.Batch(time.Now(), phone)
	// The cloud holds the set the hub starts with, and answers its time
	// requests (a remote unlock needs a trusted clock).
	if _, err := ch.Commit(site.Site, site.Ops...); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	store, err := badgerstore.Open(filepath.Join(state, "db"), badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(context.Background(), site); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	s, plug := startSim(t, dir, 2)
	token := "doors-token"
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("hub_id: hub-doors\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: 127.0.0.1:0\n  socket: %s\n  token_file: %s\n"+
		"cloud:\n  broker: %s\n  public_key: %s\n",
		state, plug.Path(), filepath.Join(dir, "doorhub.sock"), filepath.Join(dir, "token"), rig.broker.URL(), base64.StdEncoding.EncodeToString(rig.pub))
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
	r := &daemonRig{m: m, sim: s, plug: plug, logs: logs, token: token}
	t.Cleanup(func() {
		if err := r.m.Close(); err != nil {
			t.Error(err)
		}
	})
	waitUntil(t, "radio ready", 3*time.Second, func() bool { return m.radioReady() == nil })

	door := func(v *cloudlink.HubView, id string) *cloudlink.DoorState {
		if v.Doors == nil {
			return nil
		}
		for i := range v.Doors.Doors {
			if v.Doors.Doors[i].Door == id {
				return &v.Doors.Doors[i]
			}
		}
		return nil
	}
	// Before any lock is paired: both doors, neither reachable.
	if v, ok := ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool {
		return door(v, radiotest.Lobby) != nil && door(v, radiotest.Apartment) != nil
	}); !ok {
		t.Fatalf("no door-state report: %+v", v.Doors)
	} else if d := door(&v, radiotest.Lobby); d.Reachable || d.Lock != "" {
		t.Fatalf("lobby before pairing: %+v", d)
	}

	lk := r.pair(t, 0, radiotest.Lobby)
	v, ok := ch.Wait(15*time.Second, func(v *cloudlink.HubView) bool {
		d := door(v, radiotest.Lobby)
		return d != nil && d.Reachable && d.List == cloudlink.ListCurrent && d.BatteryBand != ""
	})
	if !ok {
		t.Fatalf("the lobby's lock never reported online with its list current: %+v", v.Doors)
	}
	if d := door(&v, radiotest.Lobby); d.Lock != lk.ID().Hex() || d.LastSeen == nil || d.BatteryPercent == nil {
		t.Errorf("lobby %+v", d)
	}
	if d := door(&v, radiotest.Apartment); d == nil || d.Reachable || d.Lock != "" {
		t.Errorf("apartment %+v", d)
	}

	// A remote unlock goes through the radio the cloud link sees.
	id, err := ch.Unlock(radiotest.Lobby, "p-manager", 3)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := ch.Wait(15*time.Second, func(v *cloudlink.HubView) bool {
		for _, rp := range v.Replies {
			if rp.Command == id {
				return true
			}
		}
		return false
	}); !ok {
		t.Fatalf("no reply to the unlock: %+v", v.Replies)
	} else {
		for _, rp := range v.Replies {
			if rp.Command == id && rp.Status != cloudlink.ReplyDone {
				t.Errorf("unlock: %+v", rp)
			}
		}
	}
}
