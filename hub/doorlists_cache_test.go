package hub_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestDoorListsCacheEqualsFreshLists: DoorLists keeps each door's list
// until the catalog changes or a window ends; for random sites, random
// changes and clock readings that jump both ways across the sites'
// window edges, every door's desired list it reports is the one
// DoorListOf computes afresh.
func TestDoorListsCacheEqualsFreshLists(t *testing.T) {
	n := 40
	if testing.Short() {
		n = 8
	}
	for seed := range int64(n) {
		s := newRandomSite(t, seed)
		now := t0
		dl := hub.NewDoorLists(s.store, func() time.Time { return now })
		for step := range 60 {
			switch r := s.rng.Intn(10); {
			case r < 2:
				s.mutate(t)
			case r < 8 && len(s.times) > 0:
				// At, just before or just after a window's edge.
				now = s.times[s.rng.Intn(len(s.times))].Add(time.Duration(s.rng.Intn(3)-1) * time.Second)
			default:
				now = now.Add(time.Duration(s.rng.Intn(7200)-3600) * time.Second)
			}
			got := map[string]string{}
			for _, p := range dl.Pending() {
				got[p.Door] = p.DesiredDigest
			}
			s.store.View(func(c *hub.Catalog) {
				for _, door := range s.doors {
					l, err := hub.DoorListOf(c, door, now)
					if err != nil {
						t.Fatal(err)
					}
					if want := hex.EncodeToString(l.Digest[:]); got[door] != want {
						t.Fatalf("seed %d step %d at %s: door %s desired %s, a fresh list %s (%d entries)",
							seed, step, now.Format(time.RFC3339), door, got[door], want, len(l.Entries))
					}
				}
			})
		}
	}
}
