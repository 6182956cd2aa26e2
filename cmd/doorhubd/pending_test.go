package main

import (
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

func TestPendingReportNeverSaysDoneForABehindDoor(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	since := at.Add(-2 * time.Hour)
	rep := pendingReport(7, at, []hub.DoorPendingReport{
		{DoorPending: hub.DoorPending{Door: "front", Current: true}},
		{DoorPending: hub.DoorPending{Door: "gym", Revocations: 2, OldestRevocation: since}, Overflow: 3},
		{DoorPending: hub.DoorPending{Door: "trash", Drift: true}},
	})
	if rep.Version != 7 || len(rep.Doors) != 3 {
		t.Fatalf("report %+v", rep)
	}
	front, gym, trash := rep.Doors[0], rep.Doors[1], rep.Doors[2]
	if front.SyncedVersion != 7 || front.Pending != 0 {
		t.Errorf("front %+v", front)
	}
	if gym.SyncedVersion != 0 || gym.Pending != 2 || gym.Overflow != 3 || gym.Oldest == nil || !gym.Oldest.Equal(since) {
		t.Errorf("gym %+v", gym)
	}
	if trash.SyncedVersion != 0 || trash.Pending != 1 {
		t.Errorf("a drifted door reported %+v", trash)
	}
}
