package hub_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// TestValidateNamesTheField: every bad value is refused with an error that
// wraps ErrInvalid and names the field; secrets are never echoed.
func TestValidateNamesTheField(t *testing.T) {
	later := t0.Add(time.Hour)
	earlier := t0.Add(-time.Hour)
	cases := []struct {
		name  string
		v     interface{ Validate() error }
		field string
	}{
		{"site without id", &hub.Site{TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: secret}, "site.id"},
		{"site with unknown zone", &hub.Site{ID: "s", TimeZone: "Mars/Olympus", DoorcodeLength: 7, DoorcodeSecret: secret}, "site.timezone"},
		{"site code length 4", &hub.Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 4, DoorcodeSecret: secret}, "site.doorcode_length"},
		{"site code length 8", &hub.Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 8, DoorcodeSecret: secret}, "site.doorcode_length"},
		{"site short secret", &hub.Site{ID: "s", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("short")}, "site.doorcode_secret"},
		{"door type", &hub.Door{ID: "d", Name: "d", Type: "garage"}, "door.type"},
		{"door id with a slash", &hub.Door{ID: "a/b", Name: "d", Type: hub.DoorEntrance}, "door.id"},
		{"door negative capacity", &hub.Door{ID: "d", Name: "d", Type: hub.DoorEntrance, LockCapacity: -1}, "door.lock_capacity"},
		{"key door twice", &hub.Key{ID: "k", Name: "k", Doors: []string{"a", "a"}}, "key.doors[1]"},
		{"person email", &hub.Person{ID: "p", Email: "not-an-email"}, "person.email"},
		{"grant method", &hub.Grant{ID: "g", PersonID: "p", KeyID: "k", StartsAt: t0, Method: "fax"}, "grant.method"},
		{"grant expiry before start", &hub.Grant{ID: "g", PersonID: "p", KeyID: "k", StartsAt: t0, Expires: &earlier, Method: hub.MethodApp}, "grant.expires_at"},
		{"grant without start", &hub.Grant{ID: "g", PersonID: "p", KeyID: "k", Method: hub.MethodApp}, "grant.starts_at"},
		{"guest grant with guest and service", &hub.GuestGrant{ID: "g", HostID: "h", KeyID: "k", GuestID: "x", Service: "dog walker", Permanent: true}, "guest_grant.service"},
		{"guest grant to self", &hub.GuestGrant{ID: "g", HostID: "h", KeyID: "k", GuestID: "h", Permanent: true}, "guest_grant.guest_id"},
		{"windowed guest grant without expiry", &hub.GuestGrant{ID: "g", HostID: "h", KeyID: "k", Service: "cleaner", StartsAt: t0}, "guest_grant.expires_at"},
		{"permanent guest grant with a window", &hub.GuestGrant{ID: "g", HostID: "h", KeyID: "k", Service: "cleaner", Permanent: true, Expires: &later}, "guest_grant.permanent"},
		{"keycard uppercase", &hub.Keycard{CardID: "AABBCCDD", OwnerID: "p"}, "keycard.card_id"},
		{"keycard too short", &hub.Keycard{CardID: "aabb", OwnerID: "p"}, "keycard.card_id"},
		{"device key size", &hub.Device{ID: "d", OwnerID: "p", PublicKey: []byte{1, 2}}, "device.public_key"},
		{"guest code letters", &hub.GuestCode{ID: "c", HostID: "h", KeyID: "k", Kind: hub.CodeSingleDay, Code: "12a456", Date: "2026-11-27"}, "guest_code.code"},
		{"guest code date", &hub.GuestCode{ID: "c", HostID: "h", KeyID: "k", Kind: hub.CodeSingleDay, Code: "123456", Date: "27.11.2026"}, "guest_code.date"},
		{"fifteen-minute without window", &hub.GuestCode{ID: "c", HostID: "h", KeyID: "k", Kind: hub.CodeFifteenMinute, Code: "123456"}, "guest_code.expires_at"},
		{"tour end before start", &hub.Tour{ID: "t", Integration: "tour24", Code: "123456", StartsAt: t0, EndsAt: earlier, Keys: []string{"k"}}, "tour.ends_at"},
		{"tour without keys", &hub.Tour{ID: "t", Integration: "tour24", Code: "123456", StartsAt: t0, EndsAt: later}, "tour.keys"},
		{"op with two records", &hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: "d", Name: "d", Type: hub.DoorEntrance}, Key: &hub.Key{ID: "k", Name: "k"}}, "op"},
		{"unknown op", &hub.Op{Type: "drop_table", ID: "x"}, "op"},
		{"delete without id", &hub.Op{Type: hub.OpDeleteGrant}, "id"},
		{"batch version not after base", &hub.Batch{Site: "s1", Base: 3, Version: 3, Ops: []hub.Op{{Type: hub.OpDeleteGrant, ID: "g"}}}, "batch.version"},
		{"batch without ops", &hub.Batch{Site: "s1", Base: 0, Version: 1}, "batch.ops"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.v.Validate()
			if !errors.Is(err, hub.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("err %q does not name %s", err, c.field)
			}
			for _, s := range []string{"AABBCCDD", "12a456", string(secret)} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("err %q shows a secret", err)
				}
			}
		})
	}
}

// TestBadBatchChangesNothing: a batch with one bad op among good ones is
// refused whole, with the op's index in the error.
func TestBadBatchChangesNothing(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	f.apply(person("alice", false), grant("g1", "alice", "building"), card("aa000001", "alice", true))
	before := dump(t, f.store)
	cases := []struct {
		name string
		ops  []hub.Op
		want error
		text string
	}{
		{"grant for an unknown key", []hub.Op{person("bob", false), grant("g2", "bob", "nokey")}, hub.ErrNotFound, "ops[1]"},
		{"duplicate email differing in case", []hub.Op{{Type: hub.OpPutPerson, Person: &hub.Person{ID: "al2", Email: "ALICE@example.org"}}}, hub.ErrConflict, "person.email"},
		{"delete a missing grant", []hub.Op{{Type: hub.OpRevokePerson, ID: "alice"}, {Type: hub.OpDeleteGrant, ID: "nope"}}, hub.ErrNotFound, "ops[1]"},
		{"tour code of the wrong length", []hub.Op{tour("t", "x", "1234567", t0, t0.Add(time.Hour), "model")}, hub.ErrInvalid, "tour.code"},
		{"key with an unknown door", []hub.Op{key("k2", true, true, "main", "roof")}, hub.ErrNotFound, "key.doors[1]"},
		{"keycard of nobody", []hub.Op{card("ab000009", "ghost", true)}, hub.ErrNotFound, "keycard.owner_id"},
		{"site of another id", []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s2", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}}}, hub.ErrWrongSite, "s2"},
		{"invalid record after valid deletes", []hub.Op{{Type: hub.OpDeletePerson, ID: "alice"}, {Type: hub.OpPutDoor, Door: &hub.Door{ID: "x", Type: "hatch", Name: "x"}}}, hub.ErrInvalid, "door.type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := f.try(c.ops...)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("err = %v, want %v naming %q", err, c.want, c.text)
			}
			if got := dump(t, f.store); got != before {
				t.Fatalf("the set changed:\n%s\nwant\n%s", got, before)
			}
			if d := f.decide("main", keycard("aa000001"), t0); d.Reason != hub.AllowedByGrant {
				t.Fatalf("decision changed: %s", d.Reason)
			}
		})
	}
}

func TestBatchVersions(t *testing.T) {
	f := newFixture(t, hub.EngineOptions{})
	v := f.store.Version()
	op := []hub.Op{person("zed", false)}
	stale := &hub.Batch{Site: "s1", Base: v - 1, Version: v, Ops: op}
	if err := f.store.Apply(t.Context(), stale); !errors.Is(err, hub.ErrStaleBatch) {
		t.Fatalf("duplicate: %v", err)
	}
	gap := &hub.Batch{Site: "s1", Base: v + 1, Version: v + 2, Ops: op}
	if err := f.store.Apply(t.Context(), gap); !errors.Is(err, hub.ErrVersionGap) {
		t.Fatalf("gap: %v", err)
	}
	other := &hub.Batch{Site: "s9", Base: v, Version: v + 1, Ops: op}
	if err := f.store.Apply(t.Context(), other); !errors.Is(err, hub.ErrWrongSite) {
		t.Fatalf("other site: %v", err)
	}
	if f.store.Version() != v {
		t.Fatalf("version moved to %d", f.store.Version())
	}
}

func dump(t *testing.T, s hub.Store) string {
	t.Helper()
	var b strings.Builder
	s.View(func(c *hub.Catalog) {
		_ = c.Records(func(o hub.Op) error {
			b.WriteString(opString(o))
			b.WriteByte('\n')
			return nil
		})
	})
	return b.String()
}

func opString(o hub.Op) string {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	return string(b)
}
