package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/session"
	"github.com/doorhub/doorhub/radio/sim"
)

const killConfigEnv = "DOORHUB_PENDING_KILL_CONFIG"

// TestPendingKillChild is the child process of TestPendingHubKilled: the
// real daemon on the parent's state directory and simulated radio,
// printing its door lists' pending state every few milliseconds until it
// is killed.
func TestPendingKillChild(t *testing.T) {
	path := os.Getenv(killConfigEnv)
	if path == "" {
		t.Skip("the child process of TestPendingHubKilled")
	}
	m := NewMain(os.Stderr, os.Stderr, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	if err := m.Run(context.Background()); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	deadline := time.Now().Add(60 * time.Second) // the parent kills long before
	for time.Now().Before(deadline) {
		b, _ := json.Marshal(m.DoorLists.Pending())
		fmt.Printf("pending %s\n", b)
		time.Sleep(15 * time.Millisecond)
	}
	os.Exit(0)
}

// killSite is the test site with n people on the lobby's key and every
// third also on a key of the apartment, each with a keycard; round r
// deactivates a few cards and adds people, so every door's list changes.
func killSiteBatch(base uint64, round int) *hub.Batch {
	start := time.Now().Add(-time.Hour)
	var ops []hub.Op
	if round == 0 {
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "home", Name: "Home", Doors: []string{radiotest.Lobby, radiotest.Apartment}}})
	}
	first, n := 200*round, 200
	if round > 0 {
		first, n = 200+25*round, 25
	}
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("p%04d", i)
		key := "common"
		if i%3 == 0 {
			key = "home"
		}
		ops = append(ops,
			hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.org", Name: id}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: key, StartsAt: start, Method: hub.MethodApp}},
			hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("c0%06x", i), OwnerID: id, Active: true}})
	}
	for i := 0; round > 0 && i < 5; i++ {
		j := (round*37 + i*11) % 200
		ops = append(ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("c0%06x", j),
			OwnerID: fmt.Sprintf("p%04d", j), Active: round%2 == 0}})
	}
	return &hub.Batch{Site: radiotest.SiteID, Base: base, Version: base + 1, IssuedAt: time.Now(), Ops: ops}
}

// TestPendingHubKilled kills the daemon with SIGKILL while it delivers
// door lists to simulated locks, at random points, several times, with
// changes to the credential set between some of the restarts. Throughout,
// the daemon never reports a door current while its lock holds another
// list; after a restart an interrupted delivery resumes at its chunk; at
// the end every lock holds its door's desired list and every door is
// reported current.
func TestPendingHubKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child daemon several times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DOORHUB_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (DOORHUB_KILL_SEED=%d to repeat the kill points)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 6))

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	// At a UART's rate, a delivery of a few kilobytes takes a while.
	s, plug := startSimWith(t, dir, 2, sim.Config{Heartbeat: 300 * time.Millisecond, AwakeWindow: time.Second, Baud: 115200})
	doors := []string{radiotest.Lobby, radiotest.Apartment}
	lockOf := map[string]*sim.Lock{}

	// The site and the pairings are in the store before the first start.
	store, err := badgerstore.Open(filepath.Join(state, "db"), badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Apply(context.Background(), radiotest.Batch(time.Now(), nil)); err != nil {
		t.Fatal(err)
	}
	for i, door := range doors {
		l := s.Labels()[i]
		id, key, err := lockmsg.ParseLabel(l.ID + " " + l.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := session.NewKVStore(store).SavePairing(session.Pairing{Lock: id, Key: key, Door: door, PairedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		lockOf[door] = s.Locks()[i]
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	change := func(round int) {
		store, err := badgerstore.Open(filepath.Join(state, "db"), badgerstore.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if err := store.Apply(context.Background(), killSiteBatch(store.Version(), round)); err != nil {
			t.Fatal(err)
		}
	}

	cfgPath := filepath.Join(dir, "doorhub.yaml")
	cfg := fmt.Sprintf("hub_id: hub-kill\nstate_dir: %s\nradio:\n  port: %s\nstatus:\n  listen: 127.0.0.1:0\n  socket: %s\n  token_file: %s\nlog:\n  level: debug\n",
		state, plug.Path(), filepath.Join(dir, "doorhub.sock"), filepath.Join(dir, "token"))
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("kill-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	resumed := regexp.MustCompile(`sending lock list.*from_chunk=([1-9][0-9]*)`)
	deltaSent := regexp.MustCompile(`sending lock list delta`)
	resumes, deltas, violations := 0, 0, 0
	// check compares a pending line with what the locks hold: a door
	// reported current must have its lock holding the desired digest.
	oldest := map[string]time.Time{} // by door, while revocations are pending
	isolated := map[string]bool{}    // doors whose lock cannot hear the hub this round
	revocationsSeen, agesLost := 0, 0
	check := func(round int, line string) (allCurrent bool) {
		var ps []hub.DoorPendingReport
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "pending ")), &ps); err != nil {
			t.Fatalf("round %d: %q: %v", round, line, err)
		}
		allCurrent = len(ps) == len(doors)
		for _, p := range ps {
			lk := lockOf[p.Door]
			if lk == nil {
				continue
			}
			// Revocation freshness survives the kills: while revocations
			// stay pending at a door, the oldest never moves later.
			switch prev, seen := oldest[p.Door]; {
			case p.Revocations == 0:
				delete(oldest, p.Door)
			case seen && p.OldestRevocation.After(prev):
				if agesLost++; agesLost <= 3 {
					t.Errorf("round %d: %s's oldest unapplied revocation moved from %v to %v", round, p.Door, prev, p.OldestRevocation)
				}
			case !seen:
				oldest[p.Door] = p.OldestRevocation
				revocationsSeen++
			}
			if !p.Current {
				allCurrent = allCurrent && isolated[p.Door]
				continue
			}
			_, held := lk.ListVersion()
			if len(p.DesiredDigest) < 16 || hex.EncodeToString(held[:]) != p.DesiredDigest[:16] {
				if violations++; violations > 3 {
					continue // counted below
				}
				t.Errorf("round %d: %s reported current (v%d %s…) while its lock holds %x", round, p.Door,
					p.DesiredVersion, p.DesiredDigest[:16], held)
			}
		}
		return allCurrent
	}

	run := func(round int, final bool) {
		logDir := dir
		if d := os.Getenv("DOORHUB_KILL_LOGS"); d != "" {
			logDir = d // kept for a look after the test
		}
		logPath := filepath.Join(logDir, fmt.Sprintf("child-%d.log", round))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestPendingKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killConfigEnv+"="+cfgPath)
		cmd.Stderr = logf
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill when a lock is k chunks into a delivery (most rounds), or
		// after a random time; the final round runs until done.
		k := 1 + rng.IntN(20)
		chunksBefore := map[*sim.Lock]int{}
		for _, lk := range lockOf {
			chunksBefore[lk] = lk.ListChunks()
		}
		byChunk := round == 0 || rng.IntN(4) != 0
		killAt := time.Now().Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		giveUp := time.Now().Add(30 * time.Second)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		killed, done := false, false
	loop:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break loop
				}
				switch {
				case strings.HasPrefix(line, "error"):
					t.Errorf("round %d: child: %s", round, line)
				case strings.HasPrefix(line, "pending "):
					switch current := check(round, line); {
					case current && final && !done:
						done = true
						_ = cmd.Process.Kill()
					case current && !final && !killed:
						// Nothing left to deliver: kill now rather than wait.
						killed = true
						_ = cmd.Process.Kill()
					}
				}
			case <-tick.C:
				if final || killed {
					if time.Now().After(giveUp) && !killed {
						killed = true
						_ = cmd.Process.Kill()
					}
					continue
				}
				// Mid-delivery: k chunks in this round, a list partly in
				// — at least two chunks of it, so the hub had stored its
				// progress (it does before it sends the next chunk).
				got, partial := 0, false
				for _, lk := range lockOf {
					got += lk.ListChunks() - chunksBefore[lk]
					if _, next := lk.ListPartial(); next >= 2 {
						partial = true
					}
				}
				mid := got >= k && partial
				if (byChunk && mid) || (!byChunk && time.Now().After(killAt)) || time.Now().After(giveUp) {
					killed = true
					_ = cmd.Process.Kill() // SIGKILL
				}
			}
		}
		_ = cmd.Wait()
		logs, _ := os.ReadFile(logPath)
		resumes += len(resumed.FindAll(logs, -1))
		deltas += len(deltaSent.FindAll(logs, -1))
		if final && !done {
			t.Fatalf("round %d: not every door current within 30 s; the child's log:\n%s", round, tail(string(logs), 40))
		}
	}

	change(0)
	rounds := 6
	start := time.Now()
	round := 0
	for ; round < rounds && time.Since(start) < 60*time.Second; round++ {
		if round > 0 && round%3 == 0 {
			change(round)
			// The apartment's lock sleeps through two restarts: its
			// revocations stay pending across them, with their age.
			lockOf[radiotest.Apartment].Isolate(true)
			isolated[radiotest.Apartment] = true
		}
		if round%3 == 2 && isolated[radiotest.Apartment] {
			lockOf[radiotest.Apartment].Isolate(false)
			delete(isolated, radiotest.Apartment)
		}
		// The round before a change runs until every lock holds its
		// list, so the change's revocations are pending at a lock that
		// holds the cards.
		run(round, round%3 == 2)
	}
	lockOf[radiotest.Apartment].Isolate(false)
	clear(isolated)
	run(round, true)
	t.Logf("%d kills, %d resumed deliveries, %d deltas, %d pending revocations followed, %d chunks received by the locks",
		round, resumes, deltas, revocationsSeen,
		lockOf[radiotest.Lobby].ListChunks()+lockOf[radiotest.Apartment].ListChunks())
	if resumes == 0 {
		t.Error("no delivery resumed after a restart")
	}
	if rounds > 3 && revocationsSeen == 0 {
		t.Error("no revocation was pending across a restart")
	}

	// The end: every lock holds its door's desired list, by digest.
	store, err = badgerstore.Open(filepath.Join(state, "db"), badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, door := range doors {
		var l *hub.DoorList
		store.View(func(c *hub.Catalog) { l, err = hub.DoorListOf(c, door, time.Now()) })
		if err != nil {
			t.Fatal(err)
		}
		if _, held := lockOf[door].ListVersion(); held != [8]byte(l.Digest[:8]) {
			t.Errorf("%s: the lock holds %x, the desired list is %x", door, held, l.Digest[:8])
		}
	}
	if agesLost > 0 {
		t.Errorf("%d reports of a revocation younger than it was before a restart", agesLost)
	}
	if violations > 0 {
		t.Errorf("%d reports of a door current while its lock held another list", violations)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startSimWith starts simulated locks behind a pseudo-terminal, as
// startSim, with the heartbeat and awake window given.
func startSimWith(t *testing.T, dir string, locks int, cfg sim.Config) (*sim.Sim, *sim.Plug) {
	t.Helper()
	cfg.Locks = locks
	cfg.HelloRetry = 100 * time.Millisecond
	cfg.DecisionTimeout = 3 * time.Second
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Link = link.Config{Logger: cfg.Logger}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	plug, err := sim.NewPlug(s, filepath.Join(dir, "radio"))
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(plug.Close)
	s.Start()
	return s, plug
}
