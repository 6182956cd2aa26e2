package hub

import "time"

// personNode is a person with their grants and keycards at hand: a
// decision reaches them by pointer, not by further map lookups.
type personNode struct {
	Person
	grants []*Grant
	cards  []*Keycard
}

// cardNode is a keycard with its owner at hand.
type cardNode struct {
	Keycard
	owner *personNode
}

// keyNode is a key with its doors as a set.
type keyNode struct {
	Key
	doors map[string]struct{}
}

func (k *keyNode) opens(door string) bool {
	_, ok := k.doors[door]
	return ok
}

// The primitives below are the only code that writes the catalog's maps.
// Each keeps the secondary indexes right, marks the record dirty and, while
// a batch is applied, records its own inverse for rollback.

func (c *Catalog) record(kind Kind, id string, v any, undo func()) {
	if c.dirty != nil {
		c.dirty[changeKey{kind, id}] = v
		c.undo = append(c.undo, undo)
	}
}

func (c *Catalog) setSite(s *Site) {
	old := c.site
	c.record(KindSite, "", s, func() { c.setSite(old) })
	c.touchCodes("")
	c.site = s
	c.loc = nil
	if s != nil {
		// Validate has loaded the zone once already; this cannot fail.
		c.loc, _ = time.LoadLocation(s.TimeZone)
	}
}

func (c *Catalog) setDoor(id string, d *Door) {
	old := c.doors[id]
	c.record(KindDoor, id, d, func() { c.setDoor(id, old) })
	c.touchCodes("")
	setOrDelete(c.doors, id, d)
}

func (c *Catalog) setKey(id string, k *Key) {
	var old *Key
	if n := c.keys[id]; n != nil {
		old = &n.Key
	}
	c.record(KindKey, id, k, func() { c.setKey(id, old) })
	c.touchCodes("")
	if k == nil {
		delete(c.keys, id)
		return
	}
	n := &keyNode{Key: *k, doors: make(map[string]struct{}, len(k.Doors))}
	for _, d := range k.Doors {
		n.doors[d] = struct{}{}
	}
	c.keys[id] = n
}

// setPerson puts or deletes a person. A person is deleted only after their
// grants and keycards (delete_person removes those first); a put keeps the
// node, so keycards keep pointing at their owner.
func (c *Catalog) setPerson(id string, p *Person) {
	n := c.people[id]
	var old *Person
	if n != nil {
		v := n.Person
		old = &v
		delete(c.emails, NormalizeEmail(n.Email))
	}
	c.record(KindPerson, id, p, func() { c.setPerson(id, old) })
	c.touchCodes(id)
	switch {
	case p == nil:
		delete(c.people, id)
	case n != nil:
		n.Person = *p
	default:
		c.people[id] = &personNode{Person: *p}
	}
	if p != nil {
		c.emails[NormalizeEmail(p.Email)] = id
	}
}

func (c *Catalog) setGrant(id string, g *Grant) {
	old := c.grants[id]
	c.record(KindGrant, id, g, func() { c.setGrant(id, old) })
	if old != nil {
		c.touchCodes(old.PersonID)
		n := c.people[old.PersonID]
		n.grants = removePtr(n.grants, old)
	}
	if g != nil {
		c.touchCodes(g.PersonID)
		n := c.people[g.PersonID]
		n.grants = append(n.grants, g)
	}
	setOrDelete(c.grants, id, g)
}

func (c *Catalog) setGuestGrant(id string, g *GuestGrant) {
	old := c.guestGrants[id]
	c.record(KindGuestGrant, id, g, func() { c.setGuestGrant(id, old) })
	if old != nil {
		unindex(c.guestsByHost, old.HostID, id)
		if old.GuestID != "" {
			unindex(c.guestsByGuest, old.GuestID, id)
		}
	}
	if g != nil {
		index(c.guestsByHost, g.HostID, id)
		if g.GuestID != "" {
			index(c.guestsByGuest, g.GuestID, id)
		}
	}
	setOrDelete(c.guestGrants, id, g)
}

func (c *Catalog) setKeycard(cardID string, k *Keycard) {
	var old *Keycard
	if n := c.keycards[cardID]; n != nil {
		v := n.Keycard
		old = &v
		n.owner.cards = removePtr(n.owner.cards, &n.Keycard)
	}
	c.record(KindKeycard, cardID, k, func() { c.setKeycard(cardID, old) })
	if k == nil {
		delete(c.keycards, cardID)
		return
	}
	owner := c.people[k.OwnerID]
	n := &cardNode{Keycard: *k, owner: owner}
	owner.cards = append(owner.cards, &n.Keycard)
	c.keycards[cardID] = n
}

func (c *Catalog) setDevice(id string, d *Device) {
	old := c.devices[id]
	c.record(KindDevice, id, d, func() { c.setDevice(id, old) })
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

// removePtr returns list without p, in a new array: a slice handed out
// earlier keeps its contents.
func removePtr[T any](list []*T, p *T) []*T {
	out := make([]*T, 0, len(list))
	for _, v := range list {
		if v != p {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
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
