package hub

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// doorListNaive is DoorListOf as it was before the key → grants index: it
// asks admitWindows about every keycard and every device of the site. It
// is the reference DoorListOf must agree with exactly.
func doorListNaive(c *Catalog, doorID string, now time.Time) (*DoorList, error) {
	door := c.Door(doorID)
	if door == nil {
		return nil, notFound("door", doorID)
	}
	capacity := door.LockCapacity
	if capacity == 0 {
		capacity = DefaultLockCapacity
	}
	nowSec := ceilSeconds(now)
	var all []ListEntry
	next := int64(math.MaxInt64)
	for h := range c.cards.recs {
		k := &c.cards.recs[h]
		if !k.live || !k.active {
			continue
		}
		ws, prio, ends := admitWindows(c, k.owner, doorID, CredKeycard, nowSec)
		if len(ws) == 0 {
			continue
		}
		next = min(next, ends)
		id := c.cardBytes(int32(h))
		all = append(all, ListEntry{Kind: EntryKeycard, ID: id, Windows: ws, Priority: prio, PersonID: c.personID(k.owner)})
	}
	for _, devID := range mapKeys(c.devices) {
		dev := c.devices[devID]
		owner := c.personH(dev.OwnerID)
		if owner == none {
			continue
		}
		ws, prio, ends := admitWindows(c, owner, doorID, CredMobile, nowSec)
		if len(ws) == 0 {
			continue
		}
		next = min(next, ends)
		all = append(all, ListEntry{Kind: EntryPhone, ID: append([]byte(nil), dev.PublicKey...), Windows: ws, Priority: prio, PersonID: dev.OwnerID})
	}
	l := &DoorList{Door: doorID, Capacity: capacity, computedAt: nowSec, changesAt: next}
	l.Overflow.Desired = len(all)
	if len(all) > capacity {
		for i := range all {
			if all[i].Windows[0].Start > nowSec {
				l.changesAt = min(l.changesAt, all[i].Windows[0].Start)
			}
		}
		sort.SliceStable(all, func(i, j int) bool {
			a, b := &all[i], &all[j]
			if a.Priority != b.Priority {
				return a.Priority < b.Priority
			}
			if sa, sb := max(a.Windows[0].Start, nowSec), max(b.Windows[0].Start, nowSec); sa != sb {
				return sa < sb
			}
			return compareEntry(a, b) < 0
		})
		for _, e := range all[capacity:] {
			l.Overflow.Left[e.Priority]++
			l.Overflow.LeftOut = append(l.Overflow.LeftOut, LeftOut{Kind: e.Kind, PersonID: e.PersonID, Priority: e.Priority, id: string(e.ID)})
		}
		all = all[:capacity]
	}
	l.Overflow.Kept = len(all)
	if e, ok := offlineEntry(door.Offline); ok {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool { return compareEntry(&all[i], &all[j]) < 0 })
	l.Entries = all
	l.Digest = ListDigest(l.Encode())
	return l, nil
}

// doorListWalk generates random batches over a small id space, so that
// puts replace (a grant moved to another key, a key given other doors),
// deletes cascade, guest grants come and go with their hosts' grants, and
// some batches are refused and rolled back.
type doorListWalk struct {
	rng  *rand.Rand
	base time.Time
	keys [][]byte // device public keys; fewer than devices, so some puts conflict
}

func newDoorListWalk(seed int64) *doorListWalk {
	w := &doorListWalk{rng: rand.New(rand.NewSource(seed)), base: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	for i := range 20 {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i)
		w.keys = append(w.keys, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	}
	return w
}

func (w *doorListWalk) id(prefix string, n int) string {
	return fmt.Sprintf("%s%d", prefix, w.rng.Intn(n))
}

// at is a moment within a few days of the base, often off the whole second.
func (w *doorListWalk) at() time.Time {
	t := w.base.Add(time.Duration(w.rng.Intn(200)-100) * time.Hour / 4)
	if w.rng.Intn(2) == 0 {
		t = t.Add(time.Duration(w.rng.Intn(1_000_000_000)))
	}
	return t
}

func (w *doorListWalk) expiry(start time.Time) *time.Time {
	e := start.Add(time.Duration(1+w.rng.Intn(60)) * time.Hour / 2)
	if w.rng.Intn(3) == 0 {
		e = e.Add(time.Duration(w.rng.Intn(1_000_000_000)))
	}
	return &e
}

func (w *doorListWalk) op() Op {
	rng := w.rng
	switch n := rng.Intn(60); {
	case n < 2:
		d := &Door{ID: w.id("d", 6), Name: "door", Type: DoorResidence}
		switch rng.Intn(3) {
		case 0:
			d.LockCapacity = 1 + rng.Intn(4) // lists overflow
		case 1:
			d.Offline = OfflineAsIs
		}
		return Op{Type: OpPutDoor, Door: d}
	case n < 3:
		return Op{Type: OpDeleteDoor, ID: w.id("d", 6)}
	case n < 8:
		var doors []string
		for i := range 6 {
			if rng.Intn(3) == 0 {
				doors = append(doors, fmt.Sprintf("d%d", i))
			}
		}
		return Op{Type: OpPutKey, Key: &Key{ID: w.id("k", 5), Name: "key", Doors: doors,
			MayShareAllowed: rng.Intn(4) != 0, DoorcodesAllowed: rng.Intn(2) == 0}}
	case n < 9:
		return Op{Type: OpDeleteKey, ID: w.id("k", 5)}
	case n < 14:
		p := w.id("p", 10)
		return Op{Type: OpPutPerson, Person: &Person{ID: p, Email: p + "@x.org", Name: "n", Manager: rng.Intn(5) == 0}}
	case n < 15:
		return Op{Type: OpDeletePerson, ID: w.id("p", 10)}
	case n < 16:
		return Op{Type: OpRevokePerson, ID: w.id("p", 10)}
	case n < 28:
		g := &Grant{ID: w.id("g", 24), PersonID: w.id("p", 10), KeyID: w.id("k", 5), Resident: rng.Intn(2) == 0,
			MayShare: rng.Intn(3) != 0, StartsAt: w.at(), Method: MethodApp}
		if rng.Intn(4) == 0 {
			g.Method = MethodDoorcode
		}
		if rng.Intn(3) != 0 {
			g.Expires = w.expiry(g.StartsAt)
		}
		return Op{Type: OpPutGrant, Grant: g}
	case n < 31:
		return Op{Type: OpDeleteGrant, ID: w.id("g", 24)}
	case n < 38:
		g := &GuestGrant{ID: w.id("gg", 10), HostID: w.id("p", 10), KeyID: w.id("k", 5)}
		if rng.Intn(5) == 0 {
			g.Service = "cleaner"
		} else {
			g.GuestID = w.id("p", 10)
		}
		if rng.Intn(3) == 0 {
			g.Permanent = true
		} else {
			g.StartsAt = w.at()
			g.Expires = w.expiry(g.StartsAt)
		}
		return Op{Type: OpPutGuestGrant, GuestGrant: g}
	case n < 40:
		return Op{Type: OpDeleteGuestGrant, ID: w.id("gg", 10)}
	case n < 48:
		return Op{Type: OpPutKeycard, Keycard: &Keycard{CardID: fmt.Sprintf("%08x", uint32(0xc0000000)+uint32(rng.Intn(20))),
			OwnerID: w.id("p", 10), Active: rng.Intn(5) != 0}}
	case n < 50:
		return Op{Type: OpDeleteKeycard, ID: fmt.Sprintf("%08x", uint32(0xc0000000)+uint32(rng.Intn(20)))}
	case n < 57:
		return Op{Type: OpPutDevice, Device: &Device{ID: w.id("dev", 16), OwnerID: w.id("p", 10), PublicKey: w.keys[rng.Intn(len(w.keys))]}}
	default:
		return Op{Type: OpDeleteDevice, ID: w.id("dev", 16)}
	}
}

// batch is one to three random ops (each refused now and then, for what
// it names does not exist); a fifth of the batches end in an op that is
// refused, so everything before it is rolled back.
func (w *doorListWalk) batch() []Op {
	ops := make([]Op, 1+w.rng.Intn(3))
	for i := range ops {
		ops[i] = w.op()
	}
	if w.rng.Intn(5) == 0 {
		ops = append(ops, Op{Type: OpDeleteGrant, ID: "no-such-grant"})
	}
	return ops
}

// compareDoorLists checks every door's list against the reference at now.
// It returns how many entries, overflowing lists and guest entries it saw.
func compareDoorLists(t *testing.T, c *Catalog, now time.Time, what string) (entries, overflows, guests int) {
	t.Helper()
	for _, d := range c.Doors() {
		got, err := DoorListOf(c, d.ID, now)
		if err != nil {
			t.Fatalf("%s: door %s: %v", what, d.ID, err)
		}
		want, _ := doorListNaive(c, d.ID, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: door %s at %s:\ngot  %s\nwant %s", what, d.ID, now.Format(time.RFC3339Nano), describeList(got), describeList(want))
		}
		// DoorLists' way: the same list, what is left out counted, not named.
		unnamed, err := doorListOf(c, d.ID, now, false)
		if err != nil {
			t.Fatal(err)
		}
		if unnamed.Overflow.LeftOut != nil {
			t.Fatalf("%s: door %s: an unnamed list names what it left out", what, d.ID)
		}
		unnamed.Overflow.LeftOut = want.Overflow.LeftOut
		if !reflect.DeepEqual(unnamed, want) {
			t.Fatalf("%s: door %s at %s, unnamed:\ngot  %s\nwant %s", what, d.ID, now.Format(time.RFC3339Nano), describeList(unnamed), describeList(want))
		}
		entries += got.Overflow.Desired
		if got.Overflow.Total() > 0 {
			overflows++
		}
		for _, e := range got.Entries {
			if e.Priority == PriorityGuest && e.Kind != EntrySetting {
				guests++
			}
		}
	}
	if _, err := DoorListOf(c, "no-such-door", now); err == nil {
		t.Fatalf("%s: a list for a door that does not exist", what)
	}
	return entries, overflows, guests
}

// catalogOps is the catalog's records as a snapshot's ops.
func catalogOps(c *Catalog) []Op {
	var ops []Op
	_ = c.Records(func(op Op) error { ops = append(ops, op); return nil })
	return ops
}

func describeList(l *DoorList) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cap %d overflow %+v computed %d changes %d digest %x\n", l.Capacity, l.Overflow, l.computedAt, l.changesAt, l.Digest[:4])
	for _, e := range l.Entries {
		fmt.Fprintf(&b, "    %d %x %v prio %v %s\n", e.Kind, e.ID, e.Windows, e.Priority, e.PersonID)
	}
	return b.String()
}

// TestDoorListOfMatchesNaive: at random times after random batches
// (refused ones included), every door's list from the key → grants index
// is exactly the one asking every credential of the site gives — entries,
// windows, priorities, overflow and what was left out, digest, and the
// span of seconds the list holds for. The index is checked after every
// batch (checkCatalog), and every so often a catalog loaded afresh from
// the records must give the same lists.
func TestDoorListOfMatchesNaive(t *testing.T) {
	const steps = 3000 // the catalog needs a few hundred batches to fill up
	seeds := int64(3)
	if testing.Short() {
		seeds = 1
	}
	for seed := int64(1); seed <= seeds; seed++ {
		w := newDoorListWalk(seed)
		c := NewCatalog()
		site := &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}
		if _, err := c.Apply("s", []Op{{Type: OpPutSite, Site: site}}); err != nil {
			t.Fatal(err)
		}
		applied, refused, entries, overflows, guests, snapshots := 0, 0, 0, 0, 0, 0
		for step := range steps {
			if _, err := c.Apply("s", w.batch()); err != nil {
				refused++
			} else {
				applied++
			}
			if err := checkCatalog(c); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, step, err)
			}
			for range 2 {
				e, o, g := compareDoorLists(t, c, w.at(), fmt.Sprintf("seed %d step %d", seed, step))
				entries, overflows, guests = entries+e, overflows+o, guests+g
			}
			if step%100 == 49 {
				// A snapshot of a nearby set applied as a diff, the way a
				// resync replaces the set.
				target := NewCatalog()
				if err := target.Load("s", catalogOps(c)); err != nil {
					t.Fatal(err)
				}
				for range 8 {
					_, _ = target.Apply("s", w.batch())
				}
				d := c.DiffSnapshot("s")
				if err := d.Add(catalogOps(target)); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, step, err)
				}
				if _, err := c.ApplySnapshot(d); err != nil {
					t.Fatalf("seed %d step %d: ApplySnapshot: %v", seed, step, err)
				}
				if err := checkCatalog(c); err != nil {
					t.Fatalf("seed %d step %d: after ApplySnapshot: %v", seed, step, err)
				}
				if got, want := recordsJSON(t, c), recordsJSON(t, target); got != want {
					t.Fatalf("seed %d step %d: ApplySnapshot gave other records:\n%s\nwant\n%s", seed, step, got, want)
				}
				snapshots++
				compareDoorLists(t, c, w.at(), fmt.Sprintf("seed %d step %d, snapshot applied", seed, step))
			}
			if step%100 == 99 {
				fresh := NewCatalog()
				if err := fresh.Load("s", catalogOps(c)); err != nil {
					t.Fatalf("seed %d step %d: the records do not load: %v", seed, step, err)
				}
				if err := checkCatalog(fresh); err != nil {
					t.Fatalf("seed %d step %d: loaded: %v", seed, step, err)
				}
				compareDoorLists(t, fresh, w.at(), fmt.Sprintf("seed %d step %d, loaded", seed, step))
			}
		}
		t.Logf("seed %d: %d batches applied, %d refused, %d snapshots applied as diffs; %d entries, %d overflowing lists, %d guest entries compared",
			seed, applied, refused, snapshots, entries, overflows, guests)
		if applied < steps/5 || refused < steps/5 || entries < 10*steps || overflows < steps/10 || guests < steps/60 {
			t.Fatalf("seed %d: the walk applied %d batches, refused %d, compared %d entries, %d overflowing lists, %d guest entries: too little to prove much",
				seed, applied, refused, entries, overflows, guests)
		}
	}
}
