package console

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t      *testing.T
	c      *Console
	store  *hub.MemStore
	engine *hub.Engine
	outbox string
	now    time.Time
}

// newFixture is a site with an entrance, a residence and a keyless-code
// service door, and keys over them.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, store: hub.NewMemStore(), outbox: filepath.Join(t.TempDir(), "outbox"), now: t0}
	f.c = New(Options{Store: f.store, Outbox: f.outbox, Now: func() time.Time { return f.now }})
	f.engine = hub.NewEngine(f.store, hub.EngineOptions{})
	f.must(f.c.CreateSite(SiteCreate{Name: "Elm Street 5", TimeZone: "America/New_York", DoorcodeLength: 6}))
	f.must(f.c.AddDoor(DoorAdd{Name: "Front", Type: "entrance"}))
	f.must(f.c.AddDoor(DoorAdd{Name: "Apt 4B", Type: "residence"}))
	f.must(f.c.AddDoor(DoorAdd{Name: "Gym", Type: "communal"}))
	f.must(f.c.CreateKey(KeyCreate{Name: "Building", Doors: []string{"Front", "Gym"}}))
	f.must(f.c.CreateKey(KeyCreate{Name: "Apt 4B", Doors: []string{"apt-4b", "front"}}))
	f.must(f.c.CreateKey(KeyCreate{Name: "Staff", Doors: []string{"Gym"}, NoDoorcodes: true, NoSharing: true}))
	return f
}

func (f *fixture) must(r Result, err error) Result {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// card gives the person a keycard and returns its id.
func (f *fixture) card(email, card string) string {
	f.t.Helper()
	f.must(f.c.SetKeycard(KeycardRequest{Email: email, Card: card, Active: true}))
	return card
}

func (f *fixture) decideCard(door, card string, at time.Time) hub.Decision {
	return f.engine.Decide(door, hub.Presentation{Kind: hub.CredKeycard, CardID: card}, hub.Now{Time: at, Trusted: true})
}

func (f *fixture) decideCode(door, code string, at time.Time) hub.Decision {
	return f.engine.Explain(door, hub.Presentation{Kind: hub.CredDoorcode, Code: code}, hub.Now{Time: at, Trusted: true})
}

func wantReason(t *testing.T, d hub.Decision, want hub.Reason) {
	t.Helper()
	if d.Reason != want {
		t.Fatalf("decision at %s: reason %s, want %s", d.Door, d.Reason, want)
	}
}

func TestInvite(t *testing.T) {
	tests := []struct {
		name   string
		invite Invite
		door   string
		at     time.Duration // after t0
		want   hub.Reason
	}{
		{"resident now", Invite{Email: "Ann@Example.com", Name: "Ann", Keys: []string{"Apt 4B"}, Resident: true}, "apt-4b", time.Minute, hub.AllowedByGrant},
		{"key without the door", Invite{Email: "ann@example.com", Keys: []string{"Building"}}, "apt-4b", time.Minute, hub.NoKeyForDoor},
		{"future start", Invite{Email: "ann@example.com", Keys: []string{"Building"}, Start: "2026-12-01T00:00:00Z"}, "front", time.Minute, hub.NotStarted},
		{"after the start", Invite{Email: "ann@example.com", Keys: []string{"Building"}, Start: "2026-12-01T00:00:00Z"}, "front", 5 * 24 * time.Hour, hub.AllowedByGrant},
		{"after expiry", Invite{Email: "ann@example.com", Keys: []string{"Building"}, Expires: "2026-11-28T00:00:00Z"}, "front", 24 * time.Hour, hub.Expired},
		{"two keys", Invite{Email: "ann@example.com", Keys: []string{"Building", "apt 4b"}}, "gym", time.Minute, hub.AllowedByGrant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.must(f.c.Invite(tc.invite))
			card := f.card("ann@example.com", "a1b2c3d4")
			wantReason(t, f.decideCard(tc.door, card, t0.Add(tc.at)), tc.want)
			mails, _ := filepath.Glob(filepath.Join(f.outbox, "*welcome.eml"))
			if len(mails) != 1 {
				t.Fatalf("%d welcome mails, want 1 written at once", len(mails))
			}
		})
	}
}

func TestInviteExistingEmailAddsKeys(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "bob@example.com", Name: "Bob", Keys: []string{"Building"}}))
	card := f.card("bob@example.com", "0badcafe")
	wantReason(t, f.decideCard("apt-4b", card, t0), hub.NoKeyForDoor)
	f.must(f.c.Invite(Invite{Email: "BOB@example.COM", Keys: []string{"Apt 4B"}, Resident: true}))
	wantReason(t, f.decideCard("apt-4b", card, t0), hub.AllowedByGrant)
	people, err := f.c.People(PeopleRequest{}, nil)
	if err != nil || len(people) != 1 || len(people[0].Keys) != 2 {
		t.Fatalf("people = %+v, %v; want one person with two keys", people, err)
	}
	// Inviting again with the same access changes nothing.
	r := f.must(f.c.Invite(Invite{Email: "bob@example.com", Keys: []string{"Apt 4B"}, Resident: true}))
	if r.Changed {
		t.Fatal("the same invitation again changed the site")
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "host@example.com", Keys: []string{"Building"}, MayShare: true}))
	f.must(f.c.Invite(Invite{Email: "noshare@example.com", Keys: []string{"Building"}}))
	tests := []struct {
		name string
		op   func() error
		want error
		msg  string
	}{
		{"unknown key", func() error { _, err := f.c.Invite(Invite{Email: "x@example.com", Keys: []string{"Nope"}}); return err }, ErrNotFound, `key "Nope"`},
		{"bad email", func() error {
			_, err := f.c.Invite(Invite{Email: "not-an-email", Keys: []string{"Building"}})
			return err
		}, ErrInvalid, "email"},
		{"expiry in the past", func() error {
			_, err := f.c.Invite(Invite{Email: "x@example.com", Keys: []string{"Building"}, Expires: "2026-01-01T00:00:00Z"})
			return err
		}, ErrInvalid, "in the past"},
		{"not a time", func() error {
			_, err := f.c.Invite(Invite{Email: "x@example.com", Keys: []string{"Building"}, Start: "tomorrow"})
			return err
		}, ErrInvalid, "RFC 3339"},
		{"bad method", func() error {
			_, err := f.c.Invite(Invite{Email: "x@example.com", Keys: []string{"Building"}, Method: "fax"})
			return err
		}, ErrInvalid, "app or doorcode"},
		{"doorcode on a key without", func() error {
			_, err := f.c.Invite(Invite{Email: "x@example.com", Keys: []string{"Building", "Staff"}, Method: "doorcode"})
			return err
		}, ErrConflict, "does not allow doorcodes"},
		{"tour code of the wrong length", func() error {
			f.must(f.c.AllowlistKey(TourAllowlist{Integration: "Tour24", Key: "Building"}))
			_, err := f.c.CreateTour(TourCreate{Integration: "Tour24", Code: "1234", Start: "2026-11-27T13:00:00Z", End: "2026-11-27T14:00:00Z", Keys: []string{"Building"}})
			return err
		}, ErrInvalid, "length of 6"},
		{"share where the host may not", func() error {
			_, err := f.c.Share(Share{Host: "noshare@example.com", Key: "Building", Guest: "g@example.com", Permanent: true})
			return err
		}, ErrConflict, "may not share"},
		{"share of a key that forbids it", func() error {
			_, err := f.c.Invite(Invite{Email: "host@example.com", Keys: []string{"Staff"}, MayShare: true})
			return err
		}, ErrConflict, "does not allow sharing"},
		{"unknown person", func() error { _, err := f.c.Revoke(EmailRequest{Email: "who@example.com"}); return err }, ErrNotFound, "who@example.com"},
		{"bad card", func() error {
			_, err := f.c.SetKeycard(KeycardRequest{Email: "host@example.com", Card: "xyz", Active: true})
			return err
		}, ErrInvalid, "hex"},
		{"door type", func() error { _, err := f.c.AddDoor(DoorAdd{Name: "Roof", Type: "hatch"}); return err }, ErrInvalid, "door.type"},
		{"key with unknown door", func() error { _, err := f.c.CreateKey(KeyCreate{Name: "X", Doors: []string{"Roof"}}); return err }, ErrNotFound, "Roof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.store.Version()
			err := tc.op()
			if err == nil || !errors.Is(Kind(err), tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.want, tc.msg)
			}
			if tc.name != "tour code of the wrong length" && f.store.Version() != before {
				t.Fatalf("version %d after a refused operation, want %d", f.store.Version(), before)
			}
		})
	}
}

func TestEditRevokeDelete(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "host@example.com", Keys: []string{"Building", "Apt 4B"}, Resident: true, MayShare: true}))
	hostCard := f.card("host@example.com", "11112222")
	f.must(f.c.Invite(Invite{Email: "guest@example.com", Keys: []string{"Staff"}}))
	guestCard := f.card("guest@example.com", "33334444")
	if _, err := f.c.Share(Share{Host: "host@example.com", Key: "Apt 4B", Guest: "guest@example.com", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	wantReason(t, f.decideCard("apt-4b", guestCard, t0), hub.AllowedAsGuest)

	// Edit: expiry tomorrow, then the key removed.
	f.must(f.c.EditAccess(AccessEdit{Email: "host@example.com", Key: "Building", Expires: "2026-11-28T12:00:00Z"}))
	wantReason(t, f.decideCard("gym", hostCard, t0.Add(25*time.Hour)), hub.Expired)
	no := false
	f.must(f.c.EditAccess(AccessEdit{Email: "host@example.com", Key: "Apt 4B", Resident: &no}))
	d := f.decideCard("apt-4b", hostCard, t0)
	if d.Visibility != hub.Visible {
		t.Fatalf("non-resident at a residence door: visibility %s", d.Visibility)
	}
	f.must(f.c.EditAccess(AccessEdit{Email: "host@example.com", Key: "Building", Remove: true}))
	wantReason(t, f.decideCard("gym", hostCard, t0), hub.NoKeyForDoor)

	// Revoke: the host and their guest are out; the host is still listed
	// with --show-expired and can be invited again.
	f.must(f.c.Revoke(EmailRequest{Email: "HOST@example.com"}))
	wantReason(t, f.decideCard("apt-4b", hostCard, t0), hub.NoKeyForDoor)
	if d := f.decideCard("apt-4b", guestCard, t0); d.Allowed {
		t.Fatalf("the guest of a revoked host: %s", d.Reason)
	}
	people, _ := f.c.People(PeopleRequest{}, nil)
	for _, p := range people {
		if p.Email == "host@example.com" {
			t.Fatal("a revoked person listed without --show-expired")
		}
	}
	all, _ := f.c.People(PeopleRequest{ShowExpired: true}, nil)
	found := false
	for _, p := range all {
		found = found || p.Email == "host@example.com" && p.Status == "expired"
	}
	if !found {
		t.Fatalf("revoked person not listed with --show-expired: %+v", all)
	}
	f.must(f.c.Invite(Invite{Email: "host@example.com", Keys: []string{"Building"}}))
	wantReason(t, f.decideCard("gym", hostCard, t0), hub.AllowedByGrant)

	// Delete: gone, but activity can still name them.
	var id string
	f.store.View(func(c *hub.Catalog) { id = c.PersonByEmail("host@example.com").ID })
	f.must(f.c.Delete(EmailRequest{Email: "host@example.com"}))
	wantReason(t, f.decideCard("gym", hostCard, t0), hub.UnknownCredential)
	all, _ = f.c.People(PeopleRequest{ShowExpired: true}, nil)
	for _, p := range all {
		if p.Email == "host@example.com" {
			t.Fatal("a deleted person is still listed")
		}
	}
	if email, ok := f.c.PersonName(id); !ok || email != "host@example.com" {
		t.Fatalf("PersonName of a deleted person = %q, %v", email, ok)
	}
}

func TestShareKinds(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "host@example.com", Keys: []string{"Apt 4B"}, Resident: true, MayShare: true}))
	f.must(f.c.Invite(Invite{Email: "walker@example.com", Keys: []string{"Staff"}}))
	walker := f.card("walker@example.com", "55556666")
	if _, err := f.c.Share(Share{Host: "host@example.com", Key: "Apt 4B", Guest: "walker@example.com",
		Start: "2026-11-27T13:00:00Z", Expires: "2026-11-27T15:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	wantReason(t, f.decideCard("apt-4b", walker, t0), hub.NotStarted)
	wantReason(t, f.decideCard("apt-4b", walker, t0.Add(90*time.Minute)), hub.AllowedAsGuest)
	wantReason(t, f.decideCard("apt-4b", walker, t0.Add(4*time.Hour)), hub.Expired)

	day, err := f.c.Share(Share{Host: "host@example.com", Key: "Apt 4B", SingleDay: true})
	if err != nil || len(day.Code) != 6 {
		t.Fatalf("single-day share = %+v, %v", day, err)
	}
	wantReason(t, f.decideCode("apt-4b", day.Code, t0), hub.AllowedAsGuest)
	wantReason(t, f.decideCode("apt-4b", day.Code, t0.Add(48*time.Hour)), hub.UnknownCredential)
	fifteen, err := f.c.Share(Share{Host: "host@example.com", Key: "Apt 4B", FifteenMinute: true})
	if err != nil {
		t.Fatal(err)
	}
	wantReason(t, f.decideCode("apt-4b", fifteen.Code, t0.Add(time.Minute)), hub.AllowedAsGuest)
	if _, err := f.c.Share(Share{Host: "host@example.com", Key: "Apt 4B", Service: "Dog walker", Permanent: true}); err != nil {
		t.Fatal(err)
	}
}

func TestDoorcodeAndDevice(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "cody@example.com", Method: "doorcode", Keys: []string{"Building"}}))
	v, err := f.c.Doorcode(DoorcodeRequest{Email: "cody@example.com", Door: "Front"})
	if err != nil || len(v.Code) != 6 || v.Date != "2026-11-27" {
		t.Fatalf("doorcode = %+v, %v", v, err)
	}
	wantReason(t, f.decideCode("front", v.Code, t0), hub.AllowedByGrant)
	if _, err := f.c.Doorcode(DoorcodeRequest{Email: "cody@example.com", Door: "apt-4b"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a door the person has no doorcode for: %v", err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	f.must(f.c.RegisterDevice(DeviceRegister{Email: "cody@example.com", PublicKey: base64.StdEncoding.EncodeToString(pub)}))
	p, _ := f.c.Person(EmailRequest{Email: "cody@example.com"}, nil)
	if len(p.Credentials) != 1 || p.Credentials[0].Kind != "app" {
		t.Fatalf("credentials = %+v", p.Credentials)
	}
	if _, err := f.c.RegisterDevice(DeviceRegister{Email: "cody@example.com", PublicKey: "abcd"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short key: %v", err)
	}
}

func TestKeycardPending(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "kim@example.com", Keys: []string{"Building"}}))
	card := f.card("kim@example.com", "deadbeef")
	acked := uint64(0)
	ack := func() (uint64, bool) { return acked, true }
	p, _ := f.c.Person(EmailRequest{Email: "kim@example.com"}, ack)
	if len(p.Credentials) != 1 || strings.Join(p.Credentials[0].Pending, ",") != "front,gym" {
		t.Fatalf("credentials before the ack = %+v", p.Credentials)
	}
	acked = f.store.Version()
	p, _ = f.c.Person(EmailRequest{Email: "kim@example.com"}, ack)
	if len(p.Credentials[0].Pending) != 0 || strings.Contains(p.Credentials[0].Last4, "dead") {
		t.Fatalf("credentials after the ack = %+v", p.Credentials)
	}
	f.must(f.c.SetKeycard(KeycardRequest{Email: "kim@example.com", Card: card}))
	wantReason(t, f.decideCard("front", card, t0), hub.CredentialInactive)
	f.must(f.c.Invite(Invite{Email: "other@example.com", Keys: []string{"Building"}}))
	if _, err := f.c.SetKeycard(KeycardRequest{Email: "other@example.com", Card: card, Active: true}); !errors.Is(err, ErrConflict) {
		t.Fatalf("someone else's card: %v", err)
	}
	f.must(f.c.Invite(Invite{Email: "far@example.com", Keys: []string{"Building"}, OutsidePortfolio: true}))
	if _, err := f.c.SetKeycard(KeycardRequest{Email: "far@example.com", Card: "0f0f0f0f", Active: true}); !errors.Is(err, ErrConflict) ||
		!strings.Contains(err.Error(), "outside this portfolio") {
		t.Fatalf("a person with access outside the portfolio: %v", err)
	}
	mails, _ := filepath.Glob(filepath.Join(f.outbox, "*keycard*.eml"))
	if len(mails) != 2 {
		t.Fatalf("%d keycard notifications, want 2", len(mails))
	}
}

func TestTours(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.AllowlistKey(TourAllowlist{Integration: "Tour24", Key: "Building"}))
	tour := TourCreate{Integration: "Tour24", Code: "424242", Start: "2026-11-27T13:00:00Z", End: "2026-11-27T14:00:00Z", Keys: []string{"Building"}}
	f.must(f.c.CreateTour(tour))
	wantReason(t, f.decideCode("front", "424242", t0.Add(90*time.Minute)), hub.AllowedTour)
	wantReason(t, f.decideCode("apt-4b", "424242", t0.Add(90*time.Minute)), hub.NoKeyForDoor)
	tour.Keys = []string{"Apt 4B"}
	if _, err := f.c.CreateTour(tour); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "not allowlisted") {
		t.Fatalf("tour on a key not allowlisted: %v", err)
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	file := ImportTemplate() +
		"ann@example.com,Ann,app,Building;Apt 4B,yes,no,,\n" +
		"bob@example.com,Bob,doorcode,Building,false,true,,2027-06-30T00:00:00Z\n"
	r, err := f.c.Import(Import{CSV: file, DryRun: true})
	if err != nil || r.Changed || f.store.Version() != 7 {
		t.Fatalf("dry run = %+v, %v (version %d)", r, err, f.store.Version())
	}
	r, err = f.c.Import(Import{CSV: file})
	if err != nil || !r.Changed || len(r.Rows) != 2 {
		t.Fatalf("import = %+v, %v", r, err)
	}
	v := f.store.Version()
	mails, _ := filepath.Glob(filepath.Join(f.outbox, "*.eml"))
	r, err = f.c.Import(Import{CSV: file})
	if err != nil || r.Changed || f.store.Version() != v {
		t.Fatalf("re-import = %+v, %v", r, err)
	}
	again, _ := filepath.Glob(filepath.Join(f.outbox, "*.eml"))
	if len(again) != len(mails) {
		t.Fatal("a re-import sent welcome mails again")
	}
	card := f.card("ann@example.com", "abcdef01")
	wantReason(t, f.decideCard("apt-4b", card, t0), hub.AllowedByGrant)
	if d := f.decideCard("apt-4b", card, t0); d.Visibility != hub.IdentityRemoved {
		t.Fatalf("resident at home: visibility %s", d.Visibility)
	}
	report, _ := f.c.ReportAssignedAccess()
	if len(report) != 3 {
		t.Fatalf("assigned access has %d rows, want 3: %+v", len(report), report)
	}
}

func TestImportBadLines(t *testing.T) {
	f := newFixture(t)
	file := "email,name,method,keys,resident,may_share,start,expires\n" +
		"ann@example.com,Ann,app,Building,yes,no,,\n" +
		"ANN@example.com,Ann again,app,Building,yes,no,,\n" +
		"carl@example.com,Carl,app,Nope,no,no,,\n" +
		"dora@example.com,Dora,app,Building,maybe,no,,\n" +
		"eve@example.com,Eve,app,Building,no,no,,2020-01-01T00:00:00Z\n" +
		"fay@example.com,Fay\n" +
		"gus@example.com,Gus,app,Building,no,no,,\n"
	v := f.store.Version()
	_, err := f.c.Import(Import{CSV: file})
	var le *LineErrors
	if !errors.As(err, &le) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	lines := map[int]string{}
	for _, l := range le.Lines {
		lines[l.Line] = l.Err
	}
	for line, want := range map[int]string{3: "already on line 2", 4: `key "Nope"`, 5: "resident", 6: "in the past", 7: "2 fields"} {
		if !strings.Contains(lines[line], want) {
			t.Errorf("line %d: %q, want it to name %q (all: %v)", line, lines[line], want, err)
		}
	}
	if len(le.Lines) != 5 || f.store.Version() != v {
		t.Fatalf("%d bad lines, version %d → %d: %v", len(le.Lines), v, f.store.Version(), err)
	}
	if entries, _ := os.ReadDir(f.outbox); len(entries) != 0 {
		t.Fatal("a refused import wrote mail")
	}
}

func TestRerollChangesTheDailyCode(t *testing.T) {
	f := newFixture(t)
	f.must(f.c.Invite(Invite{Email: "cody@example.com", Method: "doorcode", Keys: []string{"Building"}}))
	before, _ := f.c.Doorcode(DoorcodeRequest{Email: "cody@example.com", Door: "front"})
	var id string
	f.store.View(func(c *hub.Catalog) { id = c.PersonByEmail("cody@example.com").ID })
	f.must(f.c.Reroll([]string{id, "p-gone"}))
	after, _ := f.c.Doorcode(DoorcodeRequest{Email: "cody@example.com", Door: "front"})
	if after.Code == before.Code {
		t.Fatal("the code did not change")
	}
	wantReason(t, f.decideCode("front", after.Code, t0), hub.AllowedByGrant)
}
