package hub

import (
	"bytes"
	"encoding/hex"
	"slices"
	"time"
)

// The catalog keeps the records there are many of — people, grants and
// keycards — in arenas: slices of compact, pointer-poor records addressed
// by int32 handles, found by id through a handleIndex. A person's grants
// and keycards are linked lists through those arenas, a keycard names its
// owner by handle, a grant its person and key. A keycard decision thus
// reads one or two cache lines of the keycard index, the keycard, its
// owner and their grants: no Go map of a million entries, no string to
// dereference on the way. Doors and keys, a few hundred at most, stay in
// maps; a key holds its doors as a bitset over door handles.
//
// Handles are reused after a delete. Nothing keeps a handle across a
// delete: a record is deleted only after what refers to it (the cascades),
// and the undo of a batch restores records by id, so a person restored
// under another handle gets their grants and keycards back after it.

// none is the handle of no record.
const none int32 = -1

// arena holds records of one kind; released handles are reused.
type arena[T any] struct {
	recs []T
	free []int32
}

func (a *arena[T]) alloc() int32 {
	if n := len(a.free); n > 0 {
		h := a.free[n-1]
		a.free = a.free[:n-1]
		return h
	}
	var zero T
	a.recs = append(a.recs, zero)
	return int32(len(a.recs) - 1)
}

// reserve makes room for n records in all without growing again.
func (a *arena[T]) reserve(n int) {
	if n > cap(a.recs) {
		a.recs = slices.Grow(a.recs, n-len(a.recs))
	}
}

// trim gives back the room append left beyond the records: up to a
// quarter of a large arena after a load.
func (a *arena[T]) trim() {
	if cap(a.recs)-len(a.recs) > len(a.recs)/32 {
		// Not append: it would round the capacity up to a size class.
		recs := make([]T, len(a.recs))
		copy(recs, a.recs)
		a.recs = recs
	}
}

func (a *arena[T]) release(h int32) {
	var zero T
	a.recs[h] = zero
	a.free = append(a.free, h)
}

// personRec is a person. Their id, email and name are one string in the
// catalog's text arena (catalog_text.go), at offset at: the id ends at
// emailAt, the email at nameAt, the name at end.
type personRec struct {
	at      uint32
	reroll  uint32
	grants  int32 // first grant of the list, in the order they were put
	cards   int32 // first keycard of the list, likewise
	emailAt uint16
	nameAt  uint16
	end     uint16
	manager bool
	live    bool
}

// personID is person h's id.
func (c *Catalog) personID(h int32) string {
	p := &c.people.recs[h]
	return c.text.str(p.at, int(p.emailAt))
}

// personEmail is person h's email, as put.
func (c *Catalog) personEmail(h int32) string {
	p := &c.people.recs[h]
	return c.text.str(p.at+uint32(p.emailAt), int(p.nameAt-p.emailAt))
}

// personOf is a copy of person h.
func (c *Catalog) personOf(h int32) *Person {
	p := &c.people.recs[h]
	s := c.text.str(p.at, int(p.end))
	return &Person{ID: s[:p.emailAt], Email: s[p.emailAt:p.nameAt], Name: s[p.nameAt:], Manager: p.manager, Reroll: p.reroll}
}

// grantRec is a grant; its person and key are handles. A grant is in two
// lists: its person's (singly linked, in the order put) and its key's
// (doubly linked, in no particular order), so a door's list visits only
// the grants of keys that open the door (doorCandidates).
//
// Its start and expiry are Unix nanoseconds (catalog_times.go), where two
// time.Time took 48 bytes and each held a *Location; its id is in the
// text arena: 48 bytes a grant and no pointer for the GC to follow.
type grantRec struct {
	start     int64 // Unix nanoseconds (packTime)
	expires   int64 // likewise; only with grantHasExpires
	at        uint32
	person    int32
	key       int32
	next      int32 // the person's next grant
	prevByKey int32 // the key's previous grant; none: first
	nextByKey int32 // the key's next grant
	idLen     uint8 // the id's length, at most MaxIDLength
	live      bool
	doorcode  bool // method doorcode, else app
	resident  bool
	flags     grantFlags
}

// grantFlags are a grant's other booleans.
type grantFlags uint8

const (
	grantMayShare grantFlags = 1 << iota
	grantHasExpires
	grantStartLocal   // start is in time.Local, else in UTC
	grantExpiresLocal // likewise for the expiry
	// grantExact: the times are not what start and expires with the
	// location flags give back (another location, a monotonic reading, a
	// year outside 1678–2261); Catalog.exactTimes keeps them as put, and
	// start and expires are clamped (packTime).
	grantExact
)

// grantIDOf is a grant's id.
func (c *Catalog) grantIDOf(g *grantRec) string { return c.text.str(g.at, int(g.idLen)) }

// grantID is grant h's id.
func (c *Catalog) grantID(h int32) string { return c.grantIDOf(&c.grants.recs[h]) }

func (g *grantRec) mayShare() bool   { return g.flags&grantMayShare != 0 }
func (g *grantRec) hasExpires() bool { return g.flags&grantHasExpires != 0 }

func (g *grantRec) method() AccessMethod {
	if g.doorcode {
		return MethodDoorcode
	}
	return MethodApp
}

// cardInline is how many bytes of a keycard's id its record holds: the
// UIDs cards carry (4, 7 or 10 bytes) fit, so comparing a presented id
// reads the record alone. The rest of a longer id (up to MaxCardIDBytes)
// is kept aside in Catalog.cardTails: 28 bytes a keycard instead of 44.
const cardInline = 16

// cardRec is a keycard with its id decoded.
type cardRec struct {
	id     [cardInline]byte // the id's first bytes
	n      uint8            // the id's length, up to MaxCardIDBytes
	active bool
	live   bool
	owner  int32
	next   int32 // the owner's next keycard
}

// cardTail is the part of a keycard id beyond its first cardInline bytes.
type cardTail [MaxCardIDBytes - cardInline]byte

// cardBytes returns a keycard's decoded id, in a new slice.
func (c *Catalog) cardBytes(h int32) []byte {
	r := &c.cards.recs[h]
	b := make([]byte, r.n)
	if n := copy(b, r.id[:min(r.n, cardInline)]); n < len(b) {
		t := c.cardTails[h]
		copy(b[n:], t[:])
	}
	return b
}

// cardIDBytes is a keycard's id as cardBytes gives it, for reading only:
// an id that fits the record is a view of it, not a copy.
func (c *Catalog) cardIDBytes(h int32) []byte {
	r := &c.cards.recs[h]
	if r.n <= cardInline {
		return r.id[:r.n:r.n]
	}
	return c.cardBytes(h)
}

// cardID is a keycard's id in lowercase hex.
func (c *Catalog) cardID(h int32) string {
	r := &c.cards.recs[h]
	if r.n <= cardInline {
		return hex.EncodeToString(r.id[:r.n])
	}
	return hex.EncodeToString(c.cardBytes(h))
}

// cardIs reports whether keycard h's id is cardID (lowercase hex).
func (c *Catalog) cardIs(h int32, cardID string) bool {
	r := &c.cards.recs[h]
	if len(cardID) != 2*int(r.n) {
		return false
	}
	if r.n <= cardInline {
		return hexIs(r.id[:r.n], cardID)
	}
	t := c.cardTails[h]
	return hexIs(r.id[:], cardID[:2*cardInline]) && hexIs(t[:r.n-cardInline], cardID[2*cardInline:])
}

// hexIs reports whether s is b in lowercase hex, s being twice as long
// as b: the presented id is never decoded.
func hexIs(b []byte, s string) bool {
	const digits = "0123456789abcdef"
	for i, x := range b {
		if s[2*i] != digits[x>>4] || s[2*i+1] != digits[x&15] {
			return false
		}
	}
	return true
}

// cardLess orders keycards by their decoded ids. Comparing the inline
// bytes first is enough unless those are equal: an id shorter than
// cardInline is then the whole of the other one's start, or both hold
// cardInline bytes and their tails decide.
func (c *Catalog) cardLess(a, b int32) bool {
	ra, rb := &c.cards.recs[a], &c.cards.recs[b]
	ia, ib := ra.id[:min(ra.n, cardInline)], rb.id[:min(rb.n, cardInline)]
	if x := bytes.Compare(ia, ib); x != 0 || ra.n <= cardInline && rb.n <= cardInline {
		return x < 0
	}
	ta, tb := c.cardTails[a], c.cardTails[b]
	return bytes.Compare(ta[:ra.n-min(ra.n, cardInline)], tb[:rb.n-min(rb.n, cardInline)]) < 0
}

// cardHint rides in a keycard's index slot: its owner and the owner's
// first grant. A keycard decision reads them with the slot and fetches the
// owner and the grant alongside the keycard record, instead of one after
// the other. Every change to a keycard's owner or to the head of the
// owner's grant list updates it (hintCard, hintCards).
type cardHint struct{ owner, grants int32 }

// doorNode is a door and its handle.
type doorNode struct {
	Door
	h int32
}

// keyNode is a key with its handle, its doors as a bitset over door
// handles and the first of its grants (none: it has none). A put of the
// key keeps the list; a key is deleted only after its grants.
type keyNode struct {
	Key
	h      int32
	doors  []uint64
	grants int32
}

func (k *keyNode) opens(door int32) bool {
	w := int(door >> 6)
	return door >= 0 && w < len(k.doors) && k.doors[w]&(1<<(uint(door)&63)) != 0
}

// Lookups by id. They return none when there is no such record.

func (c *Catalog) personH(id string) int32 {
	return c.peopleByID.lookup(idTag(id), func(h int32) bool { return c.personID(h) == id })
}

func (c *Catalog) personByEmailH(email string) int32 {
	norm := NormalizeEmail(email)
	return c.emails.lookup(idTag(norm), func(h int32) bool { return NormalizeEmail(c.personEmail(h)) == norm })
}

func (c *Catalog) grantH(id string) int32 {
	return c.grantsByID.lookup(idTag(id), func(h int32) bool { return c.grantID(h) == id })
}

// cardH finds a keycard.
func (c *Catalog) cardH(cardID string) int32 {
	h, _ := c.cardSlot(cardID)
	return h
}

// cardSlot finds a keycard and its hint: the decision's first step,
// written out.
func (c *Catalog) cardSlot(cardID string) (int32, cardHint) {
	slots := c.cardsByID.slots
	if len(slots) == 0 {
		return none, cardHint{}
	}
	tag := idTag(cardID)
	mask := uint32(len(slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		s := &slots[i]
		if s.ref == 0 {
			return none, cardHint{}
		}
		if s.tag == tag && c.cardIs(s.ref-1, cardID) {
			return s.ref - 1, s.p
		}
	}
}

// hintCard sets a keycard's hint from its record and its owner's.
func (c *Catalog) hintCard(k int32) {
	r := &c.cards.recs[k]
	*c.cardsByID.payload(idTag(c.cardID(k)), k) = cardHint{owner: r.owner, grants: c.people.recs[r.owner].grants}
}

// hintCards updates the hints of a person's keycards after the head of
// their grant list changed.
func (c *Catalog) hintCards(p int32) {
	for k := c.people.recs[p].cards; k != none; k = c.cards.recs[k].next {
		c.hintCard(k)
	}
}

// doorH is a door's handle, or none.
func (c *Catalog) doorH(id string) int32 {
	if d := c.doors[id]; d != nil {
		return d.h
	}
	return none
}

// Public copies of arena records.

func (c *Catalog) grantOf(h int32) *Grant {
	r := &c.grants.recs[h]
	g := &Grant{ID: c.grantIDOf(r), PersonID: c.personID(r.person), KeyID: c.keyByH[r.key].ID,
		Resident: r.resident, MayShare: r.mayShare(), StartsAt: c.grantStart(r), Method: r.method()}
	if e, ok := c.grantExpiry(r); ok {
		g.Expires = &e
	}
	return g
}

func (c *Catalog) keycardOf(h int32) *Keycard {
	r := &c.cards.recs[h]
	return &Keycard{CardID: c.cardID(h), OwnerID: c.personID(r.owner), Active: r.active}
}

// grantList and cardList return the handles of a person's grants and
// keycards, in the order they were put.
func (c *Catalog) grantList(p int32) []int32 {
	var out []int32
	for g := c.people.recs[p].grants; g != none; g = c.grants.recs[g].next {
		out = append(out, g)
	}
	return out
}

func (c *Catalog) cardList(p int32) []int32 {
	var out []int32
	for k := c.people.recs[p].cards; k != none; k = c.cards.recs[k].next {
		out = append(out, k)
	}
	return out
}

// The primitives below are the only code that writes the catalog's
// records. Each keeps the indexes right, marks the record dirty and,
// while a batch is applied, records its own inverse for rollback.

func (c *Catalog) record(kind Kind, id string, v any, undo func()) {
	if c.dirty != nil {
		// Before the record changes: open snapshot diffs keep its value
		// if they hold it unchanged.
		for _, d := range c.diffs {
			d.preserve(kind, id)
		}
		c.dirty[changeKey{kind, id}] = v
	}
	if c.applying {
		c.undo = append(c.undo, undo)
	}
}

func (c *Catalog) setSite(s *Site) {
	old := c.site
	c.record(KindSite, "", s, func() { c.setSite(old) })
	c.touchCodes("")
	c.touchAllDoors()
	c.site = s
	c.loc = nil
	if s != nil {
		// Validate has loaded the zone once already; this cannot fail.
		c.loc, _ = time.LoadLocation(s.TimeZone)
	}
}

func (c *Catalog) setDoor(id string, d *Door) {
	n := c.doors[id]
	var old *Door
	if n != nil {
		v := n.Door
		old = &v
	}
	c.record(KindDoor, id, d, func() { c.setDoor(id, old) })
	c.touchCodes("")
	if n != nil {
		c.touchDoor(n.h)
	}
	defer func() {
		if n := c.doors[id]; n != nil {
			c.touchDoor(n.h)
		}
	}()
	switch {
	case d == nil:
		delete(c.doors, id)
		c.doorFree = append(c.doorFree, n.h)
	case n != nil:
		c.doors[id] = &doorNode{Door: *d, h: n.h}
	default:
		h := c.nextDoor
		if k := len(c.doorFree); k > 0 {
			h, c.doorFree = c.doorFree[k-1], c.doorFree[:k-1]
		} else {
			c.nextDoor++
		}
		c.doors[id] = &doorNode{Door: *d, h: h}
	}
}

func (c *Catalog) setKey(id string, k *Key) {
	n := c.keys[id]
	var old *Key
	if n != nil {
		old = &n.Key
	}
	c.record(KindKey, id, k, func() { c.setKey(id, old) })
	c.touchCodes("")
	c.touchKeyDoors(n)
	if k == nil {
		delete(c.keys, id)
		c.keyByH[n.h] = nil
		c.keyFree = append(c.keyFree, n.h)
		return
	}
	nn := &keyNode{Key: *k, grants: none}
	switch {
	case n != nil:
		nn.h, nn.grants = n.h, n.grants
	case len(c.keyFree) > 0:
		nn.h, c.keyFree = c.keyFree[len(c.keyFree)-1], c.keyFree[:len(c.keyFree)-1]
	default:
		nn.h = int32(len(c.keyByH))
		c.keyByH = append(c.keyByH, nil)
	}
	for _, d := range k.Doors {
		h := c.doors[d].h
		for int(h>>6) >= len(nn.doors) {
			nn.doors = append(nn.doors, 0)
		}
		nn.doors[h>>6] |= 1 << (uint(h) & 63)
	}
	c.keys[id] = nn
	c.keyByH[nn.h] = nn
	c.touchKeyDoors(nn)
}

// setPerson puts or deletes a person. A person is deleted only after their
// grants and keycards (delete_person removes those first); a put keeps the
// handle, so keycards and grants keep pointing at their person.
func (c *Catalog) setPerson(id string, p *Person) {
	h := c.personH(id)
	var old *Person
	if h != none {
		old = c.personOf(h)
		c.emails.remove(idTag(NormalizeEmail(old.Email)), h)
	}
	c.record(KindPerson, id, p, func() { c.setPerson(id, old) })
	c.touchCodes(id)
	c.touchPersonDoors(h) // a put or delete changes no grants: before is after
	switch {
	case p == nil:
		c.peopleByID.remove(idTag(id), h)
		n := c.people.recs[h].end
		c.people.release(h)
		c.dropText(int(n))
		return
	case h == none:
		h = c.people.alloc()
		c.people.recs[h] = personRec{grants: none, cards: none}
		c.peopleByID.insert(idTag(p.ID), h, struct{}{})
	}
	r := &c.people.recs[h]
	// A put that keeps the email and name (a new reroll or manager flag,
	// a snapshot's unchanged person) keeps their bytes.
	same := old != nil && old.Email == p.Email && old.Name == p.Name
	if !same {
		r.at = c.text.add(p.ID, p.Email, p.Name)
		r.emailAt, r.nameAt = uint16(len(p.ID)), uint16(len(p.ID)+len(p.Email))
		r.end = r.nameAt + uint16(len(p.Name))
	}
	r.reroll, r.manager, r.live = p.Reroll, p.Manager, true
	c.emails.insert(idTag(NormalizeEmail(p.Email)), h, struct{}{})
	if old != nil && !same {
		c.dropText(len(old.ID) + len(old.Email) + len(old.Name))
	}
}

func (c *Catalog) setGrant(id string, g *Grant) {
	h := c.grantH(id)
	var old *Grant
	if h != none {
		old = c.grantOf(h)
		c.touchCodes(old.PersonID)
		c.touchKeyDoors(c.keyByH[c.grants.recs[h].key])
		c.unlinkGrant(c.grants.recs[h].person, h)
		c.unlinkGrantByKey(h)
	}
	c.record(KindGrant, id, g, func() { c.setGrant(id, old) })
	if h != none {
		delete(c.exactTimes, id)
	}
	if g == nil {
		c.grantsByID.remove(idTag(id), h)
		n := c.grants.recs[h].idLen
		c.grants.release(h)
		c.dropText(int(n))
		return
	}
	c.touchCodes(g.PersonID)
	c.touchKeyDoors(c.keys[g.KeyID])
	var at uint32
	if h == none {
		h = c.grants.alloc()
		c.grantsByID.insert(idTag(g.ID), h, struct{}{})
		at = c.text.add(g.ID, "", "")
	} else {
		at = c.grants.recs[h].at // the same id: its bytes stay
	}
	r := grantRec{at: at, idLen: uint8(len(g.ID)), person: c.personH(g.PersonID), key: c.keys[g.KeyID].h, next: none,
		prevByKey: none, nextByKey: none, resident: g.Resident, doorcode: g.Method == MethodDoorcode, live: true}
	if g.MayShare {
		r.flags |= grantMayShare
	}
	c.setGrantTimes(g.ID, &r, g.StartsAt, g.Expires)
	c.grants.recs[h] = r
	c.linkGrant(r.person, h)
	c.linkGrantByKey(h)
}

// linkGrantByKey puts a grant first in its key's list.
func (c *Catalog) linkGrantByKey(g int32) {
	r := &c.grants.recs[g]
	k := c.keyByH[r.key]
	r.prevByKey, r.nextByKey = none, k.grants
	if k.grants != none {
		c.grants.recs[k.grants].prevByKey = g
	}
	k.grants = g
}

// unlinkGrantByKey takes a grant out of its key's list.
func (c *Catalog) unlinkGrantByKey(g int32) {
	r := &c.grants.recs[g]
	if r.prevByKey == none {
		c.keyByH[r.key].grants = r.nextByKey
	} else {
		c.grants.recs[r.prevByKey].nextByKey = r.nextByKey
	}
	if r.nextByKey != none {
		c.grants.recs[r.nextByKey].prevByKey = r.prevByKey
	}
	r.prevByKey, r.nextByKey = none, none
}

func (c *Catalog) linkGrant(p, g int32) {
	head := &c.people.recs[p].grants
	first := *head == none
	for *head != none {
		head = &c.grants.recs[*head].next
	}
	*head = g
	if first {
		c.hintCards(p)
	}
}

func (c *Catalog) unlinkGrant(p, g int32) {
	head := &c.people.recs[p].grants
	first := *head == g
	for *head != g {
		head = &c.grants.recs[*head].next
	}
	*head = c.grants.recs[g].next
	c.grants.recs[g].next = none
	if first {
		c.hintCards(p)
	}
}

func (c *Catalog) setKeycard(cardID string, k *Keycard) {
	h := c.cardH(cardID)
	var old *Keycard
	if h != none {
		old = c.keycardOf(h)
		c.touchPersonDoors(c.cards.recs[h].owner)
		c.unlinkCard(c.cards.recs[h].owner, h)
	}
	c.record(KindKeycard, cardID, k, func() { c.setKeycard(cardID, old) })
	if k == nil {
		c.cardsByID.remove(idTag(cardID), h)
		c.cards.release(h)
		delete(c.cardTails, h)
		return
	}
	if h == none {
		h = c.cards.alloc()
		c.cardsByID.insert(idTag(cardID), h, cardHint{})
	}
	r := cardRec{active: k.Active, live: true, owner: c.personH(k.OwnerID), next: none}
	c.touchPersonDoors(r.owner)
	// Validate accepted it: lowercase hex of at most MaxCardIDBytes.
	var id [MaxCardIDBytes]byte
	n, _ := hex.Decode(id[:], []byte(k.CardID))
	r.n = uint8(n)
	copy(r.id[:], id[:])
	if n > cardInline {
		if c.cardTails == nil {
			c.cardTails = map[int32]cardTail{}
		}
		c.cardTails[h] = cardTail(id[cardInline:])
	}
	c.cards.recs[h] = r
	c.linkCard(r.owner, h)
	c.hintCard(h)
}

func (c *Catalog) linkCard(p, k int32) {
	head := &c.people.recs[p].cards
	for *head != none {
		head = &c.cards.recs[*head].next
	}
	*head = k
}

func (c *Catalog) unlinkCard(p, k int32) {
	head := &c.people.recs[p].cards
	for *head != k {
		head = &c.cards.recs[*head].next
	}
	*head = c.cards.recs[k].next
	c.cards.recs[k].next = none
}

func (c *Catalog) setGuestGrant(id string, g *GuestGrant) {
	old := c.guestGrants[id]
	c.record(KindGuestGrant, id, g, func() { c.setGuestGrant(id, old) })
	if old != nil {
		c.touchKeyDoors(c.keys[old.KeyID])
	}
	if g != nil {
		c.touchKeyDoors(c.keys[g.KeyID])
	}
	if old != nil {
		unindex(c.guestsByHost, old.HostID, id)
		if old.GuestID != "" {
			unindex(c.guestsByGuest, old.GuestID, id)
			if set := c.guestsByKey[old.KeyID]; set != nil {
				delete(set, id)
				if len(set) == 0 {
					delete(c.guestsByKey, old.KeyID)
				}
			}
		}
	}
	if g != nil {
		index(c.guestsByHost, g.HostID, id)
		if g.GuestID != "" {
			index(c.guestsByGuest, g.GuestID, id)
			set := c.guestsByKey[g.KeyID]
			if set == nil {
				set = map[string]struct{}{}
				c.guestsByKey[g.KeyID] = set
			}
			set[id] = struct{}{}
		}
	}
	setOrDelete(c.guestGrants, id, g)
}

func (c *Catalog) setDevice(id string, d *Device) {
	old := c.devices[id]
	c.record(KindDevice, id, d, func() { c.setDevice(id, old) })
	if old != nil {
		c.touchPersonDoors(c.personH(old.OwnerID))
	}
	if d != nil {
		c.touchPersonDoors(c.personH(d.OwnerID))
	}
	if old != nil {
		unindex(c.devicesByOwner, old.OwnerID, id)
		delete(c.deviceByKey, string(old.PublicKey))
	}
	if d != nil {
		index(c.devicesByOwner, d.OwnerID, id)
		c.deviceByKey[string(d.PublicKey)] = id
	}
	setOrDelete(c.devices, id, d)
}

func (c *Catalog) setGuestCode(id string, g *GuestCode) {
	old := c.guestCodes[id]
	used, wasUsed := c.firstUse[id]
	c.record(KindGuestCode, id, g, func() {
		c.setGuestCode(id, old)
		if wasUsed {
			c.firstUse[id] = used
		}
	})
	if g == nil {
		// A deleted code's first use goes with it: a new code under the
		// same id starts unused.
		delete(c.firstUse, id)
	}
	if old != nil {
		unindex(c.codesByHost, old.HostID, id)
		unindex(c.codesByCode, old.Code, id)
	}
	if g != nil {
		index(c.codesByHost, g.HostID, id)
		index(c.codesByCode, g.Code, id)
	}
	setOrDelete(c.guestCodes, id, g)
}

func (c *Catalog) setTour(id string, t *Tour) {
	old := c.tours[id]
	c.record(KindTour, id, t, func() { c.setTour(id, old) })
	if old != nil {
		unindex(c.toursByCode, old.Code, id)
	}
	if t != nil {
		index(c.toursByCode, t.Code, id)
	}
	setOrDelete(c.tours, id, t)
}

func (c *Catalog) setAllowlist(integration string, a *Allowlist) {
	old := c.allowlists[integration]
	c.record(KindAllowlist, integration, a, func() { c.setAllowlist(integration, old) })
	setOrDelete(c.allowlists, integration, a)
}

func setOrDelete[V any](m map[string]*V, id string, v *V) {
	if v == nil {
		delete(m, id)
		return
	}
	m[id] = v
}

func index(m map[string][]string, owner, id string) {
	for _, v := range m[owner] {
		if v == id {
			return
		}
	}
	m[owner] = append(m[owner], id)
}

func unindex(m map[string][]string, owner, id string) {
	list := m[owner]
	for i, v := range list {
		if v == id {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(m, owner)
		return
	}
	m[owner] = list
}
