package hub_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// randomSite builds a random site on a MemStore: doors with small lock
// capacities, keys, people with grants (some resident, some sharing, app or
// doorcode), guest grants, keycards (some inactive) and phones. Times are
// around t0, some with sub-second parts to exercise the rounding.
type randomSite struct {
	store   *hub.MemStore
	version uint64
	doors   []string
	cards   []string
	phones  []phone
	times   []time.Time
	rng     *rand.Rand
	people  []string
	grants  []string
	keys    []string
}

func newRandomSite(t *testing.T, seed int64) *randomSite {
	rng := rand.New(rand.NewSource(seed))
	s := &randomSite{store: hub.NewMemStore(), rng: rng}
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "Europe/Berlin", DoorcodeLength: 6, DoorcodeSecret: secret}}}
	for i := range 1 + rng.Intn(4) {
		id := fmt.Sprintf("d%d", i)
		d := &hub.Door{ID: id, Name: id, Type: hub.DoorEntrance}
		if i%2 == 1 {
			d.Type = hub.DoorResidence
		}
		if rng.Intn(2) == 0 {
			d.LockCapacity = 1 + rng.Intn(6)
		}
		s.doors = append(s.doors, id)
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: d})
	}
	for i := range 1 + rng.Intn(3) {
		id := fmt.Sprintf("k%d", i)
		var doors []string
		for _, d := range s.doors {
			if rng.Intn(2) == 0 {
				doors = append(doors, d)
			}
		}
		if len(doors) == 0 {
			doors = s.doors[:1]
		}
		s.keys = append(s.keys, id)
		ops = append(ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: id, Name: id, Doors: doors,
			DoorcodesAllowed: rng.Intn(2) == 0, MayShareAllowed: rng.Intn(3) > 0}})
	}
	np := 2 + rng.Intn(7)
	for i := range np {
		id := fmt.Sprintf("p%d", i)
		s.people = append(s.people, id)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.org", Manager: rng.Intn(5) == 0}})
	}
	for _, p := range s.people {
		for range rng.Intn(4) {
			id := fmt.Sprintf("g%d", len(s.grants))
			s.grants = append(s.grants, id)
			start, exp := s.window()
			g := &hub.Grant{ID: id, PersonID: p, KeyID: s.keys[rng.Intn(len(s.keys))], Resident: rng.Intn(3) == 0,
				MayShare: rng.Intn(2) == 0, StartsAt: start, Expires: exp, Method: hub.MethodApp}
			if rng.Intn(3) == 0 {
				g.Method = hub.MethodDoorcode
			}
			ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: g})
		}
	}
	for i := range rng.Intn(5) {
		host := rng.Intn(np)
		guest := (host + 1 + rng.Intn(np-1)) % np
		gg := &hub.GuestGrant{ID: fmt.Sprintf("gg%d", i), HostID: s.people[host], GuestID: s.people[guest],
			KeyID: s.keys[rng.Intn(len(s.keys))]}
		if rng.Intn(3) == 0 {
			gg.Permanent = true
		} else {
			gg.StartsAt, gg.Expires = s.window()
			if gg.Expires == nil {
				e := gg.StartsAt.Add(time.Hour)
				gg.Expires = &e
				s.times = append(s.times, e)
			}
		}
		ops = append(ops, hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: gg})
	}
	for _, p := range s.people {
		for range rng.Intn(3) {
			id := fmt.Sprintf("%08x", rng.Uint32())
			s.cards = append(s.cards, id)
			ops = append(ops, card(id, p, rng.Intn(5) > 0))
		}
		if rng.Intn(2) == 0 {
			ph := newPhone(byte(len(s.phones) + 1))
			s.phones = append(s.phones, ph)
			ops = append(ops, ph.device(fmt.Sprintf("dev%d", len(s.phones)), p))
		}
	}
	s.apply(t, ops...)
	return s
}

// window is a random grant window around t0, remembered as sample times.
func (s *randomSite) window() (time.Time, *time.Time) {
	start := t0.Add(time.Duration(s.rng.Intn(145)-72) * time.Hour).Add(time.Duration(s.rng.Intn(3600)) * time.Second)
	if s.rng.Intn(4) == 0 {
		start = start.Add(time.Duration(1 + s.rng.Intn(999999999)))
	}
	s.times = append(s.times, start)
	if s.rng.Intn(3) == 0 {
		return start, nil
	}
	e := start.Add(time.Duration(1+s.rng.Intn(96))*time.Hour + time.Duration(s.rng.Intn(1000))*time.Millisecond)
	s.times = append(s.times, e)
	return start, &e
}

func (s *randomSite) apply(t *testing.T, ops ...hub.Op) {
	t.Helper()
	b := &hub.Batch{Site: "s1", Base: s.version, Version: s.version + 1, IssuedAt: t0, Ops: ops}
	if err := s.store.Apply(context.Background(), b); err != nil {
		t.Fatalf("apply: %v", err)
	}
	s.version++
}

// mutate applies a random change, as a history would: a card switched
// off or on, a grant deleted, a person revoked.
func (s *randomSite) mutate(t *testing.T) {
	var op hub.Op
	switch s.rng.Intn(3) {
	case 0:
		if len(s.cards) == 0 {
			return
		}
		var k hub.Keycard
		s.store.View(func(c *hub.Catalog) { k = *c.Keycard(s.cards[s.rng.Intn(len(s.cards))]) })
		k.Active = !k.Active
		op = hub.Op{Type: hub.OpPutKeycard, Keycard: &k}
	case 1:
		if len(s.grants) == 0 {
			return
		}
		i := s.rng.Intn(len(s.grants))
		exists := false
		s.store.View(func(c *hub.Catalog) { exists = c.Grant(s.grants[i]) != nil })
		if !exists {
			return
		}
		op = hub.Op{Type: hub.OpDeleteGrant, ID: s.grants[i]}
	default:
		op = hub.Op{Type: hub.OpRevokePerson, ID: s.people[s.rng.Intn(len(s.people))]}
	}
	s.apply(t, op)
}

// presentations are every credential of the site, an unknown card, and
// each phone with a bad signature.
func (s *randomSite) presentations(door string) []hub.Presentation {
	var out []hub.Presentation
	for _, c := range s.cards {
		out = append(out, keycard(c))
	}
	out = append(out, keycard("deadbeef01"))
	for _, ph := range s.phones {
		out = append(out, ph.present(door))
		bad := ph.present(door)
		bad.Signature = append([]byte(nil), bad.Signature...)
		bad.Signature[0] ^= 1
		out = append(out, bad)
	}
	return out
}

// TestLockListAgreesWithEngine is the property of docs/door-lists.md: for
// random sites and histories, once a lock holds its door's list, the
// decision it makes alone equals the hub's (on a trusted clock) for every
// credential and every whole second from the list's computation on —
// except credentials left out for capacity, which are reported.
func TestLockListAgreesWithEngine(t *testing.T) {
	n := 16
	if testing.Short() {
		n = 4
	}
	left := 0
	for seed := range int64(n) {
		s := newRandomSite(t, seed)
		engine := hub.NewEngine(s.store, hub.EngineOptions{})
		for step := range 3 {
			now := t0.Add(time.Duration(step*7) * time.Hour).Add(time.Duration(s.rng.Intn(1000)) * time.Millisecond)
			var samples []int64
			base := now.Unix() + 1
			samples = append(samples, base)
			for _, x := range s.times {
				for _, d := range []int64{-1, 0, 1} {
					if u := x.Unix() + d; u >= base {
						samples = append(samples, u)
					}
				}
			}
			for range 10 {
				samples = append(samples, base+s.rng.Int63n(200*3600))
			}
			for _, door := range s.doors {
				var l *hub.DoorList
				var err error
				s.store.View(func(c *hub.Catalog) { l, err = hub.DoorListOf(c, door, now) })
				if err != nil {
					t.Fatal(err)
				}
				if len(l.Entries) > l.Capacity || l.Overflow.Kept+l.Overflow.Total() != l.Overflow.Desired {
					t.Fatalf("seed %d door %s: %d entries, capacity %d, overflow %+v", seed, door, len(l.Entries), l.Capacity, l.Overflow)
				}
				// The lock holds what went over the radio, not the hub's structs.
				enc := l.Encode()
				if hub.ListDigest(enc) != l.Digest {
					t.Fatalf("seed %d: digest differs from the encoding's", seed)
				}
				held, err := hub.DecodeList(enc)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				left += l.Overflow.Total()
				for _, p := range s.presentations(door) {
					if omitted(l, p) {
						continue
					}
					for _, at := range samples {
						want := engine.Explain(door, p, hub.Now{Time: time.Unix(at, 0), Trusted: true})
						got := hub.LockDecide(held, door, p, at)
						if got.Allowed() != want.Allowed {
							t.Fatalf("seed %d step %d door %s %s at %s: lock %s, hub %s",
								seed, step, door, describe(p), time.Unix(at, 0).UTC().Format(time.RFC3339), got, want.Reason)
						}
					}
				}
			}
			s.mutate(t)
		}
	}
	if left == 0 {
		t.Error("no site overflowed its lock: the capacity rule went untested")
	}
}

func omitted(l *hub.DoorList, p hub.Presentation) bool {
	switch p.Kind {
	case hub.CredKeycard:
		id, _ := hex.DecodeString(p.CardID)
		return l.Omitted(hub.EntryKeycard, id)
	case hub.CredMobile:
		return l.Omitted(hub.EntryPhone, p.PublicKey)
	}
	return false
}

func describe(p hub.Presentation) string {
	if p.Kind == hub.CredKeycard {
		return "card " + p.CardID
	}
	return fmt.Sprintf("phone %x", p.PublicKey[:4])
}

func TestDoorListCapacityByPriority(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(
		hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "apt1", Name: "apt1", Type: hub.DoorResidence, LockCapacity: 3}},
		person("guest", false), person("staff", false), person("resident", false), person("boss", true), person("later", false),
		grant("g-res", "resident", "unit1", resident, mayShare),
		grant("g-staff", "staff", "unit1"),
		grant("g-boss", "boss", "unit1"),
		grant("g-later", "later", "unit1", starts(t0.Add(48*time.Hour))),
		hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg", HostID: "resident", GuestID: "guest", KeyID: "unit1", Permanent: true}},
		card("0a0a0a01", "guest", true), card("0a0a0a02", "staff", true), card("0a0a0a03", "resident", true),
		card("0a0a0a04", "boss", true), card("0a0a0a05", "later", true),
	)
	var l *hub.DoorList
	f.store.View(func(c *hub.Catalog) { l, _ = hub.DoorListOf(c, "apt1", t0) })
	var kept []string
	for _, e := range l.Entries {
		kept = append(kept, hex.EncodeToString(e.ID))
	}
	// Boss (manager), resident, then staff valid now before staff who
	// starts in two days; the guest last.
	if fmt.Sprint(kept) != "[0a0a0a02 0a0a0a03 0a0a0a04]" {
		t.Errorf("kept %v", kept)
	}
	o := l.Overflow
	if o.Desired != 5 || o.Kept != 3 || o.Left != [4]int{0, 0, 1, 1} {
		t.Errorf("overflow %+v", o)
	}
	if !l.Omitted(hub.EntryKeycard, []byte{0x0a, 0x0a, 0x0a, 0x05}) {
		t.Error("the later staff card is not reported as left out")
	}
}

func TestDoorListFutureStartAndDigest(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "unit1", starts(t0.Add(24*time.Hour)), expires(t0.Add(48*time.Hour))),
		card("0b0b0b0b", "ann", true))
	var l1, l2 *hub.DoorList
	f.store.View(func(c *hub.Catalog) { l1, _ = hub.DoorListOf(c, "apt1", t0) })
	f.store.View(func(c *hub.Catalog) { l2, _ = hub.DoorListOf(c, "apt1", t0) })
	if l1.Digest != l2.Digest || !bytes.Equal(l1.Encode(), l2.Encode()) {
		t.Fatal("the same set gives two lists")
	}
	held, _ := hub.DecodeList(l1.Encode())
	at := func(d time.Duration) hub.Reason {
		return hub.LockDecide(held, "apt1", keycard("0b0b0b0b"), t0.Add(d).Unix())
	}
	if at(0) != hub.NotStarted || at(24*time.Hour) != hub.AllowedByGrant || at(48*time.Hour) != hub.Expired {
		t.Errorf("future window: %s %s %s", at(0), at(24*time.Hour), at(48*time.Hour))
	}
	// Deactivating the card changes the digest.
	f.apply(card("0b0b0b0b", "ann", false))
	f.store.View(func(c *hub.Catalog) { l2, _ = hub.DoorListOf(c, "apt1", t0) })
	if l1.Digest == l2.Digest || len(l2.Entries) != 0 {
		t.Error("a deactivated card left the list unchanged")
	}
}

func TestDecodeListRefuses(t *testing.T) {
	good := (&hub.ListEntry{Kind: hub.EntryKeycard, ID: []byte{1, 2, 3, 4}, Windows: []hub.ListWindow{{Start: 10, End: 0}}}).AppendEncode(nil)
	for name, b := range map[string][]byte{
		"short header":   {1},
		"unknown kind":   {9, 4, 1, 2, 3, 4, 0, 0},
		"card too short": {1, 3, 1, 2, 3, 0, 0},
		"phone key size": {2, 4, 1, 2, 3, 4, 0, 0},
		"short windows":  good[:len(good)-1],
		"duplicate":      append(append([]byte(nil), good...), good...),
	} {
		if _, err := hub.DecodeList(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if es, err := hub.DecodeList(good); err != nil || len(es) != 1 || es[0].Windows[0].Start != 10 {
		t.Errorf("good: %v %v", es, err)
	}
}

func FuzzDecodeList(f *testing.F) {
	f.Add((&hub.ListEntry{Kind: hub.EntryPhone, ID: make([]byte, ed25519.PublicKeySize), Windows: []hub.ListWindow{{1, 2}}}).AppendEncode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := hub.DecodeList(b)
		if err != nil {
			return
		}
		var again []byte
		for i := range es {
			again = es[i].AppendEncode(again)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x -> %x", b, again)
		}
	})
}
