package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestCatalogGettersReturnCopies changes every record a getter hands out
// and checks that the catalog, and the decisions made from it, did not
// change.
func TestCatalogGettersReturnCopies(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	ph := newPhone(7)
	f.apply(person("ann", false), grant("g-ann", "ann", "unit1", resident, expires(t0.Add(time.Hour))),
		card("a1b2c3d4", "ann", true), ph.device("dev-ann", "ann"),
		hub.Op{Type: hub.OpPutAllowlist, Allowlist: &hub.Allowlist{Integration: "tours", Keys: []string{"building"}}},
		hub.Op{Type: hub.OpPutTour, Tour: &hub.Tour{ID: "t1", Integration: "tours", Code: "123456",
			StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), Keys: []string{"building"}}},
		hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg1", HostID: "ann", KeyID: "unit1",
			Service: "cleaner", StartsAt: t0.Add(-time.Hour), Expires: ptr(t0.Add(time.Hour))}})
	before := lines(t, f.store)
	allowed := f.decide("apt1", keycard("a1b2c3d4"), t0)
	if !allowed.Allowed {
		t.Fatalf("fixture: %+v", allowed)
	}
	later := t0.Add(-24 * time.Hour)
	f.store.View(func(c *hub.Catalog) {
		c.Site().DoorcodeSecret[0] ^= 0xff
		c.Site().ID = "other"
		c.Door("apt1").Type = hub.DoorService
		c.Doors()[0].Name = "renamed"
		c.Key("unit1").Doors[0] = "main"
		c.Key("unit1").DoorcodesAllowed = false
		c.Person("ann").Email = "bob@example.org"
		c.PersonByEmail("ann@example.org").Manager = true
		g := c.Grant("g-ann")
		*g.Expires = later
		g.KeyID = "building"
		c.GrantsOf("ann")[0].Resident = false
		*c.GrantsOf("ann")[0].Expires = later
		c.Keycard("a1b2c3d4").Active = false
		c.KeycardsOf("ann")[0].OwnerID = "nobody"
		c.Device("dev-ann").PublicKey[0] ^= 0xff
		c.DeviceByPublicKey(ph.pub).OwnerID = "nobody"
		c.Tour("t1").Keys[0] = "unit2"
		c.ToursByCode("123456")[0].Code = "654321"
		c.Allowlist("tours").Keys[0] = "unit2"
		*c.GuestGrant("gg1").Expires = later
		*c.GuestGrantsHostedBy("ann")[0].Expires = later
		_ = c.Records(func(op hub.Op) error {
			switch {
			case op.Person != nil:
				op.Person.Name = "changed"
			case op.Grant != nil:
				*op.Grant.Expires = later
			case op.Key != nil:
				op.Key.Doors[0] = "gym"
			case op.Device != nil:
				op.Device.PublicKey[1] ^= 0xff
			case op.Site != nil:
				op.Site.DoorcodeSecret[1] ^= 0xff
			}
			return nil
		})
	})
	if after := lines(t, f.store); after != before {
		t.Fatalf("the catalog changed through its getters:\nbefore %s\nafter  %s", before, after)
	}
	if d := f.decide("apt1", keycard("a1b2c3d4"), t0); !sameDecision(d, allowed) {
		t.Fatalf("decision changed: %+v, was %+v", d, allowed)
	}
	if d := f.decide("apt1", ph.present("apt1"), t0); !d.Allowed {
		t.Fatalf("the phone no longer opens: %+v", d)
	}
}

func ptr(t time.Time) *time.Time { return &t }

func sameDecision(a, b hub.Decision) bool {
	return a.Allowed == b.Allowed && a.Reason == b.Reason && a.GrantID == b.GrantID && a.Visibility == b.Visibility
}

func lines(t *testing.T, st hub.Store) string {
	t.Helper()
	var out string
	st.View(func(c *hub.Catalog) {
		_ = c.Records(func(op hub.Op) error {
			b, err := json.Marshal(op)
			if err != nil {
				t.Fatal(err)
			}
			out += string(b) + "\n"
			return nil
		})
	})
	return out
}
