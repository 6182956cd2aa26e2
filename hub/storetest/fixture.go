package storetest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// SiteID is the site of every fixture.
const SiteID = "site-1"

// T0 is the fixture's reference instant: grants start before it.
var T0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return T0.Add(d) }

func ptr(t time.Time) *time.Time { return &t }

// PublicKey returns a deterministic Ed25519 public key for a name.
func PublicKey(name string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte("storetest device " + name))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

// Site returns the fixture site.
func Site() *hub.Site {
	return &hub.Site{ID: SiteID, Name: "Elm Street 1", TimeZone: "Europe/Berlin",
		DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef0123")}
}

// RichOps returns puts, in dependency order, of a small site using every
// record kind, with the relations the cascades of docs/access-rules.md
// follow:
//
//   - doors d-entrance (entrance), d-gym (communal), d-101, d-102 (residence);
//   - keys k-building {d-entrance, d-gym}, k-101 {d-entrance, d-101},
//     k-102 {d-102};
//   - people p-alice, p-bob, p-carol, p-dave (manager);
//   - alice holds k-101 (resident, may share) and k-building (doorcode,
//     may share); bob holds k-102; carol holds k-building until T0+30d;
//   - alice shares k-101 with bob (permanent) and k-building with a dog
//     walker; bob shares k-102 with alice;
//   - keycards of alice, bob, carol (inactive); phones of alice and bob;
//   - guest codes of alice (k-building single day, k-101 fifteen minutes)
//     and of bob (k-102);
//   - tours t-1 {k-building}, t-2 {k-building, k-101}; the integration
//     "tourco" is allowlisted for k-building and k-101.
func RichOps() []hub.Op {
	return []hub.Op{
		{Type: hub.OpPutSite, Site: Site()},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-entrance", Name: "Main entrance", Type: hub.DoorEntrance}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-gym", Name: "Gym", Type: hub.DoorCommunal}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-101", Name: "Apartment 101", Type: hub.DoorResidence, LockCapacity: 50}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d-102", Name: "Apartment 102", Type: hub.DoorResidence}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-building", Name: "Building", Doors: []string{"d-entrance", "d-gym"},
			DoorcodesAllowed: true, MayShareAllowed: true}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-101", Name: "Apartment 101", Doors: []string{"d-entrance", "d-101"},
			DoorcodesAllowed: true, MayShareAllowed: true}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "k-102", Name: "Apartment 102", Doors: []string{"d-102"}}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-alice", Email: "alice@example.com", Name: "Alice"}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-bob", Email: "Bob@Example.com", Name: "Bob", Reroll: 2}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-carol", Email: "carol@example.com"}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-dave", Email: "dave@example.com", Manager: true}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-alice-101", PersonID: "p-alice", KeyID: "k-101",
			Resident: true, MayShare: true, StartsAt: at(-24 * time.Hour), Method: hub.MethodApp}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-alice-building", PersonID: "p-alice", KeyID: "k-building",
			MayShare: true, StartsAt: at(-24 * time.Hour), Method: hub.MethodDoorcode}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-bob-102", PersonID: "p-bob", KeyID: "k-102",
			Resident: true, StartsAt: at(-48 * time.Hour), Method: hub.MethodApp}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-carol-building", PersonID: "p-carol", KeyID: "k-building",
			StartsAt: at(-time.Hour), Expires: ptr(at(30 * 24 * time.Hour)), Method: hub.MethodApp}},
		{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg-bob-at-alice", HostID: "p-alice",
			KeyID: "k-101", GuestID: "p-bob", Permanent: true}},
		{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg-walker", HostID: "p-alice",
			KeyID: "k-building", Service: "Dog walker", StartsAt: at(-time.Hour), Expires: ptr(at(7 * 24 * time.Hour))}},
		{Type: hub.OpPutGuestGrant, GuestGrant: &hub.GuestGrant{ID: "gg-alice-at-bob", HostID: "p-bob",
			KeyID: "k-102", GuestID: "p-alice", Permanent: true}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "a1a1a1a1", OwnerID: "p-alice", Active: true}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "b0b0b0b0b0b0", OwnerID: "p-bob", Active: true}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "c0c0c0c0", OwnerID: "p-carol"}},
		{Type: hub.OpPutDevice, Device: &hub.Device{ID: "dev-alice", OwnerID: "p-alice", PublicKey: PublicKey("alice")}},
		{Type: hub.OpPutDevice, Device: &hub.Device{ID: "dev-bob", OwnerID: "p-bob", PublicKey: PublicKey("bob")}},
		{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-alice-day", HostID: "p-alice", KeyID: "k-building",
			Kind: hub.CodeSingleDay, Code: "1234567", Date: "2025-03-01"}},
		{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-alice-15", HostID: "p-alice", KeyID: "k-101",
			Kind: hub.CodeFifteenMinute, Code: "7654321", StartsAt: at(-time.Hour), Expires: ptr(at(48 * time.Hour))}},
		{Type: hub.OpPutGuestCode, GuestCode: &hub.GuestCode{ID: "gc-bob-15", HostID: "p-bob", KeyID: "k-102",
			Kind: hub.CodeFifteenMinute, Code: "1111111", StartsAt: at(-time.Hour), Expires: ptr(at(48 * time.Hour))}},
		{Type: hub.OpPutTour, Tour: &hub.Tour{ID: "t-1", Integration: "tourco", Code: "5550001",
			StartsAt: at(time.Hour), EndsAt: at(2 * time.Hour), Keys: []string{"k-building"}}},
		{Type: hub.OpPutTour, Tour: &hub.Tour{ID: "t-2", Integration: "tourco", Code: "5550002",
			StartsAt: at(time.Hour), EndsAt: at(2 * time.Hour), Keys: []string{"k-building", "k-101"}}},
		{Type: hub.OpPutAllowlist, Allowlist: &hub.Allowlist{Integration: "tourco", Keys: []string{"k-building", "k-101"}}},
	}
}

// RichOp returns the put of one record of RichOps, named "kind/id" (for
// keycards the card id, for allowlists the integration).
func RichOp(name string) hub.Op {
	for _, op := range RichOps() {
		if opKey(op) == name {
			return op
		}
	}
	panic("storetest: no record " + name + " in RichOps")
}

// Batch returns a batch of the fixture site from base to base+1.
func Batch(base uint64, ops ...hub.Op) *hub.Batch {
	return &hub.Batch{Site: SiteID, Version: base + 1, Base: base, IssuedAt: T0, Ops: ops}
}
