package status

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the hub's Prometheus registry (its own, not the global one):
// Go and process collectors, decisions by reason with their latency, and
// samples the daemon reads from its parts at each scrape.
type Metrics struct {
	Registry  *prometheus.Registry
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
}

// NewMetrics makes the registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doorhub_decisions_total", Help: "Access decisions, by reason and outcome.",
		}, []string{"reason", "allowed"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "doorhub_decision_seconds", Help: "Time the engine took to decide a presentation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}),
	}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.decisions, m.latency)
	return m
}

// Decision counts a decision and how long it took.
func (m *Metrics) Decision(reason string, allowed bool, took time.Duration) {
	a := "false"
	if allowed {
		a = "true"
	}
	m.decisions.WithLabelValues(reason, a).Inc()
	m.latency.Observe(took.Seconds())
}

// SampleKind says whether a sample only grows (a counter) or not.
type SampleKind int

// Sample kinds.
const (
	Gauge SampleKind = iota
	Counter
)

// Sample is one value read at scrape time.
type Sample struct {
	Name   string
	Help   string
	Kind   SampleKind
	Labels map[string]string
	Value  float64
}

// Collect registers fn, called at each scrape for its samples.
func (m *Metrics) Collect(fn func() []Sample) {
	m.Registry.MustRegister(sampler(fn))
}

type sampler func() []Sample

// Describe sends nothing: the samples are unchecked.
func (sampler) Describe(chan<- *prometheus.Desc) {}

func (f sampler) Collect(ch chan<- prometheus.Metric) {
	for _, s := range f() {
		names := make([]string, 0, len(s.Labels))
		for k := range s.Labels {
			names = append(names, k)
		}
		slices.Sort(names)
		values := make([]string, len(names))
		for i, k := range names {
			values[i] = s.Labels[k]
		}
		t := prometheus.GaugeValue
		if s.Kind == Counter {
			t = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(prometheus.NewDesc(s.Name, s.Help, names, nil), t, s.Value, values...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(prometheus.NewDesc(s.Name, s.Help, nil, nil), err)
			continue
		}
		ch <- m
	}
}
