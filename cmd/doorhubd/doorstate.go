package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/session"
)

// The door-state report's timing (docs/cloud-protocol.md § 7.5).
const (
	// lockOfflineAfter: a lock not heard from for this long makes its
	// door unreachable (offline): two and a half of its 10-minute
	// heartbeats, so one lost heartbeat is not an outage.
	lockOfflineAfter = 25 * time.Minute
	// doorStateCheck is how often the report is recomputed to see
	// whether a door's significant state changed (a lock going silent
	// has no event of its own).
	doorStateCheck = 10 * time.Second
	// doorStateGap is the shortest time between two reports.
	doorStateGap = 5 * time.Second
	// doorStateRefresh: a report whose only changes are last_seen or
	// battery_percent goes up at most this often.
	doorStateRefresh = 15 * time.Minute
)

// Doors is the door-state report: every door of the site with its lock's
// last status and what the lock holds of its list. It is nil — nothing to
// report yet — until the radio is open: the cloud link asks for it from
// its own goroutines, from before openRadio runs, so the radio is read
// only through m.radioUp, which openRadio sets once the sessions are up
// and closeRadio clears before stopping them.
func (r doorReports) Doors() *cloudlink.DoorsReport {
	rd := r.m.radioUp.Load()
	if rd == nil {
		return nil
	}
	return doorsReport(r.m.Clock.Now().Time, time.Now(), lockOfflineAfter, r.m.Store, r.m.DoorLists, rd.Locks.Locks())
}

// doorsReport builds the report at (the hub's clock) from the site's
// doors, the door lists' state and the locks' status; a lock is
// reachable when heard from within offlineAfter of wall (the sessions'
// last_seen is wall-clock time).
func doorsReport(at, wall time.Time, offlineAfter time.Duration, store interface{ View(func(*hub.Catalog)) },
	lists *hub.DoorLists, locks []session.LockStatus) *cloudlink.DoorsReport {
	rep := &cloudlink.DoorsReport{At: at, Doors: []cloudlink.DoorState{}}
	index := map[string]int{}
	store.View(func(c *hub.Catalog) {
		for _, d := range c.Doors() {
			index[d.ID] = len(rep.Doors)
			rep.Doors = append(rep.Doors, cloudlink.DoorState{Door: d.ID})
		}
	})
	if lists != nil {
		for _, p := range lists.Pending() {
			i, ok := index[p.Door]
			if !ok {
				continue
			}
			switch {
			case p.Drift:
				rep.Doors[i].List = cloudlink.ListDrift
			case p.Current:
				rep.Doors[i].List = cloudlink.ListCurrent
			default:
				rep.Doors[i].List = cloudlink.ListPending
			}
		}
	}
	for _, l := range locks {
		i, ok := index[l.Door]
		if !ok {
			continue // a lock paired to a door the site does not have
		}
		d := &rep.Doors[i]
		if d.Lock != "" && (l.LastSeen.IsZero() || d.LastSeen != nil && !l.LastSeen.After(*d.LastSeen)) {
			continue // two locks on one door: the one heard from last
		}
		d.Lock = l.Lock
		d.Reachable, d.LastSeen = false, nil
		if !l.LastSeen.IsZero() {
			t := l.LastSeen.UTC()
			d.LastSeen = &t
			d.Reachable = wall.Sub(l.LastSeen) < offlineAfter
		}
		d.BatteryPercent, d.BatteryBand = nil, ""
		if l.BatteryPercent >= 0 && l.BatteryPercent <= 100 {
			p := l.BatteryPercent
			d.BatteryPercent, d.BatteryBand = &p, cloudlink.BatteryBandOf(p)
		}
		d.Open, d.Locked = nil, nil
		switch l.DoorState {
		case lockmsg.DoorClosedLocked.String():
			d.Open, d.Locked = ptrTo(false), ptrTo(true)
		case lockmsg.DoorClosedUnlocked.String():
			d.Open, d.Locked = ptrTo(false), ptrTo(false)
		case lockmsg.DoorOpen.String():
			d.Open, d.Locked = ptrTo(true), ptrTo(false)
		}
	}
	return rep
}

func ptrTo[T any](v T) *T { return &v }

// doorStateKeys are what decides whether a report is sent: significant
// changes (lock, reachable, battery band, list, open, locked, alarms, the
// set of doors) at once, the rest (last_seen, battery_percent) only with
// the periodic refresh.
func doorStateKeys(r *cloudlink.DoorsReport) (significant, full string) {
	var b strings.Builder
	for _, d := range r.Doors {
		fmt.Fprintf(&b, "%s|%s|%t|%s|%s|%s|%s|%v\n", d.Door, d.Lock, d.Reachable, d.BatteryBand, d.List,
			optBool(d.Open), optBool(d.Locked), d.Alarms)
	}
	all, _ := json.Marshal(r.Doors)
	return b.String(), string(all)
}

func optBool(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

// doorStatePublisher sends the door-state report when a door's
// significant state changed — checked every check, and at once after
// Kick (a lock's report changed a list state) — at most one report every
// gap, and otherwise every refresh when anything else in it changed.
// It starts from nothing sent: its first report (once the radio is up)
// goes up even if the link sent the same one when it connected.
type doorStatePublisher struct {
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// doorStateTiming is the publisher's timing; tests shorten it.
type doorStateTiming struct {
	check, gap, refresh time.Duration
}

// doorStateTimes is the daemon's timing: the constants above, except in
// tests.
var doorStateTimes = doorStateTiming{check: doorStateCheck, gap: doorStateGap, refresh: doorStateRefresh}

// startDoorStatePublisher runs the publisher until Close. report may
// return nil (nothing to report yet); publish queues the report given.
func startDoorStatePublisher(report func() *cloudlink.DoorsReport, publish func(*cloudlink.DoorsReport), tm doorStateTiming) *doorStatePublisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &doorStatePublisher{kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(tm.check)
		defer t.Stop()
		var lastSig, lastFull string
		var lastSent time.Time
		sent := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-p.kick:
			case <-t.C:
			}
			r := report()
			if r == nil {
				continue
			}
			sig, full := doorStateKeys(r)
			due := !sent || sig != lastSig || full != lastFull && time.Since(lastSent) >= tm.refresh
			if !due {
				continue
			}
			publish(r)
			sent, lastSig, lastFull, lastSent = true, sig, full, time.Now()
			select { // at most one report per gap
			case <-ctx.Done():
				return
			case <-time.After(tm.gap):
			}
		}
	}()
	return p
}

// Kick asks for a check now; it never blocks.
func (p *doorStatePublisher) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Close stops the publisher and waits for it.
func (p *doorStatePublisher) Close() {
	p.cancel()
	<-p.done
}
