package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

// visit is one simulated coming or going: who presents what at which
// door. Some are meant to be denied.
type visit struct {
	who, what, door string
	card, code      func(d *demo) string
	phone           bool
}

func card(id string) func(*demo) string { return func(*demo) string { return id } }

var visits = []visit{
	{who: "Ann (resident)", what: "her keycard", door: "apt-1a", card: card(annCard)},
	{who: "Ann (resident)", what: "her keycard", door: "lobby", card: card(annCard)},
	{who: "Ann (resident)", what: "her phone", door: "apt-1a", phone: true},
	{who: "Ann (resident)", what: "her phone", door: "gym", phone: true},
	{who: "Ben (resident)", what: "his keycard", door: "apt-1b", card: card(benCard)},
	{who: "Ben (resident)", what: "his keycard", door: "roof-deck", card: card(benCard)},
	{who: "Ben (resident)", what: "his keycard", door: "apt-1a", card: card(benCard)}, // not his door
	{who: "Cody", what: "his daily doorcode", door: "lobby", code: (*demo).codyDoorcode},
	{who: "Cody", what: "his daily doorcode", door: "apt-1b", code: (*demo).codyDoorcode}, // not his door
	{who: "Dana (staff)", what: "her keycard", door: "boiler-room", card: card(danaCard)},
	{who: "Dana (staff)", what: "her keycard", door: "side-door", card: card(danaCard)},
	{who: "Ann's guest", what: "the guest code", door: "apt-1a", code: func(d *demo) string { return d.guestCode }},
	{who: "Ann's guest", what: "the guest code", door: "lobby", code: func(d *demo) string { return d.guestCode }},
	{who: "a tour prospect", what: "the tour code", door: "lobby", code: func(d *demo) string { return d.tourCode }},
	{who: "a tour prospect", what: "the tour code", door: "gym", code: func(d *demo) string { return d.tourCode }},
	{who: "a stranger", what: "an unknown card", door: "side-door", card: card("deadbeef")},
	{who: "a stranger", what: "a guessed code", door: "side-door", code: func(*demo) string { return "123456" }},
}

// comeAndGo presents a credential at a door every d.every, and tails the
// hub's activity, until ctx ends.
func (d *demo) comeAndGo(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.tail(ctx)
	}()
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			d.present(ctx, visits[rand.IntN(len(visits))])
		}
	}
}

// present makes the visit with doorhub-sim present and prints what the
// lock did.
func (d *demo) present(ctx context.Context, v visit) {
	args := []string{"--control", filepath.Join(d.dir, "sim.sock"), "present", "--lock", d.locks[v.door]}
	switch {
	case v.phone:
		args = append(args, "--phone", d.phone)
	case v.card != nil:
		args = append(args, "--card", v.card(d))
	default:
		args = append(args, "--code", v.code(d))
	}
	out, err := d.cli(ctx, "doorhub-sim", args...)
	var res struct {
		Allowed   bool    `json:"allowed"`
		Reason    string  `json:"reason"`
		LatencyMS float64 `json:"latency_ms"`
		Offline   bool    `json:"offline"`
	}
	if jerr := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); jerr != nil {
		if ctx.Err() == nil {
			d.say("%s  sim  %s at %s: %v", clock(time.Now()), v.who, v.door, err)
		}
		return
	}
	verdict := "denied"
	if res.Allowed {
		verdict = "opens"
	}
	how := fmt.Sprintf("%.0f ms", res.LatencyMS)
	if res.Offline {
		how = "the lock decided alone: no answer from the hub"
	}
	d.say("%s  sim  %-16s %-18s at %-11s -> %s (%s, %s)", clock(time.Now()), v.who, v.what, v.door, verdict, res.Reason, how)
}

// codyDoorcode asks doorhub-cloud for Cody's doorcode of today (once a
// minute); after Cody lost access it keeps the last one.
func (d *demo) codyDoorcode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.codyFetch) > time.Minute || d.codyCode == "" {
		out, err := d.cli(context.Background(), "doorhub-cloud", "--json", "doorcode", "--email", "cody@example.com", "--door", "Lobby")
		var v struct{ Code string }
		if err == nil && json.Unmarshal([]byte(out), &v) == nil && v.Code != "" {
			d.codyCode = v.Code
		}
		d.codyFetch = time.Now()
	}
	if d.codyCode == "" {
		return "000000"
	}
	return d.codyCode
}

// tail prints the hub's activity as the status endpoint serves it (the
// privacy rule applied: a resident at their own door has no identity).
func (d *demo) tail(ctx context.Context) {
	var after uint64
	var out struct {
		Events []status.Event `json:"events"`
		Last   uint64         `json:"last"`
	}
	if _, err := d.api(ctx, "/api/v1/activity?limit=0", &out); err == nil {
		after = out.Last // the comings and goings from now on
	}
	for ctx.Err() == nil {
		out.Events = nil
		q := url.Values{"after": {fmt.Sprint(after)}, "wait": {"20s"}, "limit": {"1000"}}
		if _, err := d.api(ctx, "/api/v1/activity?"+q.Encode(), &out); err != nil {
			_ = sleep(ctx, time.Second) // the hub restarting, or stopping
			continue
		}
		if out.Last < after { // the hub restarted
			after = 0
			continue
		}
		after = max(after, out.Last)
		for _, e := range out.Events {
			d.say("%s  hub  %s", clock(e.At), describe(e))
		}
	}
}

// describe is an activity record in a line.
func describe(e status.Event) string {
	what := string(e.Kind)
	if e.Allowed != nil {
		what = "denied "
		if *e.Allowed {
			what = "allowed"
		}
		what += " " + e.Credential
	}
	who := e.Person
	switch {
	case e.Visibility != "" && e.Visibility != "visible":
		who = "(a resident at their own door: no identity)"
	case e.Tour != "":
		who = "tour " + e.Tour
	case e.GuestGrant != "":
		who = "guest of " + e.Host
	case who == "" && e.By != "":
		who = "by " + e.By
	}
	line := fmt.Sprintf("%-11s %-16s %-20s %s", e.Door, what, e.Reason, who)
	return strings.TrimRight(line, " ")
}

func clock(t time.Time) string { return t.Local().Format("15:04:05") }
