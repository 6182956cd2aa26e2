package hub

// Which doors' lock lists a batch may change. DoorLists computes a door's
// list again only when the catalog changed since it last did (or a window
// ended); at 100,000 credentials a list costs a few milliseconds to
// compute, and after a one-card batch all 200 doors used to be computed
// again. The catalog logs, for its last few generations, the doors each
// batch may have touched, so DoorLists computes only those.
//
// What a door's list reads (DoorListOf): the door, the keys that open it,
// the grants of those keys and their holders' keycards, phones and manager
// flags, and the guest grants of those keys with their guests' credentials
// and their hosts' grants of the key. So each primitive change touches:
//
//	site                      every door
//	door                      that door (its keys are changed by their own puts)
//	key                       the doors it opened and opens
//	grant                     the doors of its key, before and after
//	guest grant               the doors of its key, before and after
//	person, keycard, phone    the doors of their person's keys, as holder or guest
//	guest code, tour, allowlist  none: lists hold no codes
//
// A person's doors are read before the change and, for keycards and
// phones that change owner, for both owners; a primitive never changes a
// person's grants and credentials at once.

// doorEvent is one generation's effect on door lists.
type doorEvent struct {
	gen   uint64
	all   bool
	doors []uint64 // else: a bitset over door handles
}

// doorChangedSince reports whether the list of the door (by handle) may
// differ from what it was at generation gen of this catalog: true when a
// batch since touched it, or when the log no longer reaches back to gen.
func (c *Catalog) doorChangedSince(gen uint64, door int32) bool {
	if gen == c.gen {
		return false
	}
	if gen > c.gen {
		return true
	}
	first := -1
	for i, e := range c.doorLog {
		if e.gen == gen+1 {
			first = i
			break
		}
	}
	if first < 0 || len(c.doorLog)-first != int(c.gen-gen) {
		return true
	}
	w, bit := int(door>>6), uint64(1)<<(uint(door)&63)
	for _, e := range c.doorLog[first:] {
		if e.all || (w < len(e.doors) && e.doors[w]&bit != 0) {
			return true
		}
	}
	return false
}

// logDoors ends a batch's tracking: its touched doors become the log's
// entry for the new generation.
func (c *Catalog) logDoors() {
	e := doorEvent{gen: c.gen, all: c.doorAll}
	if !e.all {
		e.doors = c.doorTouched
	}
	if len(c.doorLog) >= codeLogLength {
		c.doorLog = append(c.doorLog[:0], c.doorLog[1:]...)
	}
	c.doorLog = append(c.doorLog, e)
}

// trackDoors starts (on) or stops tracking the doors a batch touches. A
// load does not track: the catalog is new, and caches know it by its id.
func (c *Catalog) trackDoors(on bool) {
	c.doorTouched, c.doorAll, c.doorTracking = nil, !on, on
}

func (c *Catalog) touchAllDoors() {
	if c.doorTracking {
		c.doorAll = true
	}
}

func (c *Catalog) touchDoor(h int32) {
	if !c.doorTracking || c.doorAll {
		return
	}
	w := int(h >> 6)
	for w >= len(c.doorTouched) {
		c.doorTouched = append(c.doorTouched, 0)
	}
	c.doorTouched[w] |= 1 << (uint(h) & 63)
}

// touchKeyDoors touches the doors of a key (nil: none).
func (c *Catalog) touchKeyDoors(k *keyNode) {
	if !c.doorTracking || c.doorAll || k == nil {
		return
	}
	for len(c.doorTouched) < len(k.doors) {
		c.doorTouched = append(c.doorTouched, 0)
	}
	for i, w := range k.doors {
		c.doorTouched[i] |= w
	}
}

// touchPersonDoors touches the doors of a person's keys: those of their
// grants and of the guest grants they are the guest of (none: nothing).
func (c *Catalog) touchPersonDoors(p int32) {
	if !c.doorTracking || c.doorAll || p == none {
		return
	}
	for g := c.people.recs[p].grants; g != none; g = c.grants.recs[g].next {
		c.touchKeyDoors(c.keyByH[c.grants.recs[g].key])
	}
	for _, id := range c.guestsByGuest[c.personID(p)] {
		if gg := c.guestGrants[id]; gg != nil {
			c.touchKeyDoors(c.keys[gg.KeyID])
		}
	}
}
