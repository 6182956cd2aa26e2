package radio_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/frame"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/serialport"
	"github.com/doorhub/doorhub/radio/session"
	"github.com/doorhub/doorhub/radio/sim"
)

// The radio benchmarks run the hub's whole radio path — go.bug.st/serial
// on a real pseudo-terminal, the link, the lock sessions and hub.Engine on
// a MemStore — against doorhub-sim's locks, unthrottled (what the software
// costs) and throttled to a UART's rate (what a hub would see). Figures:
// docs/performance.md, "Radio link".

var quietLog = slog.New(slog.DiscardHandler)

// benchRig is the hub side and the simulator, the locks paired.
type benchRig struct {
	sim   *sim.Sim
	locks []*sim.Lock
	stop  func()
}

func newBenchRig(b *testing.B, nLocks, baud int) *benchRig {
	b.Helper()
	store := hub.NewMemStore()
	if err := store.Apply(context.Background(), radiotest.Batch(time.Now(), nil)); err != nil {
		b.Fatal(err)
	}
	clock, _ := hub.NewClock(hub.ClockOptions{})
	s, err := sim.New(sim.Config{Locks: nLocks, Baud: baud, Heartbeat: time.Hour, HelloRetry: 50 * time.Millisecond,
		DecisionTimeout: 5 * time.Second, Logger: quietLog, Link: link.Config{Logger: quietLog}})
	if err != nil {
		b.Fatal(err)
	}
	plug, err := sim.NewPlug(s, filepath.Join(b.TempDir(), "radio"))
	if err != nil {
		b.Skipf("no pseudo-terminal: %v", err)
	}
	s.Start()
	port, err := serialport.Open(serialport.Config{Path: plug.Path(), Baud: 115200, Logger: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	locks, err := session.Open(session.Options{Transport: port, Decider: hub.NewEngine(store, hub.EngineOptions{}),
		Clock: clock, Store: session.NewKVStore(&session.MemoryKV{}), Logger: quietLog})
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRig{sim: s, locks: s.Locks()}
	for i, l := range s.Labels() {
		id, key, _ := lockmsg.ParseLabel(l.ID + " " + l.Key)
		if _, err := locks.Pair(session.Pairing{Lock: id, Key: key, Door: radiotest.Lobby}); err != nil {
			b.Fatal(err)
		}
		// Warm up: the hello, the door assignment, a first decision.
		if res, err := r.locks[i].Present(context.Background(), card()); err != nil || !res.Allowed {
			b.Fatalf("warm-up: %+v %v", res, err)
		}
	}
	r.stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = locks.Close(ctx)
		_ = port.Close(ctx)
		plug.Close()
		s.Close()
	}
	return r
}

func card() sim.Credential { return sim.Credential{Card: radiotest.CardBytes(radiotest.Card)} }

// wireBytes returns the serial bytes of a keycard request and of its
// decision, each in its envelope, link frame and serial frame.
func wireBytes() (request, decision, ack int) {
	onWire := func(m lockmsg.Message) int {
		s, _ := lockmsg.Seal(nil, keys, testLock, 1, m)
		env := lockmsg.AppendEnvelope(nil, lockmsg.Envelope{Lock: testLock, Sealed: s})
		return len(frame.Encode(link.AppendFrame(nil, link.Frame{Kind: link.Data, Epoch: 1, Payload: env})))
	}
	request = onWire(&lockmsg.AccessRequest{Kind: lockmsg.CredKeycard, CardID: radiotest.CardBytes(radiotest.Card)})
	decision = onWire(&lockmsg.Decision{Request: 1, Reason: lockmsg.ReasonAllowedByGrant, UnlockSeconds: 5})
	ack = len(frame.Encode(link.AppendFrame(nil, link.Frame{Kind: link.Ack, Epoch: 1, Seq: 1})))
	return request, decision, ack
}

func wireTime(bytes, baud int) time.Duration {
	return time.Duration(bytes) * 10 * time.Second / time.Duration(baud)
}

// BenchmarkPresentationLatency: a keycard presented at a lock until the
// lock has the hub's decision. wire_ms is the request's and the decision's
// bytes at the baud rate; wire_path_ms adds the two link ACKs that cross
// the line in series with them (the lock's ACK of the previous decision
// before the request, the hub's ACK of the request before the decision:
// ACKs go at once, docs/radio-protocol.md 4.3). hub_added_% is what the
// hub and the simulator add to the path.
func BenchmarkPresentationLatency(b *testing.B) {
	req, dec, ack := wireBytes()
	for _, baud := range []int{0, 115200} {
		name := "unthrottled"
		if baud > 0 {
			name = fmt.Sprintf("baud=%d", baud)
		}
		b.Run(name, func(b *testing.B) {
			r := newBenchRig(b, 1, baud)
			defer r.stop()
			lk := r.locks[0]
			var total time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				res, err := lk.Present(context.Background(), card())
				if err != nil || !res.Allowed {
					b.Fatalf("%+v %v", res, err)
				}
				total += time.Since(start)
			}
			mean := total / time.Duration(b.N)
			b.ReportMetric(float64(mean.Microseconds())/1000, "latency_ms")
			if baud > 0 {
				wire, path := wireTime(req+dec, baud), wireTime(ack+req+ack+dec, baud)
				b.ReportMetric(float64(wire.Microseconds())/1000, "wire_ms")
				b.ReportMetric(float64(path.Microseconds())/1000, "wire_path_ms")
				b.ReportMetric(100*float64(mean-path)/float64(path), "hub_added_%")
			}
		})
	}
}

// BenchmarkSustainedRequests: eight locks present keycards back to back;
// requests per second against the wire limit. Per request the busier
// direction carries one DATA frame and one link ACK.
func BenchmarkSustainedRequests(b *testing.B) {
	req, dec, ack := wireBytes()
	const baud, nLocks = 115200, 8
	r := newBenchRig(b, nLocks, baud)
	defer r.stop()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for _, lk := range r.locks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				res, err := lk.Present(context.Background(), card())
				if err != nil || !res.Allowed || res.Offline {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("%d of %d presentations not answered", failed.Load(), b.N)
	}
	rps := float64(b.N) / elapsed.Seconds()
	limit := 1 / wireTime(max(req, dec)+ack, baud).Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(limit, "wire_limit_req/s")
	b.ReportMetric(100*rps/limit, "%_of_wire")
}
