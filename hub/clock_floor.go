package hub

import "time"

// RaiseFloor raises the floor to t when t is later than the floor now.
// A signed lower bound on the time — the cloud's time hint that answers no
// fresh request of the hub (docs/cloud-protocol.md § 8.3) — proves that
// the time is at least t without making the clock trusted: "now" never
// goes below it again, and PersistFloor saves it. It reports whether the
// floor moved; the trusted source, if any, is kept.
func (c *Clock) RaiseFloor(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	mono := c.opts.Monotonic()
	if !t.After(c.floorAt(mono)) {
		return false
	}
	c.floor, c.floorRef = t, mono
	return true
}
