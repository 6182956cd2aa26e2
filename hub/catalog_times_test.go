package hub

import (
	"math/rand"
	"testing"
	"time"
	"unsafe"
)

// TestGrantRecordSize: a grant record stays within 48 bytes — at a
// 100,000-credential site the grants are most of the catalog.
func TestGrantRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(grantRec{}); n > 48 {
		t.Fatalf("grantRec is %d bytes, want at most 48", n)
	}
}

// grantTimeSamples are times a grant may be put with: the ordinary ones
// (UTC, Local, with and without fractions of a second, before 1970) and
// the ones kept aside (other locations, a monotonic reading, years beyond
// what int64 nanoseconds hold, the edges of that span).
func grantTimeSamples(t *testing.T) []time.Time {
	t.Helper()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := time.Parse(time.RFC3339Nano, "2025-06-01T08:30:00.25+02:00")
	if err != nil {
		t.Fatal(err)
	}
	fromJSON := func(s string) time.Time {
		var v time.Time
		if err := v.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
			t.Fatal(err)
		}
		return v
	}
	edge := time.Unix(packedSecLimit, 999_999_999).UTC()
	return []time.Time{
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.Local),
		time.Unix(1_740_830_400, 123).Local(),
		fromJSON("2025-03-01T12:00:00Z"),
		fromJSON("2025-03-01T12:00:00.5+05:30"),
		time.Date(2025, 3, 1, 12, 0, 0, 0, berlin),
		time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600)),
		parsed,
		time.Now(), // monotonic reading
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		edge,
		edge.Add(time.Nanosecond),
		time.Unix(-packedSecLimit, 0).UTC(),
		time.Unix(-packedSecLimit-1, 999_999_999).UTC(),
	}
}

// TestGrantTimesKeepTheirValues: whatever a grant's start and expiry, the
// catalog gives back the very time.Time values it was put with (==:
// instant, location, monotonic reading), through puts, replacements,
// deletes and a refused batch's rollback; door-list windows are those of
// the times as put, and grantExact is set only for the times that need it.
func TestGrantTimesKeepTheirValues(t *testing.T) {
	samples := grantTimeSamples(t)
	c := NewCatalog()
	setup := []Op{
		{Type: OpPutSite, Site: &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d", Name: "d", Type: DoorResidence}},
		{Type: OpPutKey, Key: &Key{ID: "k", Name: "k", Doors: []string{"d"}}},
		{Type: OpPutPerson, Person: &Person{ID: "p", Email: "p@x.org"}},
	}
	if _, err := c.Apply("s", setup); err != nil {
		t.Fatal(err)
	}
	check := func(g *Grant) {
		t.Helper()
		got := c.Grant(g.ID)
		if got == nil || got.StartsAt != g.StartsAt || (got.Expires == nil) != (g.Expires == nil) ||
			(g.Expires != nil && *got.Expires != *g.Expires) {
			t.Fatalf("grant %s: put %v / %v, got %+v", g.ID, g.StartsAt, g.Expires, got)
		}
		r := &c.grants.recs[c.grantH(g.ID)]
		_, _, startOK := packTime(g.StartsAt)
		exact := !startOK
		var want ListWindow
		if g.Expires != nil {
			_, _, ok := packTime(*g.Expires)
			exact = exact || !ok
		}
		want = windowOf(g.StartsAt, g.Expires)
		if r.flags&grantExact != 0 != exact {
			t.Fatalf("grant %s (%v / %v): grantExact %v, want %v", g.ID, g.StartsAt, g.Expires, !exact, exact)
		}
		if w := c.grantWindow(r); w != want {
			t.Fatalf("grant %s (%v / %v): window %+v, want %+v", g.ID, g.StartsAt, g.Expires, w, want)
		}
	}
	var grants []*Grant
	for i, s := range samples {
		for j, e := range samples {
			g := &Grant{ID: "g" + string(rune('a'+i)) + string(rune('a'+j)), PersonID: "p", KeyID: "k", StartsAt: s, Method: MethodApp}
			if e.After(s) {
				g.Expires = &e
			} else if i != j {
				continue
			}
			grants = append(grants, g)
		}
	}
	for _, g := range grants {
		if _, err := c.Apply("s", []Op{{Type: OpPutGrant, Grant: g}}); err != nil {
			t.Fatalf("%s: %v", g.ID, err)
		}
		check(g)
	}
	// Replace each grant's times with another's, refuse a batch that
	// swapped them all, then delete half.
	rng := rand.New(rand.NewSource(1))
	for _, g := range grants {
		o := grants[rng.Intn(len(grants))]
		ng := *g
		ng.StartsAt, ng.Expires = o.StartsAt, o.Expires
		if _, err := c.Apply("s", []Op{{Type: OpPutGrant, Grant: &ng}}); err != nil {
			t.Fatal(err)
		}
		*g = ng
		check(g)
	}
	var swap []Op
	for i, g := range grants {
		ng := *g
		ng.StartsAt, ng.Expires = grants[len(grants)-1-i].StartsAt, grants[len(grants)-1-i].Expires
		swap = append(swap, Op{Type: OpPutGrant, Grant: &ng}, Op{Type: OpDeleteGrant, ID: g.ID})
	}
	swap = append(swap, Op{Type: OpDeleteGrant, ID: "no-such-grant"})
	if _, err := c.Apply("s", swap); err == nil {
		t.Fatal("a batch deleting a grant that does not exist was applied")
	}
	for _, g := range grants {
		check(g)
	}
	for i, g := range grants {
		if i%2 == 0 {
			if _, err := c.Apply("s", []Op{{Type: OpDeleteGrant, ID: g.ID}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept := 0
	for i, g := range grants {
		if i%2 == 1 {
			check(g)
			if r := &c.grants.recs[c.grantH(g.ID)]; r.flags&grantExact != 0 {
				kept++
			}
		}
	}
	if len(c.exactTimes) != kept {
		t.Fatalf("exactTimes holds %d grants, %d live grants are grantExact", len(c.exactTimes), kept)
	}
	if err := checkCatalog(c); err != nil {
		t.Fatal(err)
	}
}

// TestGrantWindowMatchesWindow: a decision's verdict on a grant's times
// from nanoseconds is the one window gives on the times themselves, for
// nows and grant times on both sides of each other, near the edges of
// the nanosecond span and beyond it, trusted or not.
func TestGrantWindowMatchesWindow(t *testing.T) {
	samples := grantTimeSamples(t)
	rng := rand.New(rand.NewSource(2))
	near := func(s time.Time) time.Time {
		d := []time.Duration{0, 1, -1, time.Second, -time.Second, 24 * time.Hour, -24 * time.Hour, 23*time.Hour + 59*time.Minute}
		return s.Add(d[rng.Intn(len(d))])
	}
	c := NewCatalog()
	id := c.text.add("g", "", "")
	for i := 0; i < 200_000; i++ {
		start := samples[rng.Intn(len(samples))]
		var expires *time.Time
		if rng.Intn(3) != 0 {
			e := near(samples[rng.Intn(len(samples))])
			if rng.Intn(2) == 0 {
				e = near(start)
			}
			expires = &e
		}
		r := grantRec{at: id, idLen: 1}
		c.exactTimes = nil
		c.setGrantTimes("g", &r, start, expires)
		now := Now{Time: near(samples[rng.Intn(len(samples))]), Trusted: rng.Intn(2) == 0}
		if rng.Intn(2) == 0 {
			now.Time = near(start)
		} else if expires != nil && rng.Intn(2) == 0 {
			now.Time = near(*expires)
		}
		ev := newEvaluator(c, nil, "d", now, []time.Duration{0, 24 * time.Hour, time.Nanosecond}[rng.Intn(3)])
		if got, want := ev.grantWindow(&r), ev.window(start, expires); got != want {
			t.Fatalf("start %v, expires %v, now %+v, margin %v: %q, window says %q", start, expires, now, ev.margin, got, want)
		}
		if got, want := c.grantStart(&r), start; got != want {
			t.Fatalf("start %v given back as %v", want, got)
		}
		if e, ok := c.grantExpiry(&r); ok != (expires != nil) || (ok && e != *expires) {
			t.Fatalf("expiry %v given back as %v, %v", expires, e, ok)
		}
	}
}

// TestDecideAllocatesNothing: a keycard decision, allowed or denied by a
// grant's window, allocates nothing — with the clock trusted or not.
func TestDecideAllocatesNothing(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := t0.Add(time.Hour)
	store := NewMemStore()
	ops := []Op{
		{Type: OpPutSite, Site: &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d", Name: "d", Type: DoorResidence}},
		{Type: OpPutKey, Key: &Key{ID: "k", Name: "k", Doors: []string{"d"}}},
		{Type: OpPutPerson, Person: &Person{ID: "p", Email: "p@x.org"}},
		{Type: OpPutGrant, Grant: &Grant{ID: "g", PersonID: "p", KeyID: "k", StartsAt: t0, Expires: &exp, Method: MethodApp}},
		{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0b0c0d", OwnerID: "p", Active: true}},
	}
	if err := store.Apply(t.Context(), &Batch{Site: "s", Version: 1, IssuedAt: t0, Ops: ops}); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(store, EngineOptions{})
	p := Presentation{Kind: CredKeycard, CardID: "0a0b0c0d"}
	for _, now := range []Now{
		{Time: t0.Add(time.Minute), Trusted: true},
		{Time: t0.Add(time.Minute)},
		{Time: t0.Add(-time.Minute), Trusted: true},
		{Time: exp, Trusted: true},
	} {
		var d Decision
		if n := testing.AllocsPerRun(200, func() { d = e.Decide("d", p, now) }); n != 0 {
			t.Errorf("now %+v: %v allocations a decision (%s)", now, n, d.Reason)
		}
	}
	if d := e.Decide("d", p, Now{Time: t0.Add(time.Minute), Trusted: true}); !d.Allowed {
		t.Fatalf("denied: %+v", d)
	}
}
