package badgerstore

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// synth is a synthetic site of n credentials for benchmarks and the
// memory test: 200 doors, 20 keys of 10 doors each (the entrance and 9
// others), and n people, each with one active keycard and one app grant of
// key i%20, open-ended.
//
// A variant changes it: every changeEvery-th person (0: none) has
// another name and a deactivated keycard — two records each, so 100 gives
// 0.67% of the records changed, a typical resync after missed batches;
// other names all people, grants and keycards differently (a wholly
// different set but for the doors and keys).
type synth struct {
	n           int
	changeEvery int
	other       bool
}

const (
	synthDoors = 200
	synthKeys  = 20
)

var synthStart = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func synthDoor(i int) string { return fmt.Sprintf("d-%03d", i) }

// synthKeyDoors are the doors of key k: the entrance d-000 and 9 more.
func synthKeyDoors(k int) []string {
	doors := []string{synthDoor(0)}
	for j := 1; j <= 9; j++ {
		doors = append(doors, synthDoor(k*9+j))
	}
	return doors
}

// synthCard is person i's card id: 8 bytes, spread over the key space.
func synthCard(i int) string { return fmt.Sprintf("%016x", uint64(i+1)*0x9E3779B97F4A7C15) }

// synthDoorOf is a door person i's grant opens (not the shared entrance).
func synthDoorOf(i int) string { return synthDoor((i%synthKeys)*9 + 1 + i%9) }

// chunks calls fn with the site's puts in dependency order, size ops at a
// time, generating them as it goes so that a million-credential site is
// never held whole.
func (s synth) chunks(size int, fn func([]hub.Op) error) error {
	ops := make([]hub.Op, 0, size)
	emit := func(op hub.Op) error {
		ops = append(ops, op)
		if len(ops) < size {
			return nil
		}
		err := fn(ops)
		ops = make([]hub.Op, 0, size)
		return err
	}
	site := storetest.Site()
	if err := emit(hub.Op{Type: hub.OpPutSite, Site: site}); err != nil {
		return err
	}
	for i := 0; i < synthDoors; i++ {
		typ := hub.DoorResidence
		if i == 0 {
			typ = hub.DoorEntrance
		}
		if err := emit(hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: synthDoor(i), Name: "Door " + synthDoor(i), Type: typ}}); err != nil {
			return err
		}
	}
	for k := 0; k < synthKeys; k++ {
		if err := emit(hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: fmt.Sprintf("k-%02d", k), Name: fmt.Sprintf("Wing %d", k),
			Doors: synthKeyDoors(k), DoorcodesAllowed: true, MayShareAllowed: true}}); err != nil {
			return err
		}
	}
	person := func(i int) string { return fmt.Sprintf("p%07d", i) }
	grant := func(i int) string { return fmt.Sprintf("g%07d", i) }
	card := synthCard
	if s.other {
		person = func(i int) string { return fmt.Sprintf("q%07d", i) }
		grant = func(i int) string { return fmt.Sprintf("h%07d", i) }
		card = func(i int) string { return synthCard(i + s.n) }
	}
	changed := func(i int) bool { return s.changeEvery > 0 && i%s.changeEvery == 0 }
	for i := 0; i < s.n; i++ {
		name := fmt.Sprintf("Resident %d", i)
		if changed(i) {
			name += " (moved)"
		}
		if err := emit(hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: person(i),
			Email: person(i) + "@example.com", Name: name}}); err != nil {
			return err
		}
	}
	for i := 0; i < s.n; i++ {
		if err := emit(hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: grant(i), PersonID: person(i),
			KeyID: fmt.Sprintf("k-%02d", i%synthKeys), Resident: true, StartsAt: synthStart, Method: hub.MethodApp}}); err != nil {
			return err
		}
	}
	for i := 0; i < s.n; i++ {
		if err := emit(hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: card(i), OwnerID: person(i), Active: !changed(i)}}); err != nil {
			return err
		}
	}
	if len(ops) > 0 {
		return fn(ops)
	}
	return nil
}

// writeSnapshot replaces the store's set with the synthetic site.
func (s synth) writeSnapshot(st hub.Store, version uint64) error {
	w, err := st.BeginSnapshot(context.Background(), storetest.SiteID, version)
	if err != nil {
		return err
	}
	if err := s.chunks(1000, w.Add); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// benchSites caches the synthetic sites' stores for the whole test binary
// run: the million-credential one takes a while to build.
var benchSites struct {
	sync.Mutex
	m map[int]*benchSite
}

type benchSite struct {
	dir   string
	store *Store
	build time.Duration
}

func openBenchSite(b *testing.B, n int) *benchSite {
	benchSites.Lock()
	defer benchSites.Unlock()
	if site := benchSites.m[n]; site != nil {
		return site
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("doorhub-bench-%d-", n))
	if err != nil {
		b.Fatal(err)
	}
	st, err := Open(dir, benchOptions())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := (synth{n: n}).writeSnapshot(st, 1); err != nil {
		b.Fatal(err)
	}
	site := &benchSite{dir: dir, store: st, build: time.Since(start)}
	fmt.Fprintf(os.Stderr, "badgerstore bench: built the %d-credential site in %v\n", n, site.build.Round(time.Millisecond))
	quiet := settleBackground(2 * time.Minute)
	fmt.Fprintf(os.Stderr, "badgerstore bench: the background work (compactions, the reaper) settled after %v\n", quiet.Round(time.Millisecond))
	if benchSites.m == nil {
		benchSites.m = map[int]*benchSite{}
	}
	benchSites.m[n] = site
	return site
}

// settleBackground waits, at most max, until the process allocates less
// than 1 MB a second for three seconds running: after a site is built,
// Badger compacts for a while, and a benchmark measured meanwhile shares
// the CPU and the caches with it. Nothing else runs in a benchmark binary
// then, so the allocation rate is Badger's work.
func settleBackground(max time.Duration) time.Duration {
	start := time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	last := ms.TotalAlloc
	for still := 0; still < 3 && time.Since(start) < max; {
		time.Sleep(time.Second)
		runtime.ReadMemStats(&ms)
		if ms.TotalAlloc-last < 1<<20 {
			still++
		} else {
			still = 0
		}
		last = ms.TotalAlloc
	}
	return time.Since(start)
}

func TestMain(m *testing.M) {
	code := m.Run()
	benchSites.Lock()
	for _, site := range benchSites.m {
		_ = site.store.Close()
		_ = os.RemoveAll(site.dir)
	}
	benchSites.Unlock()
	os.Exit(code)
}
