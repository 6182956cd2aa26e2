package main

import (
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

// decisionsCounted sums doorhub_decisions_total over its labels.
func decisionsCounted(t *testing.T, m *status.Metrics) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, f := range fams {
		if f.GetName() != "doorhub_decisions_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			n += s.GetCounter().GetValue()
		}
	}
	return n
}

// TestTimedDeciderExplainUncounted: the identity lookup of a lock's
// offline decision goes through Explain (the interface radio/session
// looks for), which the decision metrics do not count; Decide is counted.
func TestTimedDeciderExplainUncounted(t *testing.T) {
	m := status.NewMetrics()
	d := timedDecider{hub.NewEngine(hub.NewMemStore(), hub.EngineOptions{}), m}
	// The interface radio/session's offlineIdentity asserts.
	ex, ok := any(d).(interface {
		Explain(doorID string, p hub.Presentation, now hub.Now) hub.Decision
	})
	if !ok {
		t.Fatal("timedDecider has no Explain: offline identity lookups would be counted as decisions")
	}
	now := hub.Now{Time: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), Trusted: true}
	p := hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3"}
	want := d.Decide("front", p, now)
	if n := decisionsCounted(t, m); n != 1 {
		t.Fatalf("after one Decide: %v decisions counted, want 1", n)
	}
	for range 3 {
		if got := ex.Explain("front", p, now); got.Reason != want.Reason || got.Allowed != want.Allowed {
			t.Fatalf("Explain %+v, Decide %+v", got, want)
		}
	}
	if n := decisionsCounted(t, m); n != 1 {
		t.Fatalf("after three Explains: %v decisions counted, want still 1", n)
	}
}
