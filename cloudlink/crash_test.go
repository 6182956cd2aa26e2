package cloudlink_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// The crash tests kill a hub (a child process running TestLinkCrashChild)
// with SIGKILL while it drains its outbox or takes a snapshot, start it
// again, and check that every event it had accepted reaches the cloud and
// that its credential set is always one the cloud made, whole.

const (
	envCrashDir    = "DOORHUB_LINK_CRASH_DIR"
	envCrashBroker = "DOORHUB_LINK_CRASH_BROKER"
	envCrashHub    = "DOORHUB_LINK_CRASH_HUB"
	envCrashAppend = "DOORHUB_LINK_CRASH_APPEND"
)

// TestLinkCrashChild is the hub of the crash tests: a durable store and
// outbox in the directory, a client on the broker. With APPEND set it
// appends events as fast as it can store them and prints the seq of each
// it got back (accepted: on disk), until killed; otherwise it only syncs
// and drains, printing its version when it changes.
func TestLinkCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("the child process of the crash tests")
	}
	store, outbox := openDurable(t, dir)
	fmt.Printf("stream %s\n", outbox.Stream())
	opts := fastOptions()
	opts.HubID, opts.Broker, opts.Keys = os.Getenv(envCrashHub), os.Getenv(envCrashBroker), []ed25519.PublicKey{testPublic}
	opts.Store, opts.Clock, opts.Outbox, opts.State = store, trustedClock(t), outbox, outbox
	opts.PublishRate, opts.PublishBurst, opts.MaxEventsPerMessage = 100, 1, 50
	c, err := cloudlink.NewClient(opts)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	if err := c.Open(); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	deadline := time.Now().Add(60 * time.Second) // the parent kills or stops it long before
	appending := os.Getenv(envCrashAppend) != ""
	var last uint64
	for i := 0; time.Now().Before(deadline); i++ {
		if appending {
			now := hub.Now{Time: time.Now(), Trusted: true}
			seq, err := outbox.Append(context.Background(), hub.DoorActivity("front", hub.ActivityDoorHeldOpen, now, -1))
			if err != nil {
				fmt.Printf("error %v\n", err)
				os.Exit(3)
			}
			fmt.Printf("accepted %d\n", seq)
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond)
			}
			continue
		}
		if v := store.Version(); v != last {
			last = v
			fmt.Printf("version %d\n", v)
		}
		time.Sleep(5 * time.Millisecond)
	}
	os.Exit(0)
}

// child is a running TestLinkCrashChild.
type child struct {
	cmd   *exec.Cmd
	lines chan string
}

func startChild(t *testing.T, dir, broker, hubID string, appending bool) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLinkCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashBroker+"="+broker, envCrashHub+"="+hubID)
	if appending {
		cmd.Env = append(cmd.Env, envCrashAppend+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1<<16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

// kill kills the child with SIGKILL and returns what it printed.
func (c *child) kill() []string {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
	var lines []string
	for l := range c.lines {
		lines = append(lines, l)
	}
	return lines
}

// readUntil reads lines until one starts with prefix, at most d.
func (c *child) readUntil(t *testing.T, prefix string, d time.Duration) (string, []string) {
	t.Helper()
	var seen []string
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the child exited before printing %q: %v", prefix, seen)
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("child: %s", l)
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, prefix) {
				return l, seen
			}
		case <-timeout:
			t.Fatalf("the child did not print %q in %v", prefix, d)
		}
	}
}

func crashSeed(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DOORHUB_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (DOORHUB_CRASH_SEED=%d to repeat the kill times)", seed, seed)
	return rand.New(rand.NewPCG(seed, 2))
}

// TestLinkCrashMidDrain kills a hub that appends events while it drains a
// backlog, three times, then lets it finish: every event it had reported
// accepted reaches the cloud, duplicates allowed, losses never.
func TestLinkCrashMidDrain(t *testing.T) {
	rng := crashSeed(t)
	b := startBroker(t)
	cloud := newCloud(t, b.URL(), true, 0)
	hubID := fmt.Sprintf("hub-crash-%x", time.Now().UnixNano())
	ch := cloud.Hub(hubID)
	dir := t.TempDir()
	var stream string
	var accepted uint64
	for round := 0; round < 3; round++ {
		c := startChild(t, dir, b.URL(), hubID, true)
		line, _ := c.readUntil(t, "stream ", 20*time.Second)
		s := strings.TrimPrefix(line, "stream ")
		if stream != "" && s != stream {
			t.Fatalf("the stream changed across a crash: %s, then %s", stream, s)
		}
		stream = s
		c.readUntil(t, "accepted ", 20*time.Second)
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond)
		for _, l := range c.kill() {
			if v, ok := strings.CutPrefix(l, "accepted "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				accepted = max(accepted, n)
			}
		}
		if round == 0 {
			// The broker publishes the killed hub's last will.
			if _, ok := ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool {
				return v.Status != nil && v.Status.State == cloudlink.StateOffline
			}); !ok {
				t.Fatal("no offline status after the hub was killed")
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d events accepted: the kills came too early to test much", accepted)
	}
	c := startChild(t, dir, b.URL(), hubID, false)
	defer c.kill()
	v, ok := ch.Wait(60*time.Second, func(v *cloudlink.HubView) bool {
		for s := uint64(1); s <= accepted; s++ {
			if _, ok := v.Events[cloudlink.EventID(stream, s)]; !ok {
				return false
			}
		}
		return true
	})
	if !ok {
		missing := 0
		for s := uint64(1); s <= accepted; s++ {
			if _, ok := v.Events[cloudlink.EventID(stream, s)]; !ok {
				missing++
			}
		}
		t.Fatalf("%d of %d accepted events never reached the cloud", missing, accepted)
	}
	t.Logf("%d events accepted across 3 kills, all delivered (%d twice)", accepted, v.DupEvents)
}

// TestLinkCrashMidSnapshot kills an empty hub while the cloud sends it a
// snapshot in many chunks, and batches after, three times; after each
// kill its store holds exactly one set the cloud made (never part of a
// snapshot). Then it catches up to the cloud's set.
func TestLinkCrashMidSnapshot(t *testing.T) {
	rng := crashSeed(t)
	b := startBroker(t)
	cloud := newCloud(t, b.URL(), false, 16<<10)
	hubID := fmt.Sprintf("hub-crash-%x", time.Now().UnixNano())
	ch := cloud.Hub(hubID)
	contents := map[uint64]storetest.Content{}
	commit := func(ops ...hub.Op) *hub.Batch {
		b := mustCommit(t, ch, ops...)
		contents[ch.Version()] = storetest.ContentOf(t, ch.Model())
		return b
	}
	commit(seedOps()...)
	for part := 0; part < 2; part++ {
		var ops []hub.Op
		for i := part * 1500; i < (part+1)*1500; i++ {
			ops = append(ops, personOps(i)...)
		}
		commit(ops...)
	}
	dir := t.TempDir()
	next := 3000
	for round := 0; round < 3; round++ {
		c := startChild(t, dir, b.URL(), hubID, false)
		c.readUntil(t, "stream ", 20*time.Second)
		start := time.Now()
		if os.Getenv("DOORHUB_CRASH_TIMING") != "" {
			c.readUntil(t, "version ", 20*time.Second)
			t.Logf("first version after %v", time.Since(start))
		}
		time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
		for i := 0; i < 5; i++ { // changes keep coming
			_ = ch.Send(commit(personOps(next)...))
			next++
		}
		c.kill()
		store, outbox := openDurable(t, dir)
		v := store.Version()
		if v != 0 {
			want, ok := contents[v]
			if !ok {
				t.Fatalf("round %d: the store is at version %d, which the cloud never made", round, v)
			}
			storetest.RequireSameContent(t, want, storetest.ContentOf(t, store), fmt.Sprintf("round %d, version %d", round, v))
			storetest.CheckInvariants(t, store)
		}
		t.Logf("round %d: killed at version %d", round, v)
		_ = outbox.Close()
		_ = store.Close()
	}
	c := startChild(t, dir, b.URL(), hubID, false)
	defer c.kill()
	if _, ok := ch.Wait(60*time.Second, func(v *cloudlink.HubView) bool {
		return v.LastAck().Version == ch.Version() && v.LastAck().Rejected == nil
	}); !ok {
		v := ch.View()
		t.Fatalf("the hub did not catch up to version %d: %+v", ch.Version(), v.LastAck())
	}
}
