package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

// demo is one run: the servers it started and what it seeded.
type demo struct {
	out    *lineWriter
	bin    string
	dir    string
	every  time.Duration
	lasts  time.Duration
	listen string
	keep   bool

	procs []*proc
	// addr is the hub's status endpoint; token its token.
	addr, token string
	// locks maps a door id to its lock id.
	locks map[string]string
	// guestCode and tourCode were made by the seed.
	guestCode, tourCode string
	phone               string // Ann's phone key file

	mu        sync.Mutex
	codyCode  string
	codyFetch time.Time
}

// A door of the demo site.
type demoDoor struct{ name, kind string }

// The demo site: a few doors of each type.
var demoDoors = []demoDoor{
	{"Lobby", "entrance"}, {"Side Door", "entrance"},
	{"Apt 1A", "residence"}, {"Apt 1B", "residence"},
	{"Gym", "communal"}, {"Roof Deck", "communal"},
	{"Boiler Room", "service"},
}

// doorID is the id doorhub-cloud gives a door: its name in lowercase with
// dashes.
func doorID(name string) string { return strings.ReplaceAll(strings.ToLower(name), " ", "-") }

const (
	annCard  = "04a1b2c3"
	benCard  = "04b2c3d4"
	danaCard = "04d4e5f6"
	tourCode = "424242"
)

// setUp starts the cloud, seeds the site, starts the simulator and the
// hub, and pairs the locks; each step as the commands a person would type.
func (d *demo) setUp(ctx context.Context) error {
	if err := os.RemoveAll(d.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.dir, "logs"), 0o700); err != nil {
		return err
	}
	for _, b := range []string{"doorhubd", "doorhub", "doorhub-sim", "doorhub-cloud"} {
		if _, err := os.Stat(filepath.Join(d.bin, b)); err != nil {
			return fmt.Errorf("%s: %w (run make build, or make demo)", b, err)
		}
	}
	d.say("doorhub demo in %s (logs in %s)\n", d.dir, filepath.Join(d.dir, "logs"))

	// 1. The cloud, with an MQTT broker in its process.
	serving := make(chan string, 2)
	_, err := d.start("doorhub-cloud", []string{"serve", "--state", filepath.Join(d.dir, "cloud"),
		"--embedded-broker", "127.0.0.1:0", "--listen", "127.0.0.1:0"}, func(line string) {
		if strings.HasPrefix(line, "embedded MQTT broker on ") || strings.HasPrefix(line, "doorhub-cloud serving on ") {
			serving <- line
		}
	})
	if err != nil {
		return err
	}
	for range 2 {
		select {
		case line := <-serving:
			d.say("==> %s", line)
		case <-time.After(30 * time.Second):
			return errors.New("doorhub-cloud did not start (logs/doorhub-cloud.log)")
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	// 2. The site, through doorhub-cloud's commands.
	d.say("==> seeding the site with doorhub-cloud: %d doors, 4 keys, 4 people, a guest and a tour", len(demoDoors))
	cloud := func(args ...string) (string, error) { return d.cli(ctx, "doorhub-cloud", args...) }
	steps := [][]string{{"site", "create", "--name", "Elm Street", "--timezone", "America/New_York", "--doorcode-length", "6"}}
	for _, dr := range demoDoors {
		steps = append(steps, []string{"door", "add", "--name", dr.name, "--type", dr.kind})
	}
	common := "Lobby,Side Door,Gym,Roof Deck"
	steps = append(steps,
		[]string{"key", "create", "--name", "Building", "--doors", common},
		[]string{"key", "create", "--name", "Apt 1A", "--doors", "Apt 1A," + common},
		[]string{"key", "create", "--name", "Apt 1B", "--doors", "Apt 1B," + common},
		[]string{"key", "create", "--name", "Staff", "--doors", "Boiler Room,Lobby,Side Door", "--no-sharing"},
		// Ann: a resident with a keycard and a phone, who may share.
		[]string{"invite", "--email", "ann@example.com", "--name", "Ann", "--method", "app", "--key", "Apt 1A", "--resident", "--may-share"},
		[]string{"keycard", "activate", "--email", "ann@example.com", "--card", annCard},
		// Ben: a resident with a keycard.
		[]string{"invite", "--email", "ben@example.com", "--name", "Ben", "--method", "app", "--key", "Apt 1B", "--resident"},
		[]string{"keycard", "activate", "--email", "ben@example.com", "--card", benCard},
		// Cody: a daily doorcode for the building, for a month.
		[]string{"invite", "--email", "cody@example.com", "--name", "Cody", "--method", "doorcode", "--key", "Building",
			"--expires", time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)},
		// Dana: staff with a keycard.
		[]string{"invite", "--email", "dana@example.com", "--name", "Dana", "--method", "app", "--key", "Staff"},
		[]string{"keycard", "activate", "--email", "dana@example.com", "--card", danaCard},
		// A self-guided tour of the building, today.
		[]string{"tour", "allowlist", "--integration", "Tour24", "--key", "Building"},
		[]string{"tour", "create", "--integration", "Tour24", "--code", tourCode, "--key", "Building",
			"--start", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339),
			"--end", time.Now().Add(12 * time.Hour).UTC().Format(time.RFC3339)},
	)
	for _, s := range steps {
		if _, err := cloud(s...); err != nil {
			return err
		}
	}
	// Ann's phone, and a guest code Ann shares for today.
	d.phone = filepath.Join(d.dir, "ann-phone.pem")
	pub, err := d.cli(ctx, "doorhub-sim", "phone", "new", "--out", d.phone)
	if err != nil {
		return err
	}
	if _, err := cloud("device", "register", "--email", "ann@example.com", "--public-key", strings.TrimSpace(pub)); err != nil {
		return err
	}
	out, err := cloud("--json", "share", "--host", "ann@example.com", "--key", "Apt 1A", "--single-day")
	if err != nil {
		return err
	}
	var share struct{ Code string }
	if err := json.Unmarshal([]byte(out), &share); err != nil || share.Code == "" {
		return fmt.Errorf("share: no guest code in %q", out)
	}
	d.guestCode, d.tourCode = share.Code, tourCode

	// 3. The simulated radio with a lock per door.
	labels := make(chan string, len(demoDoors))
	if _, err := d.start("doorhub-sim", []string{"serve", "--locks", fmt.Sprint(len(demoDoors)), "--link", filepath.Join(d.dir, "radio"),
		"--control", filepath.Join(d.dir, "sim.sock"), "--heartbeat", "30s"}, func(line string) { labels <- line }); err != nil {
		return err
	}
	type label struct{ ID, Key string }
	var locks []label
	for len(locks) < len(demoDoors) {
		select {
		case line := <-labels:
			var l label
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				return fmt.Errorf("doorhub-sim label %q: %w", line, err)
			}
			locks = append(locks, l)
		case <-time.After(30 * time.Second):
			return errors.New("doorhub-sim printed no labels (logs/doorhub-sim.log)")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.say("==> doorhub-sim: a radio on %s with %d locks", filepath.Join(d.dir, "radio"), len(locks))

	// 4. The hub, configured by `doorhub-cloud hub add`.
	d.addr = freeAddr(d.listen)
	cfg, err := cloud("hub", "add", "--id", "hub-elm", "--radio-port", filepath.Join(d.dir, "radio"),
		"--state-dir", filepath.Join(d.dir, "hub"), "--listen", d.addr)
	if err != nil {
		return err
	}
	d.token = "demo-token"
	tokenFile := filepath.Join(d.dir, "token")
	if err := os.WriteFile(tokenFile, []byte(d.token+"\n"), 0o600); err != nil {
		return err
	}
	cfg = strings.NewReplacer("/run/doorhub/doorhub.sock", filepath.Join(d.dir, "doorhub.sock"),
		"/etc/doorhub/token", tokenFile).Replace(cfg)
	hubConfig := filepath.Join(d.dir, "doorhub.yaml")
	if err := os.WriteFile(hubConfig, []byte(cfg), 0o600); err != nil {
		return err
	}
	if _, err := d.start("doorhubd", []string{"--config", hubConfig}, nil); err != nil {
		return err
	}
	if err := d.waitReady(ctx); err != nil {
		return err
	}
	d.say("==> doorhubd ready: store, radio and cloud link (doorhub-cloud hub add wrote its config)")

	// 5. Pair each lock with its door, as an installer does.
	d.locks = map[string]string{}
	for i, l := range locks {
		door := doorID(demoDoors[i].name)
		if _, err := d.cli(ctx, "doorhub", "--config", hubConfig, "pair", "--lock", l.ID, "--key", l.Key, "--door", door); err != nil {
			return err
		}
		d.locks[door] = l.ID
	}
	d.say("==> doorhub pair: each lock paired with its door")
	if err := d.waitLocks(ctx); err != nil {
		return err
	}
	d.banner(hubConfig)
	return nil
}

// freeAddr returns want when it can be listened on, else another free
// loopback port.
func freeAddr(want string) string {
	for _, a := range []string{want, "127.0.0.1:0"} {
		ln, err := net.Listen("tcp", a)
		if err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}
	}
	return want
}

// api calls the hub's endpoint with the token.
func (d *demo) api(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+d.addr+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// waitReady waits for /readyz: store, radio and cloud.
func (d *demo) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		last = nil
		if code, err := d.api(ctx, "/readyz?verbose", &last); err == nil && code == 200 {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("doorhubd not ready after 60 s: %v (logs/doorhubd.log)", last)
}

// waitLocks waits until every door's lock is online and holds its list.
func (d *demo) waitLocks(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var bad []string
	for time.Now().Before(deadline) {
		var out struct{ Doors []status.Door }
		if _, err := d.api(ctx, "/api/v1/doors", &out); err == nil {
			bad = nil
			for _, dr := range out.Doors {
				if !dr.Online || !dr.ListCurrent {
					bad = append(bad, dr.Door)
				}
			}
			if len(out.Doors) == len(demoDoors) && len(bad) == 0 {
				return nil
			}
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("doors not online with their lists after 60 s: %v", bad)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// banner says where to look and what to try.
func (d *demo) banner(hubConfig string) {
	bin := d.bin
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, d.bin); err == nil && !strings.HasPrefix(rel, "..") {
			bin = rel
		}
	}
	cloudState := filepath.Join(d.dir, "cloud")
	d.say(`
The building is up. Status page: http://%s/  (any user name, password %s)

Try, in another shell:
  %s/doorhub --config %s status
  %s/doorhub --config %s doors
  %s/doorhub-cloud --state %s revoke --email ann@example.com   # Ann's next tries are denied
  %s/doorhub-cloud --state %s unlock --door Lobby              # the cloud opens a door through the hub
  %s/doorhub-sim --control %s unplug    # the radio is gone: locks decide alone
  %s/doorhub-sim --control %s replug    # the hub reconnects and collects what they decided

Simulated people come and go every %s: a "sim" line is what the lock did, a "hub" line what the
hub recorded (a person's id; none for a resident at their own door). Ctrl-C stops everything.
`, d.addr, d.token, bin, hubConfig, bin, hubConfig, bin, cloudState, bin, cloudState, bin, filepath.Join(d.dir, "sim.sock"),
		bin, filepath.Join(d.dir, "sim.sock"), d.every)
}
