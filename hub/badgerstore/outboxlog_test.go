package badgerstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/hub/eventlog"
)

// badgerOutboxWithGaps leaves in dir an outbox of OpenOutbox as an
// upgraded hub finds it: records 11..49 and 51..90 of 100 stored as
// Badger keys (the rest acknowledged), message seqs used, state saved.
func badgerOutboxWithGaps(t *testing.T, dir string) (stream string, recs []hub.Activity, msg uint64) {
	t.Helper()
	s, o := openOutbox(t, badgerOutbox, dir, badgerstore.OutboxOptions{})
	for i := 0; i < 100; i++ {
		if _, err := o.Append(context.Background(), doorEvent(fmt.Sprintf("door-%d", i%3), i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range [][2]uint64{{91, 100}, {1, 10}, {50, 50}} {
		if err := o.Remove(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		var err error
		if msg, err = o.NextMessageSeq(); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.SaveState("replay", []byte(`["n1"]`)); err != nil {
		t.Fatal(err)
	}
	recs = readAll(t, o)
	stream = o.Stream()
	closeBoth(t, s, o)
	return stream, recs, msg
}

func checkMigrated(t *testing.T, o *badgerstore.Outbox, stream string, want []hub.Activity, msg uint64) {
	t.Helper()
	if o.Stream() != stream {
		t.Fatalf("stream %q, was %q", o.Stream(), stream)
	}
	got := readAll(t, o)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("records after the move:\n%s\nwant\n%s", gj, wj)
	}
	if first, next := o.Bounds(); first != 11 || next != 101 {
		t.Fatalf("bounds %d %d", first, next)
	}
	if st := o.Status(); st.Pending != 79 || st.Next != 101 {
		t.Fatalf("status %+v", st)
	}
	if v, err := o.LoadState("replay"); err != nil || string(v) != `["n1"]` {
		t.Fatalf("state %q %v", v, err)
	}
	if n, err := o.NextMessageSeq(); err != nil || n <= msg {
		t.Fatalf("message seq %d after %d: %v", n, msg, err)
	}
}

// TestLogOutboxTakesOverBadgerOutbox upgrades a hub: the log outbox
// finds records the Badger outbox kept, moves them into its log with
// their seqs and deletes the keys; stream, seqs, message seqs and state
// go on.
func TestLogOutboxTakesOverBadgerOutbox(t *testing.T) {
	dir := t.TempDir()
	stream, want, msg := badgerOutboxWithGaps(t, dir)

	s, o := openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
	checkMigrated(t, o, stream, want, msg)
	if seq, err := o.Append(context.Background(), doorEvent("door-0", 100)); err != nil || seq != 101 {
		t.Fatalf("append after the move: %d %v", seq, err)
	}
	closeBoth(t, s, o)

	// The keys are gone from Badger: the Badger outbox sees none.
	s, o = openOutbox(t, badgerOutbox, dir, badgerstore.OutboxOptions{})
	if st := o.Status(); st.Pending != 0 {
		t.Fatalf("%d records left as Badger keys", st.Pending)
	}
	closeBoth(t, s, o)

	// Reopened, the log outbox has them all, once.
	s, o = openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
	defer closeBoth(t, s, o)
	if got := readAll(t, o); len(got) != 80 || got[79].Seq != 101 {
		t.Fatalf("after reopen: %d records", len(got))
	}
}

// TestLogOutboxTakeOverInterrupted: a crash after the move wrote part of
// the records into the log, before the keys were deleted. The next open
// moves the rest, each record once.
func TestLogOutboxTakeOverInterrupted(t *testing.T) {
	dir := t.TempDir()
	stream, want, msg := badgerOutboxWithGaps(t, dir)
	// What the interrupted move wrote: the records up to seq 30.
	l, err := eventlog.Open(filepath.Join(dir, badgerstore.OutboxLogDir), eventlog.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var part []eventlog.Record
	for _, a := range want {
		if a.Seq <= 30 {
			b, _ := json.Marshal(&a)
			part = append(part, eventlog.Record{Seq: a.Seq, Data: b})
		}
	}
	if err := l.Write(part, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()

	s, o := openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
	defer closeBoth(t, s, o)
	checkMigrated(t, o, stream, want, msg)
}

// TestLogOutboxTakesOverDrainedBadgerOutbox: an upgraded hub whose Badger
// outbox was empty goes on above the seqs it gave.
func TestLogOutboxTakesOverDrainedBadgerOutbox(t *testing.T) {
	dir := t.TempDir()
	s, o := openOutbox(t, badgerOutbox, dir, badgerstore.OutboxOptions{})
	for i := 0; i < 5; i++ {
		if _, err := o.Append(context.Background(), doorEvent("front", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Remove(1, 5); err != nil {
		t.Fatal(err)
	}
	stream := o.Stream()
	closeBoth(t, s, o)
	for round := 0; round < 2; round++ {
		s, o = openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
		if o.Stream() != stream {
			t.Fatalf("stream %q, was %q", o.Stream(), stream)
		}
		if seq, err := o.Append(context.Background(), doorEvent("front", 5+round)); err != nil || seq != uint64(6+round) {
			t.Fatalf("round %d: first append got seq %d %v", round, seq, err)
		}
		closeBoth(t, s, o)
	}
}

// TestLogOutboxTakeOverFails: when the records cannot be moved (a full
// disk), the outbox opens all the same, as the Badger-kept one, with
// every record and going on with the seqs; the next open moves them all.
func TestLogOutboxTakeOverFails(t *testing.T) {
	dir := t.TempDir()
	stream, want, msg := badgerOutboxWithGaps(t, dir)
	badgerstore.SetMigrateHook(func() error { return errors.New("no space left on device") })
	s, o := openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
	badgerstore.SetMigrateHook(nil)
	checkMigrated(t, o, stream, want, msg)
	if seq, err := o.Append(context.Background(), doorEvent("door-0", 100)); err != nil || seq != 101 {
		t.Fatalf("append while not moved: %d %v", seq, err)
	}
	want = readAll(t, o)
	closeBoth(t, s, o)

	s, o = openOutbox(t, logOutbox, dir, badgerstore.OutboxOptions{})
	defer closeBoth(t, s, o)
	got := readAll(t, o)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("after the move:\n%s\nwant\n%s", gj, wj)
	}
	if seq, err := o.Append(context.Background(), doorEvent("door-0", 101)); err != nil || seq != 102 {
		t.Fatalf("append after the move: %d %v", seq, err)
	}
}
