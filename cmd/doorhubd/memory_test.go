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
	var samples []memSample
	var heap int64
	for i := 0; i < b.N; i++ {
		d := startMemDaemon(b, "")
		start := time.Now()
		samples = samples[:0]
		for time.Since(start) < memWatch {
			time.Sleep(time.Second)
			s := d.sample()
			s.At = time.Since(start).Seconds()
			samples = append(samples, s)
		}
		heap = d.heapInUse()
		d.saveProfile()
		d.stop()
	}
	if len(samples) < 21 {
		b.Fatalf("%d samples", len(samples))
	}
	last, mid := samples[len(samples)-1], samples[len(samples)-21]
	b.ReportMetric(mb(last.RSS), "rest-rss-MB")
	b.ReportMetric(mb(last.Anon), "rest-anon-MB")
	b.ReportMetric(mb(last.Peak), "peak-rss-MB")
	b.ReportMetric(mb(heap), "rest-heap-MB")
	b.ReportMetric(float64(last.CPUTicks-mid.CPUTicks)/(last.At-mid.At), "idle-cpu-%")
	b.ReportMetric(float64(samples[0].CPUTicks)/100, "start-cpu-s")
}

func mb(v int64) float64 { return float64(v) / (1 << 20) }

// memDaemon is doorhubd as installed running on the benchmark's site.
type memDaemon struct {
	b                     *testing.B
	cmd                   *exec.Cmd
	stderr                *strings.Builder
	statusAddr, pprofAddr string
}

// startMemDaemon builds the site and doorhubd, starts the daemon with
// the environment its systemd unit gives it (cloud is extra
// configuration: a cloud section) and waits until its status endpoint
// answers (it opens after the store and the door lists).
func startMemDaemon(b *testing.B, cloud string) *memDaemon {
	dir := b.TempDir()
	state := filepath.Join(dir, "state")
	if err := buildMemorySite(filepath.Join(state, "db")); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "doorhubd")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".") // as the Makefile builds it
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	d := &memDaemon{b: b, statusAddr: freeLoopbackAddr(b), stderr: &strings.Builder{}}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("mem-token\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	config := filepath.Join(dir, "doorhub.yaml")
	body := fmt.Sprintf("hub_id: hub-mem\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: %s\n  token_file: %s\n  socket: \"\"\n",
		state, filepath.Join(dir, "no-radio"), d.statusAddr, token)
	if os.Getenv(memProfileEnv) != "" {
		d.pprofAddr = freeLoopbackAddr(b)
		body += fmt.Sprintf("  pprof: %s\n", d.pprofAddr)
	}
	if err := os.WriteFile(config, []byte(body+cloud), 0o644); err != nil {
		b.Fatal(err)
	}
	d.cmd = exec.Command(bin, "--config", config)
	d.cmd.Env = append(os.Environ(), unitEnvironment(b)...)
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + d.statusAddr + "/livez")
		if err == nil {
			resp.Body.Close()
			return d
		}
		if time.Now().After(deadline) {
			d.stop()
			b.Fatalf("doorhubd did not start: %v\n%s", err, d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *memDaemon) sample() memSample { return sampleProc(d.cmd.Process.Pid) }

// stop ends the daemon as systemd does and waits for it.
func (d *memDaemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		d.b.Errorf("doorhubd: %v\n%s", err, d.stderr.String())
	}
}

// get reads path from the daemon's status endpoint, with its token.
func (d *memDaemon) get(path string) []byte {
	req, err := http.NewRequest("GET", "http://"+d.statusAddr+path, nil)
	if err != nil {
		d.b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer mem-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.b.Fatal(err)
	}
	return body
}

// heapInUse reads the Go heap in use from the daemon's metrics: the live
// heap, give or take what it allocated since it last settled (settle.go).
func (d *memDaemon) heapInUse() int64 {
	text := d.get("/metrics")
	for _, line := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	d.b.Fatalf("no go_memstats_heap_alloc_bytes in the metrics:\n%s", text)
	return 0
}

// saveProfile saves the daemon's heap profile where memProfileEnv says,
// if it does.
func (d *memDaemon) saveProfile() {
	path := os.Getenv(memProfileEnv)
	if path == "" {
		return
	}
	resp, err := http.Get("http://" + d.pprofAddr + "/debug/pprof/heap")
	if err != nil {
		d.b.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		d.b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		d.b.Fatal(err)
	}
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

// memorySiteOps are the benchmark site's records: the site, 200 doors, 20
// keys and, for each of the people, a person, a resident grant and an
// active keycard. prefix names the people, grants and keycards apart: a
// site with another prefix is wholly different but for the doors and keys.
// Every renameEvery-th person (0: none) has another name and an inactive
// keycard.
func memorySiteOps(prefix string, renameEvery int) []hub.Op {
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "site-mem", Name: "Memory", TimeZone: "UTC",
		DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef0123")}}}
	for i := range memDoors {
		typ := hub.DoorResidence
		if i == 0 {
			typ = hub.DoorEntrance
		}
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: memDoor(i), Name: "Door " + memDoor(i), Type: typ}})
	}
	for k := range memKeys {
		doors := []string{memDoor(0)}
		for j := 1; j <= 9; j++ {
			doors = append(doors, memDoor(k*9+j))
		}
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: fmt.Sprintf("k-%02d", k), Name: fmt.Sprintf("Wing %d", k), Doors: doors}})
	}
	for i := range memPeople {
		rename := ""
		if renameEvery > 0 && i%renameEvery == 0 {
			rename = " (moved)"
		}
		ops = append(ops, memPersonOps(prefix, i, rename)...)
	}
	return ops
}

var memStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func memDoor(i int) string { return fmt.Sprintf("d-%03d", i) }

// memPersonOps puts person i of the site named by prefix with a grant
// and a keycard; a non-empty rename gives another name and deactivates
// the card.
func memPersonOps(prefix string, i int, rename string) []hub.Op {
	p := fmt.Sprintf("%sp%07d", prefix, i)
	name := fmt.Sprintf("Resident %d", i) + rename
	salt := uint64(len(prefix)) * 0x5851F42D4C957F2D
	return []hub.Op{
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.com", Name: name}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: fmt.Sprintf("%sg%07d", prefix, i), PersonID: p, KeyID: fmt.Sprintf("k-%02d", i%memKeys),
			Resident: true, StartsAt: memStart, Method: hub.MethodApp}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%016x", (uint64(i+1)*0x9E3779B97F4A7C15)^salt),
			OwnerID: p, Active: rename == ""}},
	}
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
	ops := memorySiteOps("", 0)
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
				a := hub.DoorActivity(memDoor(1+i%(memDoors-1)), hub.ActivityDoorHeldOpen, hub.Now{Time: memStart.Add(time.Duration(i) * time.Second), Trusted: true}, -1)
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
