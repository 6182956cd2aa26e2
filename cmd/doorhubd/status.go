package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

// openStatus starts the local endpoint on the configured socket and
// loopback address.
func (m *Main) openStatus() error {
	if m.Recent == nil {
		m.Recent = status.NewRecent(500)
	}
	started := time.Now()
	s, err := status.Open(status.Options{
		Listen: m.Config.Status.Listen, Socket: m.Config.Status.Socket, TokenFile: m.Config.Status.TokenFile,
		Checks: map[string]func() error{"store": func() error { return nil }, "radio": m.radioReady, "cloud": m.cloudReady},
		Pairer: pairer{m}, Doors: m.doors, Logger: m.Log,
		Report: func() status.Report { return m.report(started) },
		Recent: m.Recent, Explainer: explainer{m}, Metrics: m.metrics(), Pprof: m.Config.Status.Pprof,
	})
	if err != nil {
		return err
	}
	m.Status = s
	return nil
}

func (m *Main) closeStatus() error {
	if m.Status == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.Status.Close(ctx)
	m.Status = nil
	return err
}

// remoteUnlocksSeen wraps the cloud link's outbox so the remote unlocks
// it records also reach the endpoint's recent activity (decisions and
// lock reports get there through activitySink).
func (m *Main) remoteUnlocksSeen(o hub.Outbox) hub.Outbox {
	if m.Recent == nil {
		m.Recent = status.NewRecent(500)
	}
	return teeOutbox{o, m.Recent}
}

type teeOutbox struct {
	hub.Outbox
	recent *status.Recent
}

func (t teeOutbox) Append(ctx context.Context, a hub.Activity) (uint64, error) {
	seq, err := t.Outbox.Append(ctx, a)
	if a.Kind == hub.ActivityRemoteUnlock {
		t.recent.Add(a)
	}
	return seq, err
}

// cloudReady: the link is up, or no cloud is configured (installer mode).
func (m *Main) cloudReady() error {
	switch {
	case m.Config.Cloud.Broker == "":
		return nil
	case m.Cloud == nil:
		return errors.New("not open")
	case !m.Cloud.Connected():
		return errors.New("not connected to the broker")
	}
	return nil
}

// report gathers GET /api/v1/status from the daemon's parts.
func (m *Main) report(started time.Time) status.Report {
	up := time.Since(started)
	r := status.Report{HubID: m.Config.HubID, Version: hub.Version, Started: started,
		UptimeSeconds: int64(up / time.Second), Uptime: up.Round(time.Second).String(),
		Recovery: map[string]uint64{}}
	if m.Clock != nil {
		r.Clock = m.Clock.Status()
	}
	if m.Store != nil {
		r.Store.Version = m.Store.Version()
		m.Store.View(func(c *hub.Catalog) { r.Store.Counts = c.Counts() })
		if sz, err := m.Store.Size(); err == nil {
			r.Store.Sizes = sz
		}
	}
	if m.Activity != nil {
		r.ActivityDropped = m.Activity.Dropped()
	}
	r.Cloud = status.CloudReport{Configured: m.Config.Cloud.Broker != "", Broker: status.RedactURL(m.Config.Cloud.Broker), State: "off"}
	if c := m.Cloud; c != nil {
		st := c.Stats()
		r.Cloud.Stats, r.Cloud.LastContact = st, st.LastReceived
		r.Cloud.State = "disconnected"
		if st.Connected {
			r.Cloud.State = "connected"
		}
		r.Recovery["cloud_reconnects"] = sat(st.Connects)
		r.Recovery["cloud_snapshots"] = st.Snapshots
	}
	if o := m.Outbox; o != nil {
		or := &status.OutboxReport{OutboxStatus: o.Status()}
		if first, next := o.Bounds(); first != 0 && first < next {
			if recs, err := o.Read(first, next, 1); err == nil && len(recs) > 0 {
				or.Oldest = recs[0].At
				or.OldestAgeSeconds = int64(time.Since(recs[0].At) / time.Second)
			}
		}
		r.Outbox = or
	}
	r.Radio = status.RadioReport{Port: m.Config.Radio.Port, State: "off"}
	if rd := m.Radio; rd != nil {
		st := rd.Port.Status()
		r.Radio.Since, r.Radio.Firmware, r.Radio.LastError, r.Radio.Details = st.Since, st.Firmware, st.LastError, st
		switch {
		case st.Connected && st.Answering:
			r.Radio.State = "answering"
		case st.Connected:
			r.Radio.State = "connected"
		default:
			r.Radio.State = "disconnected"
		}
		r.Recovery["radio_reopens"] = st.Reopens
		r.Recovery["radio_resets"] = st.Resets
	}
	return r
}

// sat: reconnects are the connects after the first.
func sat(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	return n - 1
}

// explainer answers explain requests with the engine, changing nothing.
type explainer struct{ m *Main }

func (x explainer) Explain(r status.ExplainRequest) (status.ExplainResult, error) {
	m := x.m
	if m.Engine == nil || m.Clock == nil {
		return status.ExplainResult{}, fmt.Errorf("%w: the engine is not open", status.ErrUnavailable)
	}
	now := m.Clock.Now()
	if !r.At.IsZero() {
		now = hub.Now{Time: r.At, Trusted: true}
	}
	var ds []hub.Decision
	switch {
	case r.Card != "":
		ds = []hub.Decision{m.Engine.Explain(r.Door, hub.Presentation{Kind: hub.CredKeycard, CardID: strings.ToLower(r.Card)}, now)}
	case r.Code != "":
		ds = []hub.Decision{m.Engine.Explain(r.Door, hub.Presentation{Kind: hub.CredDoorcode, Code: r.Code}, now)}
	default:
		var id string
		m.Store.View(func(c *hub.Catalog) {
			if p := c.PersonByEmail(r.Email); p != nil {
				id = p.ID
			}
		})
		if id == "" {
			return status.ExplainResult{}, fmt.Errorf("%w: no person with email %s", status.ErrInvalid, r.Email)
		}
		ds = m.Engine.ExplainPerson(r.Door, id, now)
	}
	res := status.ExplainResult{Door: r.Door, At: now.Time, Decisions: []status.Explanation{}}
	m.Store.View(func(c *hub.Catalog) {
		for _, d := range ds {
			res.Decisions = append(res.Decisions, status.Explained(d, c.Grant(d.GrantID)))
		}
	})
	return res, nil
}
