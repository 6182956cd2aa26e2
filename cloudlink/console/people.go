package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Invite invites a person, or adds keys to the person with that email.
type Invite struct {
	Email    string   `json:"email"`
	Name     string   `json:"name,omitempty"`
	Method   string   `json:"method"` // app or doorcode
	Keys     []string `json:"keys"`
	Resident bool     `json:"resident"`
	MayShare bool     `json:"may_share"`
	Start    string   `json:"start,omitempty"`   // RFC 3339; now when ""
	Expires  string   `json:"expires,omitempty"` // RFC 3339; open-ended when ""
	// Manager: the person holds property-management permissions.
	Manager bool `json:"manager,omitempty"`
	// OutsidePortfolio: the person also has access at sites outside this
	// portfolio, so only they may activate or deactivate their keycard.
	OutsidePortfolio bool `json:"outside_portfolio,omitempty"`
}

// inviteOps checks an invitation against cat and returns its ops (none
// when everything is already so) and the person.
func (c *Console) inviteOps(cat *hub.Catalog, r Invite, now time.Time) ([]hub.Op, *hub.Person, error) {
	if _, err := siteOf(cat); err != nil {
		return nil, nil, err
	}
	email := strings.TrimSpace(r.Email)
	if err := hub.ValidateEmail("--email", email); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	method := hub.AccessMethod(strings.ToLower(strings.TrimSpace(r.Method)))
	if method == "" {
		method = hub.MethodApp
	}
	if method != hub.MethodApp && method != hub.MethodDoorcode {
		return nil, nil, invalidf("--method %q: must be app or doorcode", r.Method)
	}
	start, err := parseTime("--start", r.Start)
	if err != nil {
		return nil, nil, err
	}
	expires, err := parseTime("--expires", r.Expires)
	if err != nil {
		return nil, nil, err
	}
	if !expires.IsZero() {
		if !expires.After(now) {
			return nil, nil, invalidf("--expires %s is in the past", r.Expires)
		}
		if !start.IsZero() && !expires.After(start) {
			return nil, nil, invalidf("--expires %s is not after --start %s", r.Expires, r.Start)
		}
	}
	keys, err := findKeys(cat, r.Keys)
	if err != nil {
		return nil, nil, err
	}
	var ops []hub.Op
	p := cat.PersonByEmail(email)
	if p == nil {
		p = &hub.Person{ID: "p-" + c.randomHex(8), Email: hub.NormalizeEmail(email), Name: strings.TrimSpace(r.Name), Manager: r.Manager}
		if err := p.Validate(); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: p})
	} else if (r.Name != "" && r.Name != p.Name) || (r.Manager && !p.Manager) {
		np := *p
		if r.Name != "" {
			np.Name = strings.TrimSpace(r.Name)
		}
		np.Manager = np.Manager || r.Manager
		p = &np
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: p})
	}
	for _, k := range keys {
		if method == hub.MethodDoorcode && !k.DoorcodesAllowed {
			return nil, nil, conflictf("key %q does not allow doorcodes (--method doorcode)", k.Name)
		}
		if r.MayShare && !k.MayShareAllowed {
			return nil, nil, conflictf("key %q does not allow sharing (--may-share)", k.Name)
		}
		g := &hub.Grant{ID: grantID(p.ID, k.ID), PersonID: p.ID, KeyID: k.ID, Resident: r.Resident,
			MayShare: r.MayShare, StartsAt: start, Method: method}
		old := cat.Grant(g.ID)
		if g.StartsAt.IsZero() {
			g.StartsAt = now
			if old != nil {
				g.StartsAt = old.StartsAt // inviting again keeps the start
			}
		}
		if !expires.IsZero() {
			e := expires
			g.Expires = &e
		}
		if g.Expires != nil && !g.Expires.After(g.StartsAt) {
			return nil, nil, invalidf("--expires %s is not after the start %s", r.Expires, g.StartsAt.Format(time.RFC3339))
		}
		if old != nil && sameGrant(old, g) {
			continue
		}
		ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: g})
	}
	return ops, p, nil
}

func sameGrant(a, b *hub.Grant) bool {
	sameExp := (a.Expires == nil) == (b.Expires == nil) && (a.Expires == nil || a.Expires.Equal(*b.Expires))
	return a.PersonID == b.PersonID && a.KeyID == b.KeyID && a.Resident == b.Resident && a.MayShare == b.MayShare &&
		a.StartsAt.Equal(b.StartsAt) && sameExp && a.Method == b.Method
}

// Invite invites a person and writes their welcome notification at once,
// even when their access starts later.
func (c *Console) Invite(r Invite) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ops []hub.Op
	var p *hub.Person
	var err error
	c.view(func(cat *hub.Catalog) { ops, p, err = c.inviteOps(cat, r, c.now()) })
	if err != nil {
		return Result{}, err
	}
	b, err := c.commit(ops)
	if err != nil {
		return Result{}, err
	}
	if r.OutsidePortfolio {
		if err := c.opts.Values.SetValue(outsideKey+p.ID, []byte("1")); err != nil {
			return Result{}, err
		}
	}
	if b == nil {
		return c.result(nil, fmt.Sprintf("%s already has this access", p.Email)), nil
	}
	c.welcome(p, r)
	return c.result(b, fmt.Sprintf("%s invited with keys %s", p.Email, strings.Join(r.Keys, ", "))), nil
}

// AccessEdit changes one of a person's keys.
type AccessEdit struct {
	Email    string `json:"email"`
	Key      string `json:"key"`
	Expires  string `json:"expires,omitempty"`
	Resident *bool  `json:"resident,omitempty"`
	MayShare *bool  `json:"may_share,omitempty"`
	Remove   bool   `json:"remove,omitempty"`
}

// EditAccess edits or removes a person's grant of a key.
func (c *Console) EditAccess(r AccessEdit) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires, err := parseTime("--expires", r.Expires)
	if err != nil {
		return Result{}, err
	}
	if !expires.IsZero() && !expires.After(c.now()) {
		return Result{}, invalidf("--expires %s is in the past", r.Expires)
	}
	var ops []hub.Op
	c.view(func(cat *hub.Catalog) {
		var p *hub.Person
		if p, err = findPerson(cat, r.Email); err != nil {
			return
		}
		var k *hub.Key
		if k, err = findKey(cat, r.Key); err != nil {
			return
		}
		old := cat.Grant(grantID(p.ID, k.ID))
		if old == nil {
			err = notFoundf("%s does not hold key %q", p.Email, k.Name)
			return
		}
		if r.Remove {
			ops = append(ops, hub.Op{Type: hub.OpDeleteGrant, ID: old.ID})
			// Guests of this key lose their access with the host's.
			for _, g := range cat.GuestGrantsHostedBy(p.ID) {
				if g.KeyID == k.ID {
					ops = append(ops, hub.Op{Type: hub.OpDeleteGuestGrant, ID: g.ID})
				}
			}
			return
		}
		g := *old
		if !expires.IsZero() {
			if !expires.After(g.StartsAt) {
				err = invalidf("--expires %s is not after the start %s", r.Expires, g.StartsAt.Format(time.RFC3339))
				return
			}
			g.Expires = &expires
		}
		if r.Resident != nil {
			g.Resident = *r.Resident
		}
		if r.MayShare != nil {
			if *r.MayShare && !k.MayShareAllowed {
				err = conflictf("key %q does not allow sharing", k.Name)
				return
			}
			g.MayShare = *r.MayShare
		}
		if !sameGrant(old, &g) {
			ops = append(ops, hub.Op{Type: hub.OpPutGrant, Grant: &g})
		}
	})
	if err != nil {
		return Result{}, err
	}
	b, err := c.commit(ops)
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("access of %s to key %q updated", strings.ToLower(r.Email), r.Key)), nil
}

// EmailRequest names a person.
type EmailRequest struct {
	Email string `json:"email"`
}

// Revoke revokes every key of a person and every guest access they
// granted; the person stays known.
func (c *Console) Revoke(r EmailRequest) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *hub.Person
	var err error
	c.view(func(cat *hub.Catalog) { p, err = findPerson(cat, r.Email) })
	if err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpRevokePerson, ID: p.ID}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("every key of %s revoked, with the guest access they granted", p.Email)), nil
}

// Delete deletes a person; their past activity keeps their name.
func (c *Console) Delete(r EmailRequest) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *hub.Person
	var err error
	c.view(func(cat *hub.Catalog) { p, err = findPerson(cat, r.Email) })
	if err != nil {
		return Result{}, err
	}
	if err := setJSON(c.opts.Values, formerKey+p.ID, p); err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpDeletePerson, ID: p.ID}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("%s deleted", p.Email)), nil
}

// formerKey prefixes the people the console deleted, kept so that past
// activity still names them.
const formerKey = "console/former/"

// KeycardRequest activates or deactivates a keycard.
type KeycardRequest struct {
	Email  string `json:"email"`
	Card   string `json:"card"`
	Active bool   `json:"active"`
}

// SetKeycard activates or deactivates a person's keycard.
func (c *Console) SetKeycard(r KeycardRequest) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	card := strings.ToLower(strings.TrimSpace(r.Card))
	if err := hub.ValidateCardID("--card", card); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var ops []hub.Op
	var p *hub.Person
	var err error
	c.view(func(cat *hub.Catalog) {
		if p, err = findPerson(cat, r.Email); err != nil {
			return
		}
		if b, _ := c.opts.Values.Value(outsideKey + p.ID); len(b) > 0 {
			err = conflictf("%s has access at sites outside this portfolio: they activate and deactivate their keycard themselves", p.Email)
			return
		}
		old := cat.Keycard(card)
		if old != nil && old.OwnerID != p.ID {
			err = conflictf("this keycard belongs to someone else")
			return
		}
		if old == nil && !r.Active {
			err = notFoundf("%s has no such keycard", p.Email)
			return
		}
		if old != nil && old.Active == r.Active {
			return
		}
		ops = []hub.Op{{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: card, OwnerID: p.ID, Active: r.Active}}}
	})
	if err != nil {
		return Result{}, err
	}
	state := map[bool]string{true: "activated", false: "deactivated"}[r.Active]
	b, err := c.commit(ops)
	if err != nil {
		return Result{}, err
	}
	if b == nil {
		return c.result(nil, "keycard already "+state), nil
	}
	if err := setJSON(c.opts.Values, cardKey(p.ID, card), b.Version); err != nil {
		return Result{}, err
	}
	c.notify(p, "Your keycard was "+state,
		fmt.Sprintf("Hello %s,\n\nYour property manager %s a keycard on your behalf.\n", p.Name, state))
	return c.result(b, fmt.Sprintf("keycard %s for %s", state, p.Email)), nil
}

// outsideKey marks the people with access at sites outside this
// portfolio.
const outsideKey = "console/outside/"

// cardKey records the version at which a keycard last changed, for
// "pending" (its doors have not applied it while a hub's ack is older).
func cardKey(personID, card string) string { return "console/card/" + personID + "/" + card }
