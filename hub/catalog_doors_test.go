package hub

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"
)

// TestDoorChangedSince: each kind of change reports the doors whose lists
// it may change and no other, and a door it does not report keeps its
// list. The site: kA opens d1 and d2, kB d3, kC (shareable) d4, d5 has no
// key. p1 holds kA, p2 holds kB and kC (may share) and shares kC with p3;
// d1's lock holds one credential, so a manager flag decides what it keeps.
func TestDoorChangedSince(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(time.Hour)
	doors := []string{"d1", "d2", "d3", "d4", "d5"}
	pub := func(b byte) ed25519.PublicKey {
		return ed25519.NewKeyFromSeed(append(make([]byte, 31), b)).Public().(ed25519.PublicKey)
	}
	base := []Op{
		{Type: OpPutSite, Site: &Site{ID: "s", Name: "S", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d1", Name: "D1", Type: DoorEntrance, LockCapacity: 1}},
		{Type: OpPutDoor, Door: &Door{ID: "d2", Name: "D2", Type: DoorEntrance}},
		{Type: OpPutDoor, Door: &Door{ID: "d3", Name: "D3", Type: DoorService}},
		{Type: OpPutDoor, Door: &Door{ID: "d4", Name: "D4", Type: DoorCommunal}},
		{Type: OpPutDoor, Door: &Door{ID: "d5", Name: "D5", Type: DoorCommunal}},
		{Type: OpPutKey, Key: &Key{ID: "kA", Name: "A", Doors: []string{"d1", "d2"}, DoorcodesAllowed: true}},
		{Type: OpPutKey, Key: &Key{ID: "kB", Name: "B", Doors: []string{"d3"}}},
		{Type: OpPutKey, Key: &Key{ID: "kC", Name: "C", Doors: []string{"d4"}, MayShareAllowed: true}},
		{Type: OpPutPerson, Person: &Person{ID: "p1", Email: "p1@example.com"}},
		{Type: OpPutPerson, Person: &Person{ID: "p2", Email: "p2@example.com"}},
		{Type: OpPutPerson, Person: &Person{ID: "p3", Email: "p3@example.com"}},
		{Type: OpPutPerson, Person: &Person{ID: "p4", Email: "p4@example.com"}},
		{Type: OpPutGrant, Grant: &Grant{ID: "g1", PersonID: "p1", KeyID: "kA", StartsAt: start, Method: MethodApp}},
		{Type: OpPutGrant, Grant: &Grant{ID: "g2", PersonID: "p2", KeyID: "kB", StartsAt: start, Method: MethodApp}},
		{Type: OpPutGrant, Grant: &Grant{ID: "g3", PersonID: "p2", KeyID: "kC", StartsAt: start, Method: MethodApp, MayShare: true}},
		{Type: OpPutGrant, Grant: &Grant{ID: "g4", PersonID: "p4", KeyID: "kA", StartsAt: start, Method: MethodApp}},
		{Type: OpPutGuestGrant, GuestGrant: &GuestGrant{ID: "gg1", HostID: "p2", KeyID: "kC", GuestID: "p3", Permanent: true}},
		{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a01", OwnerID: "p1", Active: true}},
		{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a02", OwnerID: "p2", Active: true}},
		{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a03", OwnerID: "p3", Active: true}},
		{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a04", OwnerID: "p4", Active: true}},
		{Type: OpPutDevice, Device: &Device{ID: "dev2", OwnerID: "p2", PublicKey: pub(2)}},
		{Type: OpPutAllowlist, Allowlist: &Allowlist{Integration: "tours", Keys: []string{"kC"}}},
	}
	for _, tc := range []struct {
		name string
		ops  []Op
		want []string
	}{
		{"site", []Op{{Type: OpPutSite, Site: &Site{ID: "s", Name: "S2", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}}}, doors},
		{"door", []Op{{Type: OpPutDoor, Door: &Door{ID: "d3", Name: "D3", Type: DoorService, Offline: OfflineAsIs}}}, []string{"d3"}},
		{"key's doors", []Op{{Type: OpPutKey, Key: &Key{ID: "kB", Name: "B", Doors: []string{"d5"}}}}, []string{"d3", "d5"}},
		{"new grant", []Op{{Type: OpPutGrant, Grant: &Grant{ID: "g9", PersonID: "p1", KeyID: "kB", StartsAt: start, Method: MethodApp}}}, []string{"d3"}},
		{"grant to another key", []Op{{Type: OpPutGrant, Grant: &Grant{ID: "g1", PersonID: "p1", KeyID: "kB", StartsAt: start, Method: MethodApp}}}, []string{"d1", "d2", "d3"}},
		{"delete grant", []Op{{Type: OpDeleteGrant, ID: "g2"}}, []string{"d3"}},
		{"host's grant", []Op{{Type: OpPutGrant, Grant: &Grant{ID: "g3", PersonID: "p2", KeyID: "kC", StartsAt: start, Method: MethodApp}}}, []string{"d4"}},
		{"guest grant", []Op{{Type: OpDeleteGuestGrant, ID: "gg1"}}, []string{"d4"}},
		{"manager flag", []Op{{Type: OpPutPerson, Person: &Person{ID: "p4", Email: "p4@example.com", Manager: true}}}, []string{"d1", "d2"}},
		{"keycard", []Op{{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a01", OwnerID: "p1", Active: false}}}, []string{"d1", "d2"}},
		{"keycard to another owner", []Op{{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a01", OwnerID: "p2", Active: true}}}, []string{"d1", "d2", "d3", "d4"}},
		{"guest's keycard", []Op{{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0a0a0a09", OwnerID: "p3", Active: true}}}, []string{"d4"}},
		{"phone", []Op{{Type: OpDeleteDevice, ID: "dev2"}}, []string{"d3", "d4"}},
		{"guest code", []Op{{Type: OpPutGuestCode, GuestCode: &GuestCode{ID: "c1", HostID: "p1", KeyID: "kA", Kind: CodeSingleDay, Code: "1234567", Date: "2025-01-01"}}}, nil},
		{"tour", []Op{{Type: OpPutTour, Tour: &Tour{ID: "t1", Integration: "tours", Code: "7654321", StartsAt: start, EndsAt: start.Add(time.Hour), Keys: []string{"kC"}}}}, nil},
		{"revoke", []Op{{Type: OpRevokePerson, ID: "p2"}}, []string{"d3", "d4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCatalog()
			if _, err := c.Apply("s", base); err != nil {
				t.Fatal(err)
			}
			before := map[string][32]byte{}
			for _, d := range doors {
				l, err := DoorListOf(c, d, now)
				if err != nil {
					t.Fatal(err)
				}
				before[d] = l.Digest
			}
			gen := c.Generation()
			if _, err := c.Apply("s", tc.ops); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range doors {
				if c.doorChangedSince(gen, c.doors[d].h) {
					got = append(got, d)
					continue
				}
				if l, _ := DoorListOf(c, d, now); l.Digest != before[d] {
					t.Errorf("door %s: its list changed, but the batch is not logged as touching it", d)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("touched %v, want %v", got, tc.want)
			}
			// A failed batch changes nothing and logs nothing.
			if _, err := c.Apply("s", []Op{{Type: OpPutKeycard, Keycard: &Keycard{CardID: "0b", OwnerID: "p1"}}}); err == nil {
				t.Fatal("a bad keycard was accepted")
			}
			if g := c.Generation(); g != gen+1 {
				t.Errorf("generation %d after a failed batch, want %d", g, gen+1)
			}
		})
	}
}

// TestDoorChangedSinceLog: a generation the log no longer reaches, one
// ahead of the catalog, and a load all count as changed.
func TestDoorChangedSinceLog(t *testing.T) {
	c := NewCatalog()
	if err := c.Load("s", []Op{
		{Type: OpPutSite, Site: &Site{ID: "s", Name: "S", TimeZone: "UTC", DoorcodeLength: 7, DoorcodeSecret: []byte("0123456789abcdef")}},
		{Type: OpPutDoor, Door: &Door{ID: "d1", Name: "D1", Type: DoorEntrance}},
		{Type: OpPutDoor, Door: &Door{ID: "d2", Name: "D2", Type: DoorEntrance}},
	}); err != nil {
		t.Fatal(err)
	}
	h := c.doors["d1"].h
	if !c.doorChangedSince(0, h) {
		t.Error("the load is not logged as touching every door")
	}
	gen := c.Generation()
	for range codeLogLength {
		if _, err := c.Apply("s", []Op{{Type: OpPutDoor, Door: &Door{ID: "d2", Name: "D2", Type: DoorEntrance}}}); err != nil {
			t.Fatal(err)
		}
	}
	if c.doorChangedSince(gen, h) {
		t.Errorf("%d batches that touched d2 only count as touching d1", codeLogLength)
	}
	if _, err := c.Apply("s", []Op{{Type: OpPutDoor, Door: &Door{ID: "d2", Name: "D2", Type: DoorEntrance}}}); err != nil {
		t.Fatal(err)
	}
	if !c.doorChangedSince(gen, h) {
		t.Error("a generation the log no longer reaches counts as unchanged")
	}
	if !c.doorChangedSince(c.Generation()+1, h) {
		t.Error("a generation ahead of the catalog counts as unchanged")
	}
	if c.doorChangedSince(c.Generation(), h) {
		t.Error("the current generation counts as changed")
	}
}
