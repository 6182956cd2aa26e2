package hub_test

// The reference evaluator of TestModelDecisions: a second, deliberately naive
// implementation of docs/access-rules.md. It keeps the credential set as
// plain slices, finds everything by linear scans and follows the spec's
// steps in the order the text gives them. It shares nothing with hub's
// evaluator but the public types it must produce and hub.DailyDoorcode (the
// derivation of docs/doorcode.md, which the spec refers to rather than
// restates).

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/doorhub/doorhub/hub"
)

type refSite struct {
	id     string
	tz     string
	loc    *time.Location
	length int
	secret []byte
}

type refDoor struct {
	id  string
	typ hub.DoorType
}

type refKey struct {
	id        string
	doors     []string
	doorcodes bool
	sharing   bool
}

type refPerson struct {
	id      string
	email   string
	manager bool
	reroll  uint32
}

type refGrant struct {
	id, person, key    string
	resident, mayShare bool
	start              time.Time
	expires            *time.Time
	method             hub.AccessMethod
}

type refGuestGrant struct {
	id, host, key, guest, service string
	permanent                     bool
	start                         time.Time
	expires                       *time.Time
}

type refCard struct {
	id, owner string
	active    bool
}

type refDevice struct {
	id, owner string
	pub       []byte
}

type refCode struct {
	id, host, key string
	fifteen       bool
	digits        string
	date          string // single day
	start         time.Time
	expires       *time.Time // fifteen minute: bounds of the first use
	firstUse      *time.Time
}

type refTour struct {
	id, integration, digits string
	start, end              time.Time
	keys                    []string
}

type refAllowlist struct {
	integration string
	keys        []string
}

// refState is the credential set. Slices are never modified in place once
// shared: every change builds new slices, so clone can be shallow per slice.
type refState struct {
	site       *refSite
	doors      []refDoor
	keys       []refKey
	people     []refPerson
	grants     []refGrant
	guests     []refGuestGrant
	cards      []refCard
	devices    []refDevice
	codes      []refCode
	tours      []refTour
	allowlists []refAllowlist
}

func (s *refState) clone() *refState {
	c := &refState{}
	if s.site != nil {
		v := *s.site
		c.site = &v
	}
	c.doors = append([]refDoor(nil), s.doors...)
	c.keys = append([]refKey(nil), s.keys...)
	c.people = append([]refPerson(nil), s.people...)
	c.grants = append([]refGrant(nil), s.grants...)
	c.guests = append([]refGuestGrant(nil), s.guests...)
	c.cards = append([]refCard(nil), s.cards...)
	c.devices = append([]refDevice(nil), s.devices...)
	c.codes = append([]refCode(nil), s.codes...)
	c.tours = append([]refTour(nil), s.tours...)
	c.allowlists = append([]refAllowlist(nil), s.allowlists...)
	return c
}

// Linear lookups; nil when missing.

func (s *refState) door(id string) *refDoor {
	for i := range s.doors {
		if s.doors[i].id == id {
			return &s.doors[i]
		}
	}
	return nil
}

func (s *refState) key(id string) *refKey {
	for i := range s.keys {
		if s.keys[i].id == id {
			return &s.keys[i]
		}
	}
	return nil
}

func (s *refState) person(id string) *refPerson {
	for i := range s.people {
		if s.people[i].id == id {
			return &s.people[i]
		}
	}
	return nil
}

func (s *refState) personByEmail(email string) *refPerson {
	for i := range s.people {
		if strings.EqualFold(s.people[i].email, email) {
			return &s.people[i]
		}
	}
	return nil
}

func (s *refState) grant(id string) *refGrant {
	for i := range s.grants {
		if s.grants[i].id == id {
			return &s.grants[i]
		}
	}
	return nil
}

func (s *refState) guest(id string) *refGuestGrant {
	for i := range s.guests {
		if s.guests[i].id == id {
			return &s.guests[i]
		}
	}
	return nil
}

func (s *refState) card(id string) *refCard {
	for i := range s.cards {
		if s.cards[i].id == id {
			return &s.cards[i]
		}
	}
	return nil
}

func (s *refState) device(id string) *refDevice {
	for i := range s.devices {
		if s.devices[i].id == id {
			return &s.devices[i]
		}
	}
	return nil
}

func (s *refState) deviceByPub(pub []byte) *refDevice {
	for i := range s.devices {
		if bytes.Equal(s.devices[i].pub, pub) {
			return &s.devices[i]
		}
	}
	return nil
}

func (s *refState) code(id string) *refCode {
	for i := range s.codes {
		if s.codes[i].id == id {
			return &s.codes[i]
		}
	}
	return nil
}

func (s *refState) tour(id string) *refTour {
	for i := range s.tours {
		if s.tours[i].id == id {
			return &s.tours[i]
		}
	}
	return nil
}

func (s *refState) allowlist(integration string) *refAllowlist {
	for i := range s.allowlists {
		if s.allowlists[i].integration == integration {
			return &s.allowlists[i]
		}
	}
	return nil
}

func refHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func refWithout(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// refErrMissingRef is a put that refers to a missing record. errors.go
// documents ErrConflict for it ("a grant for an unknown key"), the catalog
// returns ErrNotFound; the model accepts either (see the report).
var refErrMissingRef = errors.New("conflict or not found: refers to a missing record")

// refReject is a predicted rejection: the sentinel the store should wrap.
type refReject struct {
	kind error
	why  string
}

func (r *refReject) Error() string { return r.kind.Error() + ": " + r.why }

func refRejectf(kind error, format string, args ...any) error {
	return &refReject{kind: kind, why: fmt.Sprintf(format, args...)}
}

// refWindowOK: windows are half-open, so an expiry must lie after the start.
func refWindowOK(start time.Time, expires *time.Time) bool {
	return !start.IsZero() && (expires == nil || expires.After(start))
}

// apply applies one op in place (the caller applies a batch to a clone and
// drops it on error: all or nothing). Records are copied out of the op.
func (s *refState) apply(op hub.Op) error {
	switch op.Type {
	case hub.OpPutSite:
		x := op.Site
		loc, err := time.LoadLocation(x.TimeZone)
		if err != nil {
			return refRejectf(hub.ErrInvalid, "time zone")
		}
		// Guest and tour codes must have the site's doorcode length.
		for _, c := range s.codes {
			if len(c.digits) != x.DoorcodeLength {
				return refRejectf(hub.ErrConflict, "guest code %s has another length", c.id)
			}
		}
		for _, t := range s.tours {
			if len(t.digits) != x.DoorcodeLength {
				return refRejectf(hub.ErrConflict, "tour %s has another length", t.id)
			}
		}
		s.site = &refSite{id: x.ID, tz: x.TimeZone, loc: loc, length: x.DoorcodeLength,
			secret: append([]byte(nil), x.DoorcodeSecret...)}

	case hub.OpPutDoor:
		d := refDoor{id: op.Door.ID, typ: op.Door.Type}
		if p := s.door(d.id); p != nil {
			*p = d
		} else {
			s.doors = append(s.doors, d)
		}

	case hub.OpDeleteDoor:
		if s.door(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "door %s", op.ID)
		}
		var doors []refDoor
		for _, d := range s.doors {
			if d.id != op.ID {
				doors = append(doors, d)
			}
		}
		s.doors = doors
		// The door leaves every key.
		keys := make([]refKey, len(s.keys))
		for i, k := range s.keys {
			k.doors = refWithout(k.doors, op.ID)
			keys[i] = k
		}
		s.keys = keys

	case hub.OpPutKey:
		x := op.Key
		for _, d := range x.Doors {
			if s.door(d) == nil {
				return refRejectf(refErrMissingRef, "key %s: door %s missing", x.ID, d)
			}
		}
		k := refKey{id: x.ID, doors: append([]string(nil), x.Doors...),
			doorcodes: x.DoorcodesAllowed, sharing: x.MayShareAllowed}
		if p := s.key(k.id); p != nil {
			*p = k
		} else {
			s.keys = append(s.keys, k)
		}

	case hub.OpDeleteKey:
		id := op.ID
		if s.key(id) == nil {
			return refRejectf(hub.ErrNotFound, "key %s", id)
		}
		var keys []refKey
		for _, k := range s.keys {
			if k.id != id {
				keys = append(keys, k)
			}
		}
		s.keys = keys
		// Its grants, guest grants and guest codes.
		var grants []refGrant
		for _, g := range s.grants {
			if g.key != id {
				grants = append(grants, g)
			}
		}
		s.grants = grants
		var guests []refGuestGrant
		for _, g := range s.guests {
			if g.key != id {
				guests = append(guests, g)
			}
		}
		s.guests = guests
		var codes []refCode
		for _, c := range s.codes {
			if c.key != id {
				codes = append(codes, c)
			}
		}
		s.codes = codes
		// The key from tours (a tour left with no key is removed) and
		// allowlists.
		var tours []refTour
		for _, t := range s.tours {
			t.keys = refWithout(t.keys, id)
			if len(t.keys) > 0 {
				tours = append(tours, t)
			}
		}
		s.tours = tours
		als := make([]refAllowlist, len(s.allowlists))
		for i, a := range s.allowlists {
			a.keys = refWithout(a.keys, id)
			als[i] = a
		}
		s.allowlists = als

	case hub.OpPutPerson:
		x := op.Person
		for _, p := range s.people {
			if p.id != x.ID && strings.EqualFold(p.email, x.Email) {
				return refRejectf(hub.ErrConflict, "email of %s belongs to %s", x.ID, p.id)
			}
		}
		p := refPerson{id: x.ID, email: x.Email, manager: x.Manager, reroll: x.Reroll}
		if q := s.person(p.id); q != nil {
			*q = p
		} else {
			s.people = append(s.people, p)
		}

	case hub.OpRevokePerson:
		if s.person(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "person %s", op.ID)
		}
		s.revoke(op.ID)

	case hub.OpDeletePerson:
		id := op.ID
		if s.person(id) == nil {
			return refRejectf(hub.ErrNotFound, "person %s", id)
		}
		s.revoke(id)
		var guests []refGuestGrant
		for _, g := range s.guests {
			if g.guest != id {
				guests = append(guests, g)
			}
		}
		s.guests = guests
		var cards []refCard
		for _, c := range s.cards {
			if c.owner != id {
				cards = append(cards, c)
			}
		}
		s.cards = cards
		var devices []refDevice
		for _, d := range s.devices {
			if d.owner != id {
				devices = append(devices, d)
			}
		}
		s.devices = devices
		var people []refPerson
		for _, p := range s.people {
			if p.id != id {
				people = append(people, p)
			}
		}
		s.people = people

	case hub.OpPutGrant:
		x := op.Grant
		if !refWindowOK(x.StartsAt, x.Expires) {
			return refRejectf(hub.ErrInvalid, "grant %s window", x.ID)
		}
		if s.person(x.PersonID) == nil || s.key(x.KeyID) == nil {
			return refRejectf(refErrMissingRef, "grant %s refers to a missing person or key", x.ID)
		}
		g := refGrant{id: x.ID, person: x.PersonID, key: x.KeyID, resident: x.Resident,
			mayShare: x.MayShare, start: x.StartsAt, expires: x.Expires, method: x.Method}
		if p := s.grant(g.id); p != nil {
			*p = g
		} else {
			s.grants = append(s.grants, g)
		}

	case hub.OpDeleteGrant:
		if s.grant(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "grant %s", op.ID)
		}
		var grants []refGrant
		for _, g := range s.grants {
			if g.id != op.ID {
				grants = append(grants, g)
			}
		}
		s.grants = grants

	case hub.OpPutGuestGrant:
		x := op.GuestGrant
		if !x.Permanent && (x.Expires == nil || !refWindowOK(x.StartsAt, x.Expires)) {
			return refRejectf(hub.ErrInvalid, "guest grant %s window", x.ID)
		}
		if s.person(x.HostID) == nil || s.key(x.KeyID) == nil ||
			(x.GuestID != "" && s.person(x.GuestID) == nil) {
			return refRejectf(refErrMissingRef, "guest grant %s refers to a missing record", x.ID)
		}
		g := refGuestGrant{id: x.ID, host: x.HostID, key: x.KeyID, guest: x.GuestID,
			service: x.Service, permanent: x.Permanent, start: x.StartsAt, expires: x.Expires}
		if p := s.guest(g.id); p != nil {
			*p = g
		} else {
			s.guests = append(s.guests, g)
		}

	case hub.OpDeleteGuestGrant:
		if s.guest(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "guest grant %s", op.ID)
		}
		var guests []refGuestGrant
		for _, g := range s.guests {
			if g.id != op.ID {
				guests = append(guests, g)
			}
		}
		s.guests = guests

	case hub.OpPutKeycard:
		x := op.Keycard
		if s.person(x.OwnerID) == nil {
			return refRejectf(refErrMissingRef, "keycard owner %s missing", x.OwnerID)
		}
		c := refCard{id: x.CardID, owner: x.OwnerID, active: x.Active}
		if p := s.card(c.id); p != nil {
			*p = c
		} else {
			s.cards = append(s.cards, c)
		}

	case hub.OpDeleteKeycard:
		if s.card(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "keycard %s", op.ID)
		}
		var cards []refCard
		for _, c := range s.cards {
			if c.id != op.ID {
				cards = append(cards, c)
			}
		}
		s.cards = cards

	case hub.OpPutDevice:
		x := op.Device
		if s.person(x.OwnerID) == nil {
			return refRejectf(refErrMissingRef, "device owner %s missing", x.OwnerID)
		}
		for _, d := range s.devices {
			if d.id != x.ID && bytes.Equal(d.pub, x.PublicKey) {
				return refRejectf(hub.ErrConflict, "public key of %s belongs to %s", x.ID, d.id)
			}
		}
		d := refDevice{id: x.ID, owner: x.OwnerID, pub: append([]byte(nil), x.PublicKey...)}
		if p := s.device(d.id); p != nil {
			*p = d
		} else {
			s.devices = append(s.devices, d)
		}

	case hub.OpDeleteDevice:
		if s.device(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "device %s", op.ID)
		}
		var devices []refDevice
		for _, d := range s.devices {
			if d.id != op.ID {
				devices = append(devices, d)
			}
		}
		s.devices = devices

	case hub.OpPutGuestCode:
		x := op.GuestCode
		fifteen := x.Kind == hub.CodeFifteenMinute
		if fifteen && (x.Expires == nil || !refWindowOK(x.StartsAt, x.Expires)) {
			return refRejectf(hub.ErrInvalid, "guest code %s window", x.ID)
		}
		if s.person(x.HostID) == nil || s.key(x.KeyID) == nil {
			return refRejectf(refErrMissingRef, "guest code %s refers to a missing record", x.ID)
		}
		if s.site == nil || len(x.Code) != s.site.length {
			return refRejectf(hub.ErrInvalid, "guest code %s length", x.ID)
		}
		c := refCode{id: x.ID, host: x.HostID, key: x.KeyID, fifteen: fifteen, digits: x.Code,
			date: x.Date, start: x.StartsAt, expires: x.Expires}
		if p := s.code(c.id); p != nil {
			// The code is the same record, edited: its first use stays.
			c.firstUse = p.firstUse
			*p = c
		} else {
			s.codes = append(s.codes, c)
		}

	case hub.OpDeleteGuestCode:
		if s.code(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "guest code %s", op.ID)
		}
		var codes []refCode
		for _, c := range s.codes {
			if c.id != op.ID {
				codes = append(codes, c)
			}
		}
		s.codes = codes

	case hub.OpPutTour:
		x := op.Tour
		if !x.EndsAt.After(x.StartsAt) {
			return refRejectf(hub.ErrInvalid, "tour %s window", x.ID)
		}
		for _, k := range x.Keys {
			if s.key(k) == nil {
				return refRejectf(refErrMissingRef, "tour %s: key %s missing", x.ID, k)
			}
		}
		if s.site == nil || len(x.Code) != s.site.length {
			return refRejectf(hub.ErrInvalid, "tour %s code length", x.ID)
		}
		t := refTour{id: x.ID, integration: x.Integration, digits: x.Code, start: x.StartsAt,
			end: x.EndsAt, keys: append([]string(nil), x.Keys...)}
		if p := s.tour(t.id); p != nil {
			*p = t
		} else {
			s.tours = append(s.tours, t)
		}

	case hub.OpDeleteTour:
		if s.tour(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "tour %s", op.ID)
		}
		var tours []refTour
		for _, t := range s.tours {
			if t.id != op.ID {
				tours = append(tours, t)
			}
		}
		s.tours = tours

	case hub.OpPutAllowlist:
		x := op.Allowlist
		for _, k := range x.Keys {
			if s.key(k) == nil {
				return refRejectf(refErrMissingRef, "allowlist %s: key %s missing", x.Integration, k)
			}
		}
		a := refAllowlist{integration: x.Integration, keys: append([]string(nil), x.Keys...)}
		if p := s.allowlist(a.integration); p != nil {
			*p = a
		} else {
			s.allowlists = append(s.allowlists, a)
		}

	case hub.OpDeleteAllowlist:
		if s.allowlist(op.ID) == nil {
			return refRejectf(hub.ErrNotFound, "allowlist %s", op.ID)
		}
		var als []refAllowlist
		for _, a := range s.allowlists {
			if a.integration != op.ID {
				als = append(als, a)
			}
		}
		s.allowlists = als

	default:
		return refRejectf(hub.ErrInvalid, "unknown op %s", op.Type)
	}
	return nil
}

// revoke removes every grant of the person and every guest grant and guest
// code they hosted; the person stays.
func (s *refState) revoke(id string) {
	var grants []refGrant
	for _, g := range s.grants {
		if g.person != id {
			grants = append(grants, g)
		}
	}
	s.grants = grants
	var guests []refGuestGrant
	for _, g := range s.guests {
		if g.host != id {
			guests = append(guests, g)
		}
	}
	s.guests = guests
	var codes []refCode
	for _, c := range s.codes {
		if c.host != id {
			codes = append(codes, c)
		}
	}
	s.codes = codes
}

// refShapeOK is what an op must satisfy on its own, before the set is
// looked at (Batch.Validate): windows are half-open, so an expiry lies
// after its start; a windowed guest grant and a fifteen-minute code need
// an expiry.
func refShapeOK(op hub.Op) bool {
	switch op.Type {
	case hub.OpPutGrant:
		return refWindowOK(op.Grant.StartsAt, op.Grant.Expires)
	case hub.OpPutGuestGrant:
		g := op.GuestGrant
		return g.Permanent || (g.Expires != nil && refWindowOK(g.StartsAt, g.Expires))
	case hub.OpPutGuestCode:
		c := op.GuestCode
		return c.Kind != hub.CodeFifteenMinute || (c.Expires != nil && refWindowOK(c.StartsAt, c.Expires))
	case hub.OpPutTour:
		return !op.Tour.StartsAt.IsZero() && op.Tour.EndsAt.After(op.Tour.StartsAt)
	}
	return true
}

// applyBatch predicts what the store does with a batch at version cur:
// every op checked on its own, then the version rules, then the ops
// applied in order against the set. It returns the next state (nil when
// rejected), the sentinel the error should wrap and the index of the
// failing op (-1 for batch-level errors).
func (s *refState) applyBatch(b *hub.Batch, cur uint64) (*refState, error, int) {
	for i, op := range b.Ops {
		if !refShapeOK(op) {
			return nil, hub.ErrInvalid, i
		}
	}
	if b.Version <= cur {
		return nil, hub.ErrStaleBatch, -1
	}
	if b.Base != cur {
		return nil, hub.ErrVersionGap, -1
	}
	next := s.clone()
	for i, op := range b.Ops {
		if err := next.apply(op); err != nil {
			var r *refReject
			errors.As(err, &r)
			return nil, r.kind, i
		}
	}
	return next, nil, -1
}

// ---- decisions ----

// refLockout is one door's keypad counter.
type refLockout struct {
	wrong []time.Time
	until time.Time
}

// refPresentation is what the test presents, kept readable for the log.
type refPresentation struct {
	kind   hub.CredentialKind
	cardID string
	code   string
	pub    []byte
	nonce  []byte
	sig    []byte
}

// refDecision is the expected outcome. The spec names the deciding grant
// or guest grant (GrantID, GuestGrant, HostID) of allowed decisions only;
// the test compares them then, and HostID also for every guest code.
type refDecision struct {
	Allowed     bool
	Reason      hub.Reason
	Visibility  hub.Visibility
	Alarm       hub.Alarm
	Colliding   []string
	Subject     hub.SubjectKind
	PersonID    string
	HostID      string
	GrantID     string
	GuestGrant  string
	GuestCodeID string
	TourID      string
	FirstUse    bool
}

// refRank orders denial reasons, nearest to an allow highest
// (docs/access-rules.md, step 5).
func refRank(r hub.Reason) int {
	order := []hub.Reason{hub.NoKeyForDoor, hub.MethodNotAllowed, hub.DoorcodesNotAllowed,
		hub.TourNotAllowlisted, hub.HostRevoked, hub.Expired, hub.NotStarted, hub.ClockUntrusted}
	for i, x := range order {
		if x == r {
			return i
		}
	}
	panic("unranked reason " + string(r))
}

// refModel is the reference: the state plus the engine's local state
// (keypad counters; first uses live in the codes).
type refModel struct {
	st       *refState
	margin   time.Duration
	attempts int
	window   time.Duration
	duration time.Duration
	lockouts map[string]*refLockout
}

func (m *refModel) localDay(t time.Time) (string, time.Time, time.Time) {
	lt := t.In(m.st.site.loc)
	y, mo, d := lt.Date()
	start := time.Date(y, mo, d, 0, 0, 0, 0, m.st.site.loc)
	end := time.Date(y, mo, d+1, 0, 0, 0, 0, m.st.site.loc)
	return start.Format("2006-01-02"), start, end
}

func (m *refModel) dateBounds(date string) (time.Time, time.Time) {
	d, err := time.ParseInLocation("2006-01-02", date, m.st.site.loc)
	if err != nil {
		panic(err)
	}
	y, mo, dd := d.Date()
	return time.Date(y, mo, dd, 0, 0, 0, 0, m.st.site.loc), time.Date(y, mo, dd+1, 0, 0, 0, 0, m.st.site.loc)
}

// windowReason: "" when start <= now < expires.
func refWindowReason(start time.Time, expires *time.Time, now time.Time) hub.Reason {
	if now.Before(start) {
		return hub.NotStarted
	}
	if expires != nil && !now.Before(*expires) {
		return hub.Expired
	}
	return ""
}

// clockOK is the clock rule: while untrusted a window with an expiry admits
// only if the expiry lies at least the margin beyond now.
func (m *refModel) clockOK(expires *time.Time, now time.Time, trusted bool) bool {
	if trusted || expires == nil {
		return true
	}
	return !expires.Before(now.Add(m.margin))
}

func refOverlaps(start time.Time, expires *time.Time, dayStart, dayEnd time.Time) bool {
	return start.Before(dayEnd) && (expires == nil || expires.After(dayStart))
}

// decide is the reference Decide. It updates the keypad counters and
// first uses as the engine must.
func (m *refModel) decide(doorID string, p refPresentation, now time.Time, trusted bool) refDecision {
	d := refDecision{Visibility: hub.Visible}
	s := m.st
	door := s.door(doorID)
	// 1. The door must exist.
	if door == nil {
		d.Reason = hub.UnknownDoor
		return d
	}
	// 2. Resolve the credential.
	switch p.kind {
	case hub.CredKeycard:
		c := s.card(p.cardID)
		if c == nil {
			d.Reason = hub.UnknownCredential
			return d
		}
		if !c.active {
			// The card is known: the decision names its owner, and the
			// privacy rule for a denied person applies.
			d.Reason = hub.CredentialInactive
			d.Subject = hub.SubjectPerson
			d.PersonID = c.owner
			d.Visibility = m.deniedVisibility(door, c.owner)
			return d
		}
		m.person(&d, door, c.owner, hub.CredKeycard, now, trusted)
	case hub.CredMobile:
		dev := s.deviceByPub(p.pub)
		if dev == nil {
			d.Reason = hub.UnknownCredential
			return d
		}
		// "doorhub-mobile-v1" 0x00 door-id 0x00 nonce
		msg := append([]byte("doorhub-mobile-v1\x00"+door.id+"\x00"), p.nonce...)
		if !ed25519.Verify(ed25519.PublicKey(dev.pub), msg, p.sig) {
			// As for an inactive card: the decision names the phone's
			// owner (unverified), with the privacy rule of a denial.
			d.Reason = hub.SignatureInvalid
			d.Subject = hub.SubjectPerson
			d.PersonID = dev.owner
			d.Visibility = m.deniedVisibility(door, dev.owner)
			return d
		}
		m.person(&d, door, dev.owner, hub.CredMobile, now, trusted)
	case hub.CredDoorcode:
		m.doorcode(&d, door, p.code, now, trusted)
	}
	d.Allowed = d.Reason == hub.AllowedByGrant || d.Reason == hub.AllowedAsGuest || d.Reason == hub.AllowedTour
	return d
}

// person is steps 3 to 5 for a person presenting a credential of kind.
func (m *refModel) person(d *refDecision, door *refDoor, personID string, kind hub.CredentialKind, now time.Time, trusted bool) {
	s := m.st
	d.Subject = hub.SubjectPerson
	d.PersonID = personID
	p := s.person(personID)
	manager := p != nil && p.manager

	best := hub.NoKeyForDoor
	note := func(r hub.Reason) {
		if refRank(r) > refRank(best) {
			best = r
		}
	}

	// 3. Every grant of the person of a key that contains the door.
	var admit []refGrant
	holdsResident := false
	for _, g := range s.grants {
		if g.person != personID {
			continue
		}
		k := s.key(g.key)
		if k == nil || !refHas(k.doors, door.id) {
			continue
		}
		if g.resident {
			holdsResident = true
		}
		r := hub.Reason("")
		switch {
		case kind == hub.CredMobile && g.method != hub.MethodApp:
			r = hub.MethodNotAllowed
		case kind == hub.CredDoorcode && g.method != hub.MethodDoorcode:
			r = hub.MethodNotAllowed
		case kind == hub.CredDoorcode && !k.doorcodes:
			r = hub.DoorcodesNotAllowed
		}
		if r == "" {
			r = refWindowReason(g.start, g.expires, now)
		}
		if r == "" && !m.clockOK(g.expires, now, trusted) {
			r = hub.ClockUntrusted
		}
		if r == "" {
			admit = append(admit, g)
		} else {
			note(r)
		}
	}
	if len(admit) > 0 {
		// A resident grant is preferred, then the smallest id.
		pick := admit[0]
		for _, g := range admit[1:] {
			if g.resident != pick.resident {
				if g.resident {
					pick = g
				}
				continue
			}
			if g.id < pick.id {
				pick = g
			}
		}
		d.Reason = hub.AllowedByGrant
		d.GrantID = pick.id
		if door.typ == hub.DoorResidence && !manager && pick.resident {
			d.Visibility = hub.IdentityRemoved
		}
		return
	}

	// 4. Every guest grant in which the person is the guest.
	var gadmit []refGuestGrant
	for _, gg := range s.guests {
		if gg.guest != personID || gg.guest == "" {
			continue
		}
		k := s.key(gg.key)
		if k == nil || !refHas(k.doors, door.id) {
			continue
		}
		if kind != hub.CredKeycard && kind != hub.CredMobile {
			note(hub.MethodNotAllowed)
			continue
		}
		if r := m.hostReason(gg.host, k, now, trusted); r != "" {
			note(r)
			continue
		}
		if !gg.permanent {
			if r := refWindowReason(gg.start, gg.expires, now); r != "" {
				note(r)
				continue
			}
			if !m.clockOK(gg.expires, now, trusted) {
				note(hub.ClockUntrusted)
				continue
			}
		}
		gadmit = append(gadmit, gg)
	}
	if len(gadmit) > 0 {
		pick := gadmit[0]
		for _, g := range gadmit[1:] {
			if g.id < pick.id {
				pick = g
			}
		}
		d.Reason = hub.AllowedAsGuest
		d.GuestGrant = pick.id
		d.HostID = pick.host
		return // guests are non-residents: visible
	}

	// 5. Denied with the nearest reason.
	d.Reason = best
	if door.typ == hub.DoorResidence && !manager && holdsResident {
		d.Visibility = hub.IdentityRemoved
	}
}

// deniedVisibility: a person denied at a private door while holding a
// resident grant of a key that contains it is a resident there.
func (m *refModel) deniedVisibility(door *refDoor, personID string) hub.Visibility {
	s := m.st
	p := s.person(personID)
	if door.typ != hub.DoorResidence || (p != nil && p.manager) {
		return hub.Visible
	}
	for _, g := range s.grants {
		if g.person != personID || !g.resident {
			continue
		}
		if k := s.key(g.key); k != nil && refHas(k.doors, door.id) {
			return hub.IdentityRemoved
		}
	}
	return hub.Visible
}

// hostReason: the host admits sharing key k now ("" when they do).
func (m *refModel) hostReason(hostID string, k *refKey, now time.Time, trusted bool) hub.Reason {
	if !k.sharing {
		return hub.HostRevoked
	}
	onlyClock := false
	for _, g := range m.st.grants {
		if g.person != hostID || g.key != k.id || !g.mayShare {
			continue
		}
		if refWindowReason(g.start, g.expires, now) != "" {
			continue
		}
		if m.clockOK(g.expires, now, trusted) {
			return ""
		}
		onlyClock = true
	}
	if onlyClock {
		return hub.ClockUntrusted
	}
	return hub.HostRevoked
}

// codeValidity is when a guest code opens: the date of a single-day code;
// fifteen minutes from its first use; before a first use, its first-use
// window.
func (m *refModel) codeValidity(c *refCode) (time.Time, time.Time) {
	switch {
	case !c.fifteen:
		return m.dateBounds(c.date)
	case c.firstUse != nil:
		return *c.firstUse, c.firstUse.Add(15 * time.Minute)
	default:
		return c.start, *c.expires
	}
}

func (m *refModel) doorcode(d *refDecision, door *refDoor, digits string, now time.Time, trusted bool) {
	s := m.st
	lo := m.lockouts[door.id]
	// 1. Locked out.
	if lo != nil && now.Before(lo.until) {
		d.Reason = hub.KeypadLockedOut
		return
	}
	// 2. Untrusted clock: does not count towards a lockout.
	if !trusted {
		d.Reason = hub.ClockUntrusted
		return
	}
	// 3. Candidates on the local date of now.
	date, dayStart, dayEnd := m.localDay(now)
	var people []string
	for _, p := range s.people {
		eligible := false
		for _, g := range s.grants {
			if g.person != p.id || g.method != hub.MethodDoorcode {
				continue
			}
			k := s.key(g.key)
			if k != nil && refHas(k.doors, door.id) && k.doorcodes && refOverlaps(g.start, g.expires, dayStart, dayEnd) {
				eligible = true
			}
		}
		if eligible && hub.DailyDoorcode(s.site.secret, door.id, p.id, date, p.reroll, s.site.length) == digits {
			people = append(people, p.id)
		}
	}
	var codes []*refCode
	for i := range s.codes {
		c := &s.codes[i]
		if c.digits != digits {
			continue
		}
		vs, ve := m.codeValidity(c)
		if vs.Before(dayEnd) && ve.After(dayStart) {
			codes = append(codes, c)
		}
	}
	var tours []*refTour
	for i := range s.tours {
		t := &s.tours[i]
		if t.digits == digits && t.start.Before(dayEnd) && t.end.After(dayStart) {
			tours = append(tours, t)
		}
	}
	n := len(people) + len(codes) + len(tours)
	// 4. None, or several.
	if n == 0 {
		d.Reason = hub.UnknownCredential
		if lo == nil {
			lo = &refLockout{}
			m.lockouts[door.id] = lo
		}
		var keep []time.Time
		for _, w := range lo.wrong {
			if now.Sub(w) < m.window {
				keep = append(keep, w)
			}
		}
		lo.wrong = append(keep, now)
		if len(lo.wrong) >= m.attempts {
			lo.wrong = nil
			lo.until = now.Add(m.duration)
			d.Alarm = hub.AlarmKeypadLockout
		}
		return
	}
	if n > 1 {
		d.Reason = hub.AmbiguousCode
		d.Alarm = hub.AlarmDoorcodeCollide
		sort.Strings(people)
		d.Colliding = people
		return
	}
	// 5. One candidate.
	switch {
	case len(people) == 1:
		m.person(d, door, people[0], hub.CredDoorcode, now, trusted)
	case len(codes) == 1:
		c := codes[0]
		d.Subject = hub.SubjectService
		d.GuestCodeID = c.id
		d.HostID = c.host
		k := s.key(c.key)
		switch {
		case k == nil || !refHas(k.doors, door.id):
			d.Reason = hub.NoKeyForDoor
		case !k.doorcodes:
			d.Reason = hub.DoorcodesNotAllowed
		default:
			if r := m.hostReason(c.host, k, now, trusted); r != "" {
				d.Reason = r
				return
			}
			vs, ve := m.codeValidity(c)
			if r := refWindowReason(vs, &ve, now); r != "" {
				d.Reason = r
				return
			}
			d.Reason = hub.AllowedAsGuest
			if c.fifteen && c.firstUse == nil {
				t := now
				c.firstUse = &t
				d.FirstUse = true
			}
		}
	default:
		t := tours[0]
		d.Subject = hub.SubjectTour
		d.TourID = t.id
		var withDoor []string
		for _, kid := range t.keys {
			if k := s.key(kid); k != nil && refHas(k.doors, door.id) {
				withDoor = append(withDoor, kid)
			}
		}
		if len(withDoor) == 0 {
			d.Reason = hub.NoKeyForDoor
			return
		}
		listed := false
		if a := s.allowlist(t.integration); a != nil {
			for _, kid := range withDoor {
				if refHas(a.keys, kid) {
					listed = true
				}
			}
		}
		if !listed {
			d.Reason = hub.TourNotAllowlisted
			return
		}
		if r := refWindowReason(t.start, &t.end, now); r != "" {
			d.Reason = r
			return
		}
		d.Reason = hub.AllowedTour
	}
}
