package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// FuzzApplyBatch feeds arbitrary JSON as a batch to a store holding a small
// site: Apply never panics, and a refused batch changes nothing. Every
// decision afterwards is well formed.
func FuzzApplyBatch(f *testing.F) {
	seeds := []string{
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"put_person","person":{"id":"x","email":"x@example.org"}}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"delete_person","id":"alice"}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"revoke_person","id":"alice"},{"op":"delete_key","id":"building"}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"put_grant","grant":{"id":"g","person_id":"alice","key_id":"unit1","starts_at":"2026-01-01T00:00:00Z","method":"doorcode"}}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"put_keycard","keycard":{"card_id":"aa000001","owner_id":"alice","active":false}}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"delete_door","id":"main"}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"put_site","site":{"id":"s1","timezone":"UTC","doorcode_length":5,"doorcode_secret":"MDEyMzQ1Njc4OWFiY2RlZg=="}}]}`,
		`{"site":"s1","version":9,"base_version":1,"ops":[{"op":"put_tour","tour":{"id":"t","integration":"i","code":"123456","starts_at":"2026-01-01T00:00:00Z","ends_at":"2027-01-01T00:00:00Z","keys":["model"]}}]}`,
		`{"site":"s1","version":2,"base_version":1,"ops":[{"op":"put_door","door":{"id":"d"},"key":{"id":"k"}}]}`,
		`{}`, `[]`, `null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b hub.Batch
		if json.Unmarshal(data, &b) != nil {
			return
		}
		fx := newFixture(t, hub.EngineOptions{})
		fx.apply(person("alice", false), grant("g1", "alice", "building", mayShare),
			grant("g2", "alice", "unit1", resident, method(hub.MethodDoorcode)), card("aa000001", "alice", true))
		before, version := dump(t, fx.store), fx.store.Version()
		err := fx.store.Apply(t.Context(), &b)
		if err != nil {
			if got := dump(t, fx.store); got != before || fx.store.Version() != version {
				t.Fatalf("refused batch (%v) changed the set", err)
			}
		} else if fx.store.Version() != b.Version {
			t.Fatalf("applied batch left version %d, want %d", fx.store.Version(), b.Version)
		}
		for _, doorID := range []string{"main", "apt1", "gym"} {
			for _, p := range []hub.Presentation{keycard("aa000001"), doorcode("123456"), doorcode(codeOf("alice", doorID, t0, 0))} {
				for _, trusted := range []bool{true, false} {
					d := fx.engine.Decide(doorID, p, hub.Now{Time: t0.Add(time.Hour), Trusted: trusted})
					if d.Reason == "" || d.Allowed != d.Reason.Allowed() || d.Visibility == "" {
						t.Fatalf("malformed decision %+v", d)
					}
				}
			}
		}
	})
}
