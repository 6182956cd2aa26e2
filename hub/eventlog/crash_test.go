package eventlog

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "EVENTLOG_CRASH_CHILD"

// crashSegment is small so that the child starts and deletes segments
// between kills.
const crashSegment = 16 << 10

// TestMain runs the crash test's child when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes records (and acknowledges some) until it is killed,
// printing "w <first> <last>" after each Write of records returned,
// "R <from> <to>" before an acknowledgement's Write and "r <from> <to>"
// after it returned.
func crashChild(dir string) {
	l, err := Open(dir, Options{SegmentSize: crashSegment, Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := os.Stdout
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for {
		next := l.Next()
		n := 1 + rng.IntN(40)
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = Record{Seq: next + uint64(i), Data: payload(next + uint64(i))}
		}
		var acks [][2]uint64
		if first, _ := l.Bounds(); first != 0 && rng.IntN(3) == 0 {
			// Acknowledge a stretch of what is stored, as the drain does.
			acks = [][2]uint64{{first, min(first+uint64(rng.IntN(60)), next-1)}}
		}
		for _, a := range acks {
			fmt.Fprintf(out, "R %d %d\n", a[0], a[1])
		}
		if err := l.Write(recs, acks); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "w %d %d\n", next, next+uint64(n)-1)
		for _, a := range acks {
			fmt.Fprintf(out, "r %d %d\n", a[0], a[1])
		}
	}
}

// TestCrashKill9 starts a child that writes and acknowledges records,
// kills it (SIGKILL) at a random moment, many times over, and after each
// kill opens the log and checks: every record whose Write returned is
// there unless an acknowledgement's Write returned for it; nothing
// acknowledged is there; records are in order, each once, with their
// bytes; and what was there at one open is there at the next unless
// acknowledged meanwhile.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process many times")
	}
	rounds := 25
	if s := os.Getenv("EVENTLOG_CRASH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	written := map[uint64]bool{}  // Write returned
	removed := map[uint64]bool{}  // the acknowledgement's Write returned
	removing := map[uint64]bool{} // the acknowledgement's Write was called
	var present []uint64          // at the last open
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Fatalf("round %d: child: %s", round, stderr.String())
		}
		sc := bufio.NewScanner(&stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue // a line the kill cut
			}
			lo, err1 := strconv.ParseUint(f[1], 10, 64)
			hi, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			for s := lo; s <= hi; s++ {
				switch f[0] {
				case "w":
					written[s] = true
				case "r":
					removed[s] = true
				case "R":
					removing[s] = true
				}
			}
		}
		l := openLog(t, dir, crashSegment)
		var got []uint64
		_, next := l.Bounds()
		err := l.Read(0, next, 1<<30, func(seq uint64, data []byte) error {
			if string(data) != string(payload(seq)) {
				return fmt.Errorf("seq %d holds %q", seq, data)
			}
			if len(got) > 0 && seq <= got[len(got)-1] {
				return fmt.Errorf("seq %d after %d", seq, got[len(got)-1])
			}
			got = append(got, seq)
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		have := map[uint64]bool{}
		for _, s := range got {
			have[s] = true
			if removed[s] {
				t.Fatalf("round %d: seq %d is back after its removal returned", round, s)
			}
		}
		for s := range written {
			if !have[s] && !removing[s] {
				var segs []string
				for _, sg := range l.segs {
					segs = append(segs, fmt.Sprintf("%s base %d end %d size %d", sg.path[len(dir):], sg.base, sg.end, sg.size))
				}
				t.Fatalf("round %d: seq %d lost: its Write returned (next %d, stored %v, segments %v)", round, s, next, l.Stored(), segs)
			}
		}
		for _, s := range present {
			if !have[s] && !removing[s] {
				t.Fatalf("round %d: seq %d was there at the last open and is gone", round, s)
			}
		}
		if st := l.Len(); st != len(got) {
			t.Fatalf("round %d: Len %d, read %d", round, st, len(got))
		}
		present = got
		// Records the kill left without an answer may be acknowledged in
		// the next round: they count as written from now on.
		for _, s := range got {
			written[s] = true
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if round == rounds-1 {
			t.Logf("%d rounds: %d records written, %d removed, %d there at the end", rounds, len(written), len(removed), len(got))
		}
	}
}
