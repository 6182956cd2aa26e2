package badgerstore

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

const memDirEnv = "DOORHUB_BADGERSTORE_MEMORY_DIR"

// memSnapshotEnv says which snapshot the memory child applies: "same"
// (the site again: a resync that finds nothing to change), "changed"
// (0.67% of the records changed: synth.changeEvery 100, the typical
// resync), "changed-max" (20,000 records changed), "changed-15k"
// (15,386) or "different" (every person, grant and keycard replaced: the
// worst case).
const memSnapshotEnv = "DOORHUB_BADGERSTORE_MEMORY_SNAPSHOT"

// memCredentials is the site size of the memory figure (PRODUCT.md: under
// 64 MB at rest with 100,000 credentials, under 96 MB while a 100,000
// credential snapshot is applied).
const memCredentials = 100_000

// memEvents is how many activity records wait in the outbox during the
// memory figure (PRODUCT.md: "and 100,000 buffered events"): access
// decisions of the site, in the log outbox the daemon uses.
const memEvents = 100_000

// memSample is the process's memory at one moment.
type memSample struct {
	Phase   string `json:"phase"`
	VmRSS   int64  `json:"vm_rss"`   // resident, bytes
	RssAnon int64  `json:"rss_anon"` // of which heap, stacks: not reclaimable
	RssFile int64  `json:"rss_file"` // of which mmapped files (tables, logs): the kernel can drop them
	VmHWM   int64  `json:"vm_hwm"`   // peak resident since start or last reset
	// The file pages by file (from /proc/self/smaps): Badger's sorted
	// tables, value log and memtable write-ahead files, the binary, the rest.
	FileSST    int64         `json:"file_sst"`
	FileVlog   int64         `json:"file_vlog"`
	FileMem    int64         `json:"file_mem"`
	FileBinary int64         `json:"file_binary"`
	FileOther  int64         `json:"file_other"`
	HeapAlloc  uint64        `json:"heap_alloc"`
	HeapInuse  uint64        `json:"heap_inuse"`
	GoSys      uint64        `json:"go_sys"`
	Took       time.Duration `json:"took"`
}

func sampleMemory(phase string) memSample {
	s := memSample{Phase: phase}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapAlloc, s.HeapInuse, s.GoSys = ms.HeapAlloc, ms.HeapInuse, ms.Sys
	s.fileRSS()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			s.VmRSS = kb << 10
		case "RssAnon":
			s.RssAnon = kb << 10
		case "RssFile":
			s.RssFile = kb << 10
		case "VmHWM":
			s.VmHWM = kb << 10
		}
	}
	return s
}

// fileRSS splits the resident file pages by the file mapped.
func (s *memSample) fileRSS() {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return
	}
	defer f.Close()
	exe, _ := os.Executable()
	var dst *int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			dst = nil
			if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") {
				continue
			}
			switch path := fields[5]; {
			case strings.HasSuffix(path, ".sst"):
				dst = &s.FileSST
			case strings.HasSuffix(path, ".vlog"):
				dst = &s.FileVlog
			case strings.HasSuffix(path, ".mem"):
				dst = &s.FileMem
			case path == exe:
				dst = &s.FileBinary
			default:
				dst = &s.FileOther
			}
			continue
		}
		if dst != nil && len(fields) == 3 && fields[0] == "Rss:" {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				*dst += kb << 10
			}
		}
	}
}

// memTraceEnv, set to a file name in the memory child, samples the
// process every 10 ms from the snapshot's start to stderr (resident
// size, Go heap, file pages) and writes a heap profile to the file at
// each new peak of the Go heap in use: where the peak comes from.
const memTraceEnv = "DOORHUB_BADGERSTORE_MEMORY_TRACE"

// memBadgerEnv, in the memory child, overrides Badger options for
// trying other settings: "MemTableSize=1048576,NumLevelZeroTables=2,...".
const memBadgerEnv = "DOORHUB_BADGERSTORE_MEMORY_BADGER"

func setBadgerOptions(t testing.TB, spec string) {
	set := map[string]int64{}
	for _, kv := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", memBadgerEnv, err)
		}
		set[k] = n
	}
	testHookBadgerOptions = func(bo *badger.Options) {
		for k, n := range set {
			switch k {
			case "MemTableSize":
				bo.MemTableSize = n
			case "NumMemtables":
				bo.NumMemtables = int(n)
			case "BaseTableSize":
				bo.BaseTableSize = n
			case "BaseLevelSize":
				bo.BaseLevelSize = n
			case "NumLevelZeroTables":
				bo.NumLevelZeroTables = int(n)
			case "NumLevelZeroTablesStall":
				bo.NumLevelZeroTablesStall = int(n)
			case "BlockSize":
				bo.BlockSize = int(n)
			case "LevelSizeMultiplier":
				bo.LevelSizeMultiplier = int(n)
			default:
				t.Fatalf("%s: unknown option %s", memBadgerEnv, k)
			}
		}
	}
}

// traceMemory starts the sampler of memTraceEnv; stop ends it.
func traceMemory(profile string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		var peak int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			s := sampleMemory("trace")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "trace %6dms rss %6.1f anon %6.1f file %5.1f (sst %4.1f mem %4.1f) heap alloc %6.1f inuse %6.1f retained %6.1f gcs %d\n",
				time.Since(start).Milliseconds(), float64(s.VmRSS)/(1<<20), float64(s.RssAnon)/(1<<20), float64(s.RssFile)/(1<<20),
				float64(s.FileSST)/(1<<20), float64(s.FileMem)/(1<<20), float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapInuse)/(1<<20),
				float64(ms.HeapIdle-ms.HeapReleased)/(1<<20), ms.NumGC)
			if int64(ms.HeapInuse) > peak+(1<<20) {
				peak = int64(ms.HeapInuse)
				if f, err := os.Create(profile); err == nil {
					_ = pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// TestMemoryChild is the child process of BenchmarkResidentMemory: a fresh
// process that opens the store, measures itself at rest, then applies a
// snapshot of the same size and measures the peak.
func TestMemoryChild(t *testing.T) {
	dir := os.Getenv(memDirEnv)
	if dir == "" {
		t.Skip("the child process of BenchmarkResidentMemory")
	}
	out := json.NewEncoder(os.Stdout)
	emit := func(s memSample) {
		if err := out.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	// settle waits for the background work (compactions, the reaper) to
	// finish and Badger's pool of table-builder buffers (released one per
	// 2 s idle) to drain: until the resident size stops falling.
	settle := func(phase string) memSample {
		start := time.Now()
		var last memSample
		for still := 0; still < 3 && time.Since(start) < 30*time.Second; {
			time.Sleep(time.Second)
			runtime.GC()
			debug.FreeOSMemory()
			s := sampleMemory(phase)
			if last.VmRSS != 0 && s.VmRSS > last.VmRSS-(1<<20) {
				still++
			} else {
				still = 0
			}
			last = s
		}
		last.Took = time.Since(start)
		return last
	}
	emit(sampleMemory("start"))
	opts := DefaultOptions()
	if e := os.Getenv(memBadgerEnv); e != "" {
		setBadgerOptions(t, e)
	}
	level := slog.LevelWarn
	if os.Getenv(memTraceEnv) != "" {
		level = slog.LevelDebug // Badger's flushes and compactions, the store's steps
	}
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := s.OpenLogOutbox(OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ob.Status().Pending; got != memEvents {
		t.Fatalf("the outbox holds %d records, want the %d buffered", got, memEvents)
	}
	took := time.Since(start)
	open := sampleMemory("opened")
	open.Took = took
	emit(open)
	emit(settle("at rest"))
	if p := os.Getenv("DOORHUB_BADGERSTORE_HEAP_PROFILE"); p != "" {
		// For finding where the memory goes: go tool pprof -sample_index=inuse_space.
		if f, err := os.Create(p); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	// Reset the peak (Linux: clear_refs 5) to measure the snapshot alone.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	if p := os.Getenv(memTraceEnv); p != "" {
		stop := traceMemory(p)
		defer stop()
	}
	start = time.Now()
	w, err := s.BeginSnapshot(context.Background(), storetest.SiteID, s.Version()+1)
	if err != nil {
		t.Fatal(err)
	}
	snapSite := synth{n: memCredentials}
	switch os.Getenv(memSnapshotEnv) {
	case "changed":
		snapSite.changeEvery = 100
	case "changed-max":
		snapSite.changeEvery = 10 // 20,000 records
	case "changed-15k":
		snapSite.changeEvery = 13 // 15,386 records
	case "different":
		snapSite.other = true
	}
	if err := snapSite.chunks(1000, w.Add); err != nil {
		t.Fatal(err)
	}
	if p := os.Getenv("DOORHUB_BADGERSTORE_HEAP_PROFILE"); p != "" {
		// What the snapshot holds before its commit: go tool pprof
		// -sample_index=inuse_space (as of the last GC).
		if f, err := os.Create(p + ".snapshot"); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	snap := sampleMemory("snapshot applied")
	snap.Took = time.Since(start)
	emit(snap)
	emit(settle("at rest after the snapshot"))
	if p := os.Getenv("DOORHUB_BADGERSTORE_HEAP_PROFILE"); p != "" {
		if f, err := os.Create(p + ".after"); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// bufferEvents appends memEvents access decisions of the site to the
// store's log outbox, as many locks' sessions would while the cloud is
// unreachable.
func bufferEvents(st *Store) error {
	ob, err := st.OpenLogOutbox(OutboxOptions{})
	if err != nil {
		return err
	}
	engine := hub.NewEngine(st, hub.EngineOptions{})
	now := hub.Now{Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Trusted: true}
	const writers = 64
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := w; i < memEvents; i += writers {
				j := i % memCredentials
				d := engine.Decide(synthDoorOf(j), hub.Presentation{Kind: hub.CredKeycard, CardID: synthCard(j)}, now)
				if _, err := ob.Append(context.Background(), hub.AccessActivity(d)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if e := ob.Close(); err == nil {
		err = e
	}
	return err
}

// BenchmarkResidentMemory measures, in a fresh child process so that
// building the site does not count, the memory of a process holding a
// 100,000-credential site with the shipped options and 100,000 activity
// records waiting in the log outbox: at rest after Open
// (once compactions settle), and the peak while a snapshot of the same
// size replaces it: the same site with 0.67% of its records changed (the
// typical resync, applied as a diff), the same site unchanged, and a
// wholly different set (the worst case, a new generation). It runs once
// whatever b.N; the figures are metrics. Go's default GC pacing lets the
// heap grow to twice the live data, so it also measures with a memory
// limit: 80 MiB, the daemon's until December 4 (cmd/doorhubd sets 64 MiB
// now; the figures stay comparable with the earlier ones).
func BenchmarkResidentMemory(b *testing.B) {
	if raceEnabled {
		b.Skip("the race detector multiplies memory")
	}
	if e := os.Getenv(memBadgerEnv); e != "" {
		// The site is built with the same options as the child opens it.
		setBadgerOptions(b, e)
		defer func() { testHookBadgerOptions = nil }()
	}
	site := b.TempDir()
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := Open(site, o)
	if err != nil {
		b.Fatal(err)
	}
	if err := (synth{n: memCredentials}).writeSnapshot(st, 1); err != nil {
		b.Fatal(err)
	}
	if err := bufferEvents(st); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	type memCase struct{ snapshot, env string }
	cases := []memCase{
		{"changed", "GOGC=100"}, {"changed", "GOMEMLIMIT=80MiB"},
		{"same", "GOMEMLIMIT=80MiB"},
		{"different", "GOGC=100"}, {"different", "GOMEMLIMIT=80MiB"},
	}
	if e := os.Getenv("DOORHUB_MEMORY_CASES"); e != "" {
		// For trying other limits: snapshot:VAR=value,...
		cases = nil
		for _, c := range strings.Split(e, ",") {
			snapshot, env, _ := strings.Cut(c, ":")
			cases = append(cases, memCase{snapshot, env})
		}
	}
	for _, c := range cases {
		env := c.env
		b.Run("snapshot="+c.snapshot+"/"+env, func(b *testing.B) {
			var byPhase map[string]memSample
			for i := 0; i < b.N; i++ {
				// Each child gets the site as built: the snapshot of one
				// child must not leave the next its old generation to open.
				dir := b.TempDir()
				if err := copyFiles(site, dir); err != nil {
					b.Fatal(err)
				}
				byPhase = map[string]memSample{}
				for _, s := range runMemoryChild(b, dir, []string{env, memSnapshotEnv + "=" + c.snapshot}) {
					byPhase[s.Phase] = s
					b.Logf("%-27s RSS %9s (anon %9s, files %9s: tables %s, value log %s, memtable logs %s, binary %s, other %s), peak %9s, Go heap %9s allocated, %9s from the OS%s",
						s.Phase, mb(s.VmRSS), mb(s.RssAnon), mb(s.RssFile), mb(s.FileSST), mb(s.FileVlog), mb(s.FileMem),
						mb(s.FileBinary), mb(s.FileOther), mb(s.VmHWM), mb(int64(s.HeapAlloc)), mb(int64(s.GoSys)), took(s.Took))
				}
			}
			rest, snap, after := byPhase["at rest"], byPhase["snapshot applied"], byPhase["at rest after the snapshot"]
			if rest.VmRSS == 0 || snap.VmHWM == 0 {
				b.Fatalf("the child reported no figures: %+v", byPhase)
			}
			b.ReportMetric(float64(rest.RssAnon)/(1<<20), "rest-anon-MB")
			b.ReportMetric(float64(rest.RssFile)/(1<<20), "rest-file-MB")
			b.ReportMetric(float64(snap.VmHWM-snap.RssFile)/(1<<20), "snapshot-peak-rss-minus-files-MB")
			b.ReportMetric(float64(rest.VmRSS)/(1<<20), "rest-rss-MB")
			b.ReportMetric(float64(rest.HeapAlloc)/(1<<20), "rest-heap-MB")
			b.ReportMetric(float64(snap.VmHWM)/(1<<20), "snapshot-peak-rss-MB")
			// The peak until the store settled again: the reaper removing
			// the old generation (a new-generation snapshot) and the
			// compactions of its tombstones.
			b.ReportMetric(float64(after.VmHWM)/(1<<20), "reap-peak-rss-MB")
			b.ReportMetric(byPhase["opened"].Took.Seconds(), "open-s")
			b.ReportMetric(snap.Took.Seconds(), "snapshot-s")
		})
	}
}

// copyFiles copies directory src — Badger's files and the log outbox's
// directory of segments — into dst.
func copyFiles(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() { // the log outbox's segments
			sub := filepath.Join(dst, e.Name())
			if err := os.Mkdir(sub, 0o700); err != nil {
				return err
			}
			if err := copyFiles(filepath.Join(src, e.Name()), sub); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func took(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return ", took " + d.Round(time.Millisecond).String()
}

func runMemoryChild(t testing.TB, dir string, env []string) []memSample {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), memDirEnv+"="+dir), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("memory child: %v\n%s", err, out)
	}
	var samples []memSample
	for _, line := range strings.Split(string(out), "\n") {
		var s memSample
		if json.Unmarshal([]byte(line), &s) == nil && s.Phase != "" {
			samples = append(samples, s)
		}
	}
	return samples
}

// BenchmarkCatalogMemory reports the Go heap a hub.Catalog takes per
// record of a 100,000-credential site, by kind: where the resident memory
// of BenchmarkResidentMemory goes. It runs once whatever b.N.
func BenchmarkCatalogMemory(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for i := 0; i < b.N; i++ {
		c := hub.NewCatalog()
		base := heap()
		last, kind := base, hub.OpType("")
		perKind := map[hub.OpType]float64{}
		measure := func() {
			h := heap()
			perKind[kind] = float64(h-last) / memCredentials
			last = h
		}
		err := (synth{n: memCredentials}).chunks(1000, func(ops []hub.Op) error {
			// Measure at each change of kind among people, grants, keycards.
			if k := ops[len(ops)-1].Type; k != kind {
				if kind == hub.OpPutPerson || kind == hub.OpPutGrant {
					measure()
				} else {
					last = heap()
				}
				kind = k
			}
			return c.Load(storetest.SiteID, ops)
		})
		if err != nil {
			b.Fatal(err)
		}
		measure()
		total := heap() - base
		runtime.KeepAlive(c)
		b.ReportMetric(float64(total)/(1<<20), "catalog-MB")
		b.ReportMetric(perKind[hub.OpPutPerson], "B/person")
		b.ReportMetric(perKind[hub.OpPutGrant], "B/grant")
		b.ReportMetric(perKind[hub.OpPutKeycard], "B/keycard")
	}
}
