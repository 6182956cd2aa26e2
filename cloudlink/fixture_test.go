package cloudlink_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// The fixed key of the examples and the test vector: the seed is the bytes
// 0x00 to 0x1f.
var (
	testSeed = func() []byte {
		b := make([]byte, ed25519.SeedSize)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
	testKey    = ed25519.NewKeyFromSeed(testSeed)
	testPublic = testKey.Public().(ed25519.PublicKey)
	// otherKey is a key the hub does not pin.
	otherKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
)

const (
	testHub    = "hub-0001"
	otherHub   = "hub-0002"
	testStream = "Zk3pW8qLrT2vNa6cXe1bHg"
	testSess   = "Cq9dR2mVt6yLw0Ks4Jp8Ua"
)

// t0 is when the examples happen.
var t0 = time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func trustedAt(t time.Time) hub.Now   { return hub.Now{Time: t, Trusted: true} }
func untrustedAt(t time.Time) hub.Now { return hub.Now{Time: t} }

// example is one message of the protocol document.
type example struct {
	name string
	// A downlink example: body and fixed options.
	down *cloudlink.SealOptions
	body cloudlink.Body
	// An uplink example.
	up *cloudlink.Uplink
}

// exampleSnapshot is the small snapshot of the snapshot chunk example.
func exampleSnapshot() *hub.Snapshot {
	return &hub.Snapshot{Site: "s1", Version: 40, Ops: []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", Name: "Linden Court", TimeZone: "Europe/Berlin",
			DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef-site-secret")}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "front", Name: "Front door", Type: hub.DoorEntrance}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "apt-3b", Name: "Apartment 3B", Type: hub.DoorResidence}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "building", Name: "Building", Doors: []string{"front"},
			DoorcodesAllowed: true, MayShareAllowed: true}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "unit-3b", Name: "Unit 3B", Doors: []string{"apt-3b"}}},
	}}
}

func mustChunk(tb testing.TB) *cloudlink.SnapshotChunk {
	tb.Helper()
	chunks, err := cloudlink.SplitSnapshot(exampleSnapshot(), "snap-40-a", 0)
	if err != nil || len(chunks) != 1 {
		tb.Fatalf("SplitSnapshot: %d chunks, %v", len(chunks), err)
	}
	return &chunks[0]
}

// examples lists one message of every type, in the document's order.
func examples(tb testing.TB) []example {
	expires := time.Date(2027, 8, 31, 22, 0, 0, 0, time.UTC)
	seal := func(id string, issued time.Time, life time.Duration) *cloudlink.SealOptions {
		return &cloudlink.SealOptions{ID: id, IssuedAt: issued, ExpiresAt: issued.Add(life)}
	}
	up := func(seq uint64, at time.Time, b cloudlink.Body) *cloudlink.Uplink {
		return &cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: seq, SentAt: at, Body: b}
	}
	lastSeen := t0.Add(-90 * time.Second)
	return []example{
		{name: "batch", down: seal("q7Xb0vJ2mZk1YdE4sT9wRg", t0, 7*24*time.Hour), body: &cloudlink.Batch{Batch: hub.Batch{
			Site: "s1", Version: 42, Base: 41, IssuedAt: t0.Add(-2 * time.Second),
			Ops: []hub.Op{
				{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-anna", Email: "anna@example.org", Name: "Anna Berg"}},
				{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna-3b", PersonID: "p-anna", KeyID: "unit-3b",
					Resident: true, StartsAt: t0, Expires: &expires, Method: hub.MethodApp}},
				{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3d4e5f6", OwnerID: "p-anna", Active: true}},
				{Type: hub.OpDeleteGuestGrant, ID: "gg-old-walker"},
			},
		}}},
		{name: "snapshot_chunk", down: seal("Hn4kQ1xV8cBz2WmP6tYe0A", t0, 24*time.Hour), body: mustChunk(tb)},
		{name: "resync", down: seal("Lp2sD9fG4hJ7kZ1xC5vB8n", t0, 10*time.Minute),
			body: &cloudlink.Resync{Reason: "console: hub page opened"}},
		{name: "unlock", down: seal("Tz8yU3iO6pA1sD4fG7hJ0k", t0, time.Minute),
			body: &cloudlink.Unlock{Door: "front", By: "p-maria", HoldSeconds: 5}},
		{name: "time", down: seal("Vb5nM2qW9eR6tY3uI0oP7a", t0, 30*time.Second),
			body: &cloudlink.TimeHint{Now: t0, Request: "Rt7uH3jK9lZ2xC6vB0nM4q"}},

		{name: "status", up: up(0, t0, &cloudlink.Status{State: cloudlink.StateOnline, Session: testSess,
			Since: t0, Software: "1.0.0", Site: "s1", Version: 42, ClockSource: hub.SourceNTP})},
		{name: "status_offline", up: up(0, t0, &cloudlink.Status{State: cloudlink.StateOffline, Session: testSess,
			Since: t0, Software: "1.0.0", Site: "s1", Version: 42, ClockSource: hub.SourceNTP})},
		{name: "ack", up: up(1041, t0.Add(time.Second), &cloudlink.Ack{Site: "s1", Version: 42})},
		{name: "ack_rejected", up: up(1042, t0.Add(2*time.Second), &cloudlink.Ack{Site: "s1", Version: 42,
			Rejected: &cloudlink.Rejection{Message: "Wq3eR5tY7uI9oP1aS3dF5g", Version: 43,
				Error: cloudlink.RejectConflict, Detail: `ops[0] (put_grant): conflict: key "unit-9z" does not exist`}})},
		{name: "need", up: up(1043, t0.Add(3*time.Second), &cloudlink.Need{Site: "s1", FromVersion: 42, Reason: cloudlink.NeedGap})},
		{name: "activity", up: up(1044, t0.Add(4*time.Second), &cloudlink.Activity{Events: []cloudlink.ActivityEvent{
			cloudlink.NewAccessEvent(cloudlink.EventID(testStream, 311), 311, hub.Decision{
				Door: "front", At: t0.Add(-time.Minute), Kind: hub.CredKeycard, Allowed: true,
				Reason: hub.AllowedByGrant, ClockTrusted: true, Subject: hub.SubjectPerson,
				PersonID: "p-anna", GrantID: "g-anna-building", Visibility: hub.Visible}),
			cloudlink.NewAccessEvent(cloudlink.EventID(testStream, 312), 312, hub.Decision{
				Door: "apt-3b", At: t0.Add(-50 * time.Second), Kind: hub.CredMobile, Allowed: true,
				Reason: hub.AllowedByGrant, ClockTrusted: true, Subject: hub.SubjectPerson,
				PersonID: "p-anna", GrantID: "g-anna-3b", DeviceID: "d-anna-phone", Resident: true,
				Visibility: hub.IdentityRemoved}),
			cloudlink.NewDoorEvent(cloudlink.EventID(testStream, 313), 313, "service", cloudlink.EventDoorForced,
				t0.Add(-10*time.Second), true),
		}})},
		{name: "activity_offline", up: up(1049, t0.Add(9*time.Second), &cloudlink.Activity{Events: offlineExampleEvents(tb)})},
		{name: "doors", up: up(1045, t0.Add(5*time.Second), &cloudlink.DoorsReport{At: t0, Doors: []cloudlink.DoorState{
			{Door: "front", Lock: "0a1b2c3d", Reachable: true, LastSeen: &lastSeen, Open: ptr(false), Locked: ptr(true),
				BatteryPercent: ptr(87), BatteryBand: cloudlink.BatteryOK, List: cloudlink.ListCurrent},
			{Door: "service", Lock: "0a1b2c3e", Reachable: true, LastSeen: &lastSeen, Open: ptr(true), Locked: ptr(false),
				BatteryPercent: ptr(18), BatteryBand: cloudlink.BatteryLow, List: cloudlink.ListPending,
				Alarms: []cloudlink.EventKind{cloudlink.EventDoorForced}},
			{Door: "apt-3b", Lock: "0a1b2c3f", Reachable: false, LastSeen: ptr(t0.Add(-3 * time.Hour)), List: cloudlink.ListDrift},
			{Door: "gym", Reachable: false, List: cloudlink.ListPending},
		}})},
		{name: "pending", up: up(1046, t0.Add(6*time.Second), &cloudlink.PendingReport{At: t0, Version: 42,
			Doors: []cloudlink.DoorPending{
				{Door: "front", Pending: 0, SyncedVersion: 42},
				{Door: "apt-3b", Pending: 2, SyncedVersion: 40, Oldest: ptr(t0.Add(-2 * time.Second))},
			},
			Keycards: []cloudlink.KeycardPending{{
				CardRef: cloudlink.CardRef([]byte("0123456789abcdef-site-secret"), "04a1b2c3d4e5f6"),
				OwnerID: "p-anna", Active: true, Doors: []string{"apt-3b"},
			}, {
				CardRef: cloudlink.CardRef([]byte("0123456789abcdef-site-secret"), "04c0ffee00aa11"),
				OwnerID: "p-ben", Active: false, Doors: []string{"apt-3b"},
			}},
			KeycardsTotal: 2,
		})},
		{name: "reply", up: up(1047, t0.Add(7*time.Second), &cloudlink.Reply{Command: "Tz8yU3iO6pA1sD4fG7hJ0k",
			Type: cloudlink.TypeUnlock, Status: cloudlink.ReplyDone})},
		{name: "security", up: up(1048, t0.Add(8*time.Second), &cloudlink.SecurityEvent{At: t0.Add(8 * time.Second),
			Reason: cloudlink.ReasonBadSignature, Topic: "doorhub/v1/hubs/hub-0001/down/command",
			Type: cloudlink.TypeUnlock, Message: "Xc4vB6nM8qW0eR2tY4uI6o", Size: 287,
			SHA256: "9f2c1a6e4b8d0f3a5c7e9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a", Count: 1,
			Detail: "bad signature: no pinned key verifies the unlock message Xc4vB6nM8qW0eR2tY4uI6o"})},
		{name: "time_request", up: up(0, t0.Add(-time.Second), &cloudlink.TimeRequest{Nonce: "Rt7uH3jK9lZ2xC6vB0nM4q"})},
	}
}

// sealExample seals a downlink example with the test key.
func sealExample(tb testing.TB, ex example) *cloudlink.Outgoing {
	tb.Helper()
	out, err := cloudlink.NewSigner(testKey).Seal(testHub, ex.body, *ex.down)
	if err != nil {
		tb.Fatalf("Seal %s: %v", ex.name, err)
	}
	return out
}

// encodeExample encodes an example, downlink or uplink.
func encodeExample(tb testing.TB, ex example) *cloudlink.Outgoing {
	tb.Helper()
	if ex.down != nil {
		return sealExample(tb, ex)
	}
	out, err := ex.up.Encode()
	if err != nil {
		tb.Fatalf("Encode %s: %v", ex.name, err)
	}
	return out
}

// newVerifier returns a verifier of testHub pinning testPublic.
func newVerifier(tb testing.TB) *cloudlink.Verifier {
	tb.Helper()
	v, err := cloudlink.NewVerifier(testHub, cloudlink.VerifierOptions{Keys: []ed25519.PublicKey{testPublic}})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// offlineExampleEvents are decisions locks made alone, offline, as the
// hub's outbox records them (hub.OfflineAccessActivity) and EventOf sends
// them: a card admitted (its entry reference kept), a resident at their
// own door (identity and entry removed), a stranger denied (no entry).
func offlineExampleEvents(tb testing.TB) []cloudlink.ActivityEvent {
	tb.Helper()
	card := []byte{0x04, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}
	lockClock := t0.Add(-2*time.Hour - 4*time.Second) // the lock's clock runs 4 s behind
	records := []struct {
		d  hub.Decision
		by hub.LockDecided
	}{
		{hub.Decision{Door: "front", At: t0.Add(-2 * time.Hour), Kind: hub.CredKeycard, Allowed: true,
			Reason: hub.AllowedByGrant, ClockTrusted: true, Subject: hub.SubjectPerson,
			PersonID: "p-anna", GrantID: "g-anna-building", Visibility: hub.Visible},
			hub.LockDecided{Lock: "0a1b2c3d", Seq: 17, Clock: lockClock, Entry: hub.EntryRef(hub.EntryKeycard, card)}},
		{hub.Decision{Door: "apt-3b", At: t0.Add(-time.Hour), Kind: hub.CredKeycard, Allowed: true,
			Reason: hub.AllowedByGrant, ClockTrusted: true, Subject: hub.SubjectPerson,
			PersonID: "p-anna", GrantID: "g-anna-3b", Resident: true, Visibility: hub.IdentityRemoved},
			hub.LockDecided{Lock: "0a1b2c3f", Seq: 5, Clock: t0.Add(-time.Hour + 2*time.Second), Entry: hub.EntryRef(hub.EntryKeycard, card)}},
		{hub.Decision{Door: "front", At: t0.Add(-90 * time.Minute), Kind: hub.CredKeycard, Allowed: false,
			Reason: hub.UnknownCredential, ClockTrusted: true, Visibility: hub.Visible},
			hub.LockDecided{Lock: "0a1b2c3d", Seq: 18, Clock: t0.Add(-90*time.Minute - 4*time.Second)}},
	}
	var out []cloudlink.ActivityEvent
	for i, r := range records {
		a := hub.OfflineAccessActivity(r.d, r.by)
		a.Seq = uint64(320 + i)
		ev, err := cloudlink.EventOf(testStream, &a)
		if err != nil {
			tb.Fatalf("offline example %d: %v", i, err)
		}
		out = append(out, ev)
	}
	return out
}
