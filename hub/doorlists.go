package hub

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DoorLists keeps every door's desired lock list over a store and tracks
// what each lock holds in a DoorSync. It is what the radio sessions ask for
// a door's list and tell what a lock reported (radio/session.Lists), and
// what pending reports read. Safe for concurrent use. Its state is in
// memory unless Persist gave it a store: then versions, each lock's
// acknowledged list, revocation ages and deliveries under way survive a
// restart.
type DoorLists struct {
	store interface{ View(fn func(c *Catalog)) }
	now   func() time.Time

	mu       sync.Mutex
	sync     *DoorSync
	onChange []func()
	onError  func(error)
	kv       ValueStore // nil: in memory only
	saved    map[string]savedDoor

	// cache holds a summary of each door's last computed list with the
	// catalog it came from: computing a door's list reads every
	// credential that may open the door, and the pending report, the
	// status view and the watch ask for all doors every few seconds,
	// mostly of an unchanged set. A batch makes only the doors it touched
	// compute again (Catalog.doorChangedSince). Whole lists are not kept:
	// at 100,000 credentials they are hundreds of KB a door.
	cacheMu sync.Mutex
	cache   map[string]listSummary
}

// listSummary is what the pending state needs of a door's list computed
// from one catalog generation, with the seconds it holds for.
type listSummary struct {
	cat, gen              uint64
	computedAt, changesAt int64
	digest                [sha256.Size]byte
	overflow              int
}

// listOf returns the summary of the door's list at now from c, and the
// list itself when it had to be computed — c changed or a window ended
// (or started, for an overflowing list) since the last time — or when
// full asks for it. Called inside the store's View.
func (d *DoorLists) listOf(c *Catalog, door string, now time.Time, full bool) (listSummary, *DoorList, error) {
	d.cacheMu.Lock()
	e, ok := d.cache[door]
	d.cacheMu.Unlock()
	sec := ceilSeconds(now)
	if !full && ok && e.cat == c.id && e.computedAt <= sec && sec < e.changesAt {
		if e.gen == c.gen {
			return e, nil, nil
		}
		if dn := c.doors[door]; dn != nil && !c.doorChangedSince(e.gen, dn.h) {
			// No batch since touched the door: the list is the same.
			e.gen = c.gen
			d.cacheMu.Lock()
			d.cache[door] = e
			d.cacheMu.Unlock()
			return e, nil, nil
		}
	}
	l, err := doorListOf(c, door, now, false) // the summary counts what is left out; no one reads its names
	if err != nil {
		return listSummary{}, nil, err
	}
	e = listSummary{cat: c.id, gen: c.Generation(), computedAt: l.computedAt, changesAt: l.changesAt,
		digest: l.Digest, overflow: l.Overflow.Total()}
	d.cacheMu.Lock()
	if d.cache == nil {
		d.cache = map[string]listSummary{}
	}
	d.cache[door] = e
	d.cacheMu.Unlock()
	return e, l, nil
}

// OnChange adds fn to those that hear, after the fact and outside any
// lock, that a lock's report changed its door's state (acknowledged a
// version, caught up, drifted): the daemon publishes its pending report
// then. Each listener must return quickly (it runs in the lock's radio
// session).
func (d *DoorLists) OnChange(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onChange = append(d.onChange, fn)
}

// NewDoorLists returns the door lists over the store; now is the hub's
// clock (time.Now when nil).
func NewDoorLists(store interface{ View(fn func(c *Catalog)) }, now func() time.Time) *DoorLists {
	if now == nil {
		now = time.Now
	}
	return &DoorLists{store: store, now: now, sync: NewDoorSync()}
}

// DoorList computes the door's desired list now and returns its version
// and encoding (empty for an empty list: the radio clears the lock's);
// ok is false for an unknown door. It is what the radio asks before it
// sends a lock its list, so the version counts as offered (DoorSync.Offer).
func (d *DoorLists) DoorList(door string) (version uint32, data []byte, ok bool) {
	l, v, err := d.desire(door, d.now(), true)
	if err != nil {
		return 0, nil, false
	}
	d.mu.Lock()
	d.sync.Offer(door, v) // the radio sends it: the lock may acknowledge it
	d.mu.Unlock()
	return uint32(v), l.Encode(), true
}

// desire brings the door's desired list up to now (bring) and stores its
// state.
func (d *DoorLists) desire(door string, now time.Time, full bool) (*DoorList, uint64, error) {
	l, _, v, err := d.bring(door, now, full)
	if err != nil {
		return nil, 0, err
	}
	d.mu.Lock()
	d.save(door)
	d.mu.Unlock()
	return l, v, nil
}

// bring computes the door's list at now when it may have changed
// (listOf) and records it as desired. It returns the list when it was
// computed (always when full is set), its summary and the desired
// version.
func (d *DoorLists) bring(door string, now time.Time, full bool) (*DoorList, listSummary, uint64, error) {
	var sum listSummary
	var l *DoorList
	var err error
	d.store.View(func(c *Catalog) { sum, l, err = d.listOf(c, door, now, full) })
	if err != nil {
		return nil, sum, 0, err
	}
	d.mu.Lock()
	if l == nil && !d.sync.holds(door, sum.digest) {
		// The summary is not what the sync state desires (restored after
		// a restart, say): record the list itself.
		d.mu.Unlock()
		return d.bring(door, now, true)
	}
	defer d.mu.Unlock()
	if l != nil {
		return l, sum, d.sync.Desire(l, now), nil
	}
	return nil, sum, d.sync.door(door).desired.version, nil
}

// ListHeld records the digest (the radio's 8-byte prefix) of the list a
// door's lock reports; all zero is no list.
//
// The desired list is computed first: after a hub restart (its versions
// start over) a lock already holding the right list is current at once,
// not taken for drifted.
func (d *DoorLists) ListHeld(door string, digest [MinAckDigest]byte, at time.Time) {
	now := d.now()
	_, _, _ = d.desire(door, now, false)
	d.mu.Lock()
	before := d.sync.DoorPending(door, now)
	d.sync.Ack(door, digest[:], at)
	d.save(door)
	after := d.sync.DoorPending(door, now)
	fns := d.onChange
	d.mu.Unlock()
	if before.AckedVersion != after.AckedVersion || before.Current != after.Current || before.Drift != after.Drift {
		for _, fn := range fns {
			fn()
		}
	}
}

// Pending brings every door's desired list up to now, so that a change
// counts as pending at a sleeping lock's door at once, and reports each
// door's state with the overflow of its list. A door's list is computed
// again only when it may have changed (listOf), and one door at a time:
// at 100,000 credentials a list is hundreds of KB while it is built.
func (d *DoorLists) Pending() []DoorPendingReport {
	now := d.now()
	var ids []string
	d.store.View(func(c *Catalog) {
		for _, dr := range c.Doors() {
			ids = append(ids, dr.ID)
		}
	})
	overflow := make([]int, len(ids))
	known := make([]bool, len(ids))
	for i, id := range ids {
		if _, sum, _, err := d.bring(id, now, false); err == nil {
			overflow[i], known[i] = sum.overflow, true
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DoorPendingReport, 0, len(ids))
	saved := ids[:0]
	for i, id := range ids {
		if known[i] { // else removed meanwhile
			out = append(out, DoorPendingReport{DoorPending: d.sync.DoorPending(id, now), Overflow: overflow[i]})
			saved = append(saved, id)
		}
	}
	d.save(saved...) // one write for every door that changed
	return out
}

// KeycardPending lists the doors where a keycard's change is pending,
// after computing every door's desired list now (as Pending).
func (d *DoorLists) KeycardPending(cardID string) []string {
	d.Pending()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sync.KeycardPending(cardID, d.now())
}

// KeycardsPending lists, by card id (hex), the doors where a keycard's
// activation or deactivation is pending (DoorSync.KeycardsPending), after
// computing every door's desired list now.
func (d *DoorLists) KeycardsPending() map[string][]string {
	_, cards := d.PendingReport()
	return cards
}

// PendingReport is Pending and KeycardsPending from one computation of the
// desired lists: what the pending report carries.
func (d *DoorLists) PendingReport() ([]DoorPendingReport, map[string][]string) {
	doors := d.Pending()
	d.mu.Lock()
	defer d.mu.Unlock()
	return doors, d.sync.KeycardsPending(d.now())
}

// DoorPendingReport is a door's pending state with its list's overflow.
type DoorPendingReport struct {
	DoorPending
	// Overflow: credentials left out of the list for capacity.
	Overflow int `json:"overflow"`
}
