package main

import (
	"context"
	"sort"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// doorReports supplies the cloud link's retained reports: pending from
// the door lists (docs/door-lists.md), door states (doorstate.go) from
// the door lists and the locks.
type doorReports struct{ m *Main }

var _ cloudlink.Reports = doorReports{}

func (r doorReports) Pending() *cloudlink.PendingReport {
	// The set version is read before the lists are computed: a door
	// reported current reflects at least this version.
	version := r.m.Store.Version()
	doors, cards := r.m.DoorLists.PendingReport()
	rep := pendingReport(version, r.m.Clock.Now().Time, doors)
	r.m.Store.View(func(c *hub.Catalog) { rep.Keycards, rep.KeycardsTotal = pendingKeycards(c, cards) })
	return rep
}

// pendingKeycards names the keycards whose change is pending at some door
// by their CardRef (never the card id), with owner and state, at most
// cloudlink.MaxPendingKeycards of them (total: how many there are). A
// card no longer in the set has no owner to name: it counts at its doors
// only.
func pendingKeycards(c *hub.Catalog, cards map[string][]string) ([]cloudlink.KeycardPending, int) {
	site := c.Site()
	if site == nil || len(cards) == 0 {
		return nil, 0
	}
	ids := make([]string, 0, len(cards))
	for id := range cards {
		if k := c.Keycard(id); k != nil && k.OwnerID != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]cloudlink.KeycardPending, 0, min(len(ids), cloudlink.MaxPendingKeycards))
	size := 0
	for _, id := range ids[:min(len(ids), cloudlink.MaxPendingKeycards)] {
		k := c.Keycard(id)
		kp := cloudlink.KeycardPending{CardRef: cloudlink.CardRef(site.DoorcodeSecret, id), OwnerID: k.OwnerID,
			Active: k.Active, Doors: cards[id]}
		// Its JSON, about: the report must stay well inside one message.
		n := 64 + len(kp.CardRef) + len(kp.OwnerID)
		for _, d := range kp.Doors {
			n += len(d) + 3
		}
		if size += n; size > pendingKeycardBytes {
			break
		}
		out = append(out, kp)
	}
	return out, len(ids)
}

// pendingKeycardBytes bounds the keycards section of a pending report, so
// that with 200 doors it stays well inside cloudlink.MaxPayload; the rest
// are counted in KeycardsTotal.
const pendingKeycardBytes = 64 << 10

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

// pendingPublisher republishes the pending report when the credential set
// changed (a batch or a snapshot applied: the store's version moved) or a
// lock's report changed its door's state (Kick), so the cloud's pending
// view follows a change at once, before any lock wakes. It publishes at
// the first change and then at most once per interval: a burst of
// batches or of lock acknowledgements costs one report, and the last
// change is always in a report.
type pendingPublisher struct {
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// pendingInterval is the shortest time between two pending reports.
const pendingInterval = 250 * time.Millisecond

// startPendingPublisher watches version every interval and calls publish
// after it moved or after Kick.
func startPendingPublisher(version func() uint64, publish func(), interval time.Duration) *pendingPublisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pendingPublisher{kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	last := version() // the report at connect covers it
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.kick:
			case <-t.C:
				if version() == last {
					continue
				}
			}
			last = version()
			publish()
			select { // at most one report per interval
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return p
}

// Kick asks for a report; it never blocks.
func (p *pendingPublisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Close stops the publisher and waits for it.
func (p *pendingPublisher) Close() {
	p.cancel()
	<-p.done
}
