package badgerstore

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// benchOptions are the shipped defaults, logging warnings to stderr.
func benchOptions() Options {
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// xorshift is a cheap deterministic index source for the loops.
type xorshift uint64

func (x *xorshift) next(n int) int {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return int(uint64(*x) % uint64(n))
}

// decideNs keeps each size's decision time, for the 1M-to-1k ratio.
var decideNs = map[string]float64{}

// BenchmarkDecide decides random keycards on synthetic sites of 1k, 100k
// and 1M credentials over the Badger store, and beside it reads a random
// keycard record straight from Badger (raw-get). The decide sub-benchmark
// reports decide/raw-get, the cost of a decision in point reads, and for
// the larger sites the ratio to the 1k site's decision.
func BenchmarkDecide(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			site := openBenchSite(b, size.n)
			st := site.store
			var rawNs float64
			b.Run("raw-get", func(b *testing.B) {
				var gen uint64
				st.mu.RLock()
				gen = st.gen
				st.mu.RUnlock()
				prefix := kindPrefix(gen, hub.KindKeycard)
				key := make([]byte, 0, len(prefix)+32)
				rng := xorshift(88172645463325252)
				sink := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					key = append(key[:0], prefix...)
					key = append(key, synthCard(rng.next(size.n))...)
					err := st.db.View(func(txn *badger.Txn) error {
						item, err := txn.Get(key)
						if err != nil {
							return err
						}
						return item.Value(func(v []byte) error { sink += len(v); return nil })
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if sink == 0 {
					b.Fatal("read nothing")
				}
			})
			b.Run("decide", func(b *testing.B) {
				e := hub.NewEngine(st, hub.EngineOptions{})
				now := hub.Now{Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Trusted: true}
				// Card ids and doors are made outside the loop: a lock
				// hands the hub both.
				const sample = 1 << 16
				cards := make([]string, sample)
				doors := make([]string, sample)
				rng := xorshift(88172645463325252)
				for i := range cards {
					j := rng.next(size.n)
					cards[i], doors[i] = synthCard(j), synthDoorOf(j)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := i & (sample - 1)
					d := e.Decide(doors[j], hub.Presentation{Kind: hub.CredKeycard, CardID: cards[j]}, now)
					if !d.Allowed {
						b.Fatalf("denied: %+v", d)
					}
				}
				b.StopTimer()
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				decideNs[size.name] = ns
				if rawNs > 0 {
					b.ReportMetric(ns/rawNs, "decide/raw-get")
				}
				if base, ok := decideNs["1k"]; ok && size.name != "1k" {
					b.ReportMetric(ns/base, "vs-1k")
				}
			})
			b.Run("decide-cold", func(b *testing.B) { benchmarkDecideCold(b, st, size.name, size.n) })
		})
	}
}

// coldNs keeps each size's cold decision time, for the ratio to 1k.
var coldNs = map[string]float64{}

// evictBytes is more than this machine's last-level cache (32 MiB L3): a
// walk over it leaves none of a catalog in any CPU cache, nor its pages
// in the TLB.
const evictBytes = 64 << 20

var evictBuf []byte

// evict walks evictBuf, a cache line at a time.
func evict() byte {
	if evictBuf == nil {
		evictBuf = make([]byte, evictBytes)
		for i := range evictBuf {
			evictBuf[i] = byte(i)
		}
	}
	var x byte
	for i := 0; i < len(evictBuf); i += 64 {
		evictBuf[i]++
		x ^= evictBuf[i]
	}
	return x
}

// benchmarkDecideCold decides as at a door, where decisions come seconds
// apart and the radio, the cloud link and Badger have used the caches in
// between: before each decision it evicts every cache (evict), then times
// the decision alone. ns/op is mostly the eviction; the figure is
// ns/decision, less the cost of reading the clock, and its ratio to the
// 1k site's.
func benchmarkDecideCold(b *testing.B, st *Store, size string, n int) {
	e := hub.NewEngine(st, hub.EngineOptions{})
	now := hub.Now{Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Trusted: true}
	var clock time.Duration // what two readings of the clock cost
	for range 1000 {
		t0 := time.Now()
		clock += time.Since(t0)
	}
	clock /= 1000
	rng := xorshift(88172645463325252)
	var sink byte
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := rng.next(n)
		card, door := synthCard(j), synthDoorOf(j)
		sink ^= evict()
		t0 := time.Now()
		d := e.Decide(door, hub.Presentation{Kind: hub.CredKeycard, CardID: card}, now)
		total += time.Since(t0) - clock
		if !d.Allowed {
			b.Fatalf("denied: %+v", d)
		}
	}
	b.StopTimer()
	ns := float64(total.Nanoseconds()) / float64(b.N)
	coldNs[size] = ns
	b.ReportMetric(ns, "ns/decision")
	if base, ok := coldNs["1k"]; ok && size != "1k" {
		b.ReportMetric(ns/base, "vs-1k")
	}
	if sink == 42 && b.N < 0 {
		b.Log(sink) // keeps the walk
	}
}

// BenchmarkSnapshotApply applies a 100,000-credential snapshot (300,000
// records: people, grants, keycards) through BeginSnapshot/Add/Commit on a
// fresh store, and beside it writes the same keys and JSON values with a
// bare Badger WriteBatch (raw-writebatch). The snapshot sub-benchmark
// reports the ratio.
func BenchmarkSnapshotApply(b *testing.B) {
	const n = 100_000
	var chunks [][]hub.Op
	if err := (synth{n: n}).chunks(1000, func(ops []hub.Op) error { chunks = append(chunks, ops); return nil }); err != nil {
		b.Fatal(err)
	}
	var rawNs float64
	b.Run("raw-writebatch", func(b *testing.B) {
		type kv struct{ k, v []byte }
		var kvs []kv
		bytes := 0
		for _, ops := range chunks {
			for i := range ops {
				kind, id, rec := opRecord(&ops[i])
				v, err := json.Marshal(rec)
				if err != nil {
					b.Fatal(err)
				}
				kvs = append(kvs, kv{recordKey(2, kind, id), v})
				bytes += len(kvs[len(kvs)-1].k) + len(v)
			}
		}
		b.SetBytes(int64(bytes))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := b.TempDir()
			o := benchOptions()
			db, err := badger.Open(o.badger(dir, o.Logger))
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			wb := db.NewWriteBatch()
			wb.SetMaxPendingTxns(2)
			for _, e := range kvs {
				if err := wb.Set(e.k, e.v); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.StopTimer()
		rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st, err := Open(b.TempDir(), benchOptions())
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			w, err := st.BeginSnapshot(context.Background(), storetest.SiteID, 1)
			if err != nil {
				b.Fatal(err)
			}
			for _, ops := range chunks {
				if err := w.Add(ops); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Commit(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		b.StopTimer()
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if rawNs > 0 {
			b.ReportMetric(ns/rawNs, "snapshot/raw-writebatch")
		}
	})
}

// BenchmarkApplySmallBatch applies one small batch (a person, their
// keycard and grant) to a 1k-credential site, fsync included.
func BenchmarkApplySmallBatch(b *testing.B) {
	st, err := Open(b.TempDir(), benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := (synth{n: 1000}).writeSnapshot(st, 1); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := st.Version()
		id := fmt.Sprintf("pb%07d", i)
		err := st.Apply(ctx, &hub.Batch{Site: storetest.SiteID, Version: v + 1, Base: v, Ops: []hub.Op{
			{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.com"}},
			{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("ffff%08x", i), OwnerID: id, Active: true}},
			{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g" + id, PersonID: id, KeyID: "k-03", StartsAt: synthStart, Method: hub.MethodApp}},
		}})
		if err != nil {
			b.Fatal(err)
		}
	}
}
