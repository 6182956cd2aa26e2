package cloudlink

import (
	"testing"
	"time"
)

// TestBackoff: the wait doubles per attempt from BackoffMin, is capped at
// BackoffMax, and is jittered over the upper half of its step.
func TestBackoff(t *testing.T) {
	c := &Client{opts: ClientOptions{BackoffMin: time.Second, BackoffMax: 20 * time.Second}}
	for attempt, step := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 20 * time.Second, 20 * time.Second} {
		seen := map[time.Duration]bool{}
		for i := 0; i < 200; i++ {
			d := c.backoff(attempt + 1)
			if d < step/2 || d > step {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt+1, d, step/2, step)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Fatalf("attempt %d: only %d distinct waits: no jitter", attempt+1, len(seen))
		}
	}
}

// TestLimiter: a burst, then the rate.
func TestLimiter(t *testing.T) {
	l := newLimiter(100, 10)
	start := time.Now()
	for i := 0; i < 30; i++ {
		if err := l.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// 10 at once, 20 more at 100 a second: about 200 ms.
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("30 tokens in %v", d)
	}
}
