package console

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// GrantView is one of a person's keys.
type GrantView struct {
	Key      string     `json:"key"`
	Resident bool       `json:"resident"`
	MayShare bool       `json:"may_share"`
	Method   string     `json:"method"`
	Start    time.Time  `json:"start"`
	Expires  *time.Time `json:"expires,omitempty"`
	State    string     `json:"state"` // active, not_started, expired
}

// CredentialView is a keycard or app credential (never its secret).
type CredentialView struct {
	Kind  string `json:"kind"`  // keycard or app
	State string `json:"state"` // active, inactive, registered
	// Pending lists the doors that have not applied the last change yet.
	Pending []string `json:"pending,omitempty"`
	// Last4 are the last hex digits of a card, to tell cards apart.
	Last4 string `json:"last4,omitempty"`
}

// GuestView is a key shared with a person by a host.
type GuestView struct {
	Key       string     `json:"key"`
	Host      string     `json:"host"`
	Permanent bool       `json:"permanent,omitempty"`
	Start     time.Time  `json:"start,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
}

// PersonView is a person as the People page shows them.
type PersonView struct {
	Email   string      `json:"email"`
	Name    string      `json:"name,omitempty"`
	Manager bool        `json:"manager,omitempty"`
	Status  string      `json:"status"` // active or expired
	Keys    []GrantView `json:"keys"`
	Guests  int         `json:"guests,omitempty"`
	// GuestOf lists the keys others shared with the person.
	GuestOf     []GuestView      `json:"guest_of,omitempty"`
	Credentials []CredentialView `json:"credentials,omitempty"`
}

// PeopleRequest lists people.
type PeopleRequest struct {
	ShowExpired bool `json:"show_expired"`
}

// AckedVersion reports the lowest version the site's hubs acknowledged;
// ok is false when no hub acknowledged anything. The server sets it.
type AckedVersion func() (version uint64, ok bool)

func (c *Console) personView(cat *hub.Catalog, p *hub.Person, now time.Time, acked AckedVersion) PersonView {
	v := PersonView{Email: p.Email, Name: p.Name, Manager: p.Manager, Status: "expired", Keys: []GrantView{}}
	doorSet := map[string]bool{}
	for _, g := range cat.GrantsOf(p.ID) {
		k := cat.Key(g.KeyID)
		gv := GrantView{Key: k.Name, Resident: g.Resident, MayShare: g.MayShare, Method: string(g.Method),
			Start: g.StartsAt, Expires: g.Expires, State: "active"}
		switch {
		case g.Expires != nil && !now.Before(*g.Expires):
			gv.State = "expired"
		case now.Before(g.StartsAt):
			gv.State = "not_started"
		}
		if gv.State != "expired" {
			v.Status = "active"
			for _, d := range k.Doors {
				doorSet[d] = true
			}
		}
		v.Keys = append(v.Keys, gv)
	}
	for _, g := range cat.GuestGrantsOf(p.ID) {
		if g.Permanent || g.Expires == nil || now.Before(*g.Expires) {
			v.Status = "active"
		}
		gv := GuestView{Key: cat.Key(g.KeyID).Name, Permanent: g.Permanent, Start: g.StartsAt, Expires: g.Expires}
		if h := cat.Person(g.HostID); h != nil {
			gv.Host = h.Email
		}
		v.GuestOf = append(v.GuestOf, gv)
	}
	v.Guests = len(cat.GuestGrantsHostedBy(p.ID))
	doors := make([]string, 0, len(doorSet))
	for d := range doorSet {
		doors = append(doors, d)
	}
	sort.Strings(doors)
	for _, k := range cat.KeycardsOf(p.ID) {
		cv := CredentialView{Kind: "keycard", State: map[bool]string{true: "active", false: "inactive"}[k.Active]}
		if len(k.CardID) >= 4 {
			cv.Last4 = k.CardID[len(k.CardID)-4:]
		}
		var changed uint64
		if b, _ := c.opts.Values.Value(cardKey(p.ID, k.CardID)); len(b) > 0 {
			_ = json.Unmarshal(b, &changed)
		}
		if acked != nil {
			av, ok := acked()
			switch {
			case !ok || av < changed:
				cv.Pending = doors // not at the hubs yet
			case c.CardPending != nil && cat.Site() != nil:
				// At the hubs: pending at the doors whose locks have not
				// applied it, by the hubs' reports — every door while the
				// reports do not reflect the change yet.
				pd, reported := c.CardPending(cat.Site().ID, cloudlink.CardRef(cat.Site().DoorcodeSecret, k.CardID))
				if reported < changed {
					pd = doors
				}
				cv.Pending = pd
			}
		}
		v.Credentials = append(v.Credentials, cv)
	}
	var devices int
	_ = cat.Records(func(o hub.Op) error {
		if o.Type == hub.OpPutDevice && o.Device.OwnerID == p.ID {
			devices++
		}
		return nil
	})
	if devices > 0 {
		v.Credentials = append(v.Credentials, CredentialView{Kind: "app", State: "registered"})
	}
	return v
}

// People lists the people with access; with ShowExpired also those whose
// access was revoked or has expired.
func (c *Console) People(r PeopleRequest, acked AckedVersion) ([]PersonView, error) {
	out := []PersonView{}
	var err error
	now := c.now()
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		_ = cat.Records(func(o hub.Op) error {
			if o.Type != hub.OpPutPerson {
				return nil
			}
			v := c.personView(cat, cat.Person(o.Person.ID), now, acked)
			if v.Status == "active" || r.ShowExpired {
				out = append(out, v)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, err
}

// Person shows one person.
func (c *Console) Person(r EmailRequest, acked AckedVersion) (PersonView, error) {
	var v PersonView
	var err error
	c.view(func(cat *hub.Catalog) {
		var p *hub.Person
		if p, err = findPerson(cat, r.Email); err == nil {
			v = c.personView(cat, p, c.now(), acked)
		}
	})
	return v, err
}

// AssignedAccess is one row of the Assigned Access report.
type AssignedAccess struct {
	Email            string     `json:"email"`
	Name             string     `json:"name"`
	Key              string     `json:"key"`
	Resident         bool       `json:"resident"`
	MayShare         bool       `json:"may_share"`
	Method           string     `json:"method"`
	Start            time.Time  `json:"start"`
	Expires          *time.Time `json:"expires,omitempty"`
	CredentialStatus string     `json:"credential_status"`
}

// ReportAssignedAccess lists every grant with its holder's credentials.
func (c *Console) ReportAssignedAccess() ([]AssignedAccess, error) {
	out := []AssignedAccess{}
	var err error
	now := c.now()
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		_ = cat.Records(func(o hub.Op) error {
			if o.Type != hub.OpPutGrant {
				return nil
			}
			g := o.Grant
			p := cat.Person(g.PersonID)
			pv := c.personView(cat, p, now, nil)
			var creds []string
			for _, cv := range pv.Credentials {
				creds = append(creds, cv.Kind+":"+cv.State)
			}
			if len(creds) == 0 {
				creds = []string{"none"}
			}
			out = append(out, AssignedAccess{Email: p.Email, Name: p.Name, Key: cat.Key(g.KeyID).Name,
				Resident: g.Resident, MayShare: g.MayShare, Method: string(g.Method), Start: g.StartsAt,
				Expires: g.Expires, CredentialStatus: strings.Join(creds, " ")})
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Email != out[j].Email {
			return out[i].Email < out[j].Email
		}
		return out[i].Key < out[j].Key
	})
	return out, err
}

// PersonName names a person id for activity: a current person, or one the
// console deleted (past activity keeps them).
func (c *Console) PersonName(id string) (email string, ok bool) {
	c.view(func(cat *hub.Catalog) {
		if p := cat.Person(id); p != nil {
			email, ok = p.Email, true
		}
	})
	if ok {
		return email, ok
	}
	if b, _ := c.opts.Values.Value(formerKey + id); len(b) > 0 {
		var p hub.Person
		if json.Unmarshal(b, &p) == nil {
			return p.Email, true
		}
	}
	return "", false
}
