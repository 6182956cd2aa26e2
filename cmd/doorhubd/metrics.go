package main

import (
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/session"
)

// timedDecider counts each decision by reason and times it.
type timedDecider struct {
	e *hub.Engine
	m *status.Metrics
}

var _ session.Decider = timedDecider{}

func (t timedDecider) Decide(door string, p hub.Presentation, now hub.Now) hub.Decision {
	start := time.Now()
	d := t.e.Decide(door, p, now)
	t.m.Decision(string(d.Reason), d.Allowed, time.Since(start))
	return d
}

// Explain passes through to the engine's Explain, uncounted: the radio
// sessions use it to name who a lock's offline decision belongs to
// (radio/session offlineIdentity), which is not a decision of the hub's,
// so it must neither count in the decision metrics nor change the
// engine's state (a lockout attempt, a guest code's first use).
func (t timedDecider) Explain(door string, p hub.Presentation, now hub.Now) hub.Decision {
	return t.e.Explain(door, p, now)
}

// metrics makes the registry once, with the samples read from the
// daemon's parts at each scrape.
func (m *Main) metrics() *status.Metrics {
	if m.Metrics != nil {
		return m.Metrics
	}
	m.Metrics = status.NewMetrics()
	m.Metrics.Collect(m.samples)
	return m.Metrics
}

func (m *Main) samples() []status.Sample {
	var out []status.Sample
	add := func(name, help string, kind status.SampleKind, v float64, labels ...string) {
		s := status.Sample{Name: name, Help: help, Kind: kind, Value: v}
		if len(labels) > 0 {
			s.Labels = map[string]string{}
			for i := 0; i+1 < len(labels); i += 2 {
				s.Labels[labels[i]] = labels[i+1]
			}
		}
		out = append(out, s)
	}
	const c, g = status.Counter, status.Gauge
	if rd := m.Radio; rd != nil {
		st := rd.Port.Status()
		up := 0.0
		if st.Connected && st.Answering {
			up = 1
		}
		add("doorhub_radio_up", "1 while the radio coprocessor is connected and answering.", g, up)
		add("doorhub_radio_connects_total", "Serial ports opened.", c, float64(st.Connects))
		add("doorhub_radio_disconnects_total", "Serial ports lost.", c, float64(st.Disconnects))
		add("doorhub_radio_open_failures_total", "Serial port opens that failed.", c, float64(st.OpenFailures))
		add("doorhub_radio_probe_failures_total", "Coprocessor probes not answered in time.", c, float64(st.ProbeFailures))
		add("doorhub_radio_recovery_total", "Recovery actions on the radio, by rung.", c, float64(st.Reopens), "action", "reopen")
		add("doorhub_radio_recovery_total", "Recovery actions on the radio, by rung.", c, float64(st.Resets), "action", "reset")
		l := st.Link
		const fh = "Link frames of the current serial connection, by what happened to them."
		for _, f := range []struct {
			k string
			v uint64
		}{{"sent", l.Sent}, {"retransmitted", l.Retransmitted}, {"acked", l.Acked}, {"delivered", l.Delivered},
			{"duplicate", l.Duplicates}, {"out_of_order", l.OutOfOrder}, {"dropped", l.Dropped}} {
			add("doorhub_radio_link_frames", fh, g, float64(f.v), "kind", f.k)
		}
		const eh = "Link errors of the current serial connection, by kind."
		for _, f := range []struct {
			k string
			v uint64
		}{{"failed", l.Failed}, {"bad_frame", l.BadFrames}, {"malformed", l.Malformed}, {"stale", l.Stale},
			{"recv_busy", l.RecvBusy}, {"resync", l.Resyncs}} {
			add("doorhub_radio_link_errors", eh, g, float64(f.v), "kind", f.k)
		}
	}
	if cl := m.Cloud; cl != nil {
		st := cl.Stats()
		up := 0.0
		if st.Connected {
			up = 1
		}
		add("doorhub_cloud_up", "1 while the cloud link is connected.", g, up)
		add("doorhub_cloud_connects_total", "Connections to the broker.", c, float64(st.Connects))
		add("doorhub_cloud_reconnects_total", "Connections to the broker after the first.", c, float64(sat(st.Connects)))
		add("doorhub_cloud_connect_failures_total", "Failed connection attempts.", c, float64(st.ConnectFailures))
		add("doorhub_cloud_messages_total", "Cloud messages, by direction.", c, float64(st.Received), "direction", "received")
		add("doorhub_cloud_messages_total", "Cloud messages, by direction.", c, float64(st.Publishes), "direction", "published")
		add("doorhub_cloud_events_total", "Activity events, sent and acknowledged.", c, float64(st.EventsSent), "state", "sent")
		add("doorhub_cloud_events_total", "Activity events, sent and acknowledged.", c, float64(st.EventsAcked), "state", "acked")
		add("doorhub_cloud_batches_total", "Change batches, applied or rejected.", c, float64(st.BatchesApplied), "result", "applied")
		add("doorhub_cloud_batches_total", "Change batches, applied or rejected.", c, float64(st.BatchesRejected), "result", "rejected")
		for reason, n := range st.Refused {
			add("doorhub_cloud_signature_failures_total", "Downlink messages refused for security, by reason.", c, float64(n), "reason", reason)
		}
	}
	if o := m.Outbox; o != nil {
		st := o.Status()
		add("doorhub_outbox_depth", "Activity records stored and not yet acknowledged by the cloud.", g, float64(st.Pending))
		add("doorhub_outbox_held", "Activity records held in memory waiting for the disk.", g, float64(st.Held))
		add("doorhub_outbox_discarded_total", "Activity records discarded.", c, float64(st.Discarded))
	}
	if s := m.Store; s != nil {
		if sz, err := s.Size(); err == nil {
			const h = "Bytes of the Badger store's files, by kind."
			add("doorhub_store_bytes", h, g, float64(sz.LSM), "kind", "lsm")
			add("doorhub_store_bytes", h, g, float64(sz.ValueLog), "kind", "vlog")
			add("doorhub_store_bytes", h, g, float64(sz.MemTables), "kind", "memtable")
		}
		add("doorhub_store_version", "Version of the site model the hub holds.", g, float64(s.Version()))
	}
	if dl := m.DoorLists; dl != nil && m.Store != nil {
		var current, pending, drifted, revocations, overflow int
		var oldest time.Duration
		for _, p := range dl.Pending() {
			switch {
			case p.Drift:
				drifted++
			case p.Current:
				current++
			default:
				pending++
			}
			revocations += p.Revocations
			overflow += p.Overflow
			oldest = max(oldest, p.RevocationAge)
		}
		const h = "Doors by what their lock holds: the hub's list (current), an older one (pending) or an unknown one (drifted)."
		add("doorhub_door_lists", h, g, float64(current), "state", "current")
		add("doorhub_door_lists", h, g, float64(pending), "state", "pending")
		add("doorhub_door_lists", h, g, float64(drifted), "state", "drifted")
		add("doorhub_revocations_pending", "Revocations not yet applied by a door's lock, summed over the doors.", g, float64(revocations))
		add("doorhub_revocation_oldest_seconds", "Age of the oldest revocation a lock has not applied (0: none): revocation freshness.",
			g, oldest.Seconds())
		add("doorhub_door_list_overflow", "Credentials left out of the doors' lists for the locks' capacity, summed.", g, float64(overflow))
	}
	if m.Clock != nil {
		t := 0.0
		if m.Clock.Now().Trusted {
			t = 1
		}
		add("doorhub_clock_trusted", "1 while the hub trusts its clock.", g, t)
	}
	return out
}
