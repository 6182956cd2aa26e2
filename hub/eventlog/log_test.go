package eventlog

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openLog(t testing.TB, dir string, seg int64) *Log {
	t.Helper()
	l, err := Open(dir, Options{SegmentSize: seg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func payload(seq uint64) []byte { return fmt.Appendf(nil, "record %d %0*d", seq, int(seq%50), 0) }

func writeN(t testing.TB, l *Log, n int) {
	t.Helper()
	next := l.Next()
	for i := 0; i < n; {
		var recs []Record
		for j := 0; j < 7 && i < n; j, i = j+1, i+1 {
			recs = append(recs, Record{Seq: next, Data: payload(next)})
			next++
		}
		if err := l.Write(recs, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// readSeqs reads everything and checks each payload.
func readSeqs(t testing.TB, l *Log) []uint64 {
	t.Helper()
	var seqs []uint64
	_, next := l.Bounds()
	err := l.Read(0, next, 1<<30, func(seq uint64, data []byte) error {
		if string(data) != string(payload(seq)) {
			return fmt.Errorf("seq %d holds %q", seq, data)
		}
		seqs = append(seqs, seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

func span(lo, hi uint64) []uint64 {
	var s []uint64
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

func TestWriteReadReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 8<<10)
	writeN(t, l, 1000)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 1000)) {
		t.Fatalf("read %v", got)
	}
	if l.Segments() < 5 {
		t.Fatalf("%d segments: rotation not exercised", l.Segments())
	}
	// A read from the middle, bounded.
	var got []uint64
	if err := l.Read(500, 900, 5, func(seq uint64, _ []byte) error { got = append(got, seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[500 501 502 503 504]" {
		t.Fatalf("read from 500: %v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, 8<<10)
	defer l.Close()
	if got := readSeqs(t, l); len(got) != 1000 || got[999] != 1000 {
		t.Fatalf("after reopen: %d records", len(got))
	}
	if first, next := l.Bounds(); first != 1 || next != 1001 {
		t.Fatalf("bounds %d %d", first, next)
	}
	if err := l.Write([]Record{{Seq: 1000, Data: []byte("x")}}, nil); !errors.Is(err, ErrSeq) {
		t.Fatalf("seq reused: %v", err)
	}
}

func TestAcksDeleteSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 8<<10)
	writeN(t, l, 1000)
	segs := l.Segments()
	// Out of order, as the live and backlog lanes acknowledge.
	for _, a := range [][2]uint64{{901, 1000}, {1, 100}, {300, 300}, {101, 299}} {
		if err := l.Write(nil, [][2]uint64{a}); err != nil {
			t.Fatal(err)
		}
	}
	if l.Segments() >= segs {
		t.Fatalf("%d segments, %d before: none deleted", l.Segments(), segs)
	}
	want := span(301, 900)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v", got)
	}
	l.Close()
	l = openLog(t, dir, 8<<10)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen %v", got)
	}
	if err := l.Write(nil, [][2]uint64{{1, 1000}}); err != nil {
		t.Fatal(err)
	}
	if first, next := l.Bounds(); first != 0 || next != 1001 || l.Segments() != 1 {
		t.Fatalf("emptied: bounds %d %d, %d segments", first, next, l.Segments())
	}
	l.Close()
	// Seqs go on after everything was removed.
	l = openLog(t, dir, 8<<10)
	defer l.Close()
	if _, next := l.Bounds(); next != 1001 {
		t.Fatalf("next after reopen of an empty log: %d", next)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if len(files) > 3 {
		t.Fatalf("%d files left: %v", len(files), files)
	}
}

func TestSkip(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 8<<10)
	writeN(t, l, 10)
	if err := l.Skip(500); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 10)
	l.Close()
	l = openLog(t, dir, 8<<10)
	defer l.Close()
	want := append(span(1, 10), span(500, 509)...)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v", got)
	}
	if _, next := l.Bounds(); next != 510 {
		t.Fatalf("next %d", next)
	}
}

// TestTornTail damages the last segment's tail in every way a crash can
// and checks the records before the damage survive, the damage is
// truncated, and writing goes on with the next seq.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte, end int) []byte
	}{
		{"half a frame header", func(b []byte, end int) []byte { return append(b[:end], 40, 0, 0) }},
		{"frame cut short", func(b []byte, end int) []byte {
			f := AppendFrame(nil, 1, 99, []byte("hello"))
			copy(b[end:], f[:len(f)-2])
			return b
		}},
		{"flipped byte in the last frame", func(b []byte, end int) []byte { b[end-3] ^= 0x40; return b }},
		{"garbage after the frames", func(b []byte, end int) []byte { copy(b[end:], "garbage garbage garbage"); return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 8<<10)
			writeN(t, l, 20)
			l.mu.RLock()
			seg, end := l.act.path, int(l.act.end)
			l.mu.RUnlock()
			l.Close()
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(seg, tc.damage(b, end), 0o600); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, 8<<10)
			got := readSeqs(t, l)
			if len(got) < 19 || fmt.Sprint(got) != fmt.Sprint(span(1, uint64(len(got)))) {
				t.Fatalf("read %v", got)
			}
			writeN(t, l, 5)
			l.Close()
			l = openLog(t, dir, 8<<10)
			defer l.Close()
			if got2 := readSeqs(t, l); fmt.Sprint(got2) != fmt.Sprint(span(1, uint64(len(got)+5))) {
				t.Fatalf("after writing on: %v", got2)
			}
		})
	}
}

// TestFailedWriteIsCut: records of a Write that failed after reaching
// the file are not read back once a later Write reused their seqs.
func TestFailedWriteIsCut(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 8<<10)
	writeN(t, l, 10)
	// Reach the file but fail: write frames by hand after the tail, as a
	// Write whose sync failed would leave them.
	l.wmu.Lock()
	junk := AppendFrame(nil, l.act.salt, 11, []byte("lost"))
	junk = AppendFrame(junk, l.act.salt, 12, []byte("lost"))
	if _, err := l.act.f.WriteAt(junk, l.wEnd); err != nil {
		t.Fatal(err)
	}
	l.broken = true
	l.wmu.Unlock()
	if err := l.Write([]Record{{Seq: 11, Data: payload(11)}}, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openLog(t, dir, 8<<10)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 11)) {
		t.Fatalf("read %v", got)
	}
}

// TestTornHeaderBetweenSegments: a segment whose header did not reach
// the disk (a failed write) before a segment that did does not take the
// later one with it.
func TestTornHeaderBetweenSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 8<<10)
	writeN(t, l, 10)
	var torn string
	for _, seq := range []uint64{11, 12} {
		l.wmu.Lock()
		l.broken = true // as after a failed write: the next starts a segment
		l.wmu.Unlock()
		if err := l.Write([]Record{{Seq: seq, Data: payload(seq)}}, nil); err != nil {
			t.Fatal(err)
		}
		if seq == 11 {
			l.mu.RLock()
			torn = l.act.path
			l.mu.RUnlock()
		}
	}
	l.Close()
	f, err := os.OpenFile(torn, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("torn"), 8); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l = openLog(t, dir, 8<<10)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(append(span(1, 10), 12)) {
		t.Fatalf("read %v", got)
	}
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("the torn segment is still there: %v", err)
	}
}

// TestFullDisk: when no segment can be prepared, a Write that needs one
// fails and changes nothing visible; once the disk has room again writing
// goes on with the same seqs, and a reopen reads exactly what returned.
func TestFullDisk(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 4096)
	writeN(t, l, 10)
	// Let the spare in preparation finish, then make the next fail.
	l.wmu.Lock()
	sp := <-l.spare
	l.spare <- sp
	full := errors.New("no space left on device")
	failPrepare := func() error { return full }
	testHookPrepare.Store(&failPrepare)
	defer testHookPrepare.Store(nil)
	l.wmu.Unlock()
	next := l.Next()
	failed := 0
	for i := 0; i < 400 && failed == 0; i++ {
		err := l.Write([]Record{{Seq: next, Data: payload(next)}}, nil)
		switch {
		case err == nil:
			next++
		case errors.Is(err, full):
			failed++
		default:
			t.Fatal(err)
		}
	}
	if failed == 0 {
		t.Fatal("no write needed a new segment")
	}
	if l.Next() != next {
		t.Fatalf("next %d after a failed write, want %d", l.Next(), next)
	}
	// Room comes back.
	testHookPrepare.Store(nil)
	writeN(t, l, 300)
	if err := l.Write(nil, [][2]uint64{{1, 5}}); err != nil {
		t.Fatal(err)
	}
	want := span(6, next+299)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v", got)
	}
	l.Close()
	l = openLog(t, dir, 4096)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after reopen %v", got)
	}
}

// TestOpenOnFullDisk: a log opens on a disk without room for a segment
// (after a restart on a full disk): it reads what it has, its writes
// fail until there is room, then go on.
func TestOpenOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 4096)
	writeN(t, l, 10)
	l.Close()
	// Take the spare a close leaves, so that opening needs a new one.
	spares := 0
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) >= HeaderSize && allZero(b[:HeaderSize]) {
			os.Remove(f)
			spares++
		}
	}
	if spares == 0 {
		t.Fatal("no spare left by close")
	}
	full := errors.New("no space left on device")
	failPrepare := func() error { return full }
	testHookPrepare.Store(&failPrepare)
	defer testHookPrepare.Store(nil)
	l = openLog(t, dir, 4096)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 10)) {
		t.Fatalf("read %v", got)
	}
	if err := l.Write([]Record{{Seq: 11, Data: payload(11)}}, nil); !errors.Is(err, full) {
		t.Fatalf("write on a full disk: %v", err)
	}
	testHookPrepare.Store(nil)
	writeN(t, l, 5)
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 15)) {
		t.Fatalf("read %v", got)
	}
}

// TestFailedWriteAcrossSegments: a Write that started segments and then
// failed leaves nothing visible; the same seqs are written again, and a
// reopen reads exactly what returned.
func TestFailedWriteAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 4096)
	writeN(t, l, 10)
	batch := func() []Record {
		var recs []Record
		for s := uint64(11); s <= 110; s++ {
			recs = append(recs, Record{Seq: s, Data: payload(s)})
		}
		return recs
	}
	ioErr := errors.New("input/output error")
	failSync := func() error { return ioErr }
	testHookSync.Store(&failSync)
	err := l.Write(batch(), nil)
	testHookSync.Store(nil)
	if !errors.Is(err, ioErr) {
		t.Fatalf("write: %v", err)
	}
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 10)) {
		t.Fatalf("after the failed write: %v", got)
	}
	if err := l.Write(batch(), nil); err != nil {
		t.Fatal(err)
	}
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 110)) {
		t.Fatalf("written again: %v", got)
	}
	l.Close()
	l = openLog(t, dir, 4096)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, 110)) {
		t.Fatalf("after reopen: %v", got)
	}
}

// TestLaterSegmentStartsLower: a segment that starts below the one before
// it (a failed write's segment that stayed on disk, then the write done
// again) supersedes what the earlier ones hold from its base on.
func TestLaterSegmentStartsLower(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 4096)
	writeN(t, l, 400)
	l.mu.RLock()
	var bases []uint64
	for _, s := range l.segs {
		bases = append(bases, s.base)
	}
	file := l.nextFile + 5
	l.mu.RUnlock()
	l.Close()
	if len(bases) < 3 {
		t.Fatalf("segments %v", bases)
	}
	// Start again at the middle of the second segment.
	from := bases[1] + 3
	seg := AppendHeader(nil, from, 99)
	for s := from; s < from+4; s++ {
		seg = AppendFrame(seg, 99, s, payload(s))
	}
	seg = append(seg, make([]byte, 4096-len(seg))...)
	if err := os.WriteFile(filepath.Join(dir, segName(file)), seg, 0o600); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, 4096)
	defer l.Close()
	if got := readSeqs(t, l); fmt.Sprint(got) != fmt.Sprint(span(1, from+3)) {
		t.Fatalf("read %v, want 1..%d", got, from+3)
	}
	if _, next := l.Bounds(); next != from+4 {
		t.Fatalf("next %d", next)
	}
}
