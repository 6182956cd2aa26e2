package main

import (
	"context"
	"time"
)

// doorWatchEvery is how often the door lists are recomputed against the
// site model, so that a change counts as pending at a door from (about)
// when it arrived even if no lock, request or scrape asks in between: the
// age of the oldest revocation a door has not applied (revocation
// freshness) is then right for a lock that is asleep or unreachable.
const doorWatchEvery = 5 * time.Second

// watchDoorLists recomputes the door lists every doorWatchEvery until ctx
// ends.
func (m *Main) watchDoorLists(ctx context.Context) {
	if m.DoorLists == nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(doorWatchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = m.DoorLists.Pending()
			}
		}
	}()
}
