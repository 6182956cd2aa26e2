package hub_test

import (
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestExplainChangesNothing: explaining wrong codes locks no keypad and
// explaining a fifteen-minute code does not start its fifteen minutes.
func TestExplainChangesNothing(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{Lockout: hub.LockoutOptions{Attempts: 2}})
	f.apply(person("alice", false), grant("g", "alice", "building", mayShare),
		fifteen("gc", "alice", "building", "515151", t0.Add(-time.Hour), t0.Add(time.Hour)))
	now := hub.Now{Time: t0, Trusted: true}
	for i := 0; i < 5; i++ {
		if d := f.engine.Explain("main", doorcode("000000"), now); d.Reason != hub.UnknownCredential || d.Alarm != "" {
			t.Fatalf("explain wrong code: %+v", d)
		}
	}
	d := f.engine.Explain("main", doorcode("515151"), now)
	if d.Reason != hub.AllowedAsGuest || !d.FirstUse {
		t.Fatalf("explain guest code: %+v", d)
	}
	f.store.View(func(c *hub.Catalog) {
		if _, used := c.FirstUse("gc"); used {
			t.Fatal("explain recorded a first use")
		}
	})
	// Decide still sees an unlocked keypad and an unused code.
	if d := f.decide("main", doorcode("515151"), t0.Add(59*time.Minute)); d.Reason != hub.AllowedAsGuest || !d.FirstUse {
		t.Fatalf("decide after explains: %+v", d)
	}
}

func TestExplainPerson(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	p := newPhone(3)
	f.apply(person("alice", false), person("bob", false), person("carol", false),
		grant("g1", "alice", "building", method(hub.MethodDoorcode), expires(t0.Add(time.Hour))),
		card("aa000001", "alice", true), card("aa000002", "alice", false), p.device("alice-phone", "alice"),
		grant("g2", "bob", "unit1", starts(t0.Add(24*time.Hour))))
	now := hub.Now{Time: t0, Trusted: true}
	got := map[hub.CredentialKind][]hub.Reason{}
	for _, d := range f.engine.ExplainPerson("main", "alice", now) {
		got[d.Kind] = append(got[d.Kind], d.Reason)
	}
	want := map[hub.CredentialKind][]hub.Reason{
		hub.CredKeycard:  {hub.AllowedByGrant, hub.CredentialInactive},
		hub.CredMobile:   {hub.MethodNotAllowed},
		hub.CredDoorcode: {hub.AllowedByGrant},
	}
	for kind, reasons := range want {
		if len(got[kind]) != len(reasons) {
			t.Fatalf("%s: got %v, want %v", kind, got[kind], reasons)
		}
		for _, r := range reasons {
			found := false
			for _, g := range got[kind] {
				found = found || g == r
			}
			if !found {
				t.Errorf("%s: got %v, want %v", kind, got[kind], reasons)
			}
		}
	}
	// Bob holds no credential: his grants alone speak.
	ds := f.engine.ExplainPerson("apt1", "bob", now)
	if len(ds) != 1 || ds[0].Kind != hub.CredPerson || ds[0].Reason != hub.NotStarted || ds[0].Visibility != hub.Visible {
		t.Fatalf("bob: %+v", ds)
	}
	if ds := f.engine.ExplainPerson("apt1", "carol", now); len(ds) != 1 || ds[0].Reason != hub.NoKeyForDoor {
		t.Fatalf("carol: %+v", ds)
	}
	if ds := f.engine.ExplainPerson("main", "nobody", now); ds != nil {
		t.Fatalf("unknown person: %+v", ds)
	}
	if ds := f.engine.ExplainPerson("roof", "alice", now); len(ds) == 0 || ds[0].Reason != hub.UnknownDoor {
		t.Fatalf("unknown door: %+v", ds)
	}
}
