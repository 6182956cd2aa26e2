// Package radiotest holds what the radio's tests share: a small site to
// decide against, and the hub side of the radio over any port.
package radiotest

import (
	"crypto/ed25519"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// The site's doors and credentials.
const (
	SiteID       = "radio-test"
	Lobby        = "lobby" // entrance: Ana's key opens it
	Apartment    = "apt-1" // residence: nobody's key opens it
	Card         = "04a1b2c3"
	InactiveCard = "04dead00"
	UnknownCard  = "04ffffff"
)

// CardBytes returns a card id as the lock reads it.
func CardBytes(hexID string) []byte {
	b := make([]byte, len(hexID)/2)
	for i := range b {
		b[i] = unhex(hexID[2*i])<<4 | unhex(hexID[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// Batch is version 1 of the site: two doors, Ana with an active card and
// phone (the given public key; none if nil) on a key of the lobby, Bob
// with an inactive card.
func Batch(now time.Time, phone ed25519.PublicKey) *hub.Batch {
	start := now.Add(-24 * time.Hour)
	ops := []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: SiteID, TimeZone: "UTC", DoorcodeLength: 6,
			DoorcodeSecret: []byte("radio-test-secret-0123")}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: Lobby, Name: "Lobby", Type: hub.DoorEntrance}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: Apartment, Name: "Apartment 1", Type: hub.DoorResidence}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "common", Name: "Common", Doors: []string{Lobby}}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "ana", Email: "ana@example.org", Name: "Ana"}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g1", PersonID: "ana", KeyID: "common", StartsAt: start,
			Method: hub.MethodApp}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: Card, OwnerID: "ana", Active: true}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "bob", Email: "bob@example.org", Name: "Bob"}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g2", PersonID: "bob", KeyID: "common", StartsAt: start,
			Method: hub.MethodApp}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: InactiveCard, OwnerID: "bob", Active: false}},
	}
	if phone != nil {
		ops = append(ops, hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: "ana-phone", OwnerID: "ana", PublicKey: phone}})
	}
	return &hub.Batch{Site: SiteID, Base: 0, Version: 1, IssuedAt: now, Ops: ops}
}
