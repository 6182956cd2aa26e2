package badgerstore_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// benchSite is a small site for decisions beside the appends: 10 doors,
// one key, n people with a keycard and a grant.
func benchSite(n int) *hub.Snapshot {
	s := &hub.Snapshot{Site: "s1", Version: 1, Ops: []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", Name: "Site", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
	}}
	var doors []string
	for d := 0; d < 10; d++ {
		doors = append(doors, fmt.Sprintf("d-%02d", d))
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: doors[d], Name: "Door", Type: hub.DoorEntrance}})
	}
	s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "k", Name: "Key", Doors: doors}})
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%05d", i)
		s.Ops = append(s.Ops,
			hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org"}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + p, PersonID: p, KeyID: "k", StartsAt: outboxT0.Add(-time.Hour), Method: hub.MethodApp}},
			hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%08x", i+1), OwnerID: p, Active: true}})
	}
	return s
}

// BenchmarkOutboxAppend measures durable appends (group commit: one
// fsync per batch of waiting records) from 64 goroutines, as many locks'
// sessions would call it, while another goroutine keeps deciding on the
// same store (yielding a millisecond every 64 decisions). Each op is one
// record, on disk when Append returns. "saturated" appends as fast as the
// outbox takes them (the rate); "offered-20k" offers 20,000 records a
// second, spread over the goroutines, and measures the latency at that
// load (a saturated queue measures its own length).
func BenchmarkOutboxAppend(b *testing.B) {
	b.Run("saturated", func(b *testing.B) { benchAppend(b, 0) })
	b.Run("offered-20k", func(b *testing.B) { benchAppend(b, 20000) })
}

func benchAppend(b *testing.B, offered float64) {
	dir := b.TempDir()
	s, o := openOutbox(b, dir, badgerstore.OutboxOptions{})
	defer closeBoth(b, s, o)
	const people = 10000
	if err := hub.Replace(context.Background(), s, benchSite(people)); err != nil {
		b.Fatal(err)
	}
	engine := hub.NewEngine(s, hub.EngineOptions{})
	now := hub.Now{Time: outboxT0, Trusted: true}
	decide := func(i int) hub.Decision {
		return engine.Decide(fmt.Sprintf("d-%02d", i%10), hub.Presentation{Kind: hub.CredKeycard, CardID: fmt.Sprintf("%08x", i%people+1)}, now)
	}
	if d := decide(0); !d.Allowed {
		b.Fatalf("decision %+v", d)
	}

	stop := make(chan struct{})
	var decisions atomic.Int64
	var dwg sync.WaitGroup
	dwg.Add(1)
	go func() { // decisions keep running beside the appends
		defer dwg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			decide(i)
			decisions.Add(1)
			if i%64 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	const writers = 64
	var interval time.Duration
	if offered > 0 {
		interval = time.Duration(float64(writers) / offered * float64(time.Second))
	}
	lat := make([][]time.Duration, writers)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			due := start.Add(time.Duration(w) * interval / writers)
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				a := hub.AccessActivity(decide(int(i)))
				if interval > 0 {
					time.Sleep(time.Until(due))
					due = due.Add(interval)
				}
				t0 := time.Now()
				if _, err := o.Append(context.Background(), a); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	dwg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(decisions.Load())/elapsed.Seconds(), "decisions/s")
}
