package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/sim"
)

// TestSeedDemo prints, for `make demo` (DOORHUB_DEMO=1), the seed
// article's operations done with doorhub-cloud against a running hub and
// simulated locks, and what each door then decides.
func TestSeedDemo(t *testing.T) {
	if os.Getenv("DOORHUB_DEMO") == "" {
		t.Skip("set DOORHUB_DEMO=1 to print the walkthrough")
	}
	r := newSeedRig(t)
	ctx := context.Background()
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	step := func(cmd string, path string, req any) {
		var res map[string]any
		if err := r.client.Call(ctx, path, req, &res); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		msg, _ := res["message"].(string)
		if code, ok := res["code"].(string); ok && code != "" {
			msg += " — guest code " + code
		}
		say("$ doorhub-cloud %s\n    %s", cmd, msg)
		r.synced()
	}
	at := func(door, what string, c sim.Credential) {
		start := time.Now()
		res := presentAt(t, r.locks[door], c)
		verdict := "denied "
		if res.Allowed {
			verdict = "ALLOWED"
		}
		say("    door %-7s %-22s %s %-18s (%.1f ms)", door, what, verdict, res.Reason, float64(time.Since(start).Microseconds())/1000)
	}
	card := func(hex string) sim.Credential {
		b, _ := hexBytes(hex)
		return sim.Credential{Card: b}
	}
	say("A building: a lobby (entrance) and apartment 4B (residence); keys Building and Apt 4B.")
	say("doorhub-cloud, an MQTT broker, doorhubd (configured by `hub add`) and two simulated locks are running.\n")

	step(`invite --email ann@example.com --name Ann --key "Apt 4B" --resident --may-share`, "invite",
		console.Invite{Email: "ann@example.com", Name: "Ann", Keys: []string{"Apt 4B"}, Resident: true, MayShare: true})
	step("keycard activate --email ann@example.com --card 04a1b2c3", "keycard",
		console.KeycardRequest{Email: "ann@example.com", Card: "04a1b2c3", Active: true})
	at("lobby", "Ann's keycard", card("04a1b2c3"))
	at("apt-4b", "Ann's keycard", card("04a1b2c3"))

	var share console.ShareResult
	if err := r.client.Call(ctx, "share", console.Share{Host: "ann@example.com", Key: "Apt 4B", SingleDay: true}, &share); err != nil {
		t.Fatal(err)
	}
	say("$ doorhub-cloud share --host ann@example.com --key \"Apt 4B\" --single-day\n    %s — guest code %s", share.Message, share.Code)
	r.synced()
	at("apt-4b", "Ann's guest's code", sim.Credential{Code: share.Code})

	step(`invite --email cody@example.com --name Cody --method doorcode --key Building --expires `+
		time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339), "invite",
		console.Invite{Email: "cody@example.com", Name: "Cody", Method: "doorcode", Keys: []string{"Building"},
			Expires: time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	var dc console.DoorcodeView
	if err := r.client.Call(ctx, "doorcode", console.DoorcodeRequest{Email: "cody@example.com", Door: "lobby"}, &dc); err != nil {
		t.Fatal(err)
	}
	say("$ doorhub-cloud doorcode --email cody@example.com --door lobby\n    today's code: %s", dc.Code)
	at("lobby", "Cody's daily code", sim.Credential{Code: dc.Code})
	at("apt-4b", "Cody's daily code", sim.Credential{Code: dc.Code})

	step("tour allowlist --integration Tour24 --key Building", "tour/allowlist", console.TourAllowlist{Integration: "Tour24", Key: "Building"})
	step("tour create --integration Tour24 --code 424242 --key Building --start now --end in 1h", "tour/create",
		console.TourCreate{Integration: "Tour24", Code: "424242", Keys: []string{"Building"},
			Start: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), End: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	at("lobby", "the tour's code", sim.Credential{Code: "424242"})

	step("revoke --email ann@example.com", "revoke", console.EmailRequest{Email: "ann@example.com"})
	at("apt-4b", "Ann's keycard", card("04a1b2c3"))
	at("apt-4b", "Ann's guest's code", sim.Credential{Code: share.Code})

	var u controlplane.UnlockResult
	if err := r.client.Call(ctx, "unlock", controlplane.UnlockRequest{Door: "lobby"}, &u); err != nil {
		t.Fatal(err)
	}
	say("$ doorhub-cloud unlock --door lobby\n    %s", u.Message)

	time.Sleep(500 * time.Millisecond)
	var evs []controlplane.ActivityView
	if err := r.client.Call(ctx, "activity", controlplane.ActivityRequest{}, &evs); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs {
		who := e.Email
		switch {
		case e.Visibility == "identity_removed":
			who = "(a resident; identity removed)"
		case e.Tour != "":
			who = "tour"
		case e.Host != "":
			who = "guest of " + e.Host
		case who == "" && e.Subject != "":
			who = e.Subject
		case who == "":
			who = "-"
		}
		outcome := e.Kind
		if e.Allowed != nil {
			outcome = e.Reason
		}
		fmt.Fprintf(&b, "    %-7s %-9s %-20s %s\n", e.Door, e.Credential, outcome, who)
	}
	say("$ doorhub-cloud activity\n%s", b.String())

	// The technician's side: the hub's local endpoint, as doorhub shows it.
	var rep status.Report
	r.hub.api(t, "GET", "/api/v1/status", nil, &rep)
	trust := "not trusted"
	if rep.Clock.Trusted {
		trust = "trusted"
	}
	pending := 0
	if rep.Outbox != nil {
		pending = rep.Outbox.Pending
	}
	say("$ doorhub status\n    hub %s, clock %s (%s)\n    site model version %d: %d doors, %d people\n    cloud %s, %d events waiting; radio %s",
		rep.HubID, trust, rep.Clock.Reason, rep.Store.Version, rep.Store.Counts.Doors, rep.Store.Counts.People,
		rep.Cloud.State, pending, rep.Radio.State)
	var ex status.ExplainResult
	r.hub.api(t, "POST", "/api/v1/explain", status.ExplainRequest{Door: "apt-4b", Email: "ann@example.com"}, &ex)
	b.Reset()
	for _, d := range ex.Decisions {
		verdict := "denied"
		if d.Allowed != nil && *d.Allowed {
			verdict = "ALLOWED"
		}
		fmt.Fprintf(&b, "    %-9s %-7s %s", d.Credential, verdict, d.Reason)
		if d.Grant != nil {
			fmt.Fprintf(&b, " (grant of key %s)", d.Grant.KeyID)
		}
		b.WriteString("\n")
	}
	say("$ doorhub explain --door apt-4b --email ann@example.com\n%s", b.String())
	say("The status page was at http://%s/ (any user name, the status token as password); `doorhub events --follow` tails the activity.",
		r.hub.m.Status.Addr())
}
