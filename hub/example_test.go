package hub_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestDemo prints the walkthrough for `make demo` (DOORHUB_DEMO=1); the
// Example below checks its output.
func TestDemo(t *testing.T) {
	if os.Getenv("DOORHUB_DEMO") == "" {
		t.Skip("set DOORHUB_DEMO=1 to print the walkthrough")
	}
	Example()
}

// Example walks through the help article's operations on a small building
// and prints what the hub decides at each door. `make demo` runs it.
func Example() {
	ctx := context.Background()
	store := hub.NewMemStore()
	engine := hub.NewEngine(store, hub.EngineOptions{})
	now := hub.Now{Time: time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC), Trusted: true}
	version := uint64(0)
	apply := func(what string, ops ...hub.Op) {
		b := &hub.Batch{Site: "elm-street", Base: version, Version: version + 1, IssuedAt: now.Time, Ops: ops}
		if err := store.Apply(ctx, b); err != nil {
			fmt.Printf("%-44s refused: %v\n", what, err)
			return
		}
		version++
		fmt.Printf("%-44s -> version %d\n", what, version)
	}
	show := func(who, doorID string, p hub.Presentation) {
		d := engine.Decide(doorID, p, now)
		verdict := "DENIED "
		if d.Allowed {
			verdict = "ALLOWED"
		}
		fmt.Printf("  %-26s at %-9s %s %-18s activity %s\n", who, doorID, verdict, d.Reason, d.Visibility)
	}
	expires := now.Time.AddDate(1, 0, 0)
	tourEnd := now.Time.Add(time.Hour)

	apply("site setup: 3 doors, 2 keys",
		hub.Op{Type: hub.OpPutSite, Site: &hub.Site{ID: "elm-street", TimeZone: "America/New_York", DoorcodeLength: 6,
			DoorcodeSecret: []byte("demo-secret-0123456789")}},
		hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "lobby", Name: "Lobby", Type: hub.DoorEntrance}},
		hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "apt-4b", Name: "Apartment 4B", Type: hub.DoorResidence}},
		hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "gym", Name: "Gym", Type: hub.DoorCommunal}},
		hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "common", Name: "Common areas", Doors: []string{"lobby", "gym"},
			DoorcodesAllowed: true, MayShareAllowed: true}},
		hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "4b", Name: "Unit 4B", Doors: []string{"apt-4b"},
			DoorcodesAllowed: true, MayShareAllowed: true}})
	apply("invite Ana (resident of 4B, may share)",
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "ana", Email: "ana@example.org", Name: "Ana"}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g1", PersonID: "ana", KeyID: "common", MayShare: true,
			StartsAt: now.Time.AddDate(0, 0, -1), Expires: &expires, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g2", PersonID: "ana", KeyID: "4b", Resident: true,
			MayShare: true, StartsAt: now.Time.AddDate(0, 0, -1), Expires: &expires, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3", OwnerID: "ana", Active: true}})
	apply("invite Sam (staff, daily doorcode)",
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "sam", Email: "sam@example.org", Name: "Sam", Manager: true}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g3", PersonID: "sam", KeyID: "common",
			StartsAt: now.Time.AddDate(0, 0, -1), Method: hub.MethodDoorcode}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g4", PersonID: "sam", KeyID: "4b",
			StartsAt: now.Time.AddDate(0, 0, -1), Method: hub.MethodDoorcode}})
	apply("Ana shares the common key with a dog walker",
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "dee", Email: "dee@example.org", Name: "Dee"}},
		hub.Op{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg1", HostID: "ana", KeyID: "common",
			GuestID: "dee", Permanent: true}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04d0d0d0", OwnerID: "dee", Active: true}})
	apply("Tour24 allowlisted; a tour booked",
		hub.Op{Type: hub.OpPutAllowlist, Allowlist: &hub.Allowlist{Integration: "tour24", Keys: []string{"common"}}},
		hub.Op{Type: hub.OpPutTour, Tour: &hub.Tour{ID: "t1", Integration: "tour24", Code: "246810",
			StartsAt: now.Time, EndsAt: tourEnd, Keys: []string{"common"}}})

	loc, _ := time.LoadLocation("America/New_York")
	date, _, _ := hub.LocalDay(now.Time, loc)
	samsCode := hub.DailyDoorcode([]byte("demo-secret-0123456789"), "apt-4b", "sam", date, 0, 6)

	show("Ana's keycard", "lobby", hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3"})
	show("Ana's keycard", "apt-4b", hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3"})
	show("Sam's daily code", "apt-4b", hub.Presentation{Kind: hub.CredDoorcode, Code: samsCode})
	show("Dee (Ana's guest)", "gym", hub.Presentation{Kind: hub.CredKeycard, CardID: "04d0d0d0"})
	show("Dee (Ana's guest)", "apt-4b", hub.Presentation{Kind: hub.CredKeycard, CardID: "04d0d0d0"})
	show("tour prospect", "lobby", hub.Presentation{Kind: hub.CredDoorcode, Code: "246810"})
	show("a stranger's card", "lobby", hub.Presentation{Kind: hub.CredKeycard, CardID: "0badcafe"})

	apply("revoke all of Ana's keys", hub.Op{Type: hub.OpRevokePerson, ID: "ana"})
	show("Ana's keycard", "lobby", hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3"})
	show("Dee (Ana's guest)", "gym", hub.Presentation{Kind: hub.CredKeycard, CardID: "04d0d0d0"})
	apply("a batch with a grant for a missing key",
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g9", PersonID: "sam", KeyID: "pool", StartsAt: now.Time, Method: hub.MethodApp}})

	fmt.Println("the hub's clock is lost (power cut, no network):")
	now.Trusted = false
	show("Sam's daily code", "apt-4b", hub.Presentation{Kind: hub.CredDoorcode, Code: samsCode})

	// Output:
	// site setup: 3 doors, 2 keys                  -> version 1
	// invite Ana (resident of 4B, may share)       -> version 2
	// invite Sam (staff, daily doorcode)           -> version 3
	// Ana shares the common key with a dog walker  -> version 4
	// Tour24 allowlisted; a tour booked            -> version 5
	//   Ana's keycard              at lobby     ALLOWED allowed_by_grant   activity visible
	//   Ana's keycard              at apt-4b    ALLOWED allowed_by_grant   activity identity_removed
	//   Sam's daily code           at apt-4b    ALLOWED allowed_by_grant   activity visible
	//   Dee (Ana's guest)          at gym       ALLOWED allowed_as_guest   activity visible
	//   Dee (Ana's guest)          at apt-4b    DENIED  no_key_for_door    activity visible
	//   tour prospect              at lobby     ALLOWED allowed_tour       activity visible
	//   a stranger's card          at lobby     DENIED  unknown_credential activity visible
	// revoke all of Ana's keys                     -> version 6
	//   Ana's keycard              at lobby     DENIED  no_key_for_door    activity visible
	//   Dee (Ana's guest)          at gym       DENIED  no_key_for_door    activity visible
	// a batch with a grant for a missing key       refused: ops[0] (put_grant): grant.key_id: not found: key "pool"
	// the hub's clock is lost (power cut, no network):
	//   Sam's daily code           at apt-4b    DENIED  clock_untrusted    activity visible
}
