package hub

import (
	"math"
	"time"
)

// A grant keeps its start and expiry as Unix nanoseconds (grantRec) and
// gives back exactly the time.Time it was put with. Nanoseconds with a
// location flag hold the times a set is made of: those decoded from JSON
// ("Z" gives UTC; an offset that is Local's gives Local) or built in UTC,
// within about 1678–2262. Any other time — another location, a monotonic
// reading, a year outside that span — marks the grant grantExact and is
// kept as put in Catalog.exactTimes, a map that stays empty on real sites;
// its nanoseconds are then clamped to the int64 range, which still orders
// it right against any time within the span.

// grantTimes are a grantExact grant's times as put.
type grantTimes struct {
	start, expires time.Time
}

// packedSecLimit bounds the seconds packTime represents exactly: strictly
// inside the int64 nanosecond range, so a clamped value never equals an
// exact one.
const packedSecLimit = math.MaxInt64/1_000_000_000 - 1

// unixNanos is t in Unix nanoseconds, clamped to the int64 range, and
// whether it is exact (within ±packedSecLimit seconds).
func unixNanos(t time.Time) (int64, bool) {
	sec := t.Unix()
	switch {
	case sec > packedSecLimit:
		return math.MaxInt64, false
	case sec < -packedSecLimit:
		return math.MinInt64, false
	}
	return sec*1e9 + int64(t.Nanosecond()), true
}

// packTime is t as unixNanos, whether it is in time.Local (else UTC), and
// whether unpackTime gives t back exactly.
func packTime(t time.Time) (ns int64, local, ok bool) {
	ns, ok = unixNanos(t)
	switch t.Location() {
	case time.UTC:
	case time.Local:
		local = true
	default:
		ok = false
	}
	// A monotonic clock reading, which Round(0) strips, is kept too.
	return ns, local, ok && t == t.Round(0)
}

// unpackTime is the time packTime packed.
func unpackTime(ns int64, local bool) time.Time {
	t := time.Unix(0, ns)
	if !local {
		t = t.UTC()
	}
	return t
}

// setGrantTimes sets a new grant record's times, before it is stored.
func (c *Catalog) setGrantTimes(id string, r *grantRec, start time.Time, expires *time.Time) {
	ns, local, ok := packTime(start)
	r.start = ns
	if local {
		r.flags |= grantStartLocal
	}
	exact := grantTimes{start: start}
	if expires != nil {
		r.flags |= grantHasExpires
		ens, elocal, eok := packTime(*expires)
		r.expires, ok = ens, ok && eok
		if elocal {
			r.flags |= grantExpiresLocal
		}
		exact.expires = *expires
	}
	if !ok {
		r.flags |= grantExact
		if c.exactTimes == nil {
			c.exactTimes = map[string]grantTimes{}
		}
		c.exactTimes[id] = exact
	}
}

// grantStart is a grant's start as it was put.
func (c *Catalog) grantStart(g *grantRec) time.Time {
	if g.flags&grantExact != 0 {
		return c.exactTimes[c.grantIDOf(g)].start
	}
	return unpackTime(g.start, g.flags&grantStartLocal != 0)
}

// grantExpiry is a grant's expiry as it was put, if it has one.
func (c *Catalog) grantExpiry(g *grantRec) (time.Time, bool) {
	switch {
	case g.flags&grantHasExpires == 0:
		return time.Time{}, false
	case g.flags&grantExact != 0:
		return c.exactTimes[c.grantIDOf(g)].expires, true
	}
	return unpackTime(g.expires, g.flags&grantExpiresLocal != 0), true
}

// grantWindow is a grant's window in a door list: windowOf its times.
func (c *Catalog) grantWindow(g *grantRec) ListWindow {
	if g.flags&grantExact != 0 {
		t := c.exactTimes[c.grantIDOf(g)]
		var e *time.Time
		if g.hasExpires() {
			e = &t.expires
		}
		return windowOf(t.start, e)
	}
	w := ListWindow{Start: ceilNanos(g.start)}
	if g.hasExpires() {
		w.End = ceilNanos(g.expires)
	}
	return w
}

// ceilNanos is ceilSeconds of exact Unix nanoseconds.
func ceilNanos(ns int64) int64 {
	s := ns / 1e9 // rounds toward zero: down for ns >= 0, up below
	if ns%1e9 > 0 {
		s++
	}
	return s
}

// grantOverlaps is overlaps for a grant's window.
func (c *Catalog) grantOverlaps(g *grantRec, dayStart, dayEnd time.Time) bool {
	e, ok := c.grantExpiry(g)
	if !ok {
		return overlaps(c.grantStart(g), nil, dayStart, dayEnd)
	}
	return overlaps(c.grantStart(g), &e, dayStart, dayEnd)
}
