package console

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"crypto/rand"

	"github.com/doorhub/doorhub/hub"
)

// Share is a host sharing a key with a guest person, a service, or as a
// guest doorcode.
type Share struct {
	Host          string `json:"host"`
	Key           string `json:"key"`
	Guest         string `json:"guest,omitempty"`
	GuestName     string `json:"guest_name,omitempty"`
	Service       string `json:"service,omitempty"`
	Permanent     bool   `json:"permanent,omitempty"`
	Start         string `json:"start,omitempty"`
	Expires       string `json:"expires,omitempty"`
	SingleDay     bool   `json:"single_day,omitempty"`
	FifteenMinute bool   `json:"fifteen_minute,omitempty"`
}

// ShareResult is a share; Code is set for guest doorcodes (the host gives
// it to their guest).
type ShareResult struct {
	Result
	Code string `json:"code,omitempty"`
	Date string `json:"date,omitempty"`
}

// Share shares a key, only where the host's grant may share and the key
// allows sharing.
func (c *Console) Share(r Share) (ShareResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	modes := 0
	for _, b := range []bool{r.Permanent, r.Start != "" || r.Expires != "", r.SingleDay, r.FifteenMinute} {
		if b {
			modes++
		}
	}
	if modes != 1 {
		return ShareResult{}, invalidf("choose one of --permanent, --start/--expires, --single-day, --fifteen-minute")
	}
	code := r.SingleDay || r.FifteenMinute
	if !code && (r.Guest == "") == (r.Service == "") {
		return ShareResult{}, invalidf("choose one of --guest EMAIL and --service NAME")
	}
	now := c.now()
	start, err := parseTime("--start", r.Start)
	if err != nil {
		return ShareResult{}, err
	}
	expires, err := parseTime("--expires", r.Expires)
	if err != nil {
		return ShareResult{}, err
	}
	if !r.Permanent && !code {
		if expires.IsZero() {
			return ShareResult{}, invalidf("--expires is required unless --permanent")
		}
		if start.IsZero() {
			start = now
		}
		if !expires.After(now) {
			return ShareResult{}, invalidf("--expires %s is in the past", r.Expires)
		}
		if !expires.After(start) {
			return ShareResult{}, invalidf("--expires %s is not after --start", r.Expires)
		}
	}
	var ops []hub.Op
	var out ShareResult
	c.view(func(cat *hub.Catalog) {
		var s *hub.Site
		if s, err = siteOf(cat); err != nil {
			return
		}
		var host *hub.Person
		if host, err = findPerson(cat, r.Host); err != nil {
			return
		}
		var k *hub.Key
		if k, err = findKey(cat, r.Key); err != nil {
			return
		}
		g := cat.Grant(grantID(host.ID, k.ID))
		switch {
		case g == nil:
			err = notFoundf("%s does not hold key %q", host.Email, k.Name)
		case !k.MayShareAllowed:
			err = conflictf("key %q does not allow sharing", k.Name)
		case !g.MayShare:
			err = conflictf("%s may not share key %q", host.Email, k.Name)
		case g.Expires != nil && !g.Expires.After(now):
			err = conflictf("the access of %s to key %q has expired", host.Email, k.Name)
		}
		if err != nil {
			return
		}
		if code {
			if !k.DoorcodesAllowed {
				err = conflictf("key %q does not allow doorcodes", k.Name)
				return
			}
			gc := &hub.GuestCode{ID: "c-" + c.randomHex(8), HostID: host.ID, KeyID: k.ID,
				Code: randomDigits(s.DoorcodeLength)}
			if r.SingleDay {
				gc.Kind = hub.CodeSingleDay
				gc.Date, _, _ = hub.LocalDay(now, cat.Location())
			} else {
				gc.Kind = hub.CodeFifteenMinute
				gc.StartsAt = now
				e := now.Add(24 * time.Hour)
				gc.Expires = &e
			}
			ops = append(ops, hub.Op{Type: hub.OpPutGuestCode, GuestCode: gc})
			out.Code, out.Date = gc.Code, gc.Date
			return
		}
		gg := &hub.GuestGrant{ID: "gg-" + c.randomHex(8), HostID: host.ID, KeyID: k.ID,
			Service: strings.TrimSpace(r.Service), Permanent: r.Permanent}
		if !r.Permanent {
			gg.StartsAt = start
			gg.Expires = &expires
		}
		if r.Guest != "" {
			guest := cat.PersonByEmail(r.Guest)
			if guest == nil {
				if verr := hub.ValidateEmail("--guest", strings.TrimSpace(r.Guest)); verr != nil {
					err = fmt.Errorf("%w: %v", ErrInvalid, verr)
					return
				}
				guest = &hub.Person{ID: "p-" + c.randomHex(8), Email: hub.NormalizeEmail(r.Guest), Name: r.GuestName}
				ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: guest})
			}
			if guest.ID == host.ID {
				err = invalidf("a host cannot be their own guest")
				return
			}
			gg.GuestID = guest.ID
		}
		if err = gg.Validate(); err != nil {
			err = fmt.Errorf("%w: %v", ErrInvalid, err)
			return
		}
		ops = append(ops, hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: gg})
	})
	if err != nil {
		return ShareResult{}, err
	}
	b, err := c.commit(ops)
	if err != nil {
		return ShareResult{}, err
	}
	who := r.Guest
	if r.Service != "" {
		who = "service " + r.Service
	}
	if code {
		who = "a guest doorcode"
	}
	out.Result = c.result(b, fmt.Sprintf("key %q shared by %s with %s", r.Key, strings.ToLower(r.Host), who))
	return out, nil
}

func randomDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}
