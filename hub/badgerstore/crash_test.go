package badgerstore

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// history is a deterministic sequence of changes: the change to version v
// depends only on v and the set at v-1, so a child process and its parent
// produce the same sets. It keeps the set on a MemStore, the reference.
type history struct {
	model   *hub.MemStore
	version uint64
}

func newHistory() *history { return &history{model: hub.NewMemStore()} }

// change is what brings the set to a version: a batch, or a snapshot of the
// whole set.
type change struct {
	batch    *hub.Batch
	snapshot *hub.Snapshot
}

// next generates the change to version+1 and applies it to the model.
func (h *history) next(t testing.TB) change {
	v := h.version + 1
	var ops []hub.Op
	var c *hub.Catalog
	h.model.View(func(cat *hub.Catalog) { c = cat }) // read only below, by this goroutine
	rng := rand.New(rand.NewPCG(v, 0xd00b))
	switch {
	case v == 1:
		ops = storetest.RichOps()
	case v%40 == 10:
		// A bulk import: too big for one Badger transaction.
		ops = bulkPeople(fmt.Sprintf("p-bulk%d", v), 400)
	case v%40 == 30:
		// A bulk removal, with cascades.
		for i := 0; i < 400; i++ {
			ops = append(ops, hub.Op{Type: hub.OpDeletePerson, ID: fmt.Sprintf("p-bulk%d-%05d", v-20, i)})
		}
	default:
		ops = h.smallOps(rng, c, v)
	}
	b := &hub.Batch{Site: storetest.SiteID, Version: v, Base: h.version, IssuedAt: storetest.T0, Ops: ops}
	if err := h.model.Apply(context.Background(), b); err != nil {
		t.Fatalf("history: version %d: %v", v, err)
	}
	h.version = v
	if v%13 == 0 {
		var snap []hub.Op
		h.model.View(func(cat *hub.Catalog) {
			_ = cat.Records(func(op hub.Op) error { snap = append(snap, op); return nil })
		})
		return change{snapshot: &hub.Snapshot{Site: storetest.SiteID, Version: v, Ops: snap}}
	}
	return change{batch: b}
}

// smallOps returns one to four ops valid on c.
func (h *history) smallOps(rng *rand.Rand, c *hub.Catalog, v uint64) []hub.Op {
	var people []string
	var cards []*hub.Keycard
	_ = c.Records(func(op hub.Op) error {
		switch {
		case op.Person != nil && strings.HasPrefix(op.Person.ID, "p-r"):
			people = append(people, op.Person.ID)
		case op.Keycard != nil && strings.HasPrefix(op.Keycard.OwnerID, "p-r"):
			cards = append(cards, op.Keycard)
		}
		return nil
	})
	var ops []hub.Op
	touched := map[string]bool{}
	n := 1 + rng.IntN(4)
	for i := 0; i < n; i++ {
		switch r := rng.IntN(10); {
		case r < 4 || len(people) == 0:
			id := fmt.Sprintf("p-r%d-%d", v, i)
			keys := []string{"k-101", "k-102", "k-building"}
			ops = append(ops,
				hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.com"}},
				hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%08x%02x", v, i), OwnerID: id, Active: true}},
				hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: keys[rng.IntN(len(keys))],
					StartsAt: storetest.T0, Method: hub.MethodApp, MayShare: rng.IntN(2) == 0}},
			)
		case r < 6 && len(cards) > 0:
			k := *cards[rng.IntN(len(cards))]
			if touched[k.OwnerID] {
				continue
			}
			k.Active = !k.Active
			ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &k})
		case r < 8:
			p := people[rng.IntN(len(people))]
			if touched[p] {
				continue
			}
			touched[p] = true
			op := hub.OpDeletePerson
			if r == 7 {
				op = hub.OpRevokePerson
			}
			ops = append(ops, hub.Op{Type: op, ID: p})
		default:
			p := people[rng.IntN(len(people))]
			if touched[p] {
				continue
			}
			touched[p] = true
			ops = append(ops, hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{
				ID: fmt.Sprintf("gg-%d-%d", v, i), HostID: "p-alice", KeyID: "k-101", GuestID: p, Permanent: true}})
		}
	}
	if len(ops) == 0 {
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: fmt.Sprintf("d-%d", v%50), Name: "Door", Type: hub.DoorService}})
	}
	return ops
}

// changeKind names the kind of change history makes for version v.
// Snapshots are of the history's own set, so they differ from the store's
// by the batch of their version: most are applied as a diff (a bulk
// import or removal as a journaled one), every third writes a new
// generation, either because diffs are off or because the diff outgrows
// SnapshotDiffMax half way (its catalog built as it arrives or loaded at
// Commit, by turns).
func changeKind(v uint64) string {
	switch {
	case v%13 == 0 && v%39 == 0:
		return "snapshot as a new generation"
	case v%13 == 0 && v%39 == 26:
		return "snapshot falling back from a diff to a new generation"
	case v%13 == 0 && (v%40 == 10 || v%40 == 30):
		return "snapshot as a journaled diff"
	case v%13 == 0:
		return "snapshot as a diff"
	case v%40 == 10 || v%40 == 30:
		return "journaled batch"
	}
	return "batch"
}

// apply brings a store to the change's version.
func (c change) apply(s hub.Store) error {
	if c.batch != nil {
		return s.Apply(context.Background(), c.batch)
	}
	if bs, ok := s.(*Store); ok {
		// Read by this goroutine only (BeginSnapshot, Add, Commit).
		switch v := c.snapshot.Version; {
		case v%39 == 0:
			bs.opts.SnapshotDiffMax = -1
		case v%39 == 26:
			bs.opts.SnapshotDiffMax = 1
		default:
			bs.opts.SnapshotDiffMax = 0
		}
		// A new generation's catalog is built as it arrives or, every
		// other time, loaded from disk at Commit.
		bs.opts.SnapshotBuildMax = 0
		if c.snapshot.Version%78 < 39 {
			bs.opts.SnapshotBuildMax = -1
		}
	}
	w, err := s.BeginSnapshot(context.Background(), c.snapshot.Site, c.snapshot.Version)
	if err != nil {
		return err
	}
	ops := c.snapshot.Ops
	for len(ops) > 0 {
		n := min(100, len(ops))
		if err := w.Add(ops[:n]); err != nil {
			w.Abort()
			return err
		}
		ops = ops[n:]
	}
	return w.Commit()
}

const crashDirEnv = "DOORHUB_BADGERSTORE_CRASH_DIR"

// TestCrashChild is the child process of TestCrash: it opens the store,
// catches up the history to the store's version and applies the next
// changes until killed, printing each version after it is committed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestCrash")
	}
	s, err := Open(dir, testOptions())
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	h := newHistory()
	for h.version < s.Version() {
		h.next(t)
	}
	fmt.Printf("open %d\n", s.Version())
	deadline := time.Now().Add(30 * time.Second) // the parent kills long before
	for time.Now().Before(deadline) {
		c := h.next(t)
		if err := c.apply(s); err != nil {
			fmt.Printf("error %d: %v\n", h.version, err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", h.version)
	}
	os.Exit(0)
}

// TestCrash kills a process applying batches and snapshots with SIGKILL at
// random moments, many times, and checks after each kill that the store
// opens at a version at least the last one the child saw committed, with
// exactly the set the history has at that version.
func TestCrash(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DOORHUB_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (DOORHUB_CRASH_SEED=%d to repeat the kill times)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	ref := newHistory()
	var last uint64
	kills := map[string]int{}
	interrupted := map[string]int{} // what the child was writing when killed
	start := time.Now()
	// The rounds are bounded in time as well: on a loaded machine each
	// takes longer, and ten already kill at many points.
	budget := 40 * time.Second
	round := 0
	for ; round < rounds && (round < 10 || time.Since(start) < budget); round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		committed := last
		read := func(line string) {
			switch {
			case strings.HasPrefix(line, "committed "):
				v, err := strconv.ParseUint(strings.TrimPrefix(line, "committed "), 10, 64)
				if err == nil {
					committed = max(committed, v)
				}
			case strings.HasPrefix(line, "error"):
				t.Errorf("round %d: child: %s", round, line)
			}
		}
		// Most rounds kill while changes are applied; some during Open.
		var kill <-chan time.Time
		if rng.IntN(5) == 0 {
			kill = time.After(time.Duration(rng.IntN(80)) * time.Millisecond)
			kills["during open"]++
		} else {
			timeout := time.After(60 * time.Second)
		wait:
			for {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("round %d: the child exited before opening", round)
					}
					read(line)
					if strings.HasPrefix(line, "open ") {
						break wait
					}
				case <-timeout:
					_ = cmd.Process.Kill()
					t.Fatalf("round %d: the child did not open within a minute", round)
				}
			}
			kill = time.After(time.Duration(rng.IntN(250)) * time.Millisecond)
			kills["while applying"]++
		}
	run:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break run
				}
				read(line)
			case <-kill:
				_ = cmd.Process.Kill() // SIGKILL
				kill = nil
			}
		}
		_ = cmd.Wait()

		s, err := Open(dir, testOptions())
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		v := s.Version()
		if v < committed {
			s.Close()
			t.Fatalf("round %d: store at version %d, but the child saw %d committed", round, v, committed)
		}
		if kills != nil {
			interrupted[changeKind(v+1)]++
		}
		for ref.version < v {
			ref.next(t)
		}
		storetest.RequireSameContent(t, storetest.ContentOf(t, ref.model), storetest.ContentOf(t, s),
			fmt.Sprintf("round %d, after a kill at version %d", round, v))
		storetest.CheckInvariants(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		last = v
	}
	t.Logf("%d rounds (%v), reached version %d; kills: %v; the change after the version reopened: %v",
		round, time.Since(start).Round(time.Millisecond), last, kills, interrupted)
	if last < uint64(round) {
		t.Errorf("only %d versions in %d rounds: the kills came too early to test much", last, round)
	}
}
