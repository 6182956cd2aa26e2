package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/serialport"
	"github.com/doorhub/doorhub/radio/session"
)

// Radio is the daemon's radio: the coprocessor on the serial port and the
// sessions of the paired locks, deciding from the store.
type Radio struct {
	Port  *serialport.Radio
	Locks *session.Locks
}

// openRadio opens the serial port (in the background: a radio that is not
// plugged in yet is opened when it appears) and the lock sessions, after
// the store, clock and engine. Decisions and lock reports go to
// m.Activity (a log without an outbox keeps nothing, as in installer
// mode, when nothing set it before).
func (m *Main) openRadio() error {
	if m.Activity == nil {
		m.Activity = hub.NewActivityLog(nil)
	}
	if m.Recent == nil {
		m.Recent = status.NewRecent(500)
	}
	port, err := serialport.Open(serialport.Config{Path: m.Config.Radio.Port, Baud: m.Config.Radio.Baud, Logger: m.Log})
	if err != nil {
		return fmt.Errorf("radio: %w", err)
	}
	var lists session.Lists
	if m.DoorLists != nil {
		lists = m.DoorLists
	}
	locks, err := session.Open(session.Options{
		Transport: port, Decider: timedDecider{m.Engine, m.metrics()}, Clock: m.Clock, Store: session.NewKVStore(m.Store),
		Activity: activitySink{m.Activity, m.Recent}, Logger: m.Log, Lists: lists,
	})
	if err != nil {
		_ = port.Close(context.Background())
		return fmt.Errorf("radio: %w", err)
	}
	m.Radio = &Radio{Port: port, Locks: locks}
	m.radioUp.Store(m.Radio)
	if m.doorPub != nil {
		m.doorPub.Kick() // the first door-state report, now that there is one
	}
	return nil
}

// closeRadio stops the sessions, then the port.
func (m *Main) closeRadio() error {
	if m.Radio == nil {
		return nil
	}
	m.radioUp.Store(nil) // the cloud link reports no door and opens none from now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.Radio.Locks.Close(ctx)
	if perr := m.Radio.Port.Close(ctx); err == nil {
		err = perr
	}
	m.Radio = nil
	return err
}

// activitySink hands the sessions' decisions and lock reports to the
// activity log.
type activitySink struct {
	log    *hub.ActivityLog
	recent *status.Recent
}

var _ session.Activity = activitySink{}

func (a activitySink) Decision(ctx context.Context, d hub.Decision) error {
	_, err := a.log.Decision(ctx, d)
	if a.recent != nil {
		a.recent.Add(hub.AccessActivity(d))
	}
	return err
}

var doorEventKinds = map[lockmsg.DoorEventKind]hub.ActivityKind{
	lockmsg.EventForced: hub.ActivityDoorForced, lockmsg.EventHeldOpen: hub.ActivityDoorHeldOpen,
	lockmsg.EventTamper: hub.ActivityTamper, lockmsg.EventJam: hub.ActivityJam,
	lockmsg.EventLowBattery: hub.ActivityLowBattery,
}

func (a activitySink) LockEvent(ctx context.Context, e session.LockEvent) error {
	if e.Offline != nil {
		// Decided by the lock alone: marked so, with its clock, counter
		// and the entry that decided.
		by := hub.LockDecided{Lock: e.Lock.Hex(), Seq: e.Seq, Clock: e.LockClock, Entry: e.Entry}
		_, err := a.log.OfflineDecision(ctx, *e.Offline, by)
		if a.recent != nil {
			a.recent.Add(hub.OfflineAccessActivity(*e.Offline, by))
		}
		return err
	}
	kind, ok := doorEventKinds[e.Event]
	if !ok {
		return fmt.Errorf("door event %s has no activity kind", e.Event)
	}
	_, err := a.log.DoorEvent(ctx, e.Door, kind, e.At, e.BatteryPercent)
	if a.recent != nil {
		a.recent.Add(hub.DoorActivity(e.Door, kind, e.At, e.BatteryPercent))
	}
	return err
}

// pairer pairs locks for the status endpoint.
type pairer struct{ m *Main }

var _ status.Pairer = pairer{}

func (p pairer) Pair(_ context.Context, r status.PairRequest) (status.PairResult, error) {
	r0 := p.m.Radio
	if r0 == nil {
		return status.PairResult{}, fmt.Errorf("%w: the radio is not open", status.ErrUnavailable)
	}
	id, err := lockmsg.ParseLockID(r.Lock)
	if err != nil {
		return status.PairResult{}, fmt.Errorf("%w: %v", status.ErrInvalid, err)
	}
	key, err := lockmsg.ParseKey(r.Key)
	if err != nil {
		return status.PairResult{}, fmt.Errorf("%w: %v", status.ErrInvalid, err)
	}
	res, err := r0.Locks.Pair(session.Pairing{Lock: id, Key: key, Door: r.Door})
	if errors.Is(err, session.ErrInvalidPairing) {
		return status.PairResult{}, fmt.Errorf("%w: %v", status.ErrInvalid, err)
	}
	if err != nil {
		return status.PairResult{}, err
	}
	known := false
	p.m.Store.View(func(c *hub.Catalog) { known = c.Door(r.Door) != nil })
	p.m.Log.Info("lock paired by the installer", slog.String("lock", id.Hex()), slog.String("door", r.Door),
		slog.Bool("door_known", known))
	return status.PairResult{Lock: id.Hex(), Door: res.Door, New: res.New, KeyChanged: res.KeyChanged, DoorKnown: known}, nil
}

// doors lists the site's doors with their locks, and locks paired with
// doors the site does not have.
func (m *Main) doors() []status.Door {
	var out []status.Door
	index := map[string]int{}
	var now time.Time
	if m.Clock != nil {
		now = m.Clock.Now().Time
	} else {
		now = time.Now()
	}
	m.Store.View(func(c *hub.Catalog) {
		for _, d := range c.Doors() {
			index[d.ID] = len(out)
			sd := status.Door{Door: d.ID, Name: d.Name, Type: string(d.Type), Known: true, BatteryPercent: -1}
			if m.DoorLists == nil { // else the door lists' cached lists below say
				if l, err := hub.DoorListOf(c, d.ID, now); err == nil {
					sd.ListDigest = hex.EncodeToString(l.Digest[:hub.MinAckDigest])
					sd.Overflow = l.Overflow.Total()
				}
			}
			out = append(out, sd)
		}
	})
	if m.DoorLists != nil {
		for _, p := range m.DoorLists.Pending() {
			i, ok := index[p.Door]
			if !ok {
				continue
			}
			d := &out[i]
			d.ListDigest = p.DesiredDigest[:min(len(p.DesiredDigest), 2*hub.MinAckDigest)]
			d.ListCurrent, d.ListDrift, d.Overflow = p.Current, p.Drift, p.Overflow
			d.PendingActivations, d.PendingRevocations = p.Activations, p.Revocations
			d.OldestRevocation = p.OldestRevocation
			// As the cloud's pending report counts (pending.go): a lock
			// that has not acknowledged its list has at least one change
			// coming.
			d.PendingChanges = p.Activations + p.Revocations
			if !p.Current && d.PendingChanges == 0 {
				d.PendingChanges = 1
			}
		}
	}
	if m.Radio == nil {
		return out
	}
	for _, l := range m.Radio.Locks.Locks() {
		i, ok := index[l.Door]
		if !ok || out[i].Lock != "" {
			i = len(out)
			out = append(out, status.Door{Door: l.Door, Known: ok})
		}
		d := &out[i]
		d.Lock, d.PairedAt, d.LastSeen = l.Lock, l.PairedAt, l.LastSeen
		d.BatteryPercent, d.BatteryMillivolts, d.RSSI = l.BatteryPercent, l.BatteryMillivolts, l.RSSI
		d.DoorState, d.Firmware, d.Queued, d.Forged, d.Replayed = l.DoorState, l.Firmware, l.Queued, l.Forged, l.Replayed
		d.ListVersion, d.PendingEvents, d.ClockOffset = l.ListVersion, l.PendingEvents, l.ClockOffset
	}
	return out
}

// radioReady is the radio's readiness check: connected and answering.
func (m *Main) radioReady() error {
	if m.Radio == nil {
		return errors.New("not open")
	}
	st := m.Radio.Port.Status()
	switch {
	case !st.Connected && st.LastError != "":
		return fmt.Errorf("not connected: %s", st.LastError)
	case !st.Connected:
		return errors.New("not connected")
	case !st.Answering:
		return errors.New("connected, the coprocessor has not answered yet")
	}
	return nil
}
