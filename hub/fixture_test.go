package hub_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// t0 is noon in Berlin on the fixture's day.
var t0 = time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)

var secret = []byte("0123456789abcdef-site-secret")

// fixture is a small site on a MemStore with an engine over it.
type fixture struct {
	t       testing.TB
	store   *hub.MemStore
	engine  *hub.Engine
	version uint64
}

func newFixture(t testing.TB, opts hub.EngineOptions) *fixture {
	f := &fixture{t: t, store: hub.NewMemStore()}
	f.engine = hub.NewEngine(f.store, opts)
	f.apply(
		hub.Op{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "Europe/Berlin", DoorcodeLength: 6, DoorcodeSecret: secret}},
		door("main", hub.DoorEntrance), door("apt1", hub.DoorResidence), door("apt2", hub.DoorResidence),
		door("gym", hub.DoorCommunal), door("trash", hub.DoorService),
		key("building", true, true, "main", "gym", "trash"),
		key("unit1", true, true, "apt1"),
		key("unit2", false, false, "apt2"),
		key("model", true, false, "apt2", "gym"),
	)
	return f
}

func (f *fixture) apply(ops ...hub.Op) {
	f.t.Helper()
	if err := f.try(ops...); err != nil {
		f.t.Fatalf("apply: %v", err)
	}
}

func (f *fixture) try(ops ...hub.Op) error {
	b := &hub.Batch{Site: "s1", Base: f.version, Version: f.version + 1, IssuedAt: t0, Ops: ops}
	if err := f.store.Apply(context.Background(), b); err != nil {
		return err
	}
	f.version++
	return nil
}

func (f *fixture) decide(doorID string, p hub.Presentation, at time.Time) hub.Decision {
	return f.engine.Decide(doorID, p, hub.Now{Time: at, Trusted: true})
}

func door(id string, typ hub.DoorType) hub.Op {
	return hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: id, Type: typ}}
}

func key(id string, codes, share bool, doors ...string) hub.Op {
	return hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: id, Name: id, Doors: doors, DoorcodesAllowed: codes, MayShareAllowed: share}}
}

func person(id string, manager bool) hub.Op {
	return hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.org", Name: id, Manager: manager}}
}

type grantOpt func(*hub.Grant)

func resident(g *hub.Grant)              { g.Resident = true }
func mayShare(g *hub.Grant)              { g.MayShare = true }
func method(m hub.AccessMethod) grantOpt { return func(g *hub.Grant) { g.Method = m } }
func starts(t time.Time) grantOpt        { return func(g *hub.Grant) { g.StartsAt = t } }
func expires(t time.Time) grantOpt       { return func(g *hub.Grant) { g.Expires = &t } }
func grant(id, personID, keyID string, opts ...grantOpt) hub.Op {
	g := &hub.Grant{ID: id, PersonID: personID, KeyID: keyID, StartsAt: t0.Add(-30 * 24 * time.Hour), Method: hub.MethodApp}
	for _, o := range opts {
		o(g)
	}
	return hub.Op{Type: hub.OpPutGrant, Grant: g}
}

func card(cardID, owner string, active bool) hub.Op {
	return hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: cardID, OwnerID: owner, Active: active}}
}

func keycard(cardID string) hub.Presentation {
	return hub.Presentation{Kind: hub.CredKeycard, CardID: cardID}
}

func doorcode(code string) hub.Presentation {
	return hub.Presentation{Kind: hub.CredDoorcode, Code: code}
}

// phone is a person's device key pair.
type phone struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newPhone(seed byte) phone {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s)
	return phone{pub: priv.Public().(ed25519.PublicKey), priv: priv}
}

func (p phone) device(id, owner string) hub.Op {
	return hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: id, OwnerID: owner, PublicKey: p.pub}}
}

func (p phone) present(doorID string) hub.Presentation {
	nonce := []byte("nonce-1234567890")
	return hub.Presentation{Kind: hub.CredMobile, PublicKey: p.pub, Nonce: nonce,
		Signature: ed25519.Sign(p.priv, hub.MobileMessage(doorID, nonce))}
}

// codeOf is a person's daily code at a door on the local date of at.
func codeOf(personID, doorID string, at time.Time, reroll uint32) string {
	loc, _ := time.LoadLocation("Europe/Berlin")
	date, _, _ := hub.LocalDay(at, loc)
	return hub.DailyDoorcode(secret, doorID, personID, date, reroll, 6)
}
