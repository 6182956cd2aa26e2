package cloudlink_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
)

func TestReplayCache(t *testing.T) {
	c := cloudlink.NewReplayCache(3)
	until := t0.Add(time.Minute)
	for _, id := range []string{"a", "b", "c"} {
		if err := c.Remember(id, until, t0); err != nil {
			t.Fatalf("Remember(%s): %v", id, err)
		}
	}
	if err := c.Remember("b", until, t0.Add(time.Second)); !errors.Is(err, cloudlink.ErrReplay) {
		t.Errorf("known id: %v, want ErrReplay", err)
	}
	if err := c.Remember("d", until, t0.Add(time.Second)); !errors.Is(err, cloudlink.ErrReplayCacheFull) {
		t.Errorf("full: %v, want ErrReplayCacheFull", err)
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d after refusals", c.Len())
	}
	// Bounded in time: at until, every id is forgotten and room is made.
	if err := c.Remember("d", until.Add(time.Minute), until); err != nil {
		t.Errorf("after expiry: %v", err)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d after expiry, want 1", c.Len())
	}
	if err := c.Remember("a", until.Add(time.Minute), until); err != nil {
		t.Errorf("an expired id is new again: %v", err)
	}
}

func TestReplayCachePersist(t *testing.T) {
	c := cloudlink.NewReplayCache(10)
	for i := 5; i > 0; i-- {
		if err := c.Remember(fmt.Sprint("id", i), t0.Add(time.Duration(i)*time.Minute), t0); err != nil {
			t.Fatal(err)
		}
	}
	entries := c.Entries()
	for i := 1; i < len(entries); i++ {
		if entries[i].Until.Before(entries[i-1].Until) {
			t.Fatalf("entries not soonest first: %v", entries)
		}
	}
	// A restart 150 s later: ids 1 and 2 expired; at most 2 of the rest fit.
	r := cloudlink.NewReplayCache(2)
	r.Restore(entries, t0.Add(150*time.Second))
	got := r.Entries()
	if len(got) != 2 || got[0].ID != "id4" || got[1].ID != "id5" {
		t.Fatalf("restored %v, want id4 and id5", got)
	}
	if err := r.Remember("id5", t0.Add(time.Hour), t0.Add(150*time.Second)); !errors.Is(err, cloudlink.ErrReplay) {
		t.Errorf("restored id: %v, want ErrReplay", err)
	}
	// Restoring the same id with a later expiry keeps the later one.
	r.Restore([]cloudlink.ReplayEntry{{ID: "id4", Until: t0.Add(time.Hour)}}, t0)
	if e := r.Entries(); len(e) != 2 || e[1].ID != "id4" || !e[1].Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("after re-restore: %v", e)
	}
}

// TestReplayCacheConcurrent: one id offered by many goroutines at once is
// accepted exactly once.
func TestReplayCacheConcurrent(t *testing.T) {
	c := cloudlink.NewReplayCache(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Remember("same", t0.Add(time.Minute), t0) == nil {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if accepted != 1 {
		t.Errorf("accepted %d times", accepted)
	}
}
