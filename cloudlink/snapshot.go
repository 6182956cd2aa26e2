package cloudlink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"runtime"
	"sync"

	"github.com/doorhub/doorhub/hub"
)

// DefaultChunkBytes is the payload size a snapshot chunk is cut to by
// default: 120 KiB (122,880 bytes), below MaxPayload and below 128,000
// bytes too, whichever a broker means by "128 KB". Fewer, bigger chunks
// cost fewer signatures, broker round trips and store transactions: a
// 100,000-credential site takes 312 chunks instead of 576 at 64 KiB.
const DefaultChunkBytes = 120 * 1024

// MinChunkBytes is the smallest chunk size SplitSnapshot accepts.
const MinChunkBytes = 4 * 1024

// chunkOverhead bounds every byte of a sealed chunk message but its ops
// array: the envelope (hub id and message id of at most 64 bytes, times,
// signature) and the chunk's other fields (snapshot id and site of at most
// 64 bytes, numbers at their widest). Counted, it is about 650 bytes.
const chunkOverhead = 1024

// SplitSnapshot cuts a snapshot into chunks whose sealed messages are at
// most maxPayload bytes each (DefaultChunkBytes when 0), keeping the ops
// in order, and stamps each with the index, the count and the digest of
// the whole. It runs on the cloud side, which holds the snapshot; each
// chunk is then sealed with Signer.Seal and published in index order.
//
// Each op is encoded as json.Marshal writes it. The ops are cut in runs of
// cutRun, on all CPUs at once; a chunk never spans two runs, so the cut
// is the same on any machine.
func SplitSnapshot(s *hub.Snapshot, snapshotID string, maxPayload int) ([]SnapshotChunk, error) {
	if err := checkName("snapshot_id", snapshotID); err != nil {
		return nil, err
	}
	cut, err := cutSnapshot(s.Version, maxPayload, func(emit func([]hub.Op)) string {
		for i := 0; i < len(s.Ops); i += cutRun {
			emit(s.Ops[i:min(i+cutRun, len(s.Ops))])
		}
		return s.Site
	})
	if err != nil {
		return nil, err
	}
	return cut.chunks(snapshotID), nil
}

// cutRun is how many ops are cut into chunks apart from the others.
const cutRun = 16384

// snapshotCut is a snapshot cut into ops arrays, with their digest: every
// chunk of it but the snapshot id, which each sending of it makes anew.
type snapshotCut struct {
	site    string
	version uint64
	arrays  [][]byte
	sum     string
}

// cutSnapshot cuts the ops that produce emits, in runs of cutRun (the last
// may be shorter), into chunk arrays while it emits them, on all CPUs;
// produce returns the site. It is SplitSnapshot without the id.
func cutSnapshot(version uint64, maxPayload int, produce func(emit func([]hub.Op)) (site string)) (*snapshotCut, error) {
	if maxPayload == 0 {
		maxPayload = DefaultChunkBytes
	}
	if maxPayload < MinChunkBytes || maxPayload > MaxPayload {
		return nil, fmt.Errorf("%w: chunk size %d is not %d to %d bytes", ErrOversize, maxPayload, MinChunkBytes, MaxPayload)
	}
	budget := maxPayload - chunkOverhead
	type run struct {
		k   int
		ops []hub.Op
	}
	type result struct {
		arrays [][]byte
		err    error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	runs := make(chan run, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range runs {
				arrays, err := cutOps(r.ops, r.k*cutRun, budget)
				mu.Lock()
				results[r.k] = result{arrays, err}
				mu.Unlock()
			}
		}()
	}
	n := 0
	site := produce(func(ops []hub.Op) {
		mu.Lock()
		results = append(results, result{})
		mu.Unlock()
		runs <- run{n, ops}
		n++
	})
	close(runs)
	wg.Wait()
	if err := checkName("site", site); err != nil {
		return nil, err
	}
	if version == 0 || n == 0 {
		return nil, schemaf("a snapshot has a version and at least the site's op")
	}
	var arrays [][]byte
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		arrays = append(arrays, r.arrays...)
	}
	if len(arrays) > MaxSnapshotChunks {
		return nil, fmt.Errorf("%w: %d chunks, at most %d", ErrOversize, len(arrays), MaxSnapshotChunks)
	}
	h := sha256.New()
	for _, a := range arrays {
		h.Write(a)
	}
	return &snapshotCut{site: site, version: version, arrays: arrays, sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// cutOps packs ops, in order, into JSON arrays of at most budget bytes;
// base is the index of ops[0] in the snapshot, for errors.
func cutOps(ops []hub.Op, base, budget int) ([][]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // as json.Marshal, plus a line feed
	var arrays [][]byte
	cur := append(make([]byte, 0, budget), '[')
	for i := range ops {
		buf.Reset()
		if err := enc.Encode(&ops[i]); err != nil {
			return nil, fmt.Errorf("%w: ops[%d]: %v", ErrSchema, base+i, err)
		}
		op := buf.Bytes()[:buf.Len()-1]
		if len(op)+2 > budget {
			return nil, fmt.Errorf("%w: ops[%d] (%s) takes %d bytes, a chunk holds %d", ErrOversize, base+i, ops[i].Type, len(op), budget-2)
		}
		if len(cur) > 1 && len(cur)+1+len(op)+1 > budget {
			arrays = append(arrays, append(cur, ']'))
			cur = append(make([]byte, 0, budget), '[')
		}
		if len(cur) > 1 {
			cur = append(cur, ',')
		}
		cur = append(cur, op...)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return append(arrays, append(cur, ']')), nil
}

// chunks stamps the cut with a snapshot id.
func (c *snapshotCut) chunks(id string) []SnapshotChunk {
	chunks := make([]SnapshotChunk, len(c.arrays))
	for i, a := range c.arrays {
		chunks[i] = SnapshotChunk{
			SnapshotID: id, Site: c.site, Version: c.version,
			Index: i, Count: len(c.arrays), SHA256: c.sum, Ops: a,
		}
	}
	return chunks
}

// SnapshotBeginner starts replacing a store's set; hub.Store implements
// it.
type SnapshotBeginner interface {
	BeginSnapshot(ctx context.Context, site string, version uint64) (hub.SnapshotWriter, error)
}

var _ SnapshotBeginner = (hub.Store)(nil)

// SnapshotAssembler takes the verified chunks of snapshots on the hub side
// and streams their ops into the store chunk by chunk: it holds one chunk
// at a time, never the whole snapshot. It commits when the last chunk came
// in order and the digest of all chunks matches; otherwise the store keeps
// its set.
//
// Rules, per chunk (docs/cloud-protocol.md, "Snapshots"):
//   - index 0 starts the snapshot, aborting one in progress — unless it
//     repeats the chunk just taken (a redelivery), which is ignored;
//   - the next index continues it; a repeat of the previous index is
//     ignored; any other index, or a change of site, version, count or
//     digest, aborts it (ErrSnapshotOrder);
//   - a chunk of another snapshot than the one in progress, index > 0, is
//     dropped (ErrSnapshotOrder) and the one in progress goes on;
//   - a chunk of the snapshot committed last is ignored (a redelivery).
//
// It is not safe for concurrent use: the hub feeds it from the one
// goroutine that handles downlink messages.
type SnapshotAssembler struct {
	store SnapshotBeginner
	cur   *assembly
	// last is the id of the last committed snapshot: its chunks, delivered
	// again, are ignored.
	last string
}

type assembly struct {
	id, site string
	version  uint64
	count    int
	sum      string
	next     int
	hash     hash.Hash
	w        hub.SnapshotWriter
}

// NewSnapshotAssembler returns an assembler writing into store.
func NewSnapshotAssembler(store SnapshotBeginner) *SnapshotAssembler {
	return &SnapshotAssembler{store: store}
}

// Add takes the next chunk. done is true when this chunk completed the
// snapshot and the store committed it. An error wraps ErrSnapshotOrder,
// ErrSnapshotDigest, ErrSchema (ops that do not decode) or the store's
// error (hub.ErrInvalid, hub.ErrStaleBatch, ...); after any error but a
// dropped stray chunk no snapshot is in progress.
func (a *SnapshotAssembler) Add(ctx context.Context, c *SnapshotChunk) (done bool, err error) {
	return a.add(ctx, c, c.DecodeOps)
}

// add is Add with the chunk's ops decoded by decode, which the client's
// first stage may have done ahead while the store wrote the previous
// chunk. decode is called only once the chunk is known to be the next.
func (a *SnapshotAssembler) add(ctx context.Context, c *SnapshotChunk, decode func() ([]hub.Op, error)) (done bool, err error) {
	if err := c.check(); err != nil {
		return false, err
	}
	cur := a.cur
	switch {
	case c.SnapshotID == a.last && (cur == nil || cur.id != c.SnapshotID):
		return false, nil // a chunk of the snapshot just committed: a redelivery
	case c.Index == 0 && cur != nil && cur.id == c.SnapshotID && cur.next == 1 && cur.same(c):
		return false, nil // chunk 0 again: a redelivery
	case c.Index == 0:
		a.Abort()
		w, err := a.store.BeginSnapshot(ctx, c.Site, c.Version)
		if err != nil {
			return false, fmt.Errorf("snapshot %s at version %d: %w", c.SnapshotID, c.Version, err)
		}
		cur = &assembly{
			id: c.SnapshotID, site: c.Site, version: c.Version, count: c.Count,
			sum: c.SHA256, hash: sha256.New(), w: w,
		}
		a.cur = cur
	case cur == nil || cur.id != c.SnapshotID:
		return false, fmt.Errorf("%w: chunk %d of snapshot %s, which is not in progress", ErrSnapshotOrder, c.Index, c.SnapshotID)
	case !cur.same(c):
		a.Abort()
		return false, fmt.Errorf("%w: chunk %d of snapshot %s changes its site, version, count or digest", ErrSnapshotOrder, c.Index, c.SnapshotID)
	case c.Index == cur.next-1:
		return false, nil // the previous chunk again: a redelivery
	case c.Index != cur.next:
		a.Abort()
		return false, fmt.Errorf("%w: chunk %d of snapshot %s, expected %d", ErrSnapshotOrder, c.Index, c.SnapshotID, cur.next)
	}

	cur.hash.Write(c.Ops)
	ops, err := decode()
	if err != nil {
		a.Abort()
		return false, err
	}
	if err := cur.w.Add(ops); err != nil {
		a.Abort()
		return false, fmt.Errorf("snapshot %s chunk %d: %w", c.SnapshotID, c.Index, err)
	}
	cur.next++
	if cur.next < cur.count {
		return false, nil
	}
	a.cur = nil
	if got := hex.EncodeToString(cur.hash.Sum(nil)); got != cur.sum {
		cur.w.Abort()
		return false, fmt.Errorf("%w: snapshot %s hashes to %s, announced %s", ErrSnapshotDigest, c.SnapshotID, got, cur.sum)
	}
	if err := cur.w.Commit(); err != nil {
		cur.w.Abort()
		return false, fmt.Errorf("snapshot %s commit: %w", c.SnapshotID, err)
	}
	a.last = cur.id
	return true, nil
}

func (s *assembly) same(c *SnapshotChunk) bool {
	return s.site == c.Site && s.version == c.Version && s.count == c.Count && s.sum == c.SHA256
}

// Abort drops the snapshot in progress, if any; the store keeps its set.
// The hub calls it when a snapshot stalls (no chunk for a while) and then
// asks for it again.
func (a *SnapshotAssembler) Abort() {
	if a.cur != nil {
		a.cur.w.Abort()
		a.cur = nil
	}
}

// Progress says which snapshot is in progress and how far it got.
type Progress struct {
	SnapshotID string `json:"snapshot_id"`
	Version    uint64 `json:"version"`
	Next       int    `json:"next"`
	Count      int    `json:"count"`
}

// InProgress returns the snapshot in progress, if any.
func (a *SnapshotAssembler) InProgress() (Progress, bool) {
	if a.cur == nil {
		return Progress{}, false
	}
	return Progress{SnapshotID: a.cur.id, Version: a.cur.version, Next: a.cur.next, Count: a.cur.count}, true
}
