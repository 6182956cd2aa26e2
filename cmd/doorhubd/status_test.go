package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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

	var doors struct{ Doors []status.Door }
	if r.api(t, "GET", "/api/v1/doors", nil, &doors); len(doors.Doors) == 0 {
		t.Fatal("no doors")
	}
	for _, d := range doors.Doors {
		if d.Door == radiotest.Lobby && (!d.Online || d.Lock != lobby.ID().Hex()) {
			t.Errorf("lobby %+v", d)
		}
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
		"doorhub_store_bytes", "go_goroutines", "process_"} {
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
