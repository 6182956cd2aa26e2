package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/sim"
)

// seedRig is the whole system of the seed article: doorhub-cloud's server
// (its API is what the doorhub-cloud command calls), an embedded broker,
// the real doorhubd Main configured from `hub add`'s output, and
// doorhub-sim's locks behind a real pseudo-terminal.
type seedRig struct {
	t      *testing.T
	cloud  *controlplane.Server
	client *controlplane.Client
	hub    *daemonRig
	locks  map[string]*sim.Lock // by door id
	state  string
	broker string
	mqtt   *brokertest.Broker
}

// restartCloud stops doorhub-cloud's server and starts it again on the
// same state.
func (r *seedRig) restartCloud() {
	r.t.Helper()
	if err := r.cloud.Close(); err != nil {
		r.t.Fatal(err)
	}
	srv, err := controlplane.Open(controlplane.Options{StateDir: r.state, Broker: r.broker,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		r.t.Fatal(err)
	}
	r.cloud = srv
	if r.client, err = controlplane.Dial(r.state); err != nil {
		r.t.Fatal(err)
	}
}

func newSeedRig(t *testing.T) *seedRig {
	t.Helper()
	broker, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Stop)
	dir := t.TempDir()
	cloudState := filepath.Join(dir, "cloud")
	srv, err := controlplane.Open(controlplane.Options{StateDir: cloudState, Broker: broker.URL(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := controlplane.Dial(cloudState)
	if err != nil {
		t.Fatal(err)
	}
	r := &seedRig{t: t, cloud: srv, client: cl, locks: map[string]*sim.Lock{}, state: cloudState, broker: broker.URL(), mqtt: broker}
	t.Cleanup(func() { _ = r.cloud.Close() })

	// Site setup, as a property manager does it.
	r.do("site/create", console.SiteCreate{Name: "Elm Street", TimeZone: "America/New_York", DoorcodeLength: 6})
	r.do("door/add", console.DoorAdd{Name: "Lobby", Type: "entrance"})
	r.do("door/add", console.DoorAdd{Name: "Apt 4B", Type: "residence"})
	r.do("key/create", console.KeyCreate{Name: "Building", Doors: []string{"Lobby"}})
	r.do("key/create", console.KeyCreate{Name: "Apt 4B", Doors: []string{"Apt 4B", "Lobby"}})

	s, plug := startSim(t, dir, 2)

	// The hub's config is `hub add`'s output, with the test's paths.
	var hc controlplane.HubConfig
	if err := cl.Call(context.Background(), "hub/add", controlplane.HubAdd{ID: "hub-elm", RadioPort: plug.Path(),
		StateDir: filepath.Join(dir, "hub"), Listen: "127.0.0.1:0"}, &hc); err != nil {
		t.Fatal(err)
	}
	token := "seed-token"
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("/run/doorhub/doorhub.sock", filepath.Join(dir, "doorhub.sock"),
		"/etc/doorhub/token", filepath.Join(dir, "token")).Replace(hc.Config)
	path := filepath.Join(dir, "doorhub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m := NewMain(logs, logs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("doorhubd with hub add's config: %v\n%s", err, cfg)
	}
	r.hub = &daemonRig{m: m, sim: s, plug: plug, logs: logs, token: token}
	t.Cleanup(func() {
		if err := r.hub.m.Close(); err != nil {
			t.Error(err)
		}
	})
	waitUntil(t, "radio ready", 5*time.Second, func() bool { return m.radioReady() == nil })
	m.Clock.SetNTPSynchronized(true)
	for i, door := range []string{"lobby", "apt-4b"} {
		l := s.Labels()[i]
		var res status.PairResult
		if code := r.hub.api(t, "POST", "/api/v1/pair", status.PairRequest{Lock: l.ID, Key: l.Key, Door: door}, &res); code != 200 {
			t.Fatalf("pair %s: %d %+v", door, code, res)
		}
		r.locks[door] = s.Locks()[i]
	}
	r.synced()
	return r
}

// do calls the API and fails the test on an error.
func (r *seedRig) do(path string, req any) console.Result {
	r.t.Helper()
	var res console.Result
	if err := r.client.Call(context.Background(), path, req, &res); err != nil {
		r.t.Fatalf("%s: %v", path, err)
	}
	return res
}

// refused calls the API expecting an error naming want, and checks that
// nothing changed.
func (r *seedRig) refused(path string, req any, want string) {
	r.t.Helper()
	before := r.cloud.Console.Store().Version()
	err := r.client.Call(context.Background(), path, req, nil)
	var ae *controlplane.APIError
	if !errors.As(err, &ae) || !strings.Contains(ae.Error()+fmt.Sprint(ae.Lines), want) {
		r.t.Fatalf("%s: err %v, want one naming %q", path, err, want)
	}
	if v := r.cloud.Console.Store().Version(); v != before {
		r.t.Fatalf("%s refused but the site went from version %d to %d", path, before, v)
	}
}

// synced waits until the hub holds the cloud's version.
func (r *seedRig) synced() {
	r.t.Helper()
	want := r.cloud.Console.Store().Version()
	waitUntil(r.t, fmt.Sprintf("the hub at version %d", want), 10*time.Second, func() bool {
		return r.hub.m.Store.Version() == want
	})
}

// present shows a card at a door's simulated lock.
func (r *seedRig) present(door, card string) sim.Result {
	r.t.Helper()
	b, err := hexBytes(card)
	if err != nil {
		r.t.Fatal(err)
	}
	return presentAt(r.t, r.locks[door], sim.Credential{Card: b})
}

func (r *seedRig) expect(door, card, reason string) {
	r.t.Helper()
	if res := r.present(door, card); res.Reason != reason {
		r.t.Fatalf("card …%s at %s: %s (allowed %v), want %s", card[len(card)-4:], door, res.Reason, res.Allowed, reason)
	}
}

func (r *seedRig) code(door, code, reason string) {
	r.t.Helper()
	if res := presentAt(r.t, r.locks[door], sim.Credential{Code: code}); res.Reason != reason {
		r.t.Fatalf("a code at %s: %s, want %s", door, res.Reason, reason)
	}
}

// activity waits until the cloud's activity holds an event matching ok.
func (r *seedRig) activity(what string, ok func(e controlplane.ActivityView) bool) controlplane.ActivityView {
	r.t.Helper()
	var found controlplane.ActivityView
	waitUntil(r.t, "activity: "+what, 10*time.Second, func() bool {
		var evs []controlplane.ActivityView
		if err := r.client.Call(context.Background(), "activity", controlplane.ActivityRequest{}, &evs); err != nil {
			r.t.Fatal(err)
		}
		for _, e := range evs {
			if ok(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func hexBytes(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	_, err := fmt.Sscanf(s, "%x", &b)
	return b, err
}

func allowedEvent(door, reason, email string) func(e controlplane.ActivityView) bool {
	return func(e controlplane.ActivityView) bool {
		return e.Door == door && e.Reason == reason && e.Email == email
	}
}

// TestSeedInviteKeycardsRevokeDelete walks the seed's inviting, keycard,
// resident privacy, sharing, revoking and deleting sections end to end.
func TestSeedInviteKeycardsRevokeDelete(t *testing.T) {
	r := newSeedRig(t)
	const ann, guest = "a1b2c3d4", "0badcafe"

	// Inviting: a resident of 4B whose access starts later gets their
	// welcome mail now and is not let in until the start.
	start := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r.do("invite", console.Invite{Email: "Ann@Example.com", Name: "Ann", Method: "app", Keys: []string{"Apt 4B"},
		Resident: true, MayShare: true, Start: start})
	if mails, _ := filepath.Glob(filepath.Join(r.state, controlplane.OutboxDir, "*ann-example.com-welcome.eml")); len(mails) != 1 {
		t.Fatalf("welcome mails for an access starting in an hour: %v", mails)
	}
	r.do("keycard", console.KeycardRequest{Email: "ann@example.com", Card: ann, Active: true})
	r.synced()
	r.expect("lobby", ann, "not_started")

	// Inviting the same email again adds to the existing person: the start
	// moves to now (an edit of the same key).
	r.do("invite", console.Invite{Email: "ANN@example.com", Keys: []string{"Apt 4B"}, Resident: true, MayShare: true,
		Start: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
	r.synced()
	r.expect("lobby", ann, "allowed_by_grant")
	r.expect("apt-4b", ann, "allowed_by_grant")

	// Keycards: "pending" until the hub acknowledged the change.
	waitUntil(t, "keycard no longer pending", 10*time.Second, func() bool {
		var p console.PersonView
		if err := r.client.Call(context.Background(), "people/show", console.EmailRequest{Email: "ann@example.com"}, &p); err != nil {
			t.Fatal(err)
		}
		return len(p.Credentials) == 1 && p.Credentials[0].State == "active" && len(p.Credentials[0].Pending) == 0
	})

	// Resident status: at her residence door Ann has no name in activity;
	// at the lobby she is visible.
	r.activity("Ann at the lobby, named", allowedEvent("lobby", "allowed_by_grant", "ann@example.com"))
	e := r.activity("Ann at 4B", func(e controlplane.ActivityView) bool { return e.Door == "apt-4b" && e.Reason == "allowed_by_grant" })
	if e.Email != "" || e.Visibility != "identity_removed" {
		t.Fatalf("a resident at her residence door: %+v", e)
	}

	// May share: Ann shares 4B with a guest, who gets a keycard.
	var sr console.ShareResult
	if err := r.client.Call(context.Background(), "share", console.Share{Host: "ann@example.com", Key: "Apt 4B",
		Guest: "gus@example.com", Permanent: true}, &sr); err != nil {
		t.Fatal(err)
	}
	r.do("keycard", console.KeycardRequest{Email: "gus@example.com", Card: guest, Active: true})
	r.synced()
	r.expect("apt-4b", guest, "allowed_as_guest")
	e = r.activity("Gus at 4B, as Ann's guest", allowedEvent("apt-4b", "allowed_as_guest", "gus@example.com"))
	if e.Host != "ann@example.com" {
		t.Fatalf("guest event: %+v", e)
	}

	// Bad input changes nothing.
	r.refused("invite", console.Invite{Email: "zed@example.com", Keys: []string{"Penthouse"}}, `key "Penthouse"`)
	r.refused("invite", console.Invite{Email: "zed@example.com", Keys: []string{"Building"}, Expires: "2020-01-01T00:00:00Z"}, "in the past")
	r.refused("import", console.Import{CSV: "email,keys\nzed@example.com,Building\nZED@example.com,Building\n"}, "line 3")
	r.refused("keycard", console.KeycardRequest{Email: "zed@example.com", Card: "zz", Active: true}, "hex")

	// Revoking: Ann and her guest are out; Ann is still listed with
	// --show-expired and can be invited again.
	r.do("revoke", console.EmailRequest{Email: "ann@example.com"})
	r.synced()
	r.expect("apt-4b", ann, "no_key_for_door")
	if res := r.present("apt-4b", guest); res.Allowed {
		t.Fatalf("the guest of a revoked host: %+v", res)
	}
	var people []console.PersonView
	if err := r.client.Call(context.Background(), "people", console.PeopleRequest{ShowExpired: true}, &people); err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, p := range people {
		listed = listed || p.Email == "ann@example.com" && p.Status == "expired"
	}
	if !listed {
		t.Fatalf("a revoked person not listed with --show-expired: %+v", people)
	}
	r.do("invite", console.Invite{Email: "ann@example.com", Keys: []string{"Building"}})
	r.synced()
	r.expect("lobby", ann, "allowed_by_grant")

	// Keycard deactivation.
	r.do("keycard", console.KeycardRequest{Email: "gus@example.com", Card: guest})
	r.synced()
	r.expect("lobby", guest, "credential_inactive")

	// Deleting: Ann is gone; her past activity is still listed with her name.
	r.do("delete", console.EmailRequest{Email: "ann@example.com"})
	r.synced()
	r.expect("lobby", ann, "unknown_credential")
	r.activity("Ann's past activity after her deletion", allowedEvent("lobby", "allowed_by_grant", "ann@example.com"))
	r.activity("the deleted card, unknown", func(e controlplane.ActivityView) bool {
		return e.Door == "lobby" && e.Reason == "unknown_credential"
	})
}

// TestSeedDoorcodesAndTours: a daily doorcode shown by the cloud opens the
// door at the hub; a tour's code opens only allowlisted keys' doors.
func TestSeedDoorcodesAndTours(t *testing.T) {
	r := newSeedRig(t)
	r.do("invite", console.Invite{Email: "cody@example.com", Name: "Cody", Method: "doorcode", Keys: []string{"Building"}})
	var dc console.DoorcodeView
	if err := r.client.Call(context.Background(), "doorcode", console.DoorcodeRequest{Email: "cody@example.com", Door: "Lobby"}, &dc); err != nil {
		t.Fatal(err)
	}
	r.synced()
	r.code("lobby", dc.Code, "allowed_by_grant")
	r.activity("Cody's code at the lobby", allowedEvent("lobby", "allowed_by_grant", "cody@example.com"))

	r.do("tour/allowlist", console.TourAllowlist{Integration: "Tour24", Key: "Building"})
	r.refused("tour/create", console.TourCreate{Integration: "Tour24", Code: "123456", Keys: []string{"Apt 4B"},
		Start: time.Now().UTC().Format(time.RFC3339), End: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "not allowlisted")
	r.refused("tour/create", console.TourCreate{Integration: "Tour24", Code: "1234", Keys: []string{"Building"},
		Start: time.Now().UTC().Format(time.RFC3339), End: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "length of 6")
	r.do("tour/create", console.TourCreate{Integration: "Tour24", Code: "424242", Keys: []string{"Building"},
		Start: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), End: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	r.synced()
	r.code("lobby", "424242", "allowed_tour")
	r.code("apt-4b", "424242", "no_key_for_door")
	r.activity("the tour at the lobby", func(e controlplane.ActivityView) bool { return e.Reason == "allowed_tour" })

	// The cloud restarts: its activity is still there (once), and the
	// next change still reaches the hub.
	var before []controlplane.ActivityView
	if err := r.client.Call(context.Background(), "activity", controlplane.ActivityRequest{}, &before); err != nil {
		t.Fatal(err)
	}
	r.restartCloud()
	var after []controlplane.ActivityView
	if err := r.client.Call(context.Background(), "activity", controlplane.ActivityRequest{}, &after); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, e := range after {
		ids[e.ID]++
	}
	for _, e := range before {
		if ids[e.ID] != 1 {
			t.Fatalf("event %s %d times after a restart of the cloud (before: %d events, after: %d)", e.ID, ids[e.ID], len(before), len(after))
		}
	}
	r.do("access/edit", console.AccessEdit{Email: "cody@example.com", Key: "Building", Remove: true})
	r.synced()
	r.code("lobby", dc.Code, "unknown_credential") // no doorcode grant left: the code is no one's
}

// TestSeedEditImportSharingUnlock walks editing, CSV import and re-import,
// managers' visibility, guest doorcodes, phones and remote unlock.
func TestSeedEditImportSharingUnlock(t *testing.T) {
	r := newSeedRig(t)
	ctx := context.Background()

	// CSV import, then the same file again: nothing new.
	file := console.ImportTemplate() +
		"ann@example.com,Ann,app,Building;Apt 4B,yes,yes,,\n" +
		"mo@example.com,Mo,app,Apt 4B,yes,no,,\n"
	var ir console.ImportResult
	if err := r.client.Call(ctx, "import", console.Import{CSV: file}, &ir); err != nil || !ir.Changed {
		t.Fatalf("import: %+v %v", ir, err)
	}
	v := r.cloud.Console.Store().Version()
	if err := r.client.Call(ctx, "import", console.Import{CSV: file}, &ir); err != nil || ir.Changed || r.cloud.Console.Store().Version() != v {
		t.Fatalf("re-import: %+v %v", ir, err)
	}
	const ann, mo = "a1a1a1a1", "b2b2b2b2"
	r.do("keycard", console.KeycardRequest{Email: "ann@example.com", Card: ann, Active: true})
	r.do("keycard", console.KeycardRequest{Email: "mo@example.com", Card: mo, Active: true})
	r.synced()
	r.expect("apt-4b", ann, "allowed_by_grant")
	r.expect("apt-4b", mo, "allowed_by_grant")

	// Editing: Ann's Building key removed (4B still opens the lobby), Mo's
	// access to 4B ends in a few seconds, Mo no longer a resident.
	r.do("access/edit", console.AccessEdit{Email: "ann@example.com", Key: "Building", Remove: true})
	no := false
	expires := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	r.do("access/edit", console.AccessEdit{Email: "mo@example.com", Key: "Apt 4B", Resident: &no, Expires: expires.UTC().Format(time.RFC3339)})
	r.synced()
	r.expect("lobby", ann, "allowed_by_grant")
	r.expect("apt-4b", mo, "allowed_by_grant")
	e := r.activity("Mo at 4B as a non-resident, named", allowedEvent("apt-4b", "allowed_by_grant", "mo@example.com"))
	if e.Visibility != "visible" {
		t.Fatalf("a non-resident at a residence door: %+v", e)
	}
	time.Sleep(time.Until(expires) + 100*time.Millisecond)
	r.expect("apt-4b", mo, "expired")

	// A manager who is a resident is visible at every door.
	r.do("invite", console.Invite{Email: "boss@example.com", Name: "Boss", Keys: []string{"Apt 4B"}, Resident: true, Manager: true})
	r.do("keycard", console.KeycardRequest{Email: "boss@example.com", Card: "c3c3c3c3", Active: true})
	r.synced()
	r.expect("apt-4b", "c3c3c3c3", "allowed_by_grant")
	r.activity("the manager at 4B, named", allowedEvent("apt-4b", "allowed_by_grant", "boss@example.com"))

	// Guest doorcodes, only where the host may share.
	var day, fifteen console.ShareResult
	if err := r.client.Call(ctx, "share", console.Share{Host: "ann@example.com", Key: "Apt 4B", SingleDay: true}, &day); err != nil {
		t.Fatal(err)
	}
	if err := r.client.Call(ctx, "share", console.Share{Host: "ann@example.com", Key: "Apt 4B", FifteenMinute: true}, &fifteen); err != nil {
		t.Fatal(err)
	}
	r.refused("share", console.Share{Host: "boss@example.com", Key: "Apt 4B", SingleDay: true}, "may not share")
	r.do("share", console.Share{Host: "ann@example.com", Key: "Apt 4B", Service: "Dog walker", Permanent: true})
	r.synced()
	r.code("apt-4b", day.Code, "allowed_as_guest")
	r.code("apt-4b", fifteen.Code, "allowed_as_guest")

	// A phone registered to Ann opens the lobby.
	pub, priv, _ := ed25519.GenerateKey(nil)
	r.do("device/register", console.DeviceRegister{Email: "ann@example.com", PublicKey: base64.StdEncoding.EncodeToString(pub)})
	r.synced()
	lobby := r.locks["lobby"]
	door, nonce, err := lobby.Challenge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res := presentAt(t, lobby, sim.Credential{PublicKey: pub, Nonce: nonce, Signature: ed25519.Sign(priv, hub.MobileMessage(door, nonce))}); !res.Allowed {
		t.Fatalf("Ann's phone: %+v", res)
	}

	// Remote unlock through the hub.
	var u controlplane.UnlockResult
	if err := r.client.Call(ctx, "unlock", controlplane.UnlockRequest{Door: "Lobby"}, &u); err != nil {
		t.Fatal(err)
	}
	if len(u.Replies) != 1 || u.Replies[0].Status != "done" {
		t.Fatalf("unlock: %+v", u)
	}
	// The hub's endpoint shows it among the recent activity.
	waitUntil(t, "the remote unlock in the hub's activity", 3*time.Second, func() bool {
		var act struct{ Events []status.Event }
		r.hub.api(t, "GET", "/api/v1/activity", nil, &act)
		for _, e := range act.Events {
			if e.Kind == hub.ActivityRemoteUnlock && e.Door != "" {
				return true
			}
		}
		return false
	})

	// Deleting a host removes the access of their permanent guests.
	r.do("invite", console.Invite{Email: "pat@example.com", Name: "Pat", Keys: []string{"Building"}})
	r.do("share", console.Share{Host: "ann@example.com", Key: "Apt 4B", Guest: "pat@example.com", Permanent: true})
	r.do("keycard", console.KeycardRequest{Email: "pat@example.com", Card: "e5e5e5e5", Active: true})
	var pat console.PersonView
	if err := r.client.Call(ctx, "people/show", console.EmailRequest{Email: "pat@example.com"}, &pat); err != nil ||
		len(pat.GuestOf) != 1 || pat.GuestOf[0].Host != "ann@example.com" || !pat.GuestOf[0].Permanent {
		t.Fatalf("people show of a guest: %+v %v", pat, err)
	}
	r.synced()
	r.expect("apt-4b", "e5e5e5e5", "allowed_as_guest")
	r.do("delete", console.EmailRequest{Email: "ann@example.com"})
	r.synced()
	r.expect("apt-4b", "e5e5e5e5", "no_key_for_door")
	r.expect("lobby", "e5e5e5e5", "allowed_by_grant") // Pat's own key stays
}

// TestSeedThroughABrokerOutage: a revocation made while the broker is down
// reaches the door when it is back, and what the door decided meanwhile
// reaches the cloud's activity.
func TestSeedThroughABrokerOutage(t *testing.T) {
	r := newSeedRig(t)
	const ann = "d4d4d4d4"
	r.do("invite", console.Invite{Email: "ann@example.com", Name: "Ann", Keys: []string{"Building"}})
	r.do("keycard", console.KeycardRequest{Email: "ann@example.com", Card: ann, Active: true})
	r.synced()
	r.expect("lobby", ann, "allowed_by_grant")

	r.mqtt.Stop()
	r.do("revoke", console.EmailRequest{Email: "ann@example.com"})
	// The hub cannot know yet: it decides from what it holds.
	r.expect("lobby", ann, "allowed_by_grant")
	// The broker lost its sessions: as a broker that authenticates, it
	// lets the cloud in first, so nothing the hub sends finds no
	// subscriber.
	r.mqtt.Admit(func(id string) bool { return strings.HasPrefix(id, "doorhub-cloud") })
	if err := r.mqtt.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the cloud back on the broker", 10*time.Second, r.cloud.Connected)
	r.mqtt.Admit(nil)
	r.synced()
	r.expect("lobby", ann, "no_key_for_door")
	waitUntil(t, "both allowed presentations in activity", 10*time.Second, func() bool {
		var evs []controlplane.ActivityView
		if err := r.client.Call(context.Background(), "activity", controlplane.ActivityRequest{Door: "lobby"}, &evs); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Email == "ann@example.com" && e.Reason == "allowed_by_grant" {
				n++
			}
		}
		return n == 2
	})
}
