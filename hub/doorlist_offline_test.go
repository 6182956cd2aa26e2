package hub_test

import (
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestDoorListOfflineMode: an as-is door's list carries the setting (so
// its digest, and pending, cover it); a secure door's list is its
// credentials alone; the setting is no credential and takes no capacity.
func TestDoorListOfflineMode(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("ann", false), grant("g1", "ann", "unit1"), card("c0c0c0c0", "ann", true))
	var secure *hub.DoorList
	f.store.View(func(c *hub.Catalog) { secure, _ = hub.DoorListOf(c, "apt1", t0) })
	if hub.ListOfflineMode(secure.Entries) != hub.OfflineSecure || len(secure.Entries) != 1 {
		t.Fatalf("secure door: %+v", secure.Entries)
	}
	now := t0
	dl := hub.NewDoorLists(f.store, func() time.Time { return now })
	_, data, _ := dl.DoorList("apt1")
	ack(dl, "apt1", data, now)

	// apt1 becomes as-is, with a capacity of one credential.
	f.apply(hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "apt1", Name: "apt1", Type: hub.DoorResidence, Offline: hub.OfflineAsIs, LockCapacity: 1}})
	var asIs *hub.DoorList
	f.store.View(func(c *hub.Catalog) { asIs, _ = hub.DoorListOf(c, "apt1", t0) })
	if hub.ListOfflineMode(asIs.Entries) != hub.OfflineAsIs || hub.ListCredentials(asIs.Entries) != 1 || asIs.Overflow.Total() != 0 {
		t.Fatalf("as-is door: %+v, overflow %+v", asIs.Entries, asIs.Overflow)
	}
	if asIs.Digest == secure.Digest {
		t.Fatal("the setting is not in the digest")
	}
	decoded, err := hub.DecodeList(asIs.Encode())
	if err != nil || hub.ListOfflineMode(decoded) != hub.OfflineAsIs || len(decoded) != 2 {
		t.Fatalf("decoded %+v, %v", decoded, err)
	}
	if r := hub.LockDecide(decoded, "apt1", hub.Presentation{Kind: hub.CredKeycard, CardID: "c0c0c0c0"}, t0.Unix()+1); r != hub.AllowedByGrant {
		t.Fatalf("the card at the as-is lock: %s", r)
	}
	// Only the setting changed: the door is behind until the lock has it.
	for _, p := range dl.Pending() {
		if p.Door == "apt1" && p.Current {
			t.Fatalf("the setting is applied before the lock acknowledged it: %+v", p)
		}
	}
	_, data, _ = dl.DoorList("apt1")
	ack(dl, "apt1", data, now)
	for _, p := range dl.Pending() {
		if p.Door == "apt1" && !p.Current {
			t.Fatalf("after the ack: %+v", p)
		}
	}
	if err := (&hub.Door{ID: "x", Name: "x", Type: hub.DoorService, Offline: "open"}).Validate(); err == nil {
		t.Fatal("an offline mode that does not exist")
	}
	for _, bad := range [][]byte{
		{0x10, 1, 1, 0, 0}, // a setting of one byte
		{0x10, 2, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // with a window
	} {
		if _, err := hub.DecodeList(bad); err == nil {
			t.Errorf("% x decoded", bad)
		}
	}
}
