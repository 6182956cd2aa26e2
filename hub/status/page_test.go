package status_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

func pageServer(t *testing.T) (addr string) {
	t.Helper()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("page-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := status.NewRecent(10)
	rec.Add(hub.AccessActivity(hub.Decision{Door: "apt-1", At: now, Kind: hub.CredKeycard, Allowed: true, Reason: "allowed_by_grant",
		PersonID: "resident-1", Resident: true, Visibility: hub.IdentityRemoved}))
	rec.Add(hub.AccessActivity(hub.Decision{Door: "lobby", At: now, Kind: hub.CredDoorcode, Reason: "wrong_code",
		PersonID: "visitor-1", Visibility: hub.Visible}))
	s, err := status.Open(status.Options{Listen: "127.0.0.1:0", TokenFile: token, Recent: rec, Logger: slog.New(slog.DiscardHandler),
		Checks: map[string]func() error{"radio": func() error { return nil }},
		Report: func() status.Report {
			return status.Report{HubID: "hub-page", Version: "v1", Clock: hub.ClockStatus{Reason: "no NTP sync yet"},
				Radio: status.RadioReport{Port: "/dev/doorhub-radio", State: "answering"}, Cloud: status.CloudReport{State: "off"}}
		},
		Doors: func() []status.Door {
			return []status.Door{
				{Door: "a-fine", Known: true, Lock: "00000001", LastSeen: now, BatteryPercent: 90, RSSI: -60},
				{Door: "b-low", Known: true, Lock: "00000002", LastSeen: now, BatteryPercent: 7},
				{Door: "c-gone", Known: true, Lock: "00000003", LastSeen: now.Add(-time.Hour), BatteryPercent: 80},
				{Door: "d-nolock", Known: true, BatteryPercent: -1},
				{Door: "e-drift", Known: true, Lock: "00000005", LastSeen: now, BatteryPercent: 80, ListDrift: true, PendingChanges: 1},
				{Door: "f-revoked", Known: true, Lock: "00000006", LastSeen: now, BatteryPercent: 80, ListDigest: "0011223344556677",
					PendingChanges: 1, PendingRevocations: 1, OldestRevocation: now.Add(-2 * time.Minute)},
				{Door: "g-revoked-long-ago", Known: true, Lock: "00000007", LastSeen: now, BatteryPercent: 80,
					PendingChanges: 3, PendingRevocations: 3, OldestRevocation: now.Add(-3 * time.Hour)},
				{Door: "h-overflow", Known: true, Lock: "00000008", LastSeen: now, BatteryPercent: 80, ListCurrent: true, Overflow: 12},
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s.Addr()
}

func TestStatusPage(t *testing.T) {
	addr := pageServer(t)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), " "), "Basic") {
		t.Fatalf("page without the token: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.SetBasicAuth("technician", "page-tok")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", resp.StatusCode, page)
	}
	for _, want := range []string{"hub-page", `name="viewport"`, "no NTP sync yet", "answering on /dev/doorhub-radio",
		"battery 7%", "offline for 1h0m0s", "no lock paired", "6 door(s) need attention", "wrong_code", "visitor-1", "private",
		"drifted", "3 revocation(s) not applied, oldest 3h0m", "3 pending, oldest 3h0m", "0011223344556677",
		"12 credential(s) do not fit", "12 left out", "Access list", "Revocations"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "resident-1") {
		t.Error("the page has a script or a resident's identity")
	}
	// What needs attention first: offline, drifted, revocations not
	// applied (the oldest first), low battery and overflow, then no lock,
	// then the fine door.
	order := []string{"c-gone", "e-drift", "g-revoked-long-ago", "f-revoked", "b-low", "h-overflow", "d-nolock", "a-fine"}
	last := -1
	for _, d := range order {
		i := strings.Index(page, ">"+d+"<")
		if i < last {
			t.Errorf("door %s out of order", d)
		}
		last = i
	}
}

var screenshot = flag.String("screenshot", "", "also write a phone-sized screenshot of the page to this PNG (docs/status-page.png)")

// chromiumFlags keep a headless Chromium to the page under test: no
// background connections, updates, sync or first-run work (the machine's
// network is closed, and nothing but loopback may be asked).
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

// TestStatusPageInChromium loads the page in a real headless Chromium
// (Debian's chromium package), when installed.
func TestStatusPageInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed")
	}
	addr := pageServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(chromiumFlags, "--user-data-dir="+t.TempDir(),
		"--dump-dom", "http://technician:page-tok@"+addr+"/")...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if *screenshot != "" {
		abs, _ := filepath.Abs(*screenshot)
		if out, err := exec.CommandContext(ctx, bin, append(chromiumFlags, "--hide-scrollbars",
			"--user-data-dir="+t.TempDir(), "--window-size=412,1000", "--screenshot="+abs,
			"http://technician:page-tok@"+addr+"/")...).CombinedOutput(); err != nil {
			t.Errorf("screenshot: %v %s", err, out)
		}
	}
	for _, want := range []string{"hub-page", "c-gone", "battery 7%", "drifted", "3 revocation(s) not applied", "12 left out"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}
