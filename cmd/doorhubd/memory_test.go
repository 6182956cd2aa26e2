package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// The daemon's own footprint (PRODUCT.md: under 64 MB at rest with
// 100,000 credentials, 200 doors and 100,000 buffered events): the store's
// figure (hub/badgerstore BenchmarkResidentMemory) leaves out what
// doorhubd holds beside it — door lists, radio, endpoint.
const (
	memConfigEnv = "DOORHUBD_MEMORY_CONFIG"
	memPeople    = 100_000
	memDoors     = 200
	memKeys      = 20
	memEvents    = 100_000
	memWatch     = 40 * time.Second
	// memProfileEnv, when set to a path, has the child write a heap
	// profile there at the end (go tool pprof -sample_index=inuse_space).
	memProfileEnv = "DOORHUBD_MEMORY_HEAPPROFILE"
)

// memSample is the child's memory and CPU at one moment.
type memSample struct {
	At       float64 `json:"at"` // seconds since Run returned
	RSS      int64   `json:"rss"`
	Anon     int64   `json:"anon"`
	Peak     int64   `json:"peak"`
	CPUTicks int64   `json:"cpu_ticks"` // utime + stime, clock ticks (100 a second)
	// HeapLive is the live Go heap after the last collection; Runtime is
	// everything else the Go runtime holds mapped from the system
	// (heap free and unused space, stacks, runtime metadata).
	HeapLive int64 `json:"heap_live"`
	Runtime  int64 `json:"runtime"`
}

// BenchmarkDaemonMemory builds a 100,000-credential site of 200 doors
// (20 keys of the entrance and 9 more doors, one resident grant and one
// keycard a person) with 100,000 events waiting in the outbox, starts the
// daemon on it in a fresh child process (no cloud, no radio), and samples
// the child for 40 s: resident memory at the end, the peak, and the CPU
// it used while idle over the last 20 s. The child sets the daemon's
// default memory limit as main does (GOMEMLIMIT overrides it). It runs
// once whatever b.N.
func BenchmarkDaemonMemory(b *testing.B) {
	dir := b.TempDir()
	state := filepath.Join(dir, "state")
	if err := buildMemorySite(filepath.Join(state, "db")); err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "doorhub.yaml")
	body := fmt.Sprintf("hub_id: hub-mem\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: 127.0.0.1:0\n  socket: \"\"\n",
		state, filepath.Join(dir, "no-radio"))
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	var samples []memSample
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDaemonMemoryChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), memConfigEnv+"="+config)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("memory child: %v\n%s", err, out)
		}
		samples = samples[:0]
		for _, line := range strings.Split(string(out), "\n") {
			var s memSample
			if json.Unmarshal([]byte(line), &s) == nil && s.RSS > 0 {
				samples = append(samples, s)
			}
		}
	}
	if len(samples) < 21 {
		b.Fatalf("the child reported %d samples", len(samples))
	}
	last, mid := samples[len(samples)-1], samples[len(samples)-21]
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(mb(last.RSS), "rest-rss-MB")
	b.ReportMetric(mb(last.Anon), "rest-anon-MB")
	b.ReportMetric(mb(last.Peak), "peak-rss-MB")
	b.ReportMetric(mb(last.HeapLive), "rest-heap-live-MB")
	b.ReportMetric(mb(last.Runtime), "rest-runtime-other-MB")
	b.ReportMetric(float64(last.CPUTicks-mid.CPUTicks)/(last.At-mid.At), "idle-cpu-%")
	b.ReportMetric(float64(samples[0].CPUTicks)/100, "start-cpu-s")
}

// TestDaemonMemoryChild is BenchmarkDaemonMemory's child process.
func TestDaemonMemoryChild(t *testing.T) {
	config := os.Getenv(memConfigEnv)
	if config == "" {
		t.Skip("the child process of BenchmarkDaemonMemory")
	}
	if os.Getenv("GOMEMLIMIT") == "" { // as main does
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	m := NewMain(os.Stderr, os.Stderr, nil)
	if err := m.ParseFlags([]string{"--config", config}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := json.NewEncoder(os.Stdout)
	start := time.Now()
	for time.Since(start) < memWatch {
		time.Sleep(time.Second)
		s := sampleSelf()
		s.At = time.Since(start).Seconds()
		if err := out.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	if path := os.Getenv(memProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func sampleSelf() memSample {
	var s memSample
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			name, val, _ := strings.Cut(sc.Text(), ":")
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "VmRSS":
				s.RSS = kb << 10
			case "RssAnon":
				s.Anon = kb << 10
			case "VmHWM":
				s.Peak = kb << 10
			}
		}
		f.Close()
	}
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() == metrics.KindUint64 && m[1].Value.Kind() == metrics.KindUint64 && m[2].Value.Kind() == metrics.KindUint64 {
		s.HeapLive = int64(m[0].Value.Uint64())
		s.Runtime = int64(m[1].Value.Uint64()-m[2].Value.Uint64()) - s.HeapLive
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		// Fields after the command (which may hold spaces) in parentheses:
		// utime and stime are the 14th and 15th of the whole line.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			f := strings.Fields(string(b[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.CPUTicks = u + st
			}
		}
	}
	return s
}

// buildMemorySite writes the benchmark's site and buffered events.
func buildMemorySite(dir string) error {
	st, err := badgerstore.Open(dir, badgerstore.DefaultOptions())
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := st.BeginSnapshot(context.Background(), "site-mem", 1)
	if err != nil {
		return err
	}
	door := func(i int) string { return fmt.Sprintf("d-%03d", i) }
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "site-mem", Name: "Memory", TimeZone: "UTC",
		DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef0123")}}}
	for i := range memDoors {
		typ := hub.DoorResidence
		if i == 0 {
			typ = hub.DoorEntrance
		}
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: door(i), Name: "Door " + door(i), Type: typ}})
	}
	for k := range memKeys {
		doors := []string{door(0)}
		for j := 1; j <= 9; j++ {
			doors = append(doors, door(k*9+j))
		}
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: fmt.Sprintf("k-%02d", k), Name: fmt.Sprintf("Wing %d", k), Doors: doors}})
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range memPeople {
		p := fmt.Sprintf("p%07d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.com", Name: fmt.Sprintf("Resident %d", i)}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: fmt.Sprintf("g%07d", i), PersonID: p, KeyID: fmt.Sprintf("k-%02d", i%memKeys),
				Resident: true, StartsAt: start, Method: hub.MethodApp}})
	}
	for i := range memPeople {
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%016x", uint64(i+1)*0x9E3779B97F4A7C15),
			OwnerID: fmt.Sprintf("p%07d", i), Active: true}})
	}
	for len(ops) > 0 {
		n := min(len(ops), 1000)
		if err := w.Add(ops[:n]); err != nil {
			w.Abort()
			return err
		}
		ops = ops[n:]
	}
	if err := w.Commit(); err != nil {
		return err
	}
	ob, err := st.OpenLogOutbox(badgerstore.OutboxOptions{})
	if err != nil {
		return err
	}
	const writers = 64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < memEvents; i += writers {
				a := hub.DoorActivity(door(1+i%(memDoors-1)), hub.ActivityDoorHeldOpen, hub.Now{Time: start.Add(time.Duration(i) * time.Second), Trusted: true}, -1)
				if _, err := ob.Append(context.Background(), a); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		ob.Close()
		return err
	}
	return ob.Close()
}
