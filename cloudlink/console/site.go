package console

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// SiteCreate creates the site.
type SiteCreate struct {
	Name           string `json:"name"`
	TimeZone       string `json:"timezone"`
	DoorcodeLength int    `json:"doorcode_length"`
}

// CreateSite creates the site with a random doorcode secret.
func (c *Console) CreateSite(r SiteCreate) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var exists bool
	c.view(func(cat *hub.Catalog) { exists = cat.Site() != nil })
	if exists {
		return Result{}, conflictf("the site already exists")
	}
	if r.DoorcodeLength == 0 {
		r.DoorcodeLength = hub.DefaultDoorcodeLen
	}
	id := slug(r.Name)
	if id == "" {
		return Result{}, invalidf("--name is required")
	}
	secret, _ := hex.DecodeString(c.randomHex(32))
	s := &hub.Site{ID: id, Name: r.Name, TimeZone: r.TimeZone, DoorcodeLength: r.DoorcodeLength, DoorcodeSecret: secret}
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutSite, Site: s}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("site %q created (%s, doorcodes of %d digits)", id, r.TimeZone, r.DoorcodeLength)), nil
}

// SiteView is the site as surfaces show it (no secret).
type SiteView struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	TimeZone       string `json:"timezone"`
	DoorcodeLength int    `json:"doorcode_length"`
	Version        uint64 `json:"version"`
}

// Site returns the site.
func (c *Console) Site() (SiteView, error) {
	var v SiteView
	var err error
	c.view(func(cat *hub.Catalog) {
		var s *hub.Site
		if s, err = siteOf(cat); err == nil {
			v = SiteView{ID: s.ID, Name: s.Name, TimeZone: s.TimeZone, DoorcodeLength: s.DoorcodeLength}
		}
	})
	v.Version = c.opts.Store.Version()
	return v, err
}

// DoorAdd adds a door.
type DoorAdd struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Offline is what the door's lock does without the hub for a
	// credential its list does not cover: secure (default) or as-is.
	Offline string `json:"offline,omitempty"`
}

// AddDoor adds a door; its id is its name made into an id (what
// `doorhub pair --door` takes).
func (c *Console) AddDoor(r DoorAdd) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := slug(r.Name)
	if id == "" {
		return Result{}, invalidf("--name is required")
	}
	d := &hub.Door{ID: id, Name: strings.TrimSpace(r.Name), Type: hub.DoorType(r.Type), Offline: hub.OfflineMode(r.Offline)}
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	var err error
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err == nil && cat.Door(id) != nil {
			err = conflictf("door %q already exists", id)
		}
	})
	if err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutDoor, Door: d}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("door %q added (%s)", id, d.Type)), nil
}

// DoorOffline sets a door's offline mode.
type DoorOffline struct {
	Door    string `json:"door"`
	Offline string `json:"offline"`
}

// SetDoorOffline sets what a door's lock does without the hub for a
// credential its list does not cover; the hubs push it to the lock with
// its list, and the door is pending until the lock has it.
func (c *Console) SetDoorOffline(r DoorOffline) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d hub.Door
	var err error
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		door := cat.Door(slug(r.Door))
		if door == nil {
			err = notFoundf("door %q", r.Door)
			return
		}
		d = *door
	})
	if err != nil {
		return Result{}, err
	}
	d.Offline = hub.OfflineMode(r.Offline)
	if err := d.Validate(); err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutDoor, Door: &d}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("door %q: offline %s", d.ID, d.Offline)), nil
}

// KeyCreate creates a key.
type KeyCreate struct {
	Name        string   `json:"name"`
	Doors       []string `json:"doors"`
	NoDoorcodes bool     `json:"no_doorcodes"`
	NoSharing   bool     `json:"no_sharing"`
}

// CreateKey creates a key over existing doors.
func (c *Console) CreateKey(r KeyCreate) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := slug(r.Name)
	if id == "" {
		return Result{}, invalidf("--name is required")
	}
	if len(r.Doors) == 0 {
		return Result{}, invalidf("--doors: at least one door is required")
	}
	k := &hub.Key{ID: id, Name: strings.TrimSpace(r.Name), DoorcodesAllowed: !r.NoDoorcodes, MayShareAllowed: !r.NoSharing}
	var err error
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		if cat.Key(id) != nil {
			err = conflictf("key %q already exists", id)
			return
		}
		for _, n := range r.Doors {
			var d *hub.Door
			if d, err = findDoor(cat, strings.TrimSpace(n)); err != nil {
				return
			}
			if !k.HasDoor(d.ID) {
				k.Doors = append(k.Doors, d.ID)
			}
		}
	})
	if err != nil {
		return Result{}, err
	}
	if err := k.Validate(); err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutKey, Key: k}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("key %q created with doors %s", id, strings.Join(k.Doors, ", "))), nil
}

// DeviceRegister registers a person's phone.
type DeviceRegister struct {
	Email     string `json:"email"`
	PublicKey string `json:"public_key"` // base64 or hex Ed25519 public key
}

// ParsePublicKey reads an Ed25519 public key in base64 (standard or URL)
// or hex.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, invalidf("--public-key is not a base64 or hex Ed25519 public key of %d bytes", ed25519.PublicKeySize)
}

// RegisterDevice registers a phone to a person.
func (c *Console) RegisterDevice(r DeviceRegister) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pub, err := ParsePublicKey(r.PublicKey)
	if err != nil {
		return Result{}, err
	}
	var d *hub.Device
	c.view(func(cat *hub.Catalog) {
		var p *hub.Person
		if p, err = findPerson(cat, r.Email); err != nil {
			return
		}
		if other := cat.DeviceByPublicKey(pub); other != nil {
			if other.OwnerID != p.ID {
				err = conflictf("this public key is registered to someone else")
			}
			return
		}
		d = &hub.Device{ID: "d-" + c.randomHex(8), OwnerID: p.ID, PublicKey: pub}
	})
	if err != nil || d == nil {
		return c.result(nil, "device already registered"), err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutDevice, Device: d}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("device %s registered to %s", d.ID, strings.ToLower(r.Email))), nil
}

// TourAllowlist allowlists a key for an integration.
type TourAllowlist struct {
	Integration string `json:"integration"`
	Key         string `json:"key"`
}

// AllowlistKey adds a key to an integration's allowlist.
func (c *Console) AllowlistKey(r TourAllowlist) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.TrimSpace(r.Integration) == "" {
		return Result{}, invalidf("--integration is required")
	}
	var a *hub.Allowlist
	var err error
	c.view(func(cat *hub.Catalog) {
		if _, err = siteOf(cat); err != nil {
			return
		}
		var k *hub.Key
		if k, err = findKey(cat, r.Key); err != nil {
			return
		}
		a = &hub.Allowlist{Integration: r.Integration}
		if old := cat.Allowlist(r.Integration); old != nil {
			a.Keys = append(a.Keys, old.Keys...)
		}
		for _, id := range a.Keys {
			if id == k.ID {
				a = nil
				return
			}
		}
		a.Keys = append(a.Keys, k.ID)
	})
	if err != nil || a == nil {
		return c.result(nil, "already allowlisted"), err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutAllowlist, Allowlist: a}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("integration %q may open keys %s", a.Integration, strings.Join(a.Keys, ", "))), nil
}

// TourCreate books a tour.
type TourCreate struct {
	Integration string   `json:"integration"`
	Code        string   `json:"code"`
	Start       string   `json:"start"`
	End         string   `json:"end"`
	Keys        []string `json:"keys"`
}

// CreateTour books a tour on allowlisted keys only.
func (c *Console) CreateTour(r TourCreate) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start, err := parseTime("--start", r.Start)
	if err != nil {
		return Result{}, err
	}
	end, err := parseTime("--end", r.End)
	if err != nil {
		return Result{}, err
	}
	if start.IsZero() || end.IsZero() {
		return Result{}, invalidf("--start and --end are required")
	}
	if !end.After(start) {
		return Result{}, invalidf("--end %s is not after --start %s", r.End, r.Start)
	}
	if !end.After(c.now()) {
		return Result{}, invalidf("--end %s is in the past", r.End)
	}
	t := &hub.Tour{ID: "t-" + c.randomHex(8), Integration: r.Integration, Code: r.Code, StartsAt: start, EndsAt: end}
	c.view(func(cat *hub.Catalog) {
		var s *hub.Site
		if s, err = siteOf(cat); err != nil {
			return
		}
		if err = checkCode("--code", r.Code, s.DoorcodeLength); err != nil {
			return
		}
		a := cat.Allowlist(r.Integration)
		if a == nil {
			err = notFoundf("integration %q has no allowlisted keys (tour allowlist first)", r.Integration)
			return
		}
		var keys []*hub.Key
		if keys, err = findKeys(cat, r.Keys); err != nil {
			return
		}
		for _, k := range keys {
			ok := false
			for _, id := range a.Keys {
				ok = ok || id == k.ID
			}
			if !ok {
				err = conflictf("key %q is not allowlisted for integration %q", k.Name, r.Integration)
				return
			}
			t.Keys = append(t.Keys, k.ID)
		}
	})
	if err != nil {
		return Result{}, err
	}
	if err := t.Validate(); err != nil {
		return Result{}, err
	}
	b, err := c.commit([]hub.Op{{Type: hub.OpPutTour, Tour: t}})
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("tour %s booked for %s from %s to %s", t.ID, r.Integration,
		start.Format(time.RFC3339), end.Format(time.RFC3339))), nil
}

// checkCode checks digits against the site's code length, never echoing
// the code.
func checkCode(field, code string, length int) error {
	if len(code) != length {
		return invalidf("%s must have the site's doorcode length of %d digits, it has %d", field, length, len(code))
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return invalidf("%s must be digits only", field)
		}
	}
	return nil
}

// DoorcodeRequest asks for a person's daily code.
type DoorcodeRequest struct {
	Email string `json:"email"`
	Door  string `json:"door"`
	Date  string `json:"date,omitempty"` // YYYY-MM-DD, site time zone; today when ""
}

// DoorcodeView is a person's daily code.
type DoorcodeView struct {
	Email string `json:"email"`
	Door  string `json:"door"`
	Date  string `json:"date"`
	Code  string `json:"code"`
}

// Doorcode computes a person's daily code at a door, as the hub does.
func (c *Console) Doorcode(r DoorcodeRequest) (DoorcodeView, error) {
	var v DoorcodeView
	var err error
	c.view(func(cat *hub.Catalog) {
		var s *hub.Site
		if s, err = siteOf(cat); err != nil {
			return
		}
		var p *hub.Person
		if p, err = findPerson(cat, r.Email); err != nil {
			return
		}
		var d *hub.Door
		if d, err = findDoor(cat, r.Door); err != nil {
			return
		}
		holds := false
		for _, g := range cat.GrantsOf(p.ID) {
			k := cat.Key(g.KeyID)
			holds = holds || g.Method == hub.MethodDoorcode && k.DoorcodesAllowed && k.HasDoor(d.ID)
		}
		if !holds {
			err = conflictf("%s holds no doorcode access to door %q (invite --method doorcode with a key that has it)", p.Email, d.ID)
			return
		}
		date := r.Date
		if date == "" {
			date, _, _ = hub.LocalDay(c.now(), cat.Location())
		} else if _, perr := time.Parse(time.DateOnly, date); perr != nil {
			err = invalidf("--date %q is not a date YYYY-MM-DD", date)
			return
		}
		v = DoorcodeView{Email: p.Email, Door: d.ID, Date: date,
			Code: hub.DailyDoorcode(s.DoorcodeSecret, d.ID, p.ID, date, p.Reroll, s.DoorcodeLength)}
	})
	return v, err
}

// Reroll gives people new daily doorcodes by raising their re-roll
// counters: the answer to a doorcode collision a hub reported. Unknown
// ids are skipped (the person may have been deleted since).
func (c *Console) Reroll(personIDs []string) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ops []hub.Op
	c.view(func(cat *hub.Catalog) {
		for _, id := range personIDs {
			if p := cat.Person(id); p != nil {
				np := *p
				np.Reroll++
				ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &np})
			}
		}
	})
	b, err := c.commit(ops)
	if err != nil {
		return Result{}, err
	}
	return c.result(b, fmt.Sprintf("%d person(s) given new daily doorcodes", len(ops))), nil
}
