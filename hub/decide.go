package hub

import (
	"crypto/ed25519"
	"sync"
	"time"
)

// Reason says why a decision came out as it did. The list is documented in
// docs/access-rules.md; surfaces show it as is.
type Reason string

// Reasons for allowing.
const (
	AllowedByGrant Reason = "allowed_by_grant"
	AllowedAsGuest Reason = "allowed_as_guest"
	AllowedTour    Reason = "allowed_tour"
)

// Reasons for denying.
const (
	UnknownDoor         Reason = "unknown_door"
	UnknownCredential   Reason = "unknown_credential"
	CredentialInactive  Reason = "credential_inactive"
	SignatureInvalid    Reason = "signature_invalid"
	AmbiguousCode       Reason = "ambiguous_code"
	NoKeyForDoor        Reason = "no_key_for_door"
	MethodNotAllowed    Reason = "method_not_allowed"
	DoorcodesNotAllowed Reason = "doorcodes_not_allowed"
	TourNotAllowlisted  Reason = "tour_not_allowlisted"
	HostRevoked         Reason = "host_revoked"
	NotStarted          Reason = "not_started"
	Expired             Reason = "expired"
	ClockUntrusted      Reason = "clock_untrusted"
	KeypadLockedOut     Reason = "keypad_locked_out"
)

// Allowed reports whether the reason allows.
func (r Reason) Allowed() bool {
	return r == AllowedByGrant || r == AllowedAsGuest || r == AllowedTour
}

// rank orders denial reasons from the one nearest to an allow (highest):
// among several grants that all deny, the decision names the nearest.
var rank = map[Reason]int{
	ClockUntrusted:      7,
	NotStarted:          6,
	Expired:             5,
	HostRevoked:         4,
	TourNotAllowlisted:  3,
	DoorcodesNotAllowed: 2,
	MethodNotAllowed:    1,
	NoKeyForDoor:        0,
}

// CredentialKind is what was presented at the lock.
type CredentialKind string

// Credential kinds.
const (
	CredKeycard  CredentialKind = "keycard"
	CredDoorcode CredentialKind = "doorcode"
	CredMobile   CredentialKind = "mobile"
	// CredPerson is used only by ExplainPerson for a person who holds no
	// credential: what their grants alone would give.
	CredPerson CredentialKind = "person"
)

// Presentation is what a lock relays: a keycard id, keypad digits, or a
// phone's signature over the lock's nonce and the door id.
type Presentation struct {
	Kind CredentialKind
	// CardID: lowercase hex card identifier (keycard).
	CardID string
	// Code: the digits entered (doorcode).
	Code string
	// PublicKey, Nonce, Signature: the phone's key, the lock's challenge
	// and the phone's signature over MobileMessage(door, nonce) (mobile).
	PublicKey []byte
	Nonce     []byte
	Signature []byte
}

// mobileLabel separates mobile challenge signatures from other uses of a
// phone's key.
const mobileLabel = "doorhub-mobile-v1"

// MobileMessage is what a phone signs to open a door: the label, the door
// id and the lock's nonce, each separated by a zero byte.
func MobileMessage(doorID string, nonce []byte) []byte {
	msg := make([]byte, 0, len(mobileLabel)+len(doorID)+len(nonce)+2)
	msg = append(msg, mobileLabel...)
	msg = append(msg, 0)
	msg = append(msg, doorID...)
	msg = append(msg, 0)
	return append(msg, nonce...)
}

// Visibility says what the cloud and the local surfaces may show of an
// activity event (docs/access-rules.md, "Privacy").
type Visibility string

// Visibilities.
const (
	Visible         Visibility = "visible"
	IdentityRemoved Visibility = "identity_removed"
)

// SubjectKind is who a credential resolved to.
type SubjectKind string

// Subject kinds.
const (
	SubjectNone    SubjectKind = ""
	SubjectPerson  SubjectKind = "person"
	SubjectService SubjectKind = "service" // a guest code or a service guest
	SubjectTour    SubjectKind = "tour"
)

// Alarm is raised by a decision for the activity stream.
type Alarm string

// Alarms.
const (
	AlarmNone            Alarm = ""
	AlarmKeypadLockout   Alarm = "keypad_lockout"
	AlarmDoorcodeCollide Alarm = "doorcode_collision"
)

// Decision is the outcome of one presentation at one door.
type Decision struct {
	Door    string         `json:"door"`
	At      time.Time      `json:"at"`
	Kind    CredentialKind `json:"credential"`
	Allowed bool           `json:"allowed"`
	Reason  Reason         `json:"reason"`
	// ClockTrusted: the hub trusted its clock when deciding.
	ClockTrusted bool `json:"clock_trusted"`

	// Who the credential resolved to and what decided.
	Subject     SubjectKind `json:"subject,omitempty"`
	PersonID    string      `json:"person_id,omitempty"`
	HostID      string      `json:"host_id,omitempty"` // for guest access
	Service     string      `json:"service,omitempty"`
	GrantID     string      `json:"grant_id,omitempty"`
	GuestGrant  string      `json:"guest_grant_id,omitempty"`
	GuestCodeID string      `json:"guest_code_id,omitempty"`
	TourID      string      `json:"tour_id,omitempty"`
	DeviceID    string      `json:"device_id,omitempty"`
	Resident    bool        `json:"resident,omitempty"`

	Visibility Visibility `json:"visibility"`
	Alarm      Alarm      `json:"alarm,omitempty"`
	// Colliding lists the people whose daily codes collided (for the
	// cloud to re-roll one); never the code itself.
	Colliding []string `json:"colliding,omitempty"`
	// FirstUse: this decision is the first use of a fifteen-minute code.
	FirstUse bool `json:"first_use,omitempty"`
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	// UntrustedMargin: see ClockOptions. Default 24h.
	UntrustedMargin time.Duration
	// Lockout configures keypad brute-force protection.
	Lockout LockoutOptions
}

// Reader is what the engine needs from a store: a consistent view of the
// catalog and a place to record first uses of fifteen-minute codes.
type Reader interface {
	View(fn func(c *Catalog))
	RecordFirstUse(codeID string, at time.Time) error
}

// Engine decides presentations against a store's catalog. It is safe for
// concurrent use.
type Engine struct {
	store   Reader
	margin  time.Duration
	codes   codeCache
	lockout *lockout
	// OnError, when set, hears about failures to persist local state (a
	// first use); the decision stands.
	OnError func(error)
}

// NewEngine returns an engine over the store.
func NewEngine(store Reader, opts EngineOptions) *Engine {
	if opts.UntrustedMargin == 0 {
		opts.UntrustedMargin = DefaultUntrustedMargin
	}
	return &Engine{store: store, margin: opts.UntrustedMargin, lockout: newLockout(opts.Lockout)}
}

// Decide decides a presentation at a door at now. It reads only the
// in-memory catalog; the only state it changes is the keypad lockout and
// the first use of a fifteen-minute guest code.
func (e *Engine) Decide(doorID string, p Presentation, now Now) Decision {
	d := e.decide(doorID, p, now, true)
	if d.FirstUse {
		if err := e.store.RecordFirstUse(d.GuestCodeID, now.Time); err != nil && e.OnError != nil {
			e.OnError(err)
		}
	}
	return d
}

// Explain says what Decide would answer, changing nothing: a wrong code
// does not count towards a lockout and a guest code's first use is not
// recorded (the decision still says it would be one). It is what
// `doorhub explain` shows.
func (e *Engine) Explain(doorID string, p Presentation, now Now) Decision {
	return e.decide(doorID, p, now, false)
}

func (e *Engine) decide(doorID string, p Presentation, now Now, commit bool) Decision {
	// The call's state lives in a pooled decideCall whose method value
	// was made once: handing Reader.View a fresh closure would move the
	// Decision and the closure to the heap on every decision.
	call := decideCalls.Get().(*decideCall)
	call.e, call.doorID, call.p, call.now, call.commit = e, doorID, p, now, commit
	call.d = Decision{Door: doorID, At: now.Time, Kind: p.Kind, ClockTrusted: now.Trusted, Visibility: Visible}
	e.store.View(call.view)
	d := call.d
	*call = decideCall{view: call.view}
	decideCalls.Put(call)
	return d
}

// decideCall is one decision in progress; see Engine.decide.
type decideCall struct {
	e      *Engine
	doorID string
	p      Presentation
	now    Now
	commit bool
	d      Decision
	view   func(*Catalog) // call.run, bound once
}

var decideCalls = sync.Pool{New: func() any {
	call := new(decideCall)
	call.view = call.run
	return call
}}

func (call *decideCall) run(c *Catalog) {
	e, d := call.e, &call.d
	ev := newEvaluator(c, c.doors[call.doorID], call.doorID, call.now, e.margin)
	if ev.door == nil {
		d.Reason = UnknownDoor
		return
	}
	switch call.p.Kind {
	case CredKeycard:
		ev.keycard(d, call.p.CardID)
	case CredMobile:
		ev.mobile(d, call.p)
	case CredDoorcode:
		e.doorcode(&ev, d, call.p.Code, call.commit)
	default:
		d.Reason = UnknownCredential
	}
	e.finish(&ev, d)
}

func (e *Engine) finish(ev *evaluator, d *Decision) {
	d.Allowed = d.Reason.Allowed()
	d.Visibility = ev.visibility(d)
}

// ExplainPerson says, changing nothing, what each of a person's ways in
// would get at the door: every keycard, every phone (as if its signature
// verified), and their daily doorcode if they hold a doorcode grant. A
// person with none gets one decision for the kind "person" with the
// reason their grants give. Unknown person: nil.
func (e *Engine) ExplainPerson(doorID, personID string, now Now) []Decision {
	var out []Decision
	e.store.View(func(c *Catalog) {
		n := c.personH(personID)
		if n == none {
			return
		}
		door := c.doors[doorID]
		try := func(kind CredentialKind, fill func(ev *evaluator, d *Decision)) {
			d := Decision{Door: doorID, At: now.Time, Kind: kind, ClockTrusted: now.Trusted, Visibility: Visible}
			ev := newEvaluator(c, door, doorID, now, e.margin)
			if door == nil {
				d.Reason = UnknownDoor
			} else {
				fill(&ev, &d)
				e.finish(&ev, &d)
			}
			out = append(out, d)
		}
		for _, k := range c.cardList(n) {
			cardID := c.cardID(k)
			try(CredKeycard, func(ev *evaluator, d *Decision) { ev.keycard(d, cardID) })
		}
		for _, id := range c.devicesByOwner[personID] {
			try(CredMobile, func(ev *evaluator, d *Decision) {
				d.DeviceID = id
				ev.person(d, n, CredMobile)
			})
		}
		hasCode := false
		for _, g := range c.grantList(n) {
			hasCode = hasCode || c.grants.recs[g].doorcode
		}
		if hasCode {
			try(CredDoorcode, func(ev *evaluator, d *Decision) {
				switch {
				case e.lockout.locked(doorID, now.Time):
					d.Reason = KeypadLockedOut
				case !now.Trusted:
					d.Reason = ClockUntrusted
				default:
					ev.person(d, n, CredDoorcode)
				}
			})
		}
		if len(out) == 0 {
			try(CredPerson, func(ev *evaluator, d *Decision) { ev.person(d, n, CredKeycard) })
		}
	})
	return out
}

func (e *Engine) doorcode(ev *evaluator, d *Decision, code string, commit bool) {
	t := ev.now.Time
	if e.lockout.locked(ev.doorID, t) {
		d.Reason = KeypadLockedOut
		return
	}
	if !ev.now.Trusted {
		// Every doorcode is a short window: none is admitted on an
		// untrusted clock, and an unresolvable code counts as no attempt.
		d.Reason = ClockUntrusted
		return
	}
	date, dayStart, dayEnd := LocalDay(t, ev.c.loc)
	holders := e.codes.holders(ev.c, ev.doorID, date, code)
	codes := liveGuestCodes(ev.c, code, dayStart, dayEnd)
	tours := liveTours(ev.c, code, dayStart, dayEnd)
	switch n := len(holders) + len(codes) + len(tours); {
	case n == 0:
		d.Reason = UnknownCredential
		if commit && e.lockout.fail(ev.doorID, t) {
			d.Alarm = AlarmKeypadLockout
		}
	case n > 1:
		d.Reason = AmbiguousCode
		d.Alarm = AlarmDoorcodeCollide
		d.Colliding = append([]string(nil), holders...)
	case len(holders) == 1:
		ev.person(d, ev.c.personH(holders[0]), CredDoorcode)
	case len(codes) == 1:
		ev.guestCode(d, codes[0])
	default:
		ev.tour(d, tours[0])
	}
}

// liveGuestCodes returns the guest codes with these digits whose validity
// overlaps the local day.
func liveGuestCodes(c *Catalog, code string, dayStart, dayEnd time.Time) []*GuestCode {
	var out []*GuestCode
	for _, g := range c.GuestCodesByCode(code) {
		start, end := guestCodeWindow(c, g)
		if start.Before(dayEnd) && end.After(dayStart) {
			out = append(out, g)
		}
	}
	return out
}

// guestCodeWindow is when a guest code admits: the local day of a
// single-day code; fifteen minutes from its first use, or the window for
// a first use, of a fifteen-minute code.
func guestCodeWindow(c *Catalog, g *GuestCode) (start, end time.Time) {
	if g.Kind == CodeSingleDay {
		start, end, _ = dayBounds(g.Date, c.Location())
		return start, end
	}
	if u, ok := c.FirstUse(g.ID); ok {
		return u, u.Add(FifteenMinutes)
	}
	return g.StartsAt, *g.Expires
}

func liveTours(c *Catalog, code string, dayStart, dayEnd time.Time) []*Tour {
	var out []*Tour
	for _, t := range c.ToursByCode(code) {
		if t.StartsAt.Before(dayEnd) && t.EndsAt.After(dayStart) {
			out = append(out, t)
		}
	}
	return out
}

// evaluator applies the rules for one decision.
type evaluator struct {
	c      *Catalog
	door   *doorNode
	doorID string
	now    Now
	margin time.Duration
	// subject is the person the credential resolved to, or none.
	subject int32
	// now in Unix nanoseconds (unixNanos), and now+margin, for grants'
	// windows: nowExact says they compare exactly with a grant's.
	nowNs, marginNs int64
	nowExact        bool
}

func newEvaluator(c *Catalog, door *doorNode, doorID string, now Now, margin time.Duration) evaluator {
	ev := evaluator{c: c, door: door, doorID: doorID, now: now, margin: margin, subject: none}
	ev.nowNs, ev.nowExact = unixNanos(now.Time)
	if !now.Trusted {
		// Clamped, it still orders right against any exact expiry.
		ev.marginNs, _ = unixNanos(now.Time.Add(margin))
	}
	return ev
}

func (ev *evaluator) keycard(d *Decision, cardID string) {
	// The slot's hint names the owner and their first grant: those are
	// fetched while the keycard record is, not after it.
	h, hint := ev.c.cardSlot(cardID)
	if h == none {
		d.Reason = UnknownCredential
		return
	}
	if !ev.c.cards.recs[h].active {
		ev.resolve(d, hint.owner)
		d.Reason = CredentialInactive
		return
	}
	ev.personFrom(d, hint.owner, hint.grants, CredKeycard)
}

func (ev *evaluator) mobile(d *Decision, p Presentation) {
	dev := ev.c.devices[ev.c.deviceByKey[string(p.PublicKey)]]
	owner := none
	if dev != nil {
		owner = ev.c.personH(dev.OwnerID)
	}
	if owner == none {
		d.Reason = UnknownCredential
		return
	}
	d.DeviceID = dev.ID
	if len(p.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(dev.PublicKey, MobileMessage(ev.doorID, p.Nonce), p.Signature) {
		ev.resolve(d, owner)
		d.Reason = SignatureInvalid
		return
	}
	ev.person(d, owner, CredMobile)
}

func (ev *evaluator) resolve(d *Decision, p int32) {
	ev.subject = p
	d.Subject, d.PersonID = SubjectPerson, ev.c.personID(p)
}

// window checks [start, expires) at now; on an untrusted clock an expiry
// must lie at least the margin beyond now.
func (ev *evaluator) window(start time.Time, expires *time.Time) Reason {
	t := ev.now.Time
	if t.Before(start) {
		return NotStarted
	}
	if expires != nil && !t.Before(*expires) {
		return Expired
	}
	if !ev.now.Trusted && expires != nil && expires.Before(t.Add(ev.margin)) {
		return ClockUntrusted
	}
	return ""
}

// grantWindow is window for a grant's times. Exact nanoseconds on both
// sides compare as the times do; otherwise it asks window itself.
func (ev *evaluator) grantWindow(g *grantRec) Reason {
	if !ev.nowExact || g.flags&grantExact != 0 {
		start := ev.c.grantStart(g)
		if e, ok := ev.c.grantExpiry(g); ok {
			return ev.window(start, &e)
		}
		return ev.window(start, nil)
	}
	if ev.nowNs < g.start {
		return NotStarted
	}
	if g.flags&grantHasExpires != 0 {
		if ev.nowNs >= g.expires {
			return Expired
		}
		if !ev.now.Trusted && g.expires < ev.marginNs {
			return ClockUntrusted
		}
	}
	return ""
}

// person decides for a person presenting a credential of kind: any of
// their grants, then any guest grant in which they are the guest.
func (ev *evaluator) person(d *Decision, p int32, kind CredentialKind) {
	ev.personFrom(d, p, ev.c.people.recs[p].grants, kind)
}

// personFrom is person with the head of the person's grant list at hand.
func (ev *evaluator) personFrom(d *Decision, p, first int32, kind CredentialKind) {
	ev.resolve(d, p)
	c := ev.c
	best := NoKeyForDoor
	deny := func(r Reason) {
		if rank[r] > rank[best] {
			best = r
		}
	}
	allow := none
	for h := first; h != none; h = c.grants.recs[h].next {
		g := &c.grants.recs[h]
		k := c.keyByH[g.key]
		if !k.opens(ev.door.h) {
			continue
		}
		r := ev.grantReason(g, k, kind)
		if r == "" {
			// Prefer a resident grant: it keeps the resident's activity
			// private at their own door.
			if allow == none {
				allow = h
			} else if a := &c.grants.recs[allow]; (g.resident && !a.resident) || (g.resident == a.resident && c.grantIDOf(g) < c.grantIDOf(a)) {
				allow = h
			}
			continue
		}
		deny(r)
	}
	if allow != none {
		a := &c.grants.recs[allow]
		d.Reason, d.GrantID, d.Resident = AllowedByGrant, c.grantIDOf(a), a.resident
		return
	}
	var allowGuest *GuestGrant
	for _, id := range c.guestsByGuest[c.personID(p)] {
		gg := c.guestGrants[id]
		k := c.keys[gg.KeyID]
		if !k.opens(ev.door.h) {
			continue
		}
		var r Reason
		if kind == CredDoorcode {
			r = MethodNotAllowed // guests open with a keycard or a phone; codes are guest codes
		} else {
			r = ev.guestGrantReason(gg, k)
		}
		if r == "" {
			if allowGuest == nil || gg.ID < allowGuest.ID {
				allowGuest = gg
			}
			continue
		}
		deny(r)
	}
	if allowGuest != nil {
		d.Reason, d.GuestGrant, d.HostID = AllowedAsGuest, allowGuest.ID, allowGuest.HostID
		return
	}
	d.Reason = best
}

// grantReason is why a grant does not admit the credential, or "".
func (ev *evaluator) grantReason(g *grantRec, k *keyNode, kind CredentialKind) Reason {
	switch kind {
	case CredMobile:
		if g.doorcode {
			return MethodNotAllowed
		}
	case CredDoorcode:
		if !g.doorcode {
			return MethodNotAllowed
		}
		if !k.DoorcodesAllowed {
			return DoorcodesNotAllowed
		}
	}
	return ev.grantWindow(g)
}

// hostReason is why a host cannot share key k now, or "": the host needs a
// grant of k that may share, on a key that allows sharing, valid now.
func (ev *evaluator) hostReason(hostID string, k *keyNode) Reason {
	c := ev.c
	host := c.personH(hostID)
	if host == none || !k.MayShareAllowed {
		return HostRevoked
	}
	best := HostRevoked
	for h := c.people.recs[host].grants; h != none; h = c.grants.recs[h].next {
		g := &c.grants.recs[h]
		if g.key != k.h || !g.mayShare() {
			continue
		}
		switch r := ev.grantWindow(g); r {
		case "":
			return ""
		case ClockUntrusted:
			best = ClockUntrusted
		}
	}
	return best
}

func (ev *evaluator) guestGrantReason(gg *GuestGrant, k *keyNode) Reason {
	if r := ev.hostReason(gg.HostID, k); r != "" {
		return r
	}
	if gg.Permanent {
		return ""
	}
	return ev.window(gg.StartsAt, gg.Expires)
}

func (ev *evaluator) guestCode(d *Decision, g *GuestCode) {
	d.Subject, d.HostID, d.GuestCodeID = SubjectService, g.HostID, g.ID
	k := ev.c.keys[g.KeyID]
	if !k.opens(ev.door.h) {
		d.Reason = NoKeyForDoor
		return
	}
	if !k.DoorcodesAllowed {
		d.Reason = DoorcodesNotAllowed
		return
	}
	if r := ev.hostReason(g.HostID, k); r != "" {
		d.Reason = r
		return
	}
	start, end := guestCodeWindow(ev.c, g)
	if r := ev.window(start, &end); r != "" {
		d.Reason = r
		return
	}
	if g.Kind == CodeFifteenMinute {
		if _, used := ev.c.FirstUse(g.ID); !used {
			d.FirstUse = true
		}
	}
	d.Reason = AllowedAsGuest
}

func (ev *evaluator) tour(d *Decision, t *Tour) {
	d.Subject, d.TourID = SubjectTour, t.ID
	opens, allowlisted := false, false
	al := ev.c.allowlists[t.Integration]
	for _, kid := range t.Keys {
		k := ev.c.keys[kid]
		if k == nil || !k.opens(ev.door.h) {
			continue
		}
		opens = true
		if al != nil && containsString(al.Keys, kid) {
			allowlisted = true
		}
	}
	switch {
	case !opens:
		d.Reason = NoKeyForDoor
	case !allowlisted:
		d.Reason = TourNotAllowlisted
	default:
		end := t.EndsAt
		if r := ev.window(t.StartsAt, &end); r != "" {
			d.Reason = r
			return
		}
		d.Reason = AllowedTour
	}
}

// visibility applies the privacy rule: identity removed only for a
// non-manager person at a private door who is a resident there.
func (ev *evaluator) visibility(d *Decision) Visibility {
	c, n := ev.c, ev.subject
	if !ev.door.Type.Private() || n == none || d.GuestGrant != "" || c.people.recs[n].manager {
		return Visible
	}
	if d.Allowed {
		if d.Resident {
			return IdentityRemoved
		}
		return Visible
	}
	// A denied attempt by a resident at their own door is private too.
	for h := c.people.recs[n].grants; h != none; h = c.grants.recs[h].next {
		if g := &c.grants.recs[h]; g.resident && c.keyByH[g.key].opens(ev.door.h) {
			return IdentityRemoved
		}
	}
	return Visible
}
