package badgerstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
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
// load (a saturated queue measures its own length). "log" is the outbox
// in its own log (OpenLogOutbox), "badger" the one in the store's Badger
// (OpenOutbox); "bare-fsync" is the disk's floor in the same run: a
// write of 20 KB and an fdatasync, 1,000 a second, into a preallocated
// file.
func BenchmarkOutboxAppend(b *testing.B) {
	for _, k := range outboxKinds {
		b.Run(k.name+"/saturated", func(b *testing.B) { benchAppend(b, k, 0) })
		b.Run(k.name+"/offered-20k", func(b *testing.B) { benchAppend(b, k, 20000) })
	}
	b.Run("bare-fsync", benchBareFsync)
}

// benchBareFsync writes 20 KB and syncs its data, 1,000 times a second,
// into a file written with zeros beforehand (as the log's segments are).
func benchBareFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "bare"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 20<<10)
	size := int64(b.N) * int64(len(buf))
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	for i := range buf {
		buf[i] = byte(i)
	}
	lat := make([]time.Duration, 0, b.N)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i)*int64(len(buf))); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, all []time.Duration) {
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

func benchAppend(b *testing.B, k outboxKind, offered float64) {
	dir := b.TempDir()
	s, o := openOutbox(b, k, dir, badgerstore.OutboxOptions{SegmentSize: -1})
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
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	reportLatency(b, all)
	b.ReportMetric(float64(decisions.Load())/elapsed.Seconds(), "decisions/s")
}
