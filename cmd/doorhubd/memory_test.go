package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// The daemon's own footprint (PRODUCT.md: under 64 MB at rest with
// 100,000 credentials, 200 doors and 100,000 buffered events): the store's
// figure (hub/badgerstore BenchmarkResidentMemory) leaves out what
// doorhubd holds beside it — door lists, radio, endpoint — and the
// binary's own pages.
const (
	memPeople = 100_000
	memDoors  = 200
	memKeys   = 20
	memEvents = 100_000
	memWatch  = 40 * time.Second
	// memProfileEnv, when set to a path, has the benchmark save the
	// daemon's heap profile there at the end (go tool pprof
	// -sample_index=inuse_space).
	memProfileEnv = "DOORHUBD_MEMORY_HEAPPROFILE"
)

// memSample is the daemon's memory and CPU at one moment.
type memSample struct {
	At       float64 // seconds since it was ready
	RSS      int64
	Anon     int64
	Peak     int64
	CPUTicks int64 // utime + stime, clock ticks (100 a second)
}

// BenchmarkDaemonMemory builds a 100,000-credential site of 200 doors
// (20 keys of the entrance and 9 more doors, one resident grant and one
// keycard a person) with 100,000 events waiting in the outbox, builds
// doorhubd as installed (go build, its own default memory limit, the
// environment of its systemd unit) and runs it on that site (no cloud, no radio), watching /proc for 40 s:
// resident memory at the end (and its anonymous part: the rest is the
// binary's and the store's mapped files), the peak, the CPU it used
// while idle over the last 20 s, and the Go heap in use at the end. It
// runs once whatever b.N.
func BenchmarkDaemonMemory(b *testing.B) {
	dir := b.TempDir()
	state := filepath.Join(dir, "state")
	if err := buildMemorySite(filepath.Join(state, "db")); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "doorhubd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	statusAddr, token := freeLoopbackAddr(b), filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("mem-token\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "doorhub.yaml")
	body := fmt.Sprintf("hub_id: hub-mem\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: %s\n  token_file: %s\n  socket: \"\"\n",
		state, filepath.Join(dir, "no-radio"), statusAddr, token)
	pprofAddr := ""
	if os.Getenv(memProfileEnv) != "" {
		pprofAddr = freeLoopbackAddr(b)
		body += fmt.Sprintf("  pprof: %s\n", pprofAddr)
	}
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	var samples []memSample
	var heap memHeap
	for i := 0; i < b.N; i++ {
		samples, heap = watchDaemon(b, bin, config, statusAddr, pprofAddr)
	}
	if len(samples) < 21 {
		b.Fatalf("%d samples", len(samples))
	}
	last, mid := samples[len(samples)-1], samples[len(samples)-21]
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(mb(last.RSS), "rest-rss-MB")
	b.ReportMetric(mb(last.Anon), "rest-anon-MB")
	b.ReportMetric(mb(last.Peak), "peak-rss-MB")
	b.ReportMetric(mb(heap.live), "rest-heap-MB")
	b.ReportMetric(float64(last.CPUTicks-mid.CPUTicks)/(last.At-mid.At), "idle-cpu-%")
	b.ReportMetric(float64(samples[0].CPUTicks)/100, "start-cpu-s")
}

// memHeap is what the daemon's metrics say of its heap at the end.
type memHeap struct{ live int64 }

// watchDaemon starts the daemon with the environment its systemd unit
// gives it, waits until its status endpoint answers (it opens after the
// store and the door lists), samples it every second for memWatch,
// reads its heap in use from its metrics (the live heap, give or take
// what was allocated since it last settled: see settle.go) and stops
// it; with a pprof listener, it saves its heap profile.
func watchDaemon(b *testing.B, bin, config, statusAddr, pprofAddr string) ([]memSample, memHeap) {
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = append(os.Environ(), unitEnvironment(b)...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Errorf("doorhubd: %v\n%s", err, stderr.String())
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + statusAddr + "/livez")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("doorhubd did not start: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var samples []memSample
	start := time.Now()
	for time.Since(start) < memWatch {
		time.Sleep(time.Second)
		s := sampleProc(cmd.Process.Pid)
		s.At = time.Since(start).Seconds()
		samples = append(samples, s)
	}
	var heap memHeap
	req, err := http.NewRequest("GET", "http://"+statusAddr+"/metrics", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer mem-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	text, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			heap.live = int64(f)
		}
	}
	if heap.live == 0 {
		b.Fatalf("no go_memstats_heap_alloc_bytes in the metrics:\n%s", text)
	}
	if path := os.Getenv(memProfileEnv); path != "" {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Fatal(err)
		}
	}
	return samples, heap
}

// unitEnvironment is the Environment= lines of the packaged systemd unit.
func unitEnvironment(b *testing.B) []string {
	unit, err := os.ReadFile("../../packaging/doorhub.service")
	if err != nil {
		b.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "Environment="); ok {
			env = append(env, v)
		}
	}
	return env
}

func freeLoopbackAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sampleProc reads a process's memory and CPU from /proc.
func sampleProc(pid int) memSample {
	var s memSample
	dir := fmt.Sprintf("/proc/%d/", pid)
	if f, err := os.Open(dir + "status"); err == nil {
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
	if b, err := os.ReadFile(dir + "stat"); err == nil {
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
