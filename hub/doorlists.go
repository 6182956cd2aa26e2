package hub

import (
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
	l, v, err := d.desire(door, d.now())
	if err != nil {
		return 0, nil, false
	}
	return uint32(v), l.Encode(), true
}

// desire computes the door's list at now and records it as desired.
func (d *DoorLists) desire(door string, now time.Time) (*DoorList, uint64, error) {
	var l *DoorList
	var err error
	d.store.View(func(c *Catalog) { l, err = DoorListOf(c, door, now) })
	if err != nil {
		return nil, 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v := d.sync.Desire(l, now)
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
	_, _, _ = d.desire(door, now)
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

// Pending recomputes every door's desired list now, so that a change
// counts as pending at a sleeping lock's door at once, and reports each
// door's state with the overflow of its list.
func (d *DoorLists) Pending() []DoorPendingReport {
	now := d.now()
	var lists []*DoorList
	d.store.View(func(c *Catalog) {
		for _, door := range c.Doors() {
			if l, err := DoorListOf(c, door.ID, now); err == nil {
				lists = append(lists, l)
			}
		}
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DoorPendingReport, 0, len(lists))
	doors := make([]string, 0, len(lists))
	for _, l := range lists {
		d.sync.Desire(l, now)
		doors = append(doors, l.Door)
		out = append(out, DoorPendingReport{DoorPending: d.sync.DoorPending(l.Door, now), Overflow: l.Overflow.Total()})
	}
	d.save(doors...) // one write for every door that changed
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
