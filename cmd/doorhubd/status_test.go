package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/sim"
)

func TestStatusActivityExplainMetrics(t *testing.T) {
	r := newDaemonRig(t, 1)
	lobby := r.pair(t, 0, radiotest.Lobby)
	if res := presentAt(t, lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Allowed {
		t.Fatalf("present: %+v", res)
	}

	var rep status.Report
	if code := r.api(t, "GET", "/api/v1/status", nil, &rep); code != 200 || rep.HubID != "hub-e2e" ||
		rep.Radio.State != "answering" || rep.Clock.Reason == "" || rep.Store.Counts.Doors == 0 || rep.Cloud.State != "off" {
		t.Errorf("status %d %+v", code, rep)
	}

	// The lobby's lock takes its list: current, with the digest it holds;
	// every other door has no lock and its list is pending.
	var doors struct{ Doors []status.Door }
	waitUntil(t, "the lobby's list current", 10*time.Second, func() bool {
		doors.Doors = nil
		r.api(t, "GET", "/api/v1/doors", nil, &doors)
		for _, d := range doors.Doors {
			if d.Door == radiotest.Lobby {
				return d.ListCurrent
			}
		}
		return false
	})
	empty := hub.ListDigest(nil)
	emptyList := hex.EncodeToString(empty[:hub.MinAckDigest])
	if len(doors.Doors) < 2 {
		t.Fatalf("doors: %+v", doors.Doors)
	}
	for _, d := range doors.Doors {
		switch {
		case d.Door == radiotest.Lobby && (!d.Online || d.Lock != lobby.ID().Hex() || len(d.ListDigest) != 16 ||
			d.PendingChanges != 0 || d.PendingRevocations != 0 || d.ListDrift):
			t.Errorf("lobby %+v", d)
		case d.Door != radiotest.Lobby && d.ListDigest != emptyList && (d.ListCurrent || d.PendingChanges == 0):
			t.Errorf("a door without a lock: %+v", d)
		}
	}
	var raw json.RawMessage
	r.api(t, "GET", "/api/v1/doors", nil, &raw)
	for _, field := range []string{`"list_digest"`, `"list_current"`, `"pending_changes"`, `"pending_revocations"`} {
		if !bytes.Contains(raw, []byte(field)) {
			t.Errorf("/api/v1/doors lacks %s: %s", field, raw)
		}
	}
	if bytes.Contains(raw, []byte(radiotest.Card)) {
		t.Errorf("/api/v1/doors shows a card id: %s", raw)
	}

	var act struct{ Events []status.Event }
	waitUntil(t, "the decision in the activity", 2*time.Second, func() bool {
		r.api(t, "GET", "/api/v1/activity", nil, &act)
		return len(act.Events) > 0
	})
	if e := act.Events[len(act.Events)-1]; e.Door != radiotest.Lobby || e.Reason != "allowed_by_grant" {
		t.Errorf("activity: %+v", act.Events)
	}

	var ex status.ExplainResult
	if code := r.api(t, "POST", "/api/v1/explain", status.ExplainRequest{Door: radiotest.Lobby, Card: radiotest.Card}, &ex); code != 200 ||
		len(ex.Decisions) != 1 || ex.Decisions[0].Reason != "allowed_by_grant" || ex.Decisions[0].Grant == nil {
		t.Errorf("explain %d %+v", code, ex)
	}

	req, _ := http.NewRequest("GET", "http://"+r.m.Status.Addr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`doorhub_decisions_total{allowed="true",reason="allowed_by_grant"} 1`,
		"doorhub_decision_seconds_bucket", "doorhub_radio_up 1", `doorhub_radio_link_frames{kind="sent"}`,
		"doorhub_store_bytes", "go_goroutines", "process_", `doorhub_door_lists{state="current"}`,
		"doorhub_revocations_pending 0", "doorhub_revocation_oldest_seconds 0", "doorhub_door_list_overflow 0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(b), radiotest.Card) {
		t.Error("metrics show a card id")
	}
}

// TestDiagBundleHoldsNoSecret collects a support bundle from a running
// daemon, as doorhub diag does, and looks for every secret the config and
// the store hold: the status token, the lock's pairing key, card ids.
func TestDiagBundleHoldsNoSecret(t *testing.T) {
	r := newDaemonRig(t, 1)
	lobby := r.pair(t, 0, radiotest.Lobby)
	for _, c := range []string{radiotest.Card, radiotest.InactiveCard, radiotest.UnknownCard} {
		presentAt(t, lobby, sim.Credential{Card: radiotest.CardBytes(c)})
	}
	fetch := func(ctx context.Context, path string) ([]byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+r.m.Status.Addr()+path, nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	var buf bytes.Buffer
	files := status.Collect(context.Background(), fetch, nil, r.m.Config)
	if err := status.WriteBundle(&buf, "d", files); err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".error") {
			t.Errorf("%s: %s", f.Name, f.Data)
		}
		all += string(f.Data)
	}
	if !strings.Contains(all, "allowed_by_grant") || !strings.Contains(all, lobby.ID().Hex()) {
		t.Error("the bundle lacks the decisions or the lock")
	}
	secrets := []string{r.token, r.sim.Labels()[0].Key, radiotest.Card, radiotest.InactiveCard, radiotest.UnknownCard}
	for _, s := range secrets {
		if strings.Contains(all, s) || strings.Contains(strings.ToUpper(all), strings.ToUpper(s)) {
			t.Errorf("the bundle holds the secret %q", s)
		}
	}
}

// TestRecentActivitySurvivesARestart: the endpoint's recent activity is
// kept in the store, so after a restart a technician still sees what
// happened before it, and new events number on.
func TestRecentActivitySurvivesARestart(t *testing.T) {
	r := newDaemonRig(t, 1)
	lobby := r.pair(t, 0, radiotest.Lobby)
	card := sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}
	if res := presentAt(t, lobby, card); !res.Allowed {
		t.Fatalf("present: %+v", res)
	}
	var before struct {
		Events []status.Event
		Last   uint64
	}
	waitUntil(t, "the decision in the activity", 2*time.Second, func() bool {
		r.api(t, "GET", "/api/v1/activity", nil, &before)
		return len(before.Events) > 0
	})
	path := r.m.ConfigPath
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	m := NewMain(r.logs, r.logs, nil)
	if err := m.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.m = m
	var after struct {
		Events []status.Event
		Last   uint64
	}
	r.api(t, "GET", "/api/v1/activity", nil, &after)
	if after.Last != before.Last || len(after.Events) != len(before.Events) ||
		after.Events[len(after.Events)-1].Reason != "allowed_by_grant" {
		t.Fatalf("after a restart: %+v, before %+v", after, before)
	}
	waitUntil(t, "radio ready", 3*time.Second, func() bool { return m.radioReady() == nil })
	if res := presentAt(t, lobby, card); !res.Allowed {
		t.Fatalf("present: %+v", res)
	}
	waitUntil(t, "the next decision numbered on", 2*time.Second, func() bool {
		r.api(t, "GET", "/api/v1/activity?after="+fmt.Sprint(before.Last), nil, &after)
		return len(after.Events) == 1 && after.Events[0].ID == before.Last+1
	})
}

// TestDoorsShowARevocationNotApplied: a keycard revoked while the lobby's
// lock cannot hear the hub is pending there — the doors view, the page
// and the metrics say so, with its age — until the lock takes its list
// again.
func TestDoorsShowARevocationNotApplied(t *testing.T) {
	r := newDaemonRig(t, 1)
	lobby := r.pair(t, 0, radiotest.Lobby)
	door := func() status.Door {
		var doors struct{ Doors []status.Door }
		r.api(t, "GET", "/api/v1/doors", nil, &doors)
		for _, d := range doors.Doors {
			if d.Door == radiotest.Lobby {
				return d
			}
		}
		t.Fatal("no lobby")
		return status.Door{}
	}
	waitUntil(t, "the lobby's list current", 10*time.Second, func() bool { return door().ListCurrent })
	before := door().ListDigest

	lobby.Isolate(true)
	var kc hub.Keycard
	r.m.Store.View(func(c *hub.Catalog) { kc = *c.Keycard(radiotest.Card) })
	kc.Active = false
	v := r.m.Store.Version()
	if err := r.m.Store.Apply(context.Background(), &hub.Batch{Site: radiotest.SiteID, Base: v, Version: v + 1,
		IssuedAt: time.Now(), Ops: []hub.Op{{Type: hub.OpPutKeycard, Keycard: &kc}}}); err != nil {
		t.Fatal(err)
	}
	// The daemon notices the change within doorWatchEvery, unasked.
	time.Sleep(doorWatchEvery + 1100*time.Millisecond)
	d := door()
	if d.ListCurrent || d.PendingRevocations != 1 || d.PendingChanges < 1 || d.OldestRevocation.IsZero() ||
		d.RevocationAgeSeconds < 1 || d.ListDigest == before || time.Since(d.OldestRevocation) > doorWatchEvery+1100*time.Millisecond {
		t.Errorf("the lobby with a revocation not applied: %+v", d)
	}
	if !slices.ContainsFunc(d.Attention, func(s string) bool { return strings.Contains(s, "1 revocation(s) not applied, oldest") }) {
		t.Errorf("attention: %q", d.Attention)
	}
	req, _ := http.NewRequest("GET", "http://"+r.m.Status.Addr()+"/", nil)
	req.SetBasicAuth("technician", r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "1 pending, oldest") || strings.Contains(string(page), radiotest.Card) {
		t.Errorf("the page: %s", page)
	}
	req, _ = http.NewRequest("GET", "http://"+r.m.Status.Addr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "doorhub_revocations_pending 1") || strings.Contains(string(metrics), "doorhub_revocation_oldest_seconds 0\n") {
		t.Errorf("metrics lack the pending revocation")
	}

	lobby.Isolate(false)
	waitUntil(t, "the revocation applied", 10*time.Second, func() bool {
		d := door()
		return d.ListCurrent && d.PendingRevocations == 0 && d.OldestRevocation.IsZero()
	})
}
