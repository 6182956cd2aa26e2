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
	// credential of the site, and the pending report, the status view and
	// the watch ask for all doors every few seconds, mostly of an
	// unchanged set. Whole lists are not kept: at 100,000 credentials
	// they are hundreds of KB a door.
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
	if !full && ok && e.cat == c.id && e.gen == c.Generation() && e.computedAt <= sec && sec < e.changesAt {
		return e, nil, nil
	}
	l, err := DoorListOf(c, door, now)
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

// forget drops a door's summary, so that its list is computed again.
func (d *DoorLists) forget(door string) {
	d.cacheMu.Lock()
	delete(d.cache, door)
	d.cacheMu.Unlock()
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
// ok is false for an unknown door.
func (d *DoorLists) DoorList(door string) (version uint32, data []byte, ok bool) {
	l, v, err := d.desire(door, d.now(), true)
	if err != nil {
		return 0, nil, false
	}
	return uint32(v), l.Encode(), true
}

// desire brings the door's desired list up to now and returns its
// version, and the list when it was computed (always when full is set).
func (d *DoorLists) desire(door string, now time.Time, full bool) (*DoorList, uint64, error) {
	var sum listSummary
	var l *DoorList
	var err error
	d.store.View(func(c *Catalog) { sum, l, err = d.listOf(c, door, now, full) })
	if err != nil {
		return nil, 0, err
	}
	d.mu.Lock()
	if l == nil && !d.sync.holds(door, sum.digest) {
		// The summary is not what the sync state desires (restored after
		// a restart, say): record the list itself.
		d.mu.Unlock()
		return d.desire(door, now, true)
	}
	defer d.mu.Unlock()
	var v uint64
	if l != nil {
		v = d.sync.Desire(l, now)
	} else {
		v = d.sync.door(door).desired.version
	}
	d.save(door)
	return l, v, nil
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
// door's state with the overflow of its list. Lists are computed again
// only for doors whose list may have changed since (listOf).
func (d *DoorLists) Pending() []DoorPendingReport {
	now := d.now()
	type door struct {
		id   string
		sum  listSummary
		list *DoorList // nil: unchanged since it was last desired
	}
	var doors []door
	compute := func(full map[string]bool) {
		d.store.View(func(c *Catalog) {
			if full == nil {
				for _, dr := range c.Doors() {
					if sum, l, err := d.listOf(c, dr.ID, now, false); err == nil {
						doors = append(doors, door{dr.ID, sum, l})
					}
				}
				return
			}
			for i := range doors {
				if full[doors[i].id] {
					if sum, l, err := d.listOf(c, doors[i].id, now, true); err == nil {
						doors[i].sum, doors[i].list = sum, l
					}
				}
			}
		})
	}
	compute(nil)
	d.mu.Lock()
	var again map[string]bool
	for _, dr := range doors {
		if dr.list == nil && !d.sync.holds(dr.id, dr.sum.digest) {
			if again == nil {
				again = map[string]bool{}
			}
			again[dr.id] = true
		}
	}
	if again != nil {
		// Unchanged lists the sync state does not hold (restored after a
		// restart): computed once more, whole.
		d.mu.Unlock()
		compute(again)
		d.mu.Lock()
	}
	defer d.mu.Unlock()
	out := make([]DoorPendingReport, 0, len(doors))
	ids := make([]string, 0, len(doors))
	for _, dr := range doors {
		if dr.list != nil {
			d.sync.Desire(dr.list, now)
		}
		ids = append(ids, dr.id)
		out = append(out, DoorPendingReport{DoorPending: d.sync.DoorPending(dr.id, now), Overflow: dr.sum.overflow})
	}
	d.save(ids...) // one write for every door that changed
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
