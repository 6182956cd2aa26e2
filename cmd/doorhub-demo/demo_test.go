package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub/status"
)

// TestMakeDemo runs `make demo` as the README says, in a process group of
// its own as a terminal would: the building comes up, the hub's endpoint
// says it is ready with every lock online and activity flowing, with no
// credential secret and no resident's identity at their door; then Ctrl-C
// (SIGINT to the whole group) stops it, and nothing of it is left
// running. Bounded: the demo stops by itself after --for even if this test
// dies.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every binary and runs the demo (about a minute)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "demo")
	cmd := exec.Command("make", "-C", root, "--no-print-directory", "demo", "BIN="+filepath.Join(tmp, "bin"),
		"DEMO_ARGS=--dir "+dir+" --every 300ms --listen 127.0.0.1:0 --for 8m")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = cleanEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan error, 1)
	var logMu sync.Mutex
	var log strings.Builder
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		page := regexp.MustCompile(`Status page: http://([0-9.:]+)/`)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := page.FindStringSubmatch(sc.Text()); m != nil {
				banner <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	output := func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return log.String()
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped { // the test failed early: stop it all anyway
			_ = syscall.Kill(-pgid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	})

	var addr string
	select {
	case addr = <-banner:
	case err := <-exited:
		stopped = true
		t.Fatalf("make demo ended before the building was up: %v\n%s", err, output())
	case <-time.After(6 * time.Minute):
		t.Fatalf("make demo: no status page after 6 minutes\n%s", output())
	}
	get := func(path string, v any) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer demo-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s: %v: %s", path, err, b)
			}
		}
		return resp.StatusCode, b
	}

	// Ready: store, radio and cloud link.
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	if code, b := get("/readyz?verbose", &ready); code != 200 || !ready.Ready || ready.Checks["cloud"] != "ok" || ready.Checks["radio"] != "ok" {
		t.Errorf("readyz: %d %s", code, b)
	}
	var rep status.Report
	if get("/api/v1/status", &rep); rep.HubID != "hub-elm" || rep.Cloud.State != "connected" || rep.Radio.State != "answering" ||
		rep.Store.Counts.Doors != len(demoDoors) || rep.Store.Counts.Tours != 1 || rep.Store.Counts.GuestCodes != 1 {
		t.Errorf("status: %+v", rep)
	}
	// Every door's lock online, holding its list.
	var doors struct{ Doors []status.Door }
	get("/api/v1/doors", &doors)
	if len(doors.Doors) != len(demoDoors) {
		t.Errorf("doors: %+v", doors.Doors)
	}
	for _, d := range doors.Doors {
		if d.Lock == "" || !d.Online || !d.ListCurrent {
			t.Errorf("door %s: %+v", d.Door, d)
		}
	}
	// Activity flowing: people let in and turned away.
	var allowed, denied int
	var raw []byte
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && (allowed < 3 || denied < 1) {
		var act struct{ Events []status.Event }
		_, raw = get("/api/v1/activity?limit=500", &act)
		allowed, denied = 0, 0
		for _, e := range act.Events {
			if e.Allowed != nil && *e.Allowed {
				allowed++
			} else if e.Allowed != nil {
				denied++
			}
			if e.Visibility == "identity_removed" && (e.Person != "" || e.Host != "" || e.Grant != "") {
				t.Errorf("a resident's identity at their door: %+v", e)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if allowed < 3 || denied < 1 {
		t.Errorf("activity: %d allowed, %d denied after a minute: %s", allowed, denied, raw)
	}
	_, page := get("/", nil)
	_, rawDoors := get("/api/v1/doors", nil)
	_, rawStatus := get("/api/v1/status", nil)
	for _, secret := range []string{annCard, benCard, danaCard, tourCode, "demo-token"} {
		for name, b := range map[string][]byte{"activity": raw, "page": page, "doors": rawDoors, "status": rawStatus} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the %s shows %s", name, secret)
			}
		}
	}
	if !strings.Contains(string(page), "hub-elm") || !strings.Contains(string(page), "boiler-room") {
		t.Errorf("status page: %s", page)
	}

	// What the README says to try next, so that it never rots. Revoke
	// Ann: her keycard, which opened her door, no longer does.
	bin := filepath.Join(tmp, "bin")
	try := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(bin, name), args...).CombinedOutput()
		if err != nil && !(name == "doorhub-sim" && args[2] == "present") { // present exits 3 when the lock decided alone
			t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var apt string
	for _, d := range doors.Doors {
		if d.Door == "apt-1a" {
			apt = d.Lock
		}
	}
	ctl := filepath.Join(dir, "sim.sock")
	if out := try("doorhub-sim", "--control", ctl, "present", "--lock", apt, "--card", annCard); !strings.Contains(out, `"allowed":true`) {
		t.Errorf("Ann at her door before the revocation: %s", out)
	}
	try("doorhub-cloud", "--state", filepath.Join(dir, "cloud"), "revoke", "--email", "ann@example.com")
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Errorf("%s: not within %s", what, within)
	}
	waitFor("Ann denied after the revocation", 30*time.Second, func() bool {
		out := try("doorhub-sim", "--control", ctl, "present", "--lock", apt, "--card", annCard)
		return strings.Contains(out, `"allowed":false`) && strings.Contains(out, "no_key_for_door")
	})
	// Unplug the radio: the hub is not ready; plug it back: it recovers.
	try("doorhub-sim", "--control", ctl, "unplug")
	waitFor("the hub not ready without its radio", 30*time.Second, func() bool {
		code, _ := get("/readyz?verbose", nil)
		return code == http.StatusServiceUnavailable
	})
	try("doorhub-sim", "--control", ctl, "replug")
	waitFor("the hub ready again with its radio", 60*time.Second, func() bool {
		code, _ := get("/readyz?verbose", nil)
		return code == http.StatusOK
	})
	if out := try("doorhub", "--config", filepath.Join(dir, "doorhub.yaml"), "doors"); !strings.Contains(out, "boiler-room") {
		t.Errorf("doorhub doors: %s", out)
	}

	// Ctrl-C: SIGINT to the whole process group, as a terminal sends it.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && !ee.Exited()) { // make itself dies of the SIGINT
			t.Errorf("make demo after Ctrl-C: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("make demo did not stop within 60 s of Ctrl-C\n%s", output())
	}
	if !strings.Contains(output(), "nothing is left running") {
		t.Errorf("the demo did not say it stopped cleanly:\n%s", output())
	}
	// Nothing of the group is left: every process was reaped.
	gone := false
	for range 50 {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			gone = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gone {
		ps, _ := exec.Command("ps", "-o", "pid,pgid,args", "-g", strconv.Itoa(pgid)).CombinedOutput()
		t.Errorf("processes left in the demo's group:\n%s", ps)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo's directory is still there: %v", err)
	}
	if t.Failed() {
		t.Logf("make demo's output:\n%s", output())
	}
}

// cleanEnv is the environment without the outer make's (a make under
// `make test` must not think it is a sub-make of it).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
