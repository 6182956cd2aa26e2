package main

import (
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// doorReports supplies the cloud link's retained pending report from the
// door lists (docs/door-lists.md). The door-state report is not built yet.
type doorReports struct{ m *Main }

var _ cloudlink.Reports = doorReports{}

func (doorReports) Doors() *cloudlink.DoorsReport { return nil }

func (r doorReports) Pending() *cloudlink.PendingReport {
	// The set version is read before the lists are computed: a door
	// reported current reflects at least this version.
	version := r.m.Store.Version()
	return pendingReport(version, r.m.Clock.Now().Time, r.m.DoorLists.Pending())
}

// pendingReport maps the door lists' state to the cloud's report. A door
// that has not acknowledged its desired list counts at least one pending
// change, even when no credential's entry differs (a cleanup of expired
// windows), and a drifted door is never reported synced: pending never
// says done when the lock disagrees.
func pendingReport(version uint64, at time.Time, doors []hub.DoorPendingReport) *cloudlink.PendingReport {
	rep := &cloudlink.PendingReport{At: at, Version: version, Doors: []cloudlink.DoorPending{}}
	for _, p := range doors {
		d := cloudlink.DoorPending{Door: p.Door, Pending: p.Activations + p.Revocations, Overflow: p.Overflow}
		if p.Current {
			d.SyncedVersion = version
		} else if d.Pending == 0 {
			d.Pending = 1
		}
		if !p.OldestRevocation.IsZero() {
			t := p.OldestRevocation
			d.Oldest = &t
		}
		rep.Doors = append(rep.Doors, d)
	}
	return rep
}
