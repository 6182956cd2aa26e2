package status_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

type explainer struct{ got status.ExplainRequest }

func (x *explainer) Explain(r status.ExplainRequest) (status.ExplainResult, error) {
	x.got = r
	d := hub.Decision{Door: r.Door, Kind: hub.CredKeycard, Allowed: true, Reason: "granted", PersonID: "resident-1",
		GrantID: "g1", Visibility: hub.IdentityRemoved}
	g := &hub.Grant{ID: "g1", PersonID: "resident-1", KeyID: "k1", Resident: true}
	return status.ExplainResult{Door: r.Door, Decisions: []status.Explanation{status.Explained(d, g)}}, nil
}

func apiServer(t *testing.T, opts status.Options) (do func(method, path, body string) (int, string)) {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Listen, opts.TokenFile, opts.Logger = "127.0.0.1:0", token, slog.New(slog.DiscardHandler)
	s, err := status.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+s.Addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

func TestStatusReport(t *testing.T) {
	do := apiServer(t, status.Options{Report: func() status.Report {
		return status.Report{HubID: "hub-1", Version: "v1", Clock: hub.ClockStatus{Trusted: false, Reason: "no NTP sync"},
			Radio: status.RadioReport{Port: "/dev/ttyX", State: "answering"}}
	}})
	code, body := do("GET", "/api/v1/status", "")
	var r status.Report
	if code != 200 || json.Unmarshal([]byte(body), &r) != nil || r.HubID != "hub-1" || r.Clock.Reason != "no NTP sync" || r.Radio.State != "answering" {
		t.Errorf("status %d %s", code, body)
	}
}

func TestActivityPrivacyAndWait(t *testing.T) {
	rec := status.NewRecent(3)
	do := apiServer(t, status.Options{Recent: rec})
	now := hub.Now{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Trusted: true}
	// A resident at their own door: the record keeps no identity.
	rec.Add(hub.AccessActivity(hub.Decision{Door: "apt-1", At: now.Time, Kind: hub.CredKeycard, Allowed: true,
		Reason: "granted", PersonID: "resident-1", GrantID: "g-res", Resident: true, Visibility: hub.IdentityRemoved}))
	// Even a record made without AccessActivity is redacted by the endpoint.
	rec.Add(hub.Activity{Kind: hub.ActivityAccess, Door: "apt-2", At: now.Time, Decision: &hub.Decision{Door: "apt-2",
		PersonID: "resident-2", HostID: "host-2", Visibility: hub.IdentityRemoved}})
	rec.Add(hub.AccessActivity(hub.Decision{Door: "lobby", At: now.Time, Kind: hub.CredDoorcode, Allowed: true,
		Reason: "granted", PersonID: "visitor-1", Visibility: hub.Visible}))
	rec.Add(hub.DoorActivity("lobby", hub.ActivityLowBattery, now, 12))
	code, body := do("GET", "/api/v1/activity", "")
	var out struct{ Events []status.Event }
	if code != 200 || json.Unmarshal([]byte(body), &out) != nil || len(out.Events) != 3 {
		t.Fatalf("activity %d %s", code, body)
	}
	for _, secret := range []string{"resident-1", "resident-2", "host-2", "g-res"} {
		if strings.Contains(body, secret) {
			t.Errorf("activity shows %q: %s", secret, body)
		}
	}
	if !strings.Contains(body, "visitor-1") {
		t.Errorf("a visible decision lost its person: %s", body)
	}
	last := out.Events[2].ID
	if code, body := do("GET", "/api/v1/activity?after="+itoa(last)+"&wait=50ms", ""); code != 200 || !strings.Contains(body, `"events":[]`) {
		t.Errorf("nothing new: %d %s", code, body)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		rec.Add(hub.DoorActivity("lobby", hub.ActivityJam, now, -1))
	}()
	if code, body := do("GET", "/api/v1/activity?after="+itoa(last)+"&wait=10s", ""); code != 200 || !strings.Contains(body, "jam") {
		t.Errorf("wait: %d %s", code, body)
	}
	if code, _ := do("GET", "/api/v1/activity?wait=1h", ""); code != 400 {
		t.Errorf("a wait of an hour: %d", code)
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestExplain(t *testing.T) {
	x := &explainer{}
	do := apiServer(t, status.Options{Explainer: x})
	for _, bad := range []string{`{"door":"d"}`, `{"door":"d","card":"a1","code":"123"}`, `{"card":"a1"}`, `{"door":"d","pin":"1"}`} {
		if code, body := do("POST", "/api/v1/explain", bad); code != 400 {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
	code, body := do("POST", "/api/v1/explain", `{"door":"apt-1","card":"a1b2c3","at":"2026-01-02T03:04:05Z"}`)
	if code != 200 || x.got.Card != "a1b2c3" || !x.got.At.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("explain %d %s %+v", code, body, x.got)
	}
	if strings.Contains(body, "resident-1") || strings.Contains(body, "a1b2c3") || !strings.Contains(body, `"key_id":"k1"`) {
		t.Errorf("explain shows identity or the card, or lost the grant: %s", body)
	}
}

func TestPprofOnItsOwnLoopbackListener(t *testing.T) {
	if _, err := status.Open(status.Options{Listen: "127.0.0.1:0", Pprof: "0.0.0.0:0", Logger: slog.New(slog.DiscardHandler)}); err == nil {
		t.Fatal("pprof on every interface was accepted")
	}
	s, err := status.Open(status.Options{Listen: "127.0.0.1:0", Pprof: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for addr, want := range map[string]int{s.PprofAddr(): 200, s.Addr(): 401} {
		resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want && !(addr == s.Addr() && resp.StatusCode == 404) {
			t.Errorf("%s: %d, want %d", addr, resp.StatusCode, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{"tls://u:p@b:8883": "tls://REDACTED@b:8883", "tcp://b:1883/x@y": "tcp://b:1883/x@y", "": ""} {
		if got := status.RedactURL(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestNonLoopbackNeedsAToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if s, err := status.Open(status.Options{Listen: addr, Logger: slog.New(slog.DiscardHandler)}); err == nil {
			_ = s.Close(context.Background())
			t.Errorf("%s without a token was accepted", addr)
		}
	}
}

func TestDoorsSayOnlineAndAttention(t *testing.T) {
	now := time.Now()
	do := apiServer(t, status.Options{Doors: func() []status.Door {
		return []status.Door{{Door: "lobby", Known: true, Lock: "01", LastSeen: now, BatteryPercent: 5},
			{Door: "gym", Known: true, Lock: "02", LastSeen: now.Add(-time.Hour), BatteryPercent: 90}}
	}})
	code, body := do("GET", "/api/v1/doors", "")
	var out struct{ Doors []status.Door }
	if code != 200 || json.Unmarshal([]byte(body), &out) != nil || len(out.Doors) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	if d := out.Doors[0]; !d.Online || len(d.Attention) != 1 || d.Attention[0] != "battery 5%" {
		t.Errorf("lobby %+v", d)
	}
	if d := out.Doors[1]; d.Online || len(d.Attention) != 1 || !strings.HasPrefix(d.Attention[0], "offline for") {
		t.Errorf("gym %+v", d)
	}
}
