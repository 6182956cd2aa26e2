package hub

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"
)

// diffWorld makes random ops over a small id space, so that puts
// replace, deletes cascade, references dangle, emails and device keys
// collide or move.
type diffWorld struct {
	rng   *rand.Rand
	start time.Time
}

func (w diffWorld) id(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, w.rng.Intn(n)) }

func (w diffWorld) pub(n int) ed25519.PublicKey {
	seed := sha256.Sum256([]byte(fmt.Sprint("dev", n)))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func (w diffWorld) keys() []string {
	var ks []string
	for _, k := range []string{"k0", "k1", "k2"} {
		if w.rng.Intn(2) == 0 {
			ks = append(ks, k)
		}
	}
	return ks
}

func (w diffWorld) op() Op {
	rng := w.rng
	switch n := rng.Intn(60); {
	case n < 3:
		return Op{Type: OpPutDoor, Door: &Door{ID: w.id("d", 6), Name: w.id("door", 2), Type: DoorResidence}}
	case n < 4:
		return Op{Type: OpDeleteDoor, ID: w.id("d", 6)}
	case n < 7:
		var doors []string
		for _, d := range []string{"d0", "d1", "d2", "d3", "d4", "d5"} {
			if rng.Intn(2) == 0 {
				doors = append(doors, d)
			}
		}
		return Op{Type: OpPutKey, Key: &Key{ID: w.id("k", 3), Name: "key", Doors: doors, MayShareAllowed: true, DoorcodesAllowed: rng.Intn(2) == 0}}
	case n < 8:
		return Op{Type: OpDeleteKey, ID: w.id("k", 3)}
	case n < 14:
		return Op{Type: OpPutPerson, Person: &Person{ID: w.id("p", 6), Email: w.id("e", 7) + "@x.org", Name: w.id("n", 2), Manager: rng.Intn(3) == 0}}
	case n < 15:
		return Op{Type: OpDeletePerson, ID: w.id("p", 6)}
	case n < 16:
		return Op{Type: OpRevokePerson, ID: w.id("p", 6)}
	case n < 26:
		g := &Grant{ID: w.id("g", 12), PersonID: w.id("p", 6), KeyID: w.id("k", 3), Resident: rng.Intn(2) == 0,
			StartsAt: w.start, Method: MethodApp}
		if rng.Intn(2) == 0 {
			e := w.start.Add(time.Duration(1+rng.Intn(3)) * time.Hour)
			g.Expires = &e
		}
		return Op{Type: OpPutGrant, Grant: g}
	case n < 28:
		return Op{Type: OpDeleteGrant, ID: w.id("g", 12)}
	case n < 34:
		return Op{Type: OpPutKeycard, Keycard: &Keycard{CardID: fmt.Sprintf("%08x", uint32(0xa0000000)+uint32(rng.Intn(12))), OwnerID: w.id("p", 6), Active: rng.Intn(4) != 0}}
	case n < 36:
		return Op{Type: OpDeleteKeycard, ID: fmt.Sprintf("%08x", uint32(0xa0000000)+uint32(rng.Intn(12)))}
	case n < 39:
		g := &GuestGrant{ID: w.id("gg", 4), HostID: w.id("p", 6), KeyID: w.id("k", 3), Permanent: true}
		if rng.Intn(2) == 0 {
			g.GuestID = w.id("p", 6)
		} else {
			g.Service = "walker"
		}
		return Op{Type: OpPutGuestGrant, GuestGrant: g}
	case n < 40:
		return Op{Type: OpDeleteGuestGrant, ID: w.id("gg", 4)}
	case n < 43:
		return Op{Type: OpPutDevice, Device: &Device{ID: w.id("dev", 4), OwnerID: w.id("p", 6), PublicKey: w.pub(rng.Intn(5))}}
	case n < 44:
		return Op{Type: OpDeleteDevice, ID: w.id("dev", 4)}
	case n < 48:
		e := w.start.Add(48 * time.Hour)
		return Op{Type: OpPutGuestCode, GuestCode: &GuestCode{ID: w.id("gc", 4), HostID: w.id("p", 6), KeyID: w.id("k", 3),
			Kind: CodeFifteenMinute, Code: fmt.Sprintf("%06d", rng.Intn(3)), StartsAt: w.start, Expires: &e}}
	case n < 49:
		return Op{Type: OpDeleteGuestCode, ID: w.id("gc", 4)}
	case n < 52:
		return Op{Type: OpPutTour, Tour: &Tour{ID: w.id("t", 3), Integration: "tourco", Code: fmt.Sprintf("%06d", 100+rng.Intn(3)),
			StartsAt: w.start, EndsAt: w.start.Add(time.Hour), Keys: w.keys()}}
	case n < 53:
		return Op{Type: OpDeleteTour, ID: w.id("t", 3)}
	case n < 56:
		return Op{Type: OpPutAllowlist, Allowlist: &Allowlist{Integration: w.id("i", 2), Keys: w.keys()}}
	case n < 57:
		return Op{Type: OpDeleteAllowlist, ID: w.id("i", 2)}
	default:
		s := &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef"), Name: w.id("site", 2)}
		return Op{Type: OpPutSite, Site: s}
	}
}

// batch applies n random batches to c (refused ones change nothing).
func (w diffWorld) batches(c *Catalog, n int) {
	for i := 0; i < n; i++ {
		ops := make([]Op, 1+w.rng.Intn(3))
		for j := range ops {
			ops[j] = w.op()
		}
		_, _ = c.Apply("s", ops)
	}
}

func (w diffWorld) site() *Site {
	return &Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}
}

func recordOps(c *Catalog) []Op {
	var ops []Op
	_ = c.Records(func(o Op) error { ops = append(ops, o); return nil })
	return ops
}

// TestSnapshotDiffEqualsLoad is the property the diff snapshot rests on:
// for random live sets, random snapshots (most of them close to the live
// set, some far, some invalid: a record dropped, two swapped) and random
// batches applied to the live set between the snapshot's chunks, applying
// the diff leaves the live catalog holding exactly what a fresh catalog
// loading the snapshot's chunks holds, or, when the load refuses the
// snapshot, refuses it too and changes nothing. First uses of the codes
// the snapshot keeps stay.
func TestSnapshotDiffEqualsLoad(t *testing.T) {
	rounds := 3000
	if testing.Short() {
		rounds = 500
	}
	w := diffWorld{rng: rand.New(rand.NewSource(2)), start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	rng := w.rng
	var applied, refused, applyRefused, withBatches, changedTotal int
	for round := 0; round < rounds; round++ {
		live := NewCatalog()
		if _, err := live.Apply("s", []Op{{Type: OpPutSite, Site: w.site()}}); err != nil {
			t.Fatal(err)
		}
		w.batches(live, 20+rng.Intn(40))

		// The snapshot: the live set moved on by a few batches, or
		// another set altogether.
		target := NewCatalog()
		if rng.Intn(5) == 0 {
			if _, err := target.Apply("s", []Op{{Type: OpPutSite, Site: w.site()}}); err != nil {
				t.Fatal(err)
			}
			w.batches(target, 20+rng.Intn(40))
		} else {
			if err := target.Load("s", recordOps(live)); err != nil {
				t.Fatal(err)
			}
			w.batches(target, rng.Intn(6))
		}
		snap := recordOps(target)
		switch rng.Intn(10) {
		case 0: // a record missing: references may dangle, the site may be gone
			if len(snap) > 0 {
				i := rng.Intn(len(snap))
				snap = append(snap[:i:i], snap[i+1:]...)
			}
		case 1: // two records out of order
			if len(snap) > 1 {
				i, j := rng.Intn(len(snap)), rng.Intn(len(snap))
				snap[i], snap[j] = snap[j], snap[i]
			}
		case 2: // a record twice, the second time changed
			o := w.op()
			if _, ok := putField[o.Type]; ok {
				snap = append(snap, o)
			}
		}
		for id := range live.guestCodes {
			if rng.Intn(2) == 0 {
				live.SetFirstUse(id, w.start.Add(time.Duration(rng.Intn(60))*time.Minute))
			}
		}

		fresh := NewCatalog()
		d := live.DiffSnapshot("s")
		var loadErr, addErr error
		batched := false
		for len(snap) > 0 {
			n := min(len(snap), 1+rng.Intn(8))
			chunk := snap[:n]
			snap = snap[n:]
			if loadErr == nil {
				loadErr = fresh.Load("s", chunk)
			}
			if addErr == nil {
				addErr = d.Add(chunk)
			}
			if rng.Intn(3) == 0 {
				w.batches(live, 1+rng.Intn(2))
				batched = true
			}
		}
		if loadErr == nil && fresh.Site() == nil {
			loadErr = fmt.Errorf("no site")
		}
		before := recordsJSON(t, live)
		beforeOps := recordOps(live)
		uses := map[string]time.Time{}
		for id, u := range live.firstUse {
			uses[id] = u
		}
		var applyErr error
		var changes []Change
		if addErr == nil {
			var held []Op
			_ = d.Records(func(o Op) error { held = append(held, o); return nil })
			changes, applyErr = live.ApplySnapshot(d)
			if applyErr != nil {
				// A store falls back to loading what the diff holds: the
				// rollback must leave it holding the same.
				var after []Op
				_ = d.Records(func(o Op) error { after = append(after, o); return nil })
				if !reflect.DeepEqual(recordMap(t, held), recordMap(t, after)) {
					t.Fatalf("round %d: after a refused ApplySnapshot (%v) the diff holds other records", round, applyErr)
				}
				applyRefused++
			}
		} else {
			d.Close()
		}
		if len(live.diffs) != 0 {
			t.Fatalf("round %d: %d diffs still open", round, len(live.diffs))
		}
		if err := checkCatalog(live); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if loadErr != nil {
			if addErr == nil && applyErr == nil {
				t.Fatalf("round %d: the load refused the snapshot (%v), the diff took it:\n%s", round, loadErr, recordsJSON(t, live))
			}
			if got := recordsJSON(t, live); got != before {
				t.Fatalf("round %d: a refused diff (%v, %v) changed the set", round, addErr, applyErr)
			}
			refused++
			continue
		}
		if addErr != nil || applyErr != nil {
			t.Fatalf("round %d: the load took the snapshot, the diff refused it: %v, %v\nlive before:\n%s\nsnapshot:\n%s",
				round, addErr, applyErr, before, recordsJSON(t, fresh))
		}
		if got, want := recordsJSON(t, live), recordsJSON(t, fresh); got != want {
			t.Fatalf("round %d (batches between chunks: %v): the diff left\n%s\nthe load\n%s", round, batched, got, want)
		}
		for id := range fresh.guestCodes {
			u, ok := live.FirstUse(id)
			if wu, wok := uses[id]; ok != wok || !u.Equal(wu) {
				t.Fatalf("round %d: first use of %s: %v %v, want %v %v", round, id, u, ok, wu, wok)
			}
		}
		for id := range uses {
			if fresh.guestCodes[id] == nil {
				if _, ok := live.FirstUse(id); ok {
					t.Fatalf("round %d: first use of dropped code %s kept", round, id)
				}
			}
		}
		// The changes are what a store persists: over the records before,
		// they must give the records after.
		disk := recordMap(t, beforeOps)
		for _, ch := range changes {
			k := fmt.Sprintf("%s/%s", ch.Kind, ch.ID)
			if ch.Value == nil {
				delete(disk, k)
				continue
			}
			j, err := json.Marshal(ch.Value)
			if err != nil {
				t.Fatal(err)
			}
			disk[k] = string(j)
		}
		if got, want := disk, recordMap(t, recordOps(live)); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: the changes over the records before give\n%v\nwant\n%v", round, got, want)
		}
		applied++
		changedTotal += len(changes)
		if batched {
			withBatches++
		}
	}
	t.Logf("%d snapshots applied as diffs (%d with batches between chunks, %d changes in all), %d refused (%d by ApplySnapshot)",
		applied, withBatches, changedTotal, refused, applyRefused)
	if applied < rounds/2 || refused < rounds/20 || withBatches < rounds/4 {
		t.Fatalf("too little coverage: %d applied, %d refused, %d with batches", applied, refused, withBatches)
	}
}

// recordMap is the records of ops by kind/id, as JSON: what a store holds.
func recordMap(t *testing.T, ops []Op) map[string]string {
	m := map[string]string{}
	for i := range ops {
		k := opKey(&ops[i])
		j, err := json.Marshal(opValue(&ops[i]))
		if err != nil {
			t.Fatal(err)
		}
		m[fmt.Sprintf("%s/%s", k.kind, k.id)] = string(j)
	}
	return m
}
