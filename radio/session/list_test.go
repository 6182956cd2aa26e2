package session_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/session"
	"github.com/doorhub/doorhub/radio/sim"
)

// lists is a door's desired list, as the daemon's wiring would supply.
type lists struct {
	mu      sync.Mutex
	version uint32
	data    []byte
	held    map[string][lockmsg.DigestSize]byte
}

func (l *lists) DoorList(string) (uint32, []byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.version, l.data, l.data != nil
}

func (l *lists) ListHeld(door string, d [lockmsg.DigestSize]byte, _ time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[door] = d
}

func (l *lists) heldAt(door string) [lockmsg.DigestSize]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[door]
}

func (l *lists) set(version uint32, cards ...[]byte) []byte {
	dl := &hub.DoorList{}
	for _, c := range cards {
		dl.Entries = append(dl.Entries, hub.ListEntry{Kind: hub.EntryKeycard, ID: c, Windows: []hub.ListWindow{{Start: 1}}})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version, l.data = version, dl.Encode()
	return l.data
}

// TestListDeliveredAfterHeartbeat: a lock whose reported digest differs
// from its door's list gets the list after its next status, decides from
// it alone, and a lock that lost its list (reset) is reloaded.
func TestListDeliveredAfterHeartbeat(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 150 * time.Millisecond})
	ls := &lists{held: map[string][lockmsg.DigestSize]byte{}}
	// Over 208 bytes of entries: several chunks.
	cards := [][]byte{}
	for i := range 12 {
		cards = append(cards, []byte{0xc0, 0xc0, 0xc0, byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	}
	data := ls.set(1, cards...)
	if len(data) <= lockmsg.MaxChunkData {
		t.Fatalf("list of %d bytes fits one chunk", len(data))
	}
	_ = r.locks.Close(t.Context())
	r.opts.Lists = ls
	r.open()
	lk := r.pair(0, "lobby")
	want := lockmsg.ListDigest(data)
	waitFor(t, "the list at the lock", func() bool { v, d := lk.ListVersion(); return v == 1 && d == want })
	waitFor(t, "the hub hearing the lock's digest", func() bool { return ls.heldAt("lobby") == want })

	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: cards[3]}); !res.Offline || !res.Allowed {
		t.Fatalf("listed card alone: %+v", res)
	}
	if res := present(t, lk, sim.Credential{Card: []byte{9, 9, 9, 9}}); !res.Offline || res.Allowed || res.Reason != "unknown_credential" {
		t.Fatalf("unlisted card alone: %+v", res)
	}
	lk.Isolate(false)

	// Revoke card 3: version 2 without it reaches the lock.
	data = ls.set(2, append(append([][]byte(nil), cards[:3]...), cards[4:]...)...)
	want = lockmsg.ListDigest(data)
	waitFor(t, "version 2 at the lock", func() bool { v, d := lk.ListVersion(); return v == 2 && d == want })
	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: cards[3]}); res.Allowed {
		t.Fatalf("revoked card alone: %+v", res)
	}
	lk.Isolate(false)

	// A lock that lost its list reports none and is reloaded.
	lk.ResetList()
	waitFor(t, "the reload", func() bool { v, d := lk.ListVersion(); return v == 2 && d == want })
}

// The hub's door lists are what the daemon hands the sessions.
var _ session.Lists = (*hub.DoorLists)(nil)

// TestRevokeWhileTheLockSleeps is issue 6's scenario over the hub's own
// door lists: a keycard revoked while the lock sleeps is pending at its
// door until the lock's next wake, then applied; with the hub unplugged
// afterwards the lock alone denies the card.
func TestRevokeWhileTheLockSleeps(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 300 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lk := r.pair(0, radiotest.Lobby)
	card := sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}
	waitFor(t, "the lobby's list at the lock", func() bool {
		v, _ := lk.ListVersion()
		return v > 0 && len(dl.KeycardPending(radiotest.Card)) == 0
	})
	lk.Isolate(true)
	if res := present(t, lk, card); !res.Offline || !res.Allowed {
		t.Fatalf("the lock alone before the revocation: %+v", res)
	}
	lk.Isolate(false)

	// Revoke the card: pending at the lobby at once, the lock still
	// holding the card.
	var kc hub.Keycard
	r.store.View(func(c *hub.Catalog) { kc = *c.Keycard(radiotest.Card) })
	kc.Active = false
	if err := r.store.Apply(t.Context(), &hub.Batch{Site: radiotest.SiteID, Base: r.store.Version(), Version: r.store.Version() + 1,
		IssuedAt: time.Now(), Ops: []hub.Op{{Type: hub.OpPutKeycard, Keycard: &kc}}}); err != nil {
		t.Fatal(err)
	}
	pendingAtLobby := func() bool {
		for _, p := range dl.Pending() {
			if p.Door == radiotest.Lobby {
				return !p.Current
			}
		}
		return false
	}
	if !pendingAtLobby() {
		t.Fatal("the revocation is not pending at the lobby")
	}
	waitFor(t, "the revocation applied at the next wake", func() bool { return !pendingAtLobby() })
	lk.Isolate(true)
	if res := present(t, lk, card); !res.Offline || res.Allowed {
		t.Fatalf("the lock alone after the revocation: %+v", res)
	}
}

// The hub's door lists remember how far a delivery got.
var _ session.ListResume = (*hub.DoorLists)(nil)

// TestListCleared: a door whose list became empty has its lock's list
// cleared (list_chunk of count 0): the lock then holds no list, reports
// digest zero, the door is current, and the lock alone denies the card it
// held.
func TestListCleared(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lk := r.pair(0, radiotest.Lobby)
	lobby := func() hub.DoorPendingReport {
		for _, p := range dl.Pending() {
			if p.Door == radiotest.Lobby {
				return p
			}
		}
		return hub.DoorPendingReport{}
	}
	waitFor(t, "the lobby's list at the lock", func() bool { _, d := lk.ListVersion(); return d != [8]byte{} && lobby().Current })

	// Ana, the only holder of a lobby key, is removed: the lobby's list
	// is empty.
	if err := r.store.Apply(t.Context(), &hub.Batch{Site: radiotest.SiteID, Base: r.store.Version(), Version: r.store.Version() + 1,
		IssuedAt: time.Now(), Ops: []hub.Op{{Type: hub.OpDeletePerson, ID: "ana"}}}); err != nil {
		t.Fatal(err)
	}
	if p := lobby(); p.Current || p.Revocations == 0 {
		t.Fatalf("the lobby emptied: %+v", p)
	}
	waitFor(t, "the lock's list cleared", func() bool { _, d := lk.ListVersion(); return d == [8]byte{} })
	waitFor(t, "the lobby current", func() bool { p := lobby(); return p.Current && p.Revocations == 0 })
	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Offline || res.Allowed || res.Reason != "unknown_credential" {
		t.Fatalf("the removed card at the lock alone: %+v", res)
	}
	lk.Isolate(false)
}

// TestOfflineModePushedWithTheList: a door's offline mode reaches its lock
// with the list; without the hub, a secure lock locks a door held
// unlocked at once and an as-is one leaves it unlocked; both deny a card
// they have no entry for.
func TestOfflineModePushedWithTheList(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 2, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	// The apartment becomes as-is; Ana's key opens it too.
	if err := r.store.Apply(t.Context(), &hub.Batch{Site: radiotest.SiteID, Base: r.store.Version(), Version: r.store.Version() + 1,
		IssuedAt: time.Now(), Ops: []hub.Op{
			{Type: hub.OpPutDoor, Door: &hub.Door{ID: radiotest.Apartment, Name: "Apartment 1", Type: hub.DoorResidence, Offline: hub.OfflineAsIs}},
			{Type: hub.OpPutKey, Key: &hub.Key{ID: "common", Name: "Common", Doors: []string{radiotest.Lobby, radiotest.Apartment}}},
		}}); err != nil {
		t.Fatal(err)
	}
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lobby, apt := r.pair(0, radiotest.Lobby), r.pair(1, radiotest.Apartment)
	current := func(door string) bool {
		for _, p := range dl.Pending() {
			if p.Door == door {
				return p.Current
			}
		}
		return false
	}
	waitFor(t, "both lists at their locks", func() bool { return current(radiotest.Lobby) && current(radiotest.Apartment) })
	if lobby.OfflineMode() != hub.OfflineSecure || apt.OfflineMode() != hub.OfflineAsIs {
		t.Fatalf("offline modes at the locks: lobby %s, apartment %s", lobby.OfflineMode(), apt.OfflineMode())
	}
	for _, lk := range []*sim.Lock{lobby, apt} {
		res, err := r.locks.Command(t.Context(), lk.ID(), &lockmsg.RemoteUnlock{UnlockSeconds: 600})
		if err != nil || res.Status != lockmsg.CommandDone {
			t.Fatalf("hold %s unlocked: %+v, %v", lk.Door(), res, err)
		}
		if !lk.Unlocked() {
			t.Fatalf("%s not unlocked", lk.Door())
		}
		lk.Isolate(true)
		if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.UnknownCard)}); !res.Offline || res.Allowed {
			t.Fatalf("%s: an unknown card alone: %+v", lk.Door(), res)
		}
		if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Offline || !res.Allowed {
			t.Fatalf("%s: Ana's card alone: %+v", lk.Door(), res)
		}
	}
	if lobby.Unlocked() {
		t.Error("the secure lobby stayed unlocked without the hub")
	}
	if !apt.Unlocked() {
		t.Error("the as-is apartment locked without the hub")
	}
}

// TestOfflineDecisionNamesItsEntry: a decision the lock made alone comes
// up with the lock's clock and event counter and the list entry that
// decided, and with that entry's holder as the hub's engine names them;
// an unknown card's names none.
func TestOfflineDecisionNamesItsEntry(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lk := r.pair(0, radiotest.Lobby)
	waitFor(t, "the lobby's list at the lock", func() bool {
		v, _ := lk.ListVersion()
		return v > 0 && len(dl.KeycardPending(radiotest.Card)) == 0
	})
	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Offline || !res.Allowed {
		t.Fatalf("Ana's card alone: %+v", res)
	}
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.UnknownCard)}); !res.Offline || res.Allowed {
		t.Fatalf("an unknown card alone: %+v", res)
	}
	lk.Isolate(false)
	waitFor(t, "the offline decisions stored", func() bool { _, n := r.activity.counts(); return n >= 2 })
	r.activity.mu.Lock()
	events := append([]session.LockEvent(nil), r.activity.events...)
	r.activity.mu.Unlock()
	ana, unknown := events[0], events[1]
	if ana.Offline == nil || !ana.Offline.Allowed || ana.Offline.PersonID != "ana" || ana.Offline.Visibility != hub.Visible ||
		ana.Entry != hub.EntryRef(hub.EntryKeycard, radiotest.CardBytes(radiotest.Card)) || ana.LockClock.IsZero() || ana.Seq == 0 {
		t.Fatalf("Ana's offline decision: %+v %+v", ana, ana.Offline)
	}
	if unknown.Offline == nil || unknown.Offline.Allowed || unknown.Offline.PersonID != "" || unknown.Entry != 0 ||
		unknown.Offline.Reason != hub.UnknownCredential || unknown.Seq != ana.Seq+1 {
		t.Fatalf("the unknown card's offline decision: %+v %+v", unknown, unknown.Offline)
	}
	if d := time.Since(ana.LockClock); d < 0 || d > time.Minute {
		t.Fatalf("the lock's clock %v", ana.LockClock)
	}
}

// TestListDeltas: once the lock acknowledged a list the hub knows, a
// change goes as a delta — a chunk or two, not the whole list — and the
// lock ends with exactly the desired list; a lock that lost its list gets
// the whole list again.
func TestListDeltas(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	// Sixty more people with cards on the lobby's key: a list of many chunks.
	var ops []hub.Op
	for i := range 60 {
		id := fmt.Sprintf("p%02d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.org", Name: id}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: "common", StartsAt: time.Now().Add(-time.Hour), Method: hub.MethodApp}},
			hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("c0c0%04x", i), OwnerID: id, Active: true}})
	}
	apply := func(ops ...hub.Op) {
		t.Helper()
		if err := r.store.Apply(t.Context(), &hub.Batch{Site: radiotest.SiteID, Base: r.store.Version(), Version: r.store.Version() + 1,
			IssuedAt: time.Now(), Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	apply(ops...)
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lk := r.pair(0, radiotest.Lobby)
	desired := func() [lockmsg.DigestSize]byte {
		_, data, _ := dl.DoorList(radiotest.Lobby)
		return lockmsg.ListDigest(data)
	}
	waitFor(t, "the whole list at the lock", func() bool { _, d := lk.ListVersion(); return d == desired() })
	_, full, _ := dl.DoorList(radiotest.Lobby)
	fullChunks := (len(full) + lockmsg.MaxChunkData - 1) / lockmsg.MaxChunkData
	if fullChunks < 5 {
		t.Fatalf("a list of %d chunks", fullChunks)
	}

	// One card lost, one person added: a delta of one chunk.
	before := lk.ListChunks()
	apply(hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "c0c00007", OwnerID: "p07", Active: false}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "c0c0ffff", OwnerID: "p01", Active: true}})
	waitFor(t, "the change at the lock", func() bool { _, d := lk.ListVersion(); return d == desired() })
	if n := lk.ListChunks() - before; n != 1 {
		t.Fatalf("the change took %d chunks; the whole list is %d", n, fullChunks)
	}
	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes("c0c00007")}); res.Allowed {
		t.Fatalf("the lost card at the lock alone: %+v", res)
	}
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes("c0c0ffff")}); !res.Allowed {
		t.Fatalf("the new card at the lock alone: %+v", res)
	}
	lk.Isolate(false)

	// A lock that lost its list reports none: the whole list again.
	before = lk.ListChunks()
	lk.ResetList()
	waitFor(t, "the reload", func() bool { _, d := lk.ListVersion(); return d == desired() })
	if n := lk.ListChunks() - before; n < fullChunks {
		t.Fatalf("a reload of %d chunks; the whole list is %d", n, fullChunks)
	}
}

// refusedDeltas is a door's list whose deltas are wrong: the lock refuses
// them and gets the whole list.
type refusedDeltas struct{ *lists }

func (refusedDeltas) ListDelta(string, [lockmsg.DigestSize]byte, uint32) ([]byte, bool) {
	return []byte{hub.DeltaMarker, 1, 2, 3, 4, 5, 6, 7, 8}, true
}

func TestListDeltaRefusedThenWholeList(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 200 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	ls := &lists{held: map[string][lockmsg.DigestSize]byte{}}
	var cards [][]byte
	for i := range 12 {
		cards = append(cards, []byte{0xc0, 0xc0, 0xc0, byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	}
	data := ls.set(1, cards...)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = refusedDeltas{ls}
	r.open()
	lk := r.pair(0, "lobby")
	waitFor(t, "version 1", func() bool { v, d := lk.ListVersion(); return v == 1 && d == lockmsg.ListDigest(data) })
	data = ls.set(2, cards[1:]...)
	waitFor(t, "version 2, the delta refused", func() bool { v, d := lk.ListVersion(); return v == 2 && d == lockmsg.ListDigest(data) })
}

var _ session.ListDeltas = (*hub.DoorLists)(nil)

// TestListDeliveredAfterAPresentation: a lock that does not check in for
// an hour gets a change of its list right after a presentation wakes it.
func TestListDeliveredAfterAPresentation(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: time.Hour, AwakeWindow: 300 * time.Millisecond})
	dl := hub.NewDoorLists(r.store, nil)
	_ = r.locks.Close(t.Context())
	r.opts.Lists = dl
	r.open()
	lk := r.pair(0, radiotest.Lobby)
	desired := func() [lockmsg.DigestSize]byte {
		_, data, _ := dl.DoorList(radiotest.Lobby)
		if len(data) == 0 {
			return [lockmsg.DigestSize]byte{}
		}
		return lockmsg.ListDigest(data)
	}
	waitFor(t, "the list after the hello", func() bool { _, d := lk.ListVersion(); return d == desired() && d != [8]byte{} })
	time.Sleep(time.Second) // the hellos of its start (retried until one is answered) are over

	// Bob's card is activated; the lock sleeps (no heartbeat for an hour).
	if err := r.store.Apply(t.Context(), &hub.Batch{Site: radiotest.SiteID, Base: r.store.Version(), Version: r.store.Version() + 1,
		IssuedAt: time.Now(), Ops: []hub.Op{{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: radiotest.InactiveCard, OwnerID: "bob", Active: true}}}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if v, d := lk.ListVersion(); d == desired() {
		t.Fatalf("the list changed without the lock waking: v%d, %d chunks, %+v", v, lk.ListChunks(), r.locks.Locks())
	}
	// Ana presents her card: the change follows the decision.
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Allowed || res.Offline {
		t.Fatalf("Ana's card: %+v", res)
	}
	waitFor(t, "the change after the presentation", func() bool { _, d := lk.ListVersion(); return d == desired() })
	lk.Isolate(true)
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.InactiveCard)}); !res.Offline || !res.Allowed {
		t.Fatalf("Bob's card at the lock alone: %+v", res)
	}
}
