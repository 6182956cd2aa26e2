package cloudlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// bigSnapshot is a site with n people, each with a grant and a keycard.
func bigSnapshot(n int, version uint64) *hub.Snapshot {
	s := exampleSnapshot()
	s.Version = version
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%05d", i)
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org", Name: "Person " + p}})
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%05d", i)
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + p, PersonID: p, KeyID: "building",
			StartsAt: t0.Add(-time.Hour), Method: hub.MethodApp}})
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%05d", i)
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("c0ffee%08x", i), OwnerID: p, Active: true}})
	}
	return s
}

// recordingStore counts what reaches the snapshot writer.
type recordingStore struct {
	*hub.MemStore
	adds   []int // ops per Add call
	begins int
}

func (r *recordingStore) BeginSnapshot(ctx context.Context, site string, version uint64) (hub.SnapshotWriter, error) {
	r.begins++
	w, err := r.MemStore.BeginSnapshot(ctx, site, version)
	if err != nil {
		return nil, err
	}
	return &recordingWriter{SnapshotWriter: w, r: r}, nil
}

type recordingWriter struct {
	hub.SnapshotWriter
	r *recordingStore
}

func (w *recordingWriter) Add(ops []hub.Op) error {
	w.r.adds = append(w.r.adds, len(ops))
	return w.SnapshotWriter.Add(ops)
}

// newStore returns a store holding a small set at version 5.
func newStore(t testing.TB) *recordingStore {
	t.Helper()
	s := &recordingStore{MemStore: hub.NewMemStore()}
	snap := exampleSnapshot()
	snap.Version = 5
	if err := hub.Replace(context.Background(), s.MemStore, snap); err != nil {
		t.Fatal(err)
	}
	return s
}

// records is the store's set as JSON, for comparing.
func records(t testing.TB, s *hub.MemStore) string {
	t.Helper()
	var ops []hub.Op
	s.View(func(c *hub.Catalog) {
		if err := c.Records(func(o hub.Op) error { ops = append(ops, o); return nil }); err != nil {
			t.Fatal(err)
		}
	})
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func split(t testing.TB, s *hub.Snapshot, id string, size int) []cloudlink.SnapshotChunk {
	t.Helper()
	chunks, err := cloudlink.SplitSnapshot(s, id, size)
	if err != nil {
		t.Fatal(err)
	}
	return chunks
}

// TestSnapshotThroughTheProtocol cuts a snapshot of 3,000 people, seals
// every chunk, verifies it as the hub would and streams it into a
// MemStore: the store ends up holding exactly the snapshot, received one
// chunk at a time.
func TestSnapshotThroughTheProtocol(t *testing.T) {
	snap := bigSnapshot(3000, 40)
	const size = 16 * 1024
	chunks := split(t, snap, "snap-40-a", size)
	if len(chunks) < 20 {
		t.Fatalf("only %d chunks", len(chunks))
	}
	store := newStore(t)
	asm := cloudlink.NewSnapshotAssembler(store)
	signer := cloudlink.NewSigner(testKey)
	v := newVerifier(t)
	for i := range chunks {
		out, err := signer.Seal(testHub, &chunks[i], cloudlink.SealOptions{IssuedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Payload) > size {
			t.Fatalf("chunk %d: %d bytes, more than %d", i, len(out.Payload), size)
		}
		msg, err := v.Open(out.Topic, out.Payload, trustedAt(t0))
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		done, err := asm.Add(context.Background(), msg.Body.(*cloudlink.SnapshotChunk))
		if err != nil || done != (i == len(chunks)-1) {
			t.Fatalf("chunk %d: done %v, %v", i, done, err)
		}
		if i < len(chunks)-1 && store.Version() != 5 {
			t.Fatalf("the store changed before the last chunk")
		}
	}
	if store.Version() != 40 {
		t.Fatalf("version %d after the snapshot", store.Version())
	}
	want := hub.NewMemStore()
	if err := hub.Replace(context.Background(), want, snap); err != nil {
		t.Fatal(err)
	}
	if records(t, store.MemStore) != records(t, want) {
		t.Errorf("the assembled set differs from the snapshot")
	}
	if store.begins != 1 || len(store.adds) != len(chunks) {
		t.Errorf("%d snapshots begun, %d adds for %d chunks", store.begins, len(store.adds), len(chunks))
	}
	if _, ok := asm.InProgress(); ok {
		t.Errorf("a snapshot still in progress after commit")
	}
}

// TestSnapshotAssembler feeds chunk sequences and checks the outcome:
// committed to the snapshot's set, or the store left as it was.
func TestSnapshotAssembler(t *testing.T) {
	snap := bigSnapshot(200, 40)
	chunks := split(t, snap, "snap-40-a", cloudlink.MinChunkBytes)
	n := len(chunks)
	if n < 6 {
		t.Fatalf("only %d chunks", n)
	}
	all := func() []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	seq := func(parts ...[]int) []int {
		var s []int
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	want := hub.NewMemStore()
	if err := hub.Replace(context.Background(), want, snap); err != nil {
		t.Fatal(err)
	}
	wantRecords := records(t, want)

	badDigest := append([]cloudlink.SnapshotChunk(nil), chunks...)
	for i := range badDigest {
		badDigest[i].SHA256 = strings.Repeat("0", 64)
	}
	// One chunk's ops changed (as if taken from another cut of the site):
	// signed alone, it would verify; the whole does not.
	changedOps := append([]cloudlink.SnapshotChunk(nil), chunks...)
	changedOps[1].Ops = bytes.Replace(chunks[1].Ops, []byte(`"name":"Person `), []byte(`"name":"Persom `), 1)
	if bytes.Equal(changedOps[1].Ops, chunks[1].Ops) {
		t.Fatal("chunk 1 holds no person")
	}
	changedCount := append([]cloudlink.SnapshotChunk(nil), chunks...)
	changedCount[2].Count = n + 1
	undecodable := append([]cloudlink.SnapshotChunk(nil), chunks...)
	undecodable[1].Ops = json.RawMessage(`[{"op":"put_person","person":7}]`)
	conflict := append([]cloudlink.SnapshotChunk(nil), chunks...)
	conflict[1].Ops = json.RawMessage(`[{"op":"put_grant","grant":{"id":"g-x","person_id":"nobody","key_id":"building","starts_at":"2026-01-01T00:00:00Z","method":"app"}}]`)

	cases := []struct {
		name   string
		chunks []cloudlink.SnapshotChunk
		order  []int
		want   error // of the last Add; nil: committed
	}{
		{"in order", chunks, all(), nil},
		{"every chunk twice (redelivery)", chunks, func() []int {
			var s []int
			for i := 0; i < n; i++ {
				s = append(s, i, i)
			}
			return s
		}(), nil},
		{"restarted from chunk 0", chunks, seq([]int{0, 1, 2, 0}, all()[1:]), nil},
		{"gap", chunks, []int{0, 1, 3}, cloudlink.ErrSnapshotOrder},
		{"backwards", chunks, []int{0, 1, 2, 3, 1}, cloudlink.ErrSnapshotOrder},
		{"starts mid-way", chunks, []int{1}, cloudlink.ErrSnapshotOrder},
		{"digest mismatch", badDigest, all(), cloudlink.ErrSnapshotDigest},
		{"one chunk's ops changed", changedOps, all(), cloudlink.ErrSnapshotDigest},
		{"count changes mid-way", changedCount, all()[:3], cloudlink.ErrSnapshotOrder},
		{"ops that do not decode", undecodable, all()[:2], cloudlink.ErrSchema},
		{"ops the store refuses", conflict, all()[:2], hub.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := newStore(t)
			before := records(t, store.MemStore)
			asm := cloudlink.NewSnapshotAssembler(store)
			var done bool
			var err error
			for _, i := range c.order {
				var d bool
				d, err = asm.Add(context.Background(), &c.chunks[i])
				done = done || d
				if err != nil {
					break
				}
			}
			if c.want == nil {
				if err != nil || !done {
					t.Fatalf("done %v, %v", done, err)
				}
				if store.Version() != 40 || records(t, store.MemStore) != wantRecords {
					t.Errorf("the store does not hold the snapshot")
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if store.Version() != 5 || records(t, store.MemStore) != before {
				t.Errorf("a refused snapshot changed the store")
			}
			if _, ok := asm.InProgress(); ok {
				t.Errorf("still in progress after %v", err)
			}
		})
	}
}

// TestSnapshotStray: a chunk of another snapshot is dropped and the one in
// progress goes on.
func TestSnapshotStray(t *testing.T) {
	chunks := split(t, bigSnapshot(100, 40), "snap-40-a", cloudlink.MinChunkBytes)
	other := split(t, bigSnapshot(100, 41), "snap-41-b", cloudlink.MinChunkBytes)
	store := newStore(t)
	asm := cloudlink.NewSnapshotAssembler(store)
	ctx := context.Background()
	for i := range chunks {
		if i == 1 {
			if _, err := asm.Add(ctx, &other[1]); !errors.Is(err, cloudlink.ErrSnapshotOrder) {
				t.Fatalf("stray chunk: %v", err)
			}
			if p, ok := asm.InProgress(); !ok || p.SnapshotID != "snap-40-a" || p.Next != 1 {
				t.Fatalf("progress after a stray chunk: %+v %v", p, ok)
			}
		}
		if _, err := asm.Add(ctx, &chunks[i]); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if store.Version() != 40 {
		t.Errorf("version %d", store.Version())
	}
}

// TestSnapshotRefusedByStore: an old snapshot is refused at its first
// chunk, and its other chunks are dropped.
func TestSnapshotRefusedByStore(t *testing.T) {
	store := newStore(t)
	chunks := split(t, bigSnapshot(50, 3), "snap-3", cloudlink.MinChunkBytes)
	asm := cloudlink.NewSnapshotAssembler(store)
	if _, err := asm.Add(context.Background(), &chunks[0]); !errors.Is(err, hub.ErrStaleBatch) {
		t.Fatalf("old snapshot: %v, want hub.ErrStaleBatch", err)
	}
	if _, err := asm.Add(context.Background(), &chunks[1]); !errors.Is(err, cloudlink.ErrSnapshotOrder) {
		t.Fatalf("its next chunk: %v, want ErrSnapshotOrder", err)
	}
	if store.Version() != 5 {
		t.Errorf("version %d", store.Version())
	}
}

// TestSnapshotAbort: a stalled snapshot is aborted; the next one applies.
func TestSnapshotAbort(t *testing.T) {
	store := newStore(t)
	chunks := split(t, bigSnapshot(50, 40), "snap-40-a", cloudlink.MinChunkBytes)
	asm := cloudlink.NewSnapshotAssembler(store)
	ctx := context.Background()
	if _, err := asm.Add(ctx, &chunks[0]); err != nil {
		t.Fatal(err)
	}
	asm.Abort()
	if _, ok := asm.InProgress(); ok || store.Version() != 5 {
		t.Fatalf("after Abort: in progress %v, version %d", ok, store.Version())
	}
	if _, err := asm.Add(ctx, &chunks[1]); !errors.Is(err, cloudlink.ErrSnapshotOrder) {
		t.Fatalf("a chunk after Abort: %v", err)
	}
	for i := range chunks {
		if _, err := asm.Add(ctx, &chunks[i]); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	if store.Version() != 40 {
		t.Errorf("version %d", store.Version())
	}
}

// TestSplitSnapshotLimits: chunks respect the size they are cut to, even
// with the longest hub id and snapshot id; what cannot fit is refused.
func TestSplitSnapshotLimits(t *testing.T) {
	snap := bigSnapshot(500, 40)
	longHub := strings.Repeat("h", cloudlink.MaxHubIDLength)
	longID := strings.Repeat("s", 64)
	signer := cloudlink.NewSigner(testKey)
	for _, size := range []int{cloudlink.MinChunkBytes, 5000, cloudlink.DefaultChunkBytes, cloudlink.MaxPayload} {
		chunks, err := cloudlink.SplitSnapshot(snap, longID, size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		var all bytes.Buffer
		for i := range chunks {
			out, err := signer.Seal(longHub, &chunks[i], cloudlink.SealOptions{ID: strings.Repeat("i", 64)})
			if err != nil {
				t.Fatalf("size %d chunk %d: %v", size, i, err)
			}
			if len(out.Payload) > size {
				t.Errorf("size %d chunk %d: %d bytes", size, i, len(out.Payload))
			}
			all.Write(chunks[i].Ops[1 : len(chunks[i].Ops)-1])
			all.WriteByte(',')
		}
		var ops []hub.Op
		if err := json.Unmarshal([]byte("["+strings.TrimSuffix(all.String(), ",")+"]"), &ops); err != nil || len(ops) != len(snap.Ops) {
			t.Errorf("size %d: %d ops back, %v", size, len(ops), err)
		}
	}
	huge := exampleSnapshot()
	huge.Ops[3].Key.Doors = nil
	for i := 0; i < 400; i++ {
		huge.Ops[3].Key.Doors = append(huge.Ops[3].Key.Doors, fmt.Sprintf("door-%04d", i))
	}
	if _, err := cloudlink.SplitSnapshot(huge, "s", cloudlink.MinChunkBytes); !errors.Is(err, cloudlink.ErrOversize) {
		t.Errorf("an op larger than a chunk: %v", err)
	}
	for _, size := range []int{1, cloudlink.MinChunkBytes - 1, cloudlink.MaxPayload + 1} {
		if _, err := cloudlink.SplitSnapshot(snap, "s", size); !errors.Is(err, cloudlink.ErrOversize) {
			t.Errorf("size %d: %v", size, err)
		}
	}
	if _, err := cloudlink.SplitSnapshot(&hub.Snapshot{Site: "s1", Version: 1}, "s", 0); !errors.Is(err, cloudlink.ErrSchema) {
		t.Errorf("empty snapshot: %v", err)
	}
	if _, err := cloudlink.SplitSnapshot(snap, "no spaces", 0); !errors.Is(err, cloudlink.ErrSchema) {
		t.Errorf("bad snapshot id: %v", err)
	}
}
