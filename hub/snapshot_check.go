package hub

import "fmt"

// SnapshotCheck checks a snapshot's chunks as Catalog.Load would — puts
// only, each valid, references to records the snapshot delivered before,
// the site first for codes and their length, the site's id — with the
// same errors, without building a catalog: it keeps only the ids other
// records refer to (doors, keys, people) and the length of every code.
// A store that writes a snapshot to disk first and loads it afterwards
// uses it to refuse a chunk when it arrives, and holds a few MB instead
// of a second catalog meanwhile.
//
// What only a catalog finds — person emails and device keys that collide
// — is left to the load of the written set, which also checks every
// reference again. That load reads the set kind by kind, so only this
// check sees the order the snapshot delivered its records in.
type SnapshotCheck struct {
	site         string
	snapSite     *Site
	doors, keys  map[string]struct{}
	people       map[string]struct{}
	codes, tours map[string]int // id: length of the code
	records      int
	// grants and keycards delivered (a record put twice counts twice).
	grants, keycards int
}

// NewSnapshotCheck starts checking a snapshot of site.
func NewSnapshotCheck(site string) *SnapshotCheck {
	return &SnapshotCheck{site: site, doors: map[string]struct{}{}, keys: map[string]struct{}{},
		people: map[string]struct{}{}, codes: map[string]int{}, tours: map[string]int{}}
}

// HasSite reports whether the snapshot delivered its site.
func (s *SnapshotCheck) HasSite() bool { return s.snapSite != nil }

// Records is how many records the snapshot delivered so far (a record
// put twice counts twice).
func (s *SnapshotCheck) Records() int { return s.records }

// Counts is how many people, grants and keycards the snapshot delivered
// so far, for Catalog.Reserve (a grant or keycard put twice counts twice).
func (s *SnapshotCheck) Counts() Counts {
	return Counts{People: len(s.people), Grants: s.grants, Keycards: s.keycards}
}

// Add checks the next chunk. After an error the snapshot must be dropped.
func (s *SnapshotCheck) Add(ops []Op) error {
	for i := range ops {
		if _, ok := putField[ops[i].Type]; !ok {
			return fmt.Errorf("ops[%d]: %w", i, invalid("op", string(ops[i].Type), "a snapshot holds only put ops"))
		}
	}
	for i := range ops {
		o := &ops[i]
		if err := o.Validate(); err != nil {
			return fmt.Errorf("ops[%d] (%s): %w", i, o.Type, err)
		}
		if err := s.check(o); err != nil {
			return fmt.Errorf("ops[%d] (%s): %w", i, o.Type, err)
		}
		s.records++
		switch o.Type {
		case OpPutSite:
			s.snapSite = cloneSite(o.Site)
		case OpPutDoor:
			s.doors[o.Door.ID] = struct{}{}
		case OpPutKey:
			s.keys[o.Key.ID] = struct{}{}
		case OpPutPerson:
			s.people[o.Person.ID] = struct{}{}
		case OpPutGrant:
			s.grants++
		case OpPutKeycard:
			s.keycards++
		case OpPutGuestCode:
			s.codes[o.GuestCode.ID] = len(o.GuestCode.Code)
		case OpPutTour:
			s.tours[o.Tour.ID] = len(o.Tour.Code)
		}
	}
	return nil
}

// check is Catalog.apply's checks of a put that do not need a catalog,
// against what the snapshot delivered so far (SnapshotDiff.check's).
func (s *SnapshotCheck) check(o *Op) error {
	return checkSnapshotPut(o, s.site, s.snapSite, s.has, s.checkCodeLengths)
}

// has reports whether the snapshot delivered the door, key or person.
func (s *SnapshotCheck) has(kind Kind, id string) bool {
	var set map[string]struct{}
	switch kind {
	case KindDoor:
		set = s.doors
	case KindKey:
		set = s.keys
	case KindPerson:
		set = s.people
	}
	_, ok := set[id]
	return ok
}

// checkCodeLengths is Catalog.checkCodeLengths over the codes and tours
// the snapshot delivered so far.
func (s *SnapshotCheck) checkCodeLengths(n int) error {
	for id, l := range s.codes {
		if l != n {
			return fmt.Errorf("%w: site.doorcode_length %d: guest code %q has another length", ErrConflict, n, id)
		}
	}
	for id, l := range s.tours {
		if l != n {
			return fmt.Errorf("%w: site.doorcode_length %d: tour %q has another length", ErrConflict, n, id)
		}
	}
	return nil
}

// checkSnapshotPut is what Catalog.Load checks of a snapshot's put
// that needs no catalog, against what the snapshot delivered so far (has)
// — the site first, references to records delivered before, codes of the
// site's length (codeLengths checks those delivered before the site) —
// with Load's errors. SnapshotDiff and SnapshotCheck both judge by it.
func checkSnapshotPut(o *Op, site string, snapSite *Site, has func(kind Kind, id string) bool, codeLengths func(n int) error) error {
	codeLength := func(field, code string) error {
		if snapSite == nil {
			return fmt.Errorf("%w: %s: the site must be set before codes", ErrConflict, field)
		}
		if len(code) != snapSite.DoorcodeLength {
			return invalid(field, nil, fmt.Sprintf("must have the site's doorcode length %d", snapSite.DoorcodeLength))
		}
		return nil
	}
	switch o.Type {
	case OpPutSite:
		if o.Site.ID != site {
			return fmt.Errorf("%w: site.id %q in a batch for site %q", ErrWrongSite, o.Site.ID, site)
		}
		return codeLengths(o.Site.DoorcodeLength)
	case OpPutKey:
		for i, door := range o.Key.Doors {
			if !has(KindDoor, door) {
				return fmt.Errorf("key.doors[%d]: %w", i, notFound("door", door))
			}
		}
	case OpPutGrant:
		if !has(KindPerson, o.Grant.PersonID) {
			return fmt.Errorf("grant.person_id: %w", notFound("person", o.Grant.PersonID))
		}
		if !has(KindKey, o.Grant.KeyID) {
			return fmt.Errorf("grant.key_id: %w", notFound("key", o.Grant.KeyID))
		}
	case OpPutGuestGrant:
		g := o.GuestGrant
		if !has(KindPerson, g.HostID) {
			return fmt.Errorf("guest_grant.host_id: %w", notFound("person", g.HostID))
		}
		if g.GuestID != "" && !has(KindPerson, g.GuestID) {
			return fmt.Errorf("guest_grant.guest_id: %w", notFound("person", g.GuestID))
		}
		if !has(KindKey, g.KeyID) {
			return fmt.Errorf("guest_grant.key_id: %w", notFound("key", g.KeyID))
		}
	case OpPutKeycard:
		if !has(KindPerson, o.Keycard.OwnerID) {
			return fmt.Errorf("keycard.owner_id: %w", notFound("person", o.Keycard.OwnerID))
		}
	case OpPutDevice:
		if !has(KindPerson, o.Device.OwnerID) {
			return fmt.Errorf("device.owner_id: %w", notFound("person", o.Device.OwnerID))
		}
	case OpPutGuestCode:
		g := o.GuestCode
		if !has(KindPerson, g.HostID) {
			return fmt.Errorf("guest_code.host_id: %w", notFound("person", g.HostID))
		}
		if !has(KindKey, g.KeyID) {
			return fmt.Errorf("guest_code.key_id: %w", notFound("key", g.KeyID))
		}
		return codeLength("guest_code.code", g.Code)
	case OpPutTour:
		for i, k := range o.Tour.Keys {
			if !has(KindKey, k) {
				return fmt.Errorf("tour.keys[%d]: %w", i, notFound("key", k))
			}
		}
		return codeLength("tour.code", o.Tour.Code)
	case OpPutAllowlist:
		for i, k := range o.Allowlist.Keys {
			if !has(KindKey, k) {
				return fmt.Errorf("allowlist.keys[%d]: %w", i, notFound("key", k))
			}
		}
	}
	return nil
}
