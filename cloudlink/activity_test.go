package cloudlink_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// privacySite is a building where every privacy case happens: a resident
// (anna) at her own residence door and at the front door, a manager
// (maria) at anna's door, a resident whose grant has not started (ben), a
// daily-code user (carl), and a tour.
type privacySite struct {
	engine  *hub.Engine
	secrets []string // every credential secret of the site, as text
	phone   ed25519.PrivateKey
	code    string // carl's daily code at the front door today
}

func newPrivacySite(t *testing.T) *privacySite {
	t.Helper()
	store := hub.NewMemStore()
	snap := exampleSnapshot()
	snap.Version = 1
	siteSecret := snap.Ops[0].Site.DoorcodeSecret
	phone := ed25519.NewKeyFromSeed(make([]byte, 32))
	pub := phone.Public().(ed25519.PublicKey)
	later := t0.Add(48 * time.Hour)
	snap.Ops = append(snap.Ops,
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-anna", Email: "anna@example.org", Name: "Anna"}},
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-maria", Email: "maria@example.org", Name: "Maria", Manager: true}},
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-ben", Email: "ben@example.org", Name: "Ben"}},
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-carl", Email: "carl@example.org", Name: "Carl"}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna-3b", PersonID: "p-anna", KeyID: "unit-3b", Resident: true, StartsAt: t0.Add(-time.Hour), Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna-building", PersonID: "p-anna", KeyID: "building", Resident: true, StartsAt: t0.Add(-time.Hour), Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-maria-3b", PersonID: "p-maria", KeyID: "unit-3b", StartsAt: t0.Add(-time.Hour), Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-ben-3b", PersonID: "p-ben", KeyID: "unit-3b", Resident: true, StartsAt: later, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-carl-building", PersonID: "p-carl", KeyID: "building", StartsAt: t0.Add(-time.Hour), Method: hub.MethodDoorcode}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3d4e5f6", OwnerID: "p-anna", Active: true}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "0b0b0b0b0b0b", OwnerID: "p-ben", Active: true}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "0a0a0a0a", OwnerID: "p-maria", Active: true}},
		hub.Op{Type: hub.OpPutDevice, Device: &hub.Device{ID: "d-anna-phone", OwnerID: "p-anna", PublicKey: pub}},
		hub.Op{Type: hub.OpPutAllowlist, Allowlist: &hub.Allowlist{Integration: "tourco", Keys: []string{"building"}}},
		hub.Op{Type: hub.OpPutTour, Tour: &hub.Tour{ID: "tour-1", Integration: "tourco", Code: "918273",
			StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(time.Hour), Keys: []string{"building"}}},
	)
	if err := hub.Replace(context.Background(), store, snap); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	date, _, _ := hub.LocalDay(t0, loc)
	code := hub.DailyDoorcode(siteSecret, "front", "p-carl", date, 0, 6)
	return &privacySite{
		engine: hub.NewEngine(store, hub.EngineOptions{}),
		phone:  phone,
		code:   code,
		secrets: []string{
			"04a1b2c3d4e5f6", "0b0b0b0b0b0b", "0a0a0a0a", "918273", code,
			string(siteSecret), base64.StdEncoding.EncodeToString(siteSecret),
			base64.StdEncoding.EncodeToString(pub),
		},
	}
}

// TestAccessEventPrivacy decides real presentations and checks what their
// events tell the cloud.
func TestAccessEventPrivacy(t *testing.T) {
	s := newPrivacySite(t)
	now := hub.Now{Time: t0, Trusted: true}
	nonce := []byte("lock-nonce-0001")
	mobile := hub.Presentation{Kind: hub.CredMobile, PublicKey: s.phone.Public().(ed25519.PublicKey), Nonce: nonce,
		Signature: ed25519.Sign(s.phone, hub.MobileMessage("apt-3b", nonce))}
	card := func(id string) hub.Presentation { return hub.Presentation{Kind: hub.CredKeycard, CardID: id} }
	cases := []struct {
		name       string
		door       string
		p          hub.Presentation
		reason     hub.Reason
		visibility hub.Visibility
		shows      []string // ids the event must show
		hides      []string // ids it must not
	}{
		{"resident at the front door", "front", card("04a1b2c3d4e5f6"), hub.AllowedByGrant, hub.Visible,
			[]string{"p-anna", "g-anna-building"}, nil},
		{"resident at her own door", "apt-3b", card("04a1b2c3d4e5f6"), hub.AllowedByGrant, hub.IdentityRemoved,
			nil, []string{"p-anna", "g-anna", "anna"}},
		{"resident's phone at her own door", "apt-3b", mobile, hub.AllowedByGrant, hub.IdentityRemoved,
			nil, []string{"p-anna", "g-anna", "d-anna-phone", "anna"}},
		{"resident not yet started, denied at his door", "apt-3b", card("0b0b0b0b0b0b"), hub.NotStarted, hub.IdentityRemoved,
			nil, []string{"p-ben", "g-ben", "ben"}},
		{"manager at a residence", "apt-3b", card("0a0a0a0a"), hub.AllowedByGrant, hub.Visible,
			[]string{"p-maria", "g-maria-3b"}, nil},
		{"daily code visitor", "front", hub.Presentation{Kind: hub.CredDoorcode, Code: s.code}, hub.AllowedByGrant, hub.Visible,
			[]string{"p-carl", "g-carl-building"}, nil},
		{"tour", "front", hub.Presentation{Kind: hub.CredDoorcode, Code: "918273"}, hub.AllowedTour, hub.Visible,
			[]string{"tour-1"}, nil},
		{"unknown card", "front", card("deadbeef"), hub.UnknownCredential, hub.Visible, nil, []string{"deadbeef"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := s.engine.Decide(c.door, c.p, now)
			if d.Reason != c.reason || d.Visibility != c.visibility {
				t.Fatalf("decision %s %s, want %s %s", d.Reason, d.Visibility, c.reason, c.visibility)
			}
			ev := cloudlink.NewAccessEvent(cloudlink.EventID(testStream, uint64(i+1)), uint64(i+1), d)
			if err := ev.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			out, err := (&cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: 1, SentAt: t0,
				Body: &cloudlink.Activity{Events: []cloudlink.ActivityEvent{ev}}}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			js := string(out.Payload)
			for _, secret := range append(s.secrets, c.hides...) {
				if strings.Contains(js, secret) {
					t.Errorf("the event shows %q: %s", secret, js)
				}
			}
			for _, id := range c.shows {
				if !strings.Contains(js, `"`+id+`"`) {
					t.Errorf("the event lacks %q: %s", id, js)
				}
			}
			if ev.Visibility != c.visibility || ev.Access.Reason != c.reason || ev.Access.Allowed != d.Allowed ||
				ev.Access.Credential != c.p.Kind || ev.Door != c.door || !ev.At.Equal(t0) || !ev.ClockTrusted {
				t.Errorf("event %+v %+v", ev, ev.Access)
			}
		})
	}
}

// TestAccessEventFailsPrivate: a decision whose visibility is anything but
// visible (a zero value, a future value) loses its identity.
func TestAccessEventFailsPrivate(t *testing.T) {
	for _, vis := range []hub.Visibility{"", "something_new", hub.IdentityRemoved} {
		d := hub.Decision{Door: "apt-3b", At: t0, Kind: hub.CredKeycard, Allowed: true, Reason: hub.AllowedByGrant,
			Subject: hub.SubjectPerson, PersonID: "p-anna", HostID: "p-host", Service: "walker", GrantID: "g",
			GuestGrant: "gg", GuestCodeID: "gc", TourID: "t", DeviceID: "d", Resident: true,
			Colliding: []string{"p-x"}, FirstUse: true, Visibility: vis, Alarm: hub.AlarmKeypadLockout}
		ev := cloudlink.NewAccessEvent("e-1", 1, d)
		if ev.Visibility != hub.IdentityRemoved {
			t.Errorf("%q: visibility %s", vis, ev.Visibility)
		}
		want := cloudlink.AccessDetail{Credential: hub.CredKeycard, Allowed: true, Reason: hub.AllowedByGrant,
			Subject: hub.SubjectPerson, Alarm: hub.AlarmKeypadLockout}
		b, _ := json.Marshal(ev.Access)
		w, _ := json.Marshal(want)
		if string(b) != string(w) {
			t.Errorf("%q: access %s, want %s", vis, b, w)
		}
	}
}

func TestActivityEventValidate(t *testing.T) {
	good := func() cloudlink.ActivityEvent {
		return cloudlink.NewAccessEvent("e-1", 1, hub.Decision{Door: "front", At: t0, Kind: hub.CredKeycard,
			Reason: hub.UnknownCredential, Visibility: hub.Visible})
	}
	cases := []struct {
		name string
		mod  func(*cloudlink.ActivityEvent)
	}{
		{"identity_removed naming a person", func(e *cloudlink.ActivityEvent) {
			e.Visibility = hub.IdentityRemoved
			e.Access.PersonID = "p-anna"
		}},
		{"identity_removed naming a device", func(e *cloudlink.ActivityEvent) {
			e.Visibility = hub.IdentityRemoved
			e.Access.DeviceID = "d-1"
		}},
		{"identity_removed naming a grant", func(e *cloudlink.ActivityEvent) {
			e.Visibility = hub.IdentityRemoved
			e.Access.GrantID = "g-1"
		}},
		{"unknown visibility", func(e *cloudlink.ActivityEvent) { e.Visibility = "" }},
		{"no id", func(e *cloudlink.ActivityEvent) { e.ID = "" }},
		{"seq 0", func(e *cloudlink.ActivityEvent) { e.Seq = 0 }},
		{"no time", func(e *cloudlink.ActivityEvent) { e.At = time.Time{} }},
		{"no door", func(e *cloudlink.ActivityEvent) { e.Door = "" }},
		{"unknown kind", func(e *cloudlink.ActivityEvent) { e.Kind = "party" }},
		{"access without detail", func(e *cloudlink.ActivityEvent) { e.Access = nil }},
		{"access without reason", func(e *cloudlink.ActivityEvent) { e.Access.Reason = "" }},
		{"door event with access detail", func(e *cloudlink.ActivityEvent) { e.Kind = cloudlink.EventJam }},
		{"battery above 100", func(e *cloudlink.ActivityEvent) { e.BatteryPercent = ptr(101) }},
		{"remote unlock without command", func(e *cloudlink.ActivityEvent) {
			e.Kind, e.Access, e.Remote = cloudlink.EventRemoteUnlock, nil, &cloudlink.RemoteUnlock{}
		}},
	}
	e := good()
	if err := e.Validate(); err != nil {
		t.Fatalf("good event: %v", err)
	}
	for _, c := range cases {
		e := good()
		c.mod(&e)
		if err := e.Validate(); !errors.Is(err, cloudlink.ErrSchema) {
			t.Errorf("%s: %v", c.name, err)
		}
		// The hub cannot send it and the cloud does not take it.
		u := &cloudlink.Uplink{Hub: testHub, Stream: testStream, Seq: 9, SentAt: t0,
			Body: &cloudlink.Activity{Events: []cloudlink.ActivityEvent{e}}}
		if _, err := u.Encode(); !errors.Is(err, cloudlink.ErrSchema) {
			t.Errorf("%s: Encode %v", c.name, err)
		}
		body, _ := json.Marshal(u.Body)
		payload := `{"v":1,"type":"activity","hub":"hub-0001","stream":"` + testStream + `","seq":9,"sent_at":"2026-11-27T18:00:00Z","body":` + string(body) + `}`
		if _, err := cloudlink.DecodeUplink(topicOf(testHub, cloudlink.ChanActivity), []byte(payload)); !errors.Is(err, cloudlink.ErrSchema) {
			t.Errorf("%s: DecodeUplink %v", c.name, err)
		}
	}
}

func TestDoorAndRemoteEvents(t *testing.T) {
	for _, k := range []cloudlink.EventKind{cloudlink.EventDoorForced, cloudlink.EventDoorHeldOpen,
		cloudlink.EventTamper, cloudlink.EventJam, cloudlink.EventLowBattery} {
		ev := cloudlink.NewDoorEvent("e-1", 1, "front", k, t0, false)
		if err := ev.Validate(); err != nil || ev.Visibility != hub.Visible || ev.ClockTrusted {
			t.Errorf("%s: %+v %v", k, ev, err)
		}
	}
	ev := cloudlink.NewRemoteUnlockEvent("e-2", 2, "Tz8yU3iO6pA1sD4fG7hJ0k", &cloudlink.Unlock{Door: "front", By: "p-maria"}, t0, true)
	if err := ev.Validate(); err != nil || ev.Remote.By != "p-maria" || ev.Door != "front" {
		t.Errorf("remote unlock: %+v %v", ev, err)
	}
	if got := cloudlink.EventID(testStream, 42); got != testStream+"-42" {
		t.Errorf("EventID = %s", got)
	}
}
