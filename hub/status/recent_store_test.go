package status_test

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

// values is a Values in memory.
type values struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (v *values) Value(key string) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[key], nil
}

func (v *values) SetValue(key string, value []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(value) > 64<<10 {
		return fmt.Errorf("%s: %d bytes", key, len(value))
	}
	v.m[key] = append([]byte(nil), value...)
	return nil
}

func (v *values) DeleteValue(key string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, key)
	return nil
}

func (v *values) Values(prefix string) (map[string][]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]byte{}
	for k, b := range v.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = b
		}
	}
	return out, nil
}

// TestRecentSurvivesARestart: what Persist wrote, a new Recent over the
// same values serves after a restart — the newest events, IDs going on —
// with the privacy rule applied to what is on disk, and old chunks
// deleted as the ring moves on.
func TestRecentSurvivesARestart(t *testing.T) {
	kv := &values{m: map[string][]byte{}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := status.NewRecent(120)
	if err := r.Restore(kv); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		r.Add(hub.AccessActivity(hub.Decision{Door: "apt-1", At: at.Add(time.Duration(i) * time.Second), Kind: hub.CredKeycard,
			Allowed: true, Reason: "allowed_by_grant", PersonID: "resident-1", GrantID: "g-res", Resident: true,
			Visibility: hub.IdentityRemoved}))
		if i%37 == 0 {
			if err := r.Persist(kv); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Add(hub.AccessActivity(hub.Decision{Door: "lobby", At: at, Kind: hub.CredDoorcode, Reason: "wrong_code",
		PersonID: "visitor-1", Visibility: hub.Visible}))
	if err := r.Persist(kv); err != nil {
		t.Fatal(err)
	}
	if n := len(kv.m); n > 120/50+2 {
		t.Errorf("%d chunks kept for a ring of 120", n)
	}
	for k, b := range kv.m {
		if strings.Contains(string(b), "resident-1") || strings.Contains(string(b), "g-res") {
			t.Errorf("%s holds a resident's identity: %s", k, b)
		}
	}
	snapshot := maps.Clone(kv.m)

	r2 := status.NewRecent(120)
	if err := r2.Restore(&values{m: snapshot}); err != nil {
		t.Fatal(err)
	}
	got, last, _ := r2.After(0, -1)
	if last != 301 || len(got) != 120 || got[0].ID != 182 || got[119].ID != 301 || got[119].Person != "visitor-1" ||
		got[0].Person != "" || got[0].Visibility != string(hub.IdentityRemoved) {
		t.Fatalf("after a restart: last %d, %d events, first %+v, last %+v", last, len(got), got[0], got[len(got)-1])
	}
	r2.Add(hub.DoorActivity("lobby", hub.ActivityLowBattery, hub.Now{Time: at, Trusted: true}, 12))
	if got, last, _ := r2.After(301, -1); last != 302 || len(got) != 1 {
		t.Errorf("the next event: last %d %+v", last, got)
	}
}

// TestRecentRestoreRedacts: an event read back without the privacy rule
// applied (written by anything else) loses its identity.
func TestRecentRestoreRedacts(t *testing.T) {
	kv := &values{m: map[string][]byte{"status/recent/0000000000000000": []byte(
		`[{"id":1,"kind":"access","door":"apt-1","at":"2026-01-02T03:04:05Z","visibility":"identity_removed","person_id":"resident-1","grant_id":"g-1"}]`)}}
	r := status.NewRecent(10)
	if err := r.Restore(kv); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := r.After(0, -1); len(got) != 1 || got[0].Person != "" || got[0].Grant != "" {
		t.Errorf("%+v", got)
	}
}
