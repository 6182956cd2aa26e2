package badgerstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

var outboxT0 = time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)

func quietOptions() badgerstore.Options {
	o := badgerstore.DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return o
}

// outboxKind is one way of keeping the outbox: the tests run against
// each.
type outboxKind struct {
	name string
	open func(*badgerstore.Store, badgerstore.OutboxOptions) (*badgerstore.Outbox, error)
}

var (
	logOutbox    = outboxKind{"log", (*badgerstore.Store).OpenLogOutbox}
	badgerOutbox = outboxKind{"badger", (*badgerstore.Store).OpenOutbox}
	outboxKinds  = []outboxKind{logOutbox, badgerOutbox}
)

// eachOutbox runs f as a subtest for every kind of outbox.
func eachOutbox(t *testing.T, f func(t *testing.T, k outboxKind)) {
	for _, k := range outboxKinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

func openOutbox(t testing.TB, k outboxKind, dir string, opts badgerstore.OutboxOptions) (*badgerstore.Store, *badgerstore.Outbox) {
	t.Helper()
	s, err := badgerstore.Open(dir, quietOptions())
	if err != nil {
		t.Fatal(err)
	}
	switch opts.SegmentSize {
	case 0:
		opts.SegmentSize = 256 << 10 // small segments: rotation in the tests
	case -1:
		opts.SegmentSize = 0 // the default
	}
	o, err := k.open(s, opts)
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s, o
}

func closeBoth(t testing.TB, s *badgerstore.Store, o *badgerstore.Outbox) {
	t.Helper()
	if err := o.Close(); err != nil {
		t.Error(err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

// doorEvent is a record that says which door and which number it is.
func doorEvent(door string, i int) hub.Activity {
	return hub.DoorActivity(door, hub.ActivityDoorHeldOpen, hub.Now{Time: outboxT0.Add(time.Duration(i) * time.Second), Trusted: true}, -1)
}

func readAll(t testing.TB, o hub.Outbox) []hub.Activity {
	t.Helper()
	_, next := o.Bounds()
	recs, err := o.Read(0, next, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestOutboxAppendIsGaplessAndDurable appends from many goroutines, then
// checks the seqs are 1..n without gaps, each door's records in the order
// its goroutine appended them, and that all of it survives a reopen.
func TestOutboxAppendIsGaplessAndDurable(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		dir := t.TempDir()
		s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		stream := o.Stream()
		if len(stream) != 22 {
			t.Fatalf("stream %q", stream)
		}
		const doors, each = 8, 200
		var wg sync.WaitGroup
		seqs := make([][]uint64, doors)
		for d := 0; d < doors; d++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					seq, err := o.Append(context.Background(), doorEvent(fmt.Sprintf("door-%d", d), i))
					if err != nil {
						t.Error(err)
						return
					}
					seqs[d] = append(seqs[d], seq)
				}
			}()
		}
		wg.Wait()
		for d := range seqs {
			for i := 1; i < len(seqs[d]); i++ {
				if seqs[d][i] <= seqs[d][i-1] {
					t.Fatalf("door %d: seq %d after %d", d, seqs[d][i], seqs[d][i-1])
				}
			}
		}
		check := func(o hub.Outbox, want int) {
			t.Helper()
			recs := readAll(t, o)
			if len(recs) != want {
				t.Fatalf("%d records, want %d", len(recs), want)
			}
			last := map[string]time.Time{}
			for i, r := range recs {
				if r.Seq != uint64(i+1) {
					t.Fatalf("record %d has seq %d", i, r.Seq)
				}
				if r.At.Before(last[r.Door]) {
					t.Fatalf("door %s out of order at seq %d", r.Door, r.Seq)
				}
				last[r.Door] = r.At
			}
		}
		check(o, doors*each)
		if st := o.Status(); st.Pending != doors*each || st.Next != doors*each+1 || st.Degraded {
			t.Fatalf("status %+v", st)
		}
		closeBoth(t, s, o)

		s, o = openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		defer closeBoth(t, s, o)
		if o.Stream() != stream {
			t.Fatalf("stream changed across a reopen: %q, then %q", stream, o.Stream())
		}
		check(o, doors*each)
		seq, err := o.Append(context.Background(), doorEvent("door-0", each))
		if err != nil || seq != doors*each+1 {
			t.Fatalf("append after reopen: %d %v", seq, err)
		}
	})
}

// TestOutboxRemove removes message-sized ranges out of order, as the two
// lanes of the cloud link do, and checks Bounds, Read and a reopen.
func TestOutboxRemove(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		dir := t.TempDir()
		s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		for i := 0; i < 100; i++ {
			if _, err := o.Append(context.Background(), doorEvent("front", i)); err != nil {
				t.Fatal(err)
			}
		}
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(o.Remove(91, 100)) // the live lane's first message
		must(o.Remove(1, 10))   // the backlog's
		must(o.Remove(50, 50))
		if first, next := o.Bounds(); first != 11 || next != 101 {
			t.Fatalf("bounds %d %d", first, next)
		}
		recs, err := o.Read(45, 200, 10)
		must(err)
		var got []uint64
		for _, r := range recs {
			got = append(got, r.Seq)
		}
		if fmt.Sprint(got) != "[45 46 47 48 49 51 52 53 54 55]" {
			t.Fatalf("read %v", got)
		}
		if recs, _ := o.Read(88, 95, 100); len(recs) != 3 {
			t.Fatalf("read up to the live lane: %d records", len(recs))
		}
		closeBoth(t, s, o)
		s, o = openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		defer closeBoth(t, s, o)
		if first, next := o.Bounds(); first != 11 || next != 101 {
			t.Fatalf("bounds after reopen %d %d", first, next)
		}
		if st := o.Status(); st.Pending != 79 {
			t.Fatalf("pending %d, want 79", st.Pending)
		}
		must(o.Remove(1, 100))
		if first, next := o.Bounds(); first != 0 || next != 101 {
			t.Fatalf("bounds when empty %d %d", first, next)
		}
		// Seqs go on after everything was removed, also across a reopen.
		closeBoth(t, s, o)
		s, o = openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		if seq, err := o.Append(context.Background(), doorEvent("front", 100)); err != nil || seq != 101 {
			t.Fatalf("append into an emptied outbox: %d %v", seq, err)
		}
	})
}

func TestOutboxMessageSeqNeverRepeats(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		dir := t.TempDir()
		seen := map[uint64]bool{}
		var last uint64
		for round := 0; round < 3; round++ {
			s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{})
			for i := 0; i < 1500; i++ {
				n, err := o.NextMessageSeq()
				if err != nil {
					t.Fatal(err)
				}
				if seen[n] || n <= last {
					t.Fatalf("round %d: message seq %d after %d", round, n, last)
				}
				seen[n], last = true, n
			}
			closeBoth(t, s, o)
		}
	})
}

func TestOutboxState(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		dir := t.TempDir()
		s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		if v, err := o.LoadState("replay"); err != nil || v != nil {
			t.Fatalf("empty state: %q %v", v, err)
		}
		if err := o.SaveState("replay", []byte(`[1]`)); err != nil {
			t.Fatal(err)
		}
		closeBoth(t, s, o)
		s, o = openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		defer closeBoth(t, s, o)
		if v, err := o.LoadState("replay"); err != nil || string(v) != `[1]` {
			t.Fatalf("state after reopen: %q %v", v, err)
		}
	})
}

// TestOutboxDiskFull fills the disk (as FreeSpace reports it), then lets
// writes fail outright: records wait in memory, Append says they are not
// durable, the oldest beyond the memory limit are discarded and counted,
// the alarm goes up and comes down, and once the disk takes records again
// an overflow marker precedes what was held, in order.
func TestOutboxDiskFull(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		var free atomic.Uint64
		free.Store(1 << 40)
		var alarms []hub.OutboxStatus
		var amu sync.Mutex
		dir := t.TempDir()
		s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{
			FreeSpace:     func() (uint64, error) { return free.Load(), nil },
			MemoryLimit:   50,
			RetryInterval: 20 * time.Millisecond,
			OnAlarm: func(st hub.OutboxStatus) {
				amu.Lock()
				alarms = append(alarms, st)
				amu.Unlock()
			},
		})
		defer closeBoth(t, s, o)
		ctx := context.Background()
		for i := 0; i < 10; i++ {
			if _, err := o.Append(ctx, doorEvent("front", i)); err != nil {
				t.Fatal(err)
			}
		}
		free.Store(1 << 20) // below the 64 MiB reserve
		for i := 10; i < 80; i++ {
			seq, err := o.Append(ctx, doorEvent("front", i))
			if !errors.Is(err, hub.ErrNotDurable) || seq != 0 {
				t.Fatalf("append %d on a full disk: %d %v", i, seq, err)
			}
		}
		st := o.Status()
		if !st.Degraded || st.Held != 50 || st.Discarded != 20 || st.Pending != 10 {
			t.Fatalf("status on a full disk: %+v", st)
		}
		// Space comes back, but the disk fails a write: still degraded.
		badgerstore.SetOutboxCommitHook(o, func() error { return errors.New("input/output error") })
		free.Store(1 << 40)
		time.Sleep(100 * time.Millisecond)
		if st := o.Status(); !st.Degraded || st.Reason != "input/output error" || st.Held != 50 {
			t.Fatalf("status while writes fail: %+v", st)
		}
		badgerstore.SetOutboxCommitHook(o, nil)
		deadline := time.Now().Add(5 * time.Second)
		for o.Status().Degraded && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if st := o.Status(); st.Degraded || st.Held != 0 || st.Pending != 61 {
			t.Fatalf("status after recovery: %+v", st)
		}
		recs := readAll(t, o)
		marker := recs[10]
		if marker.Kind != hub.ActivityOverflow || marker.Lost.Count != 20 ||
			!marker.Lost.From.Equal(outboxT0.Add(10*time.Second)) || !marker.Lost.To.Equal(outboxT0.Add(29*time.Second)) {
			t.Fatalf("overflow marker %+v %+v", marker, marker.Lost)
		}
		for i, r := range recs[11:] {
			if want := outboxT0.Add(time.Duration(30+i) * time.Second); !r.At.Equal(want) || r.Seq != uint64(12+i) {
				t.Fatalf("held record %d: seq %d at %v, want at %v", i, r.Seq, r.At, want)
			}
		}
		if seq, err := o.Append(ctx, doorEvent("front", 80)); err != nil || seq != 62 {
			t.Fatalf("append after recovery: %d %v", seq, err)
		}
		amu.Lock()
		defer amu.Unlock()
		if len(alarms) != 2 || !alarms[0].Degraded || alarms[1].Degraded {
			t.Fatalf("alarms %+v", alarms)
		}
	})
}

func TestOutboxClose(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		s, o := openOutbox(t, k, t.TempDir(), badgerstore.OutboxOptions{})
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Append(context.Background(), doorEvent("front", 0)); !errors.Is(err, hub.ErrOutboxClosed) {
			t.Fatalf("append after close: %v", err)
		}
		if _, err := o.Append(context.Background(), hub.Activity{Kind: "bogus"}); !errors.Is(err, hub.ErrInvalid) {
			t.Fatalf("invalid record: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOutboxPrivacyOnDisk: a resident's record at their own door holds no
// identity, on disk either.
func TestOutboxPrivacyOnDisk(t *testing.T) {
	eachOutbox(t, func(t *testing.T, k outboxKind) {
		dir := t.TempDir()
		s, o := openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		d := hub.Decision{Door: "apt-3b", At: outboxT0, Kind: hub.CredMobile, Allowed: true, Reason: hub.AllowedByGrant,
			Subject: hub.SubjectPerson, PersonID: "p-anna", GrantID: "g-anna", DeviceID: "dev-1", Resident: true,
			Visibility: hub.IdentityRemoved}
		if _, err := o.Append(context.Background(), hub.AccessActivity(d)); err != nil {
			t.Fatal(err)
		}
		closeBoth(t, s, o)
		s, o = openOutbox(t, k, dir, badgerstore.OutboxOptions{})
		defer closeBoth(t, s, o)
		got := readAll(t, o)[0].Decision
		if got.PersonID != "" || got.GrantID != "" || got.DeviceID != "" || got.Resident || !got.Allowed || got.Visibility != hub.IdentityRemoved {
			t.Fatalf("stored decision %+v", got)
		}
	})
}
