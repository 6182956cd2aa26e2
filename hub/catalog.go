package hub

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Kind names a record kind in a Change and in the store's key space.
type Kind string

// Record kinds.
const (
	KindSite       Kind = "site"
	KindDoor       Kind = "door"
	KindKey        Kind = "key"
	KindPerson     Kind = "person"
	KindGrant      Kind = "grant"
	KindGuestGrant Kind = "guest_grant"
	KindKeycard    Kind = "keycard"
	KindDevice     Kind = "device"
	KindGuestCode  Kind = "guest_code"
	KindTour       Kind = "tour"
	KindAllowlist  Kind = "allowlist"
)

// Change is the final state of one record after a batch: Value is the
// record (a *Door, *Grant, ...) or nil when it was deleted. A store
// persists exactly these.
type Change struct {
	Kind  Kind
	ID    string
	Value any
}

// Catalog is the credential set in memory, indexed for decisions. Every
// Store keeps one consistent with what it persisted. A Catalog is not safe
// for concurrent use on its own; stores guard it (see Store.View).
// Its getters return copies: a caller cannot change the set through them.
//
// People, grants and keycards, the records there are many of, live in
// arenas of compact records (see catalog_index.go); the other kinds, a
// few hundred at most, in maps.
type Catalog struct {
	id   uint64
	site *Site
	loc  *time.Location

	doors    map[string]*doorNode
	doorFree []int32 // handles of deleted doors
	nextDoor int32
	keys     map[string]*keyNode
	keyByH   []*keyNode // by handle; nil when free
	keyFree  []int32

	// text holds the people's ids, emails and names and the grants' ids.
	text       textArena
	people     arena[personRec]
	peopleByID idIndex
	emails     idIndex // by normalized email
	grants     arena[grantRec]
	grantsByID idIndex
	// exactTimes holds the times of grants whose start or expiry their
	// nanoseconds do not give back exactly (grantExact), by grant id.
	exactTimes map[string]grantTimes
	cards      arena[cardRec]
	cardsByID  handleIndex[cardHint]
	// cardTails holds, by handle, the rest of the keycard ids longer than
	// cardInline bytes; it stays empty on most sites.
	cardTails map[int32]cardTail

	guestGrants map[string]*GuestGrant
	devices     map[string]*Device
	deviceByKey map[string]string // public key bytes -> device id
	guestCodes  map[string]*GuestCode
	tours       map[string]*Tour
	allowlists  map[string]*Allowlist

	// Secondary indexes: owner id -> ids of records referring to it. A
	// person's grants and keycards are lists in the arenas instead.
	guestsByGuest  map[string][]string
	guestsByHost   map[string][]string
	devicesByOwner map[string][]string
	codesByHost    map[string][]string
	codesByCode    map[string][]string // guest code digits -> ids
	toursByCode    map[string][]string // tour code digits -> ids
	// guestsByKey: key id -> the guest grants of the key that name a
	// guest person (a set: a key may be shared with many), for door lists.
	guestsByKey map[string]map[string]struct{}

	// firstUse holds when each fifteen-minute guest code was first used.
	// It is local state, not part of the versioned set.
	firstUse map[string]time.Time

	// gen changes with every change to the set; caches derived from the
	// catalog key on it.
	gen uint64

	// While a batch is applied, undo holds the inverse of every primitive
	// change, to roll the batch back, and dirty (nil for a Load, which
	// reports no changes) the final state of every record touched.
	applying bool
	undo     []func()
	dirty    map[changeKey]any

	// codeLog says, for the last few generations, whose daily doorcodes
	// may have changed, so the code cache updates those people instead of
	// deriving every holder's code again (see codeCache).
	codeLog     []codeEvent
	codeTouched map[string]struct{} // while a batch is applied
	codeAll     bool                // while a batch is applied: everyone's

	// doorLog says, for the same generations, which doors' lock lists may
	// have changed (catalog_doors.go); doorTouched and doorAll collect
	// them while a batch is applied.
	doorLog      []doorEvent
	doorTouched  []uint64
	doorAll      bool
	doorTracking bool

	// diffs are the open snapshot diffs against this catalog: a batch
	// saves into them what it is about to change (copy on write). verify,
	// when set, checks a batch's result before it is kept
	// (ApplySnapshot).
	diffs  []*SnapshotDiff
	verify func() error
}

// codeEvent is one generation's effect on daily doorcodes.
type codeEvent struct {
	gen    uint64
	all    bool     // site, door or key changed: every code may differ
	people []string // else: these people's codes or eligibility may differ
}

// codeLogLength bounds the log; a cache further behind rebuilds.
const codeLogLength = 64

// codeEventsSince returns the events of the generations after gen, or
// false when the log no longer covers them all.
func (c *Catalog) codeEventsSince(gen uint64) ([]codeEvent, bool) {
	if gen == c.gen {
		return nil, true
	}
	for i, e := range c.codeLog {
		if e.gen == gen+1 {
			return c.codeLog[i:], len(c.codeLog)-i == int(c.gen-gen)
		}
	}
	return nil, false
}

type changeKey struct {
	kind Kind
	id   string
}

// catalogIDs numbers catalogs, so caches can tell one from another
// without holding on to it.
var catalogIDs atomic.Uint64

// NewCatalog returns an empty credential set.
func NewCatalog() *Catalog {
	return &Catalog{
		id:    catalogIDs.Add(1),
		doors: map[string]*doorNode{}, keys: map[string]*keyNode{},
		guestGrants: map[string]*GuestGrant{}, devices: map[string]*Device{}, deviceByKey: map[string]string{},
		guestCodes: map[string]*GuestCode{}, tours: map[string]*Tour{}, allowlists: map[string]*Allowlist{},
		guestsByGuest: map[string][]string{}, guestsByHost: map[string][]string{},
		devicesByOwner: map[string][]string{}, codesByHost: map[string][]string{},
		codesByCode: map[string][]string{}, toursByCode: map[string][]string{},
		guestsByKey: map[string]map[string]struct{}{},
		firstUse:    map[string]time.Time{},
	}
}

// Getters. They return nil (or false) when the record does not exist, and
// a copy of it otherwise.

// Site returns the site, or nil before it is set.
func (c *Catalog) Site() *Site {
	if c.site == nil {
		return nil
	}
	return cloneSite(c.site)
}

// Location is the site's time zone (nil before the site is set).
func (c *Catalog) Location() *time.Location { return c.loc }

// Door returns a door.
func (c *Catalog) Door(id string) *Door {
	if n := c.doors[id]; n != nil {
		d := n.Door
		return &d
	}
	return nil
}

// Key returns a key.
func (c *Catalog) Key(id string) *Key {
	if n := c.keys[id]; n != nil {
		return cloneKey(&n.Key)
	}
	return nil
}

// Person returns a person.
func (c *Catalog) Person(id string) *Person {
	if h := c.personH(id); h != none {
		return c.personOf(h)
	}
	return nil
}

// Grant returns a grant.
func (c *Catalog) Grant(id string) *Grant {
	if h := c.grantH(id); h != none {
		return c.grantOf(h)
	}
	return nil
}

// GuestGrant returns a guest grant.
func (c *Catalog) GuestGrant(id string) *GuestGrant { return cloneGuestGrant(c.guestGrants[id]) }

// Keycard returns a keycard by its card id.
func (c *Catalog) Keycard(cardID string) *Keycard {
	if h := c.cardH(cardID); h != none {
		return c.keycardOf(h)
	}
	return nil
}

// Device returns a device.
func (c *Catalog) Device(id string) *Device { return cloneDevice(c.devices[id]) }

// GuestCode returns a guest code.
func (c *Catalog) GuestCode(id string) *GuestCode { return cloneGuestCode(c.guestCodes[id]) }

// Tour returns a tour.
func (c *Catalog) Tour(id string) *Tour { return cloneTour(c.tours[id]) }

// Allowlist returns an integration's allowlist.
func (c *Catalog) Allowlist(integration string) *Allowlist {
	return cloneAllowlist(c.allowlists[integration])
}

// Generation changes whenever the set changes.
func (c *Catalog) Generation() uint64 { return c.gen }

// PersonByEmail finds a person by email, case-insensitively.
func (c *Catalog) PersonByEmail(email string) *Person {
	if h := c.personByEmailH(email); h != none {
		return c.personOf(h)
	}
	return nil
}

// DeviceByPublicKey finds the device registered with a public key.
func (c *Catalog) DeviceByPublicKey(pub []byte) *Device {
	return cloneDevice(c.devices[c.deviceByKey[string(pub)]])
}

// GrantsOf returns the grants held by a person, in the order they were
// put.
func (c *Catalog) GrantsOf(personID string) []*Grant {
	p := c.personH(personID)
	if p == none {
		return nil
	}
	var out []*Grant
	for _, g := range c.grantList(p) {
		out = append(out, c.grantOf(g))
	}
	return out
}

// GuestGrantsOf returns the guest grants in which the person is the guest.
func (c *Catalog) GuestGrantsOf(personID string) []*GuestGrant {
	return c.guestGrantList(c.guestsByGuest[personID])
}

// GuestGrantsHostedBy returns the guest grants the person gave.
func (c *Catalog) GuestGrantsHostedBy(personID string) []*GuestGrant {
	return c.guestGrantList(c.guestsByHost[personID])
}

func (c *Catalog) guestGrantList(ids []string) []*GuestGrant {
	out := make([]*GuestGrant, 0, len(ids))
	for _, id := range ids {
		out = append(out, cloneGuestGrant(c.guestGrants[id]))
	}
	return out
}

// KeycardsOf returns the person's keycards, in the order they were put.
func (c *Catalog) KeycardsOf(personID string) []*Keycard {
	p := c.personH(personID)
	if p == none {
		return nil
	}
	var out []*Keycard
	for _, k := range c.cardList(p) {
		out = append(out, c.keycardOf(k))
	}
	return out
}

// GuestCodesByCode returns the guest codes with these digits.
func (c *Catalog) GuestCodesByCode(code string) []*GuestCode {
	ids := c.codesByCode[code]
	out := make([]*GuestCode, 0, len(ids))
	for _, id := range ids {
		out = append(out, cloneGuestCode(c.guestCodes[id]))
	}
	return out
}

// ToursByCode returns the tours with these digits.
func (c *Catalog) ToursByCode(code string) []*Tour {
	ids := c.toursByCode[code]
	out := make([]*Tour, 0, len(ids))
	for _, id := range ids {
		out = append(out, cloneTour(c.tours[id]))
	}
	return out
}

// FirstUse reports when a fifteen-minute guest code was first used.
func (c *Catalog) FirstUse(codeID string) (time.Time, bool) {
	t, ok := c.firstUse[codeID]
	return t, ok
}

// SetFirstUse records the first use of a guest code (local state).
func (c *Catalog) SetFirstUse(codeID string, t time.Time) { c.firstUse[codeID] = t }

// Supersede prepares c to take old's place in a store (a committed
// snapshot, a set reloaded from disk): c keeps old's first uses of the
// guest codes it still holds, and its generation moves past old's so that
// caches keyed on Generation (the daily code holders) are rebuilt. Stores
// outside this package cannot do either without it.
func (c *Catalog) Supersede(old *Catalog) {
	for id, t := range old.firstUse {
		if _, ok := c.firstUse[id]; !ok && c.guestCodes[id] != nil {
			c.firstUse[id] = t
		}
	}
	if c.gen <= old.gen {
		c.gen = old.gen + 1
	}
	c.codeLog = nil // its entries describe how c was built, not how it differs from old
	c.doorLog = nil
}

func (c *Catalog) logCodes() {
	e := codeEvent{gen: c.gen, all: c.codeAll}
	if !e.all {
		for id := range c.codeTouched {
			e.people = append(e.people, id)
		}
	}
	if len(c.codeLog) >= codeLogLength {
		c.codeLog = append(c.codeLog[:0], c.codeLog[1:]...)
	}
	c.codeLog = append(c.codeLog, e)
}

// touchCodes notes, while a batch is applied, whose daily codes it may
// change; an empty id means everyone's.
func (c *Catalog) touchCodes(personID string) {
	if c.codeTouched == nil {
		return
	}
	if personID == "" {
		c.codeAll = true
		return
	}
	if _, ok := c.codeTouched[personID]; !ok {
		// The log keeps it for 64 batches: not a string over the text
		// arena, which would keep its chunk.
		c.codeTouched[strings.Clone(personID)] = struct{}{}
	}
}

// Counts is how many records of each kind the set holds.
type Counts struct {
	Doors       int `json:"doors"`
	Keys        int `json:"keys"`
	People      int `json:"people"`
	Grants      int `json:"grants"`
	GuestGrants int `json:"guest_grants"`
	Keycards    int `json:"keycards"`
	Devices     int `json:"devices"`
	GuestCodes  int `json:"guest_codes"`
	Tours       int `json:"tours"`
}

// Reserve makes room for the people, grants and keycards of n in all, so
// that loading a set of that size allocates each table once: growing them
// as records arrive copies them, and the old and new copies at once are
// what a large load's peak is made of. The other counts are ignored. The
// text arena needs no room made: it grows by chunks, copying nothing.
func (c *Catalog) Reserve(n Counts) {
	c.people.reserve(n.People)
	c.peopleByID.reserve(n.People)
	c.emails.reserve(n.People)
	c.grants.reserve(n.Grants)
	c.grantsByID.reserve(n.Grants)
	c.cards.reserve(n.Keycards)
	c.cardsByID.reserve(n.Keycards)
}

// Trim gives back the room the people, grant and keycard tables grew
// beyond their records while a set was loaded (a growing slice keeps up
// to a quarter more): call it once a load is done, when the catalog is
// kept for long.
func (c *Catalog) Trim() {
	c.people.trim()
	c.grants.trim()
	c.cards.trim()
	c.text.trim()
}

// Counts returns the number of records of each kind.
func (c *Catalog) Counts() Counts {
	return Counts{
		Doors: len(c.doors), Keys: len(c.keys), People: c.peopleByID.n, Grants: c.grantsByID.n,
		GuestGrants: len(c.guestGrants), Keycards: c.cardsByID.n, Devices: len(c.devices),
		GuestCodes: len(c.guestCodes), Tours: len(c.tours),
	}
}

// Doors returns every door sorted by id.
func (c *Catalog) Doors() []*Door {
	out := make([]*Door, 0, len(c.doors))
	for _, n := range c.doors {
		d := n.Door
		out = append(out, &d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Records calls fn for every record in dependency order (site, doors,
// keys, people, then what refers to them), as the ops of a snapshot. The
// records are copies.
func (c *Catalog) Records(fn func(Op) error) error {
	if c.site != nil {
		if err := fn(Op{Type: OpPutSite, Site: c.Site()}); err != nil {
			return err
		}
	}
	emit := func(ids []string, op func(id string) Op) error {
		sort.Strings(ids)
		for _, id := range ids {
			if err := fn(op(id)); err != nil {
				return err
			}
		}
		return nil
	}
	steps := []struct {
		ids []string
		op  func(string) Op
	}{
		{mapKeys(c.doors), func(id string) Op { return Op{Type: OpPutDoor, Door: c.Door(id)} }},
		{mapKeys(c.keys), func(id string) Op { return Op{Type: OpPutKey, Key: c.Key(id)} }},
	}
	for _, s := range steps {
		if err := emit(s.ids, s.op); err != nil {
			return err
		}
	}
	for _, h := range c.sortedPeople() {
		if err := fn(Op{Type: OpPutPerson, Person: c.personOf(h)}); err != nil {
			return err
		}
	}
	for _, h := range c.sortedGrants(func(*grantRec) bool { return true }) {
		if err := fn(Op{Type: OpPutGrant, Grant: c.grantOf(h)}); err != nil {
			return err
		}
	}
	if err := emit(mapKeys(c.guestGrants), func(id string) Op {
		return Op{Type: OpPutGuestGrant, GuestGrant: c.GuestGrant(id)}
	}); err != nil {
		return err
	}
	for _, h := range c.sortedCards() {
		if err := fn(Op{Type: OpPutKeycard, Keycard: c.keycardOf(h)}); err != nil {
			return err
		}
	}
	steps = []struct {
		ids []string
		op  func(string) Op
	}{
		{mapKeys(c.devices), func(id string) Op { return Op{Type: OpPutDevice, Device: c.Device(id)} }},
		{mapKeys(c.guestCodes), func(id string) Op { return Op{Type: OpPutGuestCode, GuestCode: c.GuestCode(id)} }},
		{mapKeys(c.tours), func(id string) Op { return Op{Type: OpPutTour, Tour: c.Tour(id)} }},
		{mapKeys(c.allowlists), func(id string) Op { return Op{Type: OpPutAllowlist, Allowlist: c.Allowlist(id)} }},
	}
	for _, s := range steps {
		if err := emit(s.ids, s.op); err != nil {
			return err
		}
	}
	return nil
}

// sortedPeople returns the handles of every person, by id.
func (c *Catalog) sortedPeople() []int32 {
	hs := make([]int32, 0, c.peopleByID.n)
	for h := range c.people.recs {
		if c.people.recs[h].live {
			hs = append(hs, int32(h))
		}
	}
	sort.Slice(hs, func(i, j int) bool { return c.personID(hs[i]) < c.personID(hs[j]) })
	return hs
}

// sortedGrants returns the handles of the grants that match, by id.
func (c *Catalog) sortedGrants(match func(*grantRec) bool) []int32 {
	var hs []int32
	for h := range c.grants.recs {
		if g := &c.grants.recs[h]; g.live && match(g) {
			hs = append(hs, int32(h))
		}
	}
	sort.Slice(hs, func(i, j int) bool { return c.grantID(hs[i]) < c.grantID(hs[j]) })
	return hs
}

// sortedCards returns the handles of every keycard, by card id (the
// order of the hex ids: lowercase hex of the same length sorts as the
// bytes, a shorter id before the longer ones it starts).
func (c *Catalog) sortedCards() []int32 {
	hs := make([]int32, 0, c.cardsByID.n)
	for h := range c.cards.recs {
		if c.cards.recs[h].live {
			hs = append(hs, int32(h))
		}
	}
	sort.Slice(hs, func(i, j int) bool {
		return c.cardLess(hs[i], hs[j])
	})
	return hs
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Apply applies ops atomically: either all of them, returning the final
// state of every record they touched, or none, returning why. site is the
// site the ops are for (a batch's Site).
func (c *Catalog) Apply(site string, ops []Op) ([]Change, error) {
	return c.applyOps(site, ops, true)
}

// applyOps is Apply; without collect it reports no changes and keeps no
// record of them (a snapshot's chunks).
func (c *Catalog) applyOps(site string, ops []Op, collect bool) ([]Change, error) {
	if c.site != nil && c.site.ID != site {
		return nil, fmt.Errorf("%w: the set belongs to site %q, the ops to %q", ErrWrongSite, c.site.ID, site)
	}
	c.applying, c.undo = true, c.undo[:0]
	if collect {
		c.dirty = map[changeKey]any{}
	}
	// A load logs no one's codes: its chunks may change anyone's, and
	// keeping the ids of the people of the last chunks would keep their
	// decoded strings (a few MB at 100,000 people).
	c.codeTouched, c.codeAll = map[string]struct{}{}, false
	if !collect {
		c.codeTouched, c.codeAll = nil, true
	}
	c.trackDoors(collect)
	defer func() {
		c.applying, c.undo, c.dirty, c.codeTouched = false, nil, nil, nil
		c.trackDoors(false)
	}()
	for i := range ops {
		if err := ops[i].Validate(); err != nil {
			c.rollback()
			return nil, fmt.Errorf("ops[%d] (%s): %w", i, ops[i].Type, err)
		}
		if err := c.apply(site, &ops[i]); err != nil {
			c.rollback()
			return nil, fmt.Errorf("ops[%d] (%s): %w", i, ops[i].Type, err)
		}
	}
	if c.verify != nil {
		if err := c.verify(); err != nil {
			c.rollback()
			return nil, err
		}
	}
	var changes []Change
	if collect {
		changes = make([]Change, 0, len(c.dirty))
		for k, v := range c.dirty {
			// The primitives record a deletion as a typed nil pointer;
			// Change promises a plain nil.
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
				v = nil
			}
			changes = append(changes, Change{Kind: k.kind, ID: k.id, Value: v})
		}
		sort.Slice(changes, func(i, j int) bool {
			if changes[i].Kind != changes[j].Kind {
				return changes[i].Kind < changes[j].Kind
			}
			return changes[i].ID < changes[j].ID
		})
	}
	c.gen++
	c.logCodes()
	c.logDoors()
	return changes, nil
}

// Load fills an empty catalog from a snapshot's ops (puts only). Like
// Apply, a chunk that fails changes nothing.
func (c *Catalog) Load(site string, ops []Op) error {
	for i := range ops {
		if _, ok := putField[ops[i].Type]; !ok {
			return fmt.Errorf("ops[%d]: %w", i, invalid("op", string(ops[i].Type), "a snapshot holds only put ops"))
		}
	}
	_, err := c.applyOps(site, ops, false)
	return err
}

func (c *Catalog) rollback() {
	undo := c.undo
	c.applying, c.undo, c.dirty = false, nil, nil // the inverses record nothing themselves
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
}

func (c *Catalog) apply(site string, o *Op) error {
	switch o.Type {
	case OpPutSite:
		if o.Site.ID != site {
			return fmt.Errorf("%w: site.id %q in a batch for site %q", ErrWrongSite, o.Site.ID, site)
		}
		if err := c.checkCodeLengths(o.Site.DoorcodeLength); err != nil {
			return err
		}
		c.setSite(cloneSite(o.Site))
	case OpPutDoor:
		d := *o.Door
		c.setDoor(d.ID, &d)
	case OpDeleteDoor:
		if c.doors[o.ID] == nil {
			return notFound("door", o.ID)
		}
		dh := c.doors[o.ID].h
		for _, n := range sortedValues(c.keys) {
			if n.opens(dh) {
				nk := n.Key
				nk.Doors = removeString(n.Doors, o.ID)
				c.setKey(nk.ID, &nk)
			}
		}
		c.setDoor(o.ID, nil)
	case OpPutKey:
		for i, d := range o.Key.Doors {
			if c.doors[d] == nil {
				return fmt.Errorf("key.doors[%d]: %w", i, notFound("door", d))
			}
		}
		k := *o.Key
		k.Doors = append([]string(nil), o.Key.Doors...)
		c.setKey(k.ID, &k)
	case OpDeleteKey:
		return c.deleteKey(o.ID)
	case OpPutPerson:
		email := NormalizeEmail(o.Person.Email)
		if other := c.personByEmailH(email); other != none && c.personID(other) != o.Person.ID {
			return fmt.Errorf("%w: person.email already belongs to person %q", ErrConflict, c.personID(other))
		}
		p := *o.Person
		c.setPerson(p.ID, &p)
	case OpRevokePerson:
		if c.personH(o.ID) == none {
			return notFound("person", o.ID)
		}
		c.revoke(o.ID)
	case OpDeletePerson:
		if c.personH(o.ID) == none {
			return notFound("person", o.ID)
		}
		c.revoke(o.ID)
		for _, id := range append([]string(nil), c.guestsByGuest[o.ID]...) {
			c.setGuestGrant(id, nil)
		}
		for _, k := range c.cardList(c.personH(o.ID)) {
			c.setKeycard(c.cardID(k), nil)
		}
		for _, id := range append([]string(nil), c.devicesByOwner[o.ID]...) {
			c.setDevice(id, nil)
		}
		c.setPerson(o.ID, nil)
	case OpPutGrant:
		g := *o.Grant
		if c.personH(g.PersonID) == none {
			return fmt.Errorf("grant.person_id: %w", notFound("person", g.PersonID))
		}
		if c.keys[g.KeyID] == nil {
			return fmt.Errorf("grant.key_id: %w", notFound("key", g.KeyID))
		}
		if g.Expires != nil {
			e := *g.Expires
			g.Expires = &e
		}
		c.setGrant(g.ID, &g)
	case OpDeleteGrant:
		if c.grantH(o.ID) == none {
			return notFound("grant", o.ID)
		}
		c.setGrant(o.ID, nil)
	case OpPutGuestGrant:
		g := *o.GuestGrant
		if c.personH(g.HostID) == none {
			return fmt.Errorf("guest_grant.host_id: %w", notFound("person", g.HostID))
		}
		if g.GuestID != "" && c.personH(g.GuestID) == none {
			return fmt.Errorf("guest_grant.guest_id: %w", notFound("person", g.GuestID))
		}
		if c.keys[g.KeyID] == nil {
			return fmt.Errorf("guest_grant.key_id: %w", notFound("key", g.KeyID))
		}
		if g.Expires != nil {
			e := *g.Expires
			g.Expires = &e
		}
		c.setGuestGrant(g.ID, &g)
	case OpDeleteGuestGrant:
		if c.guestGrants[o.ID] == nil {
			return notFound("guest grant", o.ID)
		}
		c.setGuestGrant(o.ID, nil)
	case OpPutKeycard:
		k := *o.Keycard
		if c.personH(k.OwnerID) == none {
			return fmt.Errorf("keycard.owner_id: %w", notFound("person", k.OwnerID))
		}
		c.setKeycard(k.CardID, &k)
	case OpDeleteKeycard:
		if c.cardH(o.ID) == none {
			return fmt.Errorf("%w: keycard", ErrNotFound) // never echo a card id
		}
		c.setKeycard(o.ID, nil)
	case OpPutDevice:
		d := *o.Device
		if c.personH(d.OwnerID) == none {
			return fmt.Errorf("device.owner_id: %w", notFound("person", d.OwnerID))
		}
		if other, ok := c.deviceByKey[string(d.PublicKey)]; ok && other != d.ID {
			return fmt.Errorf("%w: device.public_key already registered as device %q", ErrConflict, other)
		}
		d.PublicKey = append([]byte(nil), o.Device.PublicKey...)
		c.setDevice(d.ID, &d)
	case OpDeleteDevice:
		if c.devices[o.ID] == nil {
			return notFound("device", o.ID)
		}
		c.setDevice(o.ID, nil)
	case OpPutGuestCode:
		g := *o.GuestCode
		if c.personH(g.HostID) == none {
			return fmt.Errorf("guest_code.host_id: %w", notFound("person", g.HostID))
		}
		if c.keys[g.KeyID] == nil {
			return fmt.Errorf("guest_code.key_id: %w", notFound("key", g.KeyID))
		}
		if err := c.checkCodeLength("guest_code.code", g.Code); err != nil {
			return err
		}
		if g.Expires != nil {
			e := *g.Expires
			g.Expires = &e
		}
		c.setGuestCode(g.ID, &g)
	case OpDeleteGuestCode:
		if c.guestCodes[o.ID] == nil {
			return notFound("guest code", o.ID)
		}
		c.setGuestCode(o.ID, nil)
	case OpPutTour:
		t := *o.Tour
		for i, k := range t.Keys {
			if c.keys[k] == nil {
				return fmt.Errorf("tour.keys[%d]: %w", i, notFound("key", k))
			}
		}
		if err := c.checkCodeLength("tour.code", t.Code); err != nil {
			return err
		}
		t.Keys = append([]string(nil), o.Tour.Keys...)
		c.setTour(t.ID, &t)
	case OpDeleteTour:
		if c.tours[o.ID] == nil {
			return notFound("tour", o.ID)
		}
		c.setTour(o.ID, nil)
	case OpPutAllowlist:
		for i, k := range o.Allowlist.Keys {
			if c.keys[k] == nil {
				return fmt.Errorf("allowlist.keys[%d]: %w", i, notFound("key", k))
			}
		}
		a := Allowlist{Integration: o.Allowlist.Integration, Keys: append([]string(nil), o.Allowlist.Keys...)}
		c.setAllowlist(a.Integration, &a)
	case OpDeleteAllowlist:
		if c.allowlists[o.ID] == nil {
			return notFound("allowlist", o.ID)
		}
		c.setAllowlist(o.ID, nil)
	default:
		return invalid("op", string(o.Type), "unknown operation")
	}
	return nil
}

func (c *Catalog) checkCodeLength(field, code string) error {
	if c.site == nil {
		return fmt.Errorf("%w: %s: the site must be set before codes", ErrConflict, field)
	}
	if len(code) != c.site.DoorcodeLength {
		return invalid(field, nil, fmt.Sprintf("must have the site's doorcode length %d", c.site.DoorcodeLength))
	}
	return nil
}

// checkCodeLengths refuses a site change of doorcode length while explicit
// codes of another length exist.
func (c *Catalog) checkCodeLengths(n int) error {
	for id, g := range c.guestCodes {
		if len(g.Code) != n {
			return fmt.Errorf("%w: site.doorcode_length %d: guest code %q has another length", ErrConflict, n, id)
		}
	}
	for id, t := range c.tours {
		if len(t.Code) != n {
			return fmt.Errorf("%w: site.doorcode_length %d: tour %q has another length", ErrConflict, n, id)
		}
	}
	return nil
}

func (c *Catalog) deleteKey(id string) error {
	if c.keys[id] == nil {
		return notFound("key", id)
	}
	kh := c.keys[id].h
	for _, h := range c.sortedGrants(func(g *grantRec) bool { return g.key == kh }) {
		c.setGrant(c.grantID(h), nil)
	}
	for _, g := range sortedValues(c.guestGrants) {
		if g.KeyID == id {
			c.setGuestGrant(g.ID, nil)
		}
	}
	for _, g := range sortedValues(c.guestCodes) {
		if g.KeyID == id {
			c.setGuestCode(g.ID, nil)
		}
	}
	for _, t := range sortedValues(c.tours) {
		if containsString(t.Keys, id) {
			nt := *t
			nt.Keys = removeString(t.Keys, id)
			if len(nt.Keys) == 0 {
				c.setTour(t.ID, nil)
			} else {
				c.setTour(t.ID, &nt)
			}
		}
	}
	for _, a := range sortedValues(c.allowlists) {
		if containsString(a.Keys, id) {
			na := *a
			na.Keys = removeString(a.Keys, id)
			c.setAllowlist(a.Integration, &na)
		}
	}
	c.setKey(id, nil)
	return nil
}

// revoke removes every grant of a person and every guest access they gave.
func (c *Catalog) revoke(personID string) {
	for _, g := range c.grantList(c.personH(personID)) {
		c.setGrant(c.grantID(g), nil)
	}
	for _, id := range append([]string(nil), c.guestsByHost[personID]...) {
		c.setGuestGrant(id, nil)
	}
	for _, id := range append([]string(nil), c.codesByHost[personID]...) {
		c.setGuestCode(id, nil)
	}
}

func sortedValues[V any](m map[string]*V) []*V {
	ids := mapKeys(m)
	sort.Strings(ids)
	out := make([]*V, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

func notFound(kind, id string) error { return fmt.Errorf("%w: %s %q", ErrNotFound, kind, id) }

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func removeString(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func cloneSite(s *Site) *Site {
	n := *s
	n.DoorcodeSecret = append([]byte(nil), s.DoorcodeSecret...)
	return &n
}

func cloneKey(k *Key) *Key {
	n := *k
	n.Doors = append([]string(nil), k.Doors...)
	return &n
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

func cloneGuestGrant(g *GuestGrant) *GuestGrant {
	if g == nil {
		return nil
	}
	n := *g
	n.Expires = cloneTime(g.Expires)
	return &n
}

func cloneDevice(d *Device) *Device {
	if d == nil {
		return nil
	}
	n := *d
	n.PublicKey = append([]byte(nil), d.PublicKey...)
	return &n
}

func cloneGuestCode(g *GuestCode) *GuestCode {
	if g == nil {
		return nil
	}
	n := *g
	n.Expires = cloneTime(g.Expires)
	return &n
}

func cloneTour(t *Tour) *Tour {
	if t == nil {
		return nil
	}
	n := *t
	n.Keys = append([]string(nil), t.Keys...)
	return &n
}

func cloneAllowlist(a *Allowlist) *Allowlist {
	if a == nil {
		return nil
	}
	n := *a
	n.Keys = append([]string(nil), a.Keys...)
	return &n
}
