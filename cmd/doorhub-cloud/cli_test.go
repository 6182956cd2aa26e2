package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub/config"
)

// run runs one doorhub-cloud command line in the process.
func run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut, func(k string) string { return env[k] })
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, err := run(t, env, args...)
	if err != nil {
		t.Fatalf("doorhub-cloud %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TestCommandLine runs the contract's command lines against a server
// found through DOORHUB_CLOUD_STATE and --state.
func TestCommandLine(t *testing.T) {
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	dir := t.TempDir()
	if _, err := run(t, nil, "--state", dir, "people"); err == nil || !strings.Contains(err.Error(), "no doorhub-cloud server is running") {
		t.Fatalf("without a server: %v", err)
	}
	s, err := controlplane.Open(controlplane.Options{StateDir: dir, Broker: b.URL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := map[string]string{controlplane.EnvState: dir}

	mustRun(t, env, "site", "create", "--name", "Elm", "--timezone", "Europe/Berlin", "--doorcode-length", "6")
	mustRun(t, env, "door", "add", "--name", "Front", "--type", "entrance")
	mustRun(t, env, "door", "add", "--name", "Apt 1", "--type", "residence")
	mustRun(t, env, "key", "create", "--name", "Building", "--doors", "Front")
	mustRun(t, env, "key", "create", "--name", "Apt 1", "--doors", "Apt 1,Front", "--no-sharing")
	cfgText := mustRun(t, env, "hub", "add", "--id", "hub-1", "--radio-port", "/dev/ttyUSB0", "--state-dir", "/srv/doorhub", "--listen", "127.0.0.1:9000")
	path := filepath.Join(t.TempDir(), "doorhub.yaml")
	_ = os.WriteFile(path, []byte(cfgText), 0o600)
	if cfg, err := config.Load(path, nil); err != nil || cfg.Radio.Port != "/dev/ttyUSB0" || cfg.StateDir != "/srv/doorhub" ||
		cfg.Status.Listen != "127.0.0.1:9000" || cfg.Cloud.PublicKey != s.PublicKey() {
		t.Fatalf("hub add printed a config doorhubd does not take: %v\n%s", err, cfgText)
	}

	out := mustRun(t, env, "invite", "--email", "Ann@Example.com", "--name", "Ann", "--method", "app", "--key", "Building,Apt 1",
		"--resident", "--start", "2030-01-01T00:00:00Z")
	if !strings.Contains(out, "ann@example.com invited") {
		t.Fatalf("invite: %q", out)
	}
	if mails, _ := filepath.Glob(filepath.Join(dir, "outbox", "*welcome.eml")); len(mails) != 1 {
		t.Fatalf("welcome mails: %v", mails)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"invite", "--email", "x@example.com", "--key", "Nope"}, `key "Nope"`},
		{[]string{"invite", "--email", "x@example.com", "--key", "Building", "--expires", "2001-01-01T00:00:00Z"}, "in the past"},
		{[]string{"invite", "--email", "x@example.com", "--key", "Building", "--start", "next week"}, "RFC 3339"},
		{[]string{"share", "--host", "ann@example.com", "--key", "Apt 1", "--guest", "g@example.com", "--permanent"}, "does not allow sharing"},
		{[]string{"tour", "allowlist", "--integration", "Tour24", "--key", "Building"}, ""},
		{[]string{"tour", "create", "--integration", "Tour24", "--code", "12", "--key", "Building", "--start", "2030-01-01T00:00:00Z", "--end", "2030-01-01T01:00:00Z"}, "length of 6"},
		{[]string{"keycard", "activate", "--email", "ann@example.com", "--card", "not-hex"}, "hex"},
		{[]string{"report", "assigned-access", "--format", "xml"}, "csv or json"},
		{[]string{"access", "edit", "--email", "nobody@example.com", "--key", "Building"}, "nobody@example.com"},
	} {
		_, err := run(t, env, bad.args...)
		if bad.want == "" {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error naming %q", strings.Join(bad.args, " "), err, bad.want)
		}
	}

	mustRun(t, env, "access", "edit", "--email", "ann@example.com", "--key", "Apt 1", "--resident=false")
	mustRun(t, env, "keycard", "activate", "--email", "ann@example.com", "--card", "A1B2C3D4")
	out = mustRun(t, env, "people", "show", "--email", "ANN@example.com")
	if !strings.Contains(out, "keycard …c3d4: active (pending at apt-1, front)") || strings.Contains(out, "a1b2c3d4") {
		t.Fatalf("people show:\n%s", out)
	}

	// CSV import: the template, a dry run, the import, a re-import that
	// changes nothing, and a file with bad lines.
	tmpl := mustRun(t, env, "import", "--template")
	file := filepath.Join(t.TempDir(), "people.csv")
	_ = os.WriteFile(file, []byte(tmpl+"bob@example.com,Bob,doorcode,Building,no,no,,\ncat@example.com,Cat,app,Building;Apt 1,yes,no,,\n"), 0o600)
	if out := mustRun(t, env, "import", file, "--dry-run"); !strings.Contains(out, "dry run: 2 row(s) would change") {
		t.Fatalf("dry run: %q", out)
	}
	if out := mustRun(t, env, "import", file); !strings.Contains(out, "2 row(s) applied") {
		t.Fatalf("import: %q", out)
	}
	if out := mustRun(t, env, "import", file); !strings.Contains(out, "0 row(s) applied, 2 already so") {
		t.Fatalf("re-import: %q", out)
	}
	_ = os.WriteFile(file, []byte(tmpl+"dan@example.com,Dan,app,Building,no,no,,\nDAN@example.com,Dan,app,Building,no,no,,\neve@example.com,Eve,app,Attic,no,no,,\n"), 0o600)
	if _, err := run(t, env, "import", file); err == nil || !strings.Contains(err.Error(), "line 3:") || !strings.Contains(err.Error(), "line 4:") {
		t.Fatalf("bad import: %v", err)
	}

	var people []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, env, "people", "--json")), &people); err != nil || len(people) != 3 {
		t.Fatalf("people --json: %v %v", people, err)
	}
	out = mustRun(t, env, "doorcode", "--email", "bob@example.com", "--door", "Front", "--date", "2030-05-01", "--json")
	var code struct{ Code string }
	if json.Unmarshal([]byte(out), &code) != nil || len(code.Code) != 6 {
		t.Fatalf("doorcode --json: %s", out)
	}
	rows, err := csv.NewReader(strings.NewReader(mustRun(t, env, "report", "assigned-access"))).ReadAll()
	if err != nil || len(rows) != 6 || rows[0][0] != "email" || rows[0][3] != "resident" {
		t.Fatalf("assigned access csv: %v %v", rows, err)
	}
	mustRun(t, env, "revoke", "--email", "cat@example.com")
	if out := mustRun(t, env, "people"); strings.Contains(out, "cat@example.com") {
		t.Fatalf("a revoked person listed:\n%s", out)
	}
	if out := mustRun(t, env, "--state", dir, "people", "--show-expired"); !strings.Contains(out, "cat@example.com") {
		t.Fatalf("a revoked person not listed with --show-expired:\n%s", out)
	}
	mustRun(t, env, "delete", "--email", "cat@example.com")
	if out := mustRun(t, env, "people", "--show-expired"); strings.Contains(out, "cat@example.com") {
		t.Fatalf("a deleted person listed:\n%s", out)
	}
	if _, err := run(t, env, "unlock", "--door", "Front", "--wait", "1"); err == nil {
		t.Fatal("an unlock without a connected hub succeeded")
	}
	// activity --follow polls until it is stopped.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	root := newRoot(&buf, &buf, func(k string) string { return env[k] })
	root.SetArgs([]string{"activity", "--follow", "--door", "front"})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("activity --follow: %v", err)
	}
}
