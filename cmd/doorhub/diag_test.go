package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

const diagToken = "tok-5e1f-very-secret"

// readBundle returns the bundle's files by base name.
func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[filepath.Base(h.Name)] = string(b)
	}
}

func TestDiag(t *testing.T) {
	cfg, rec, _ := serveAll(t)
	rec.Add(hub.AccessActivity(hub.Decision{Door: "apt-1", At: time.Now(), Kind: hub.CredKeycard, Allowed: true,
		PersonID: "resident-1", Resident: true, Visibility: hub.IdentityRemoved}))
	// A broker password and a key file in the config.
	key := filepath.Join(filepath.Dir(cfg), "client.key")
	if err := os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nkey-material-77\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg)
	b = append(b, []byte("cloud:\n  broker: tls://hub:brokerpass-42@broker.example:8883\n  client_id: c\n  key_file: "+key+
		"\n  cert_file: "+key+"\n  public_key: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n")...)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A journal that logged the token and a pairing key.
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'doorhubd[1]: started token=" + diagToken + "'\necho 'lock key 00112233445566778899aabbccddeeff'\n"
	if err := os.WriteFile(filepath.Join(bin, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := filepath.Join(t.TempDir(), "d.tar.gz")
	if msg, err := run(t, "--config", cfg, "diag", "-o", out); err != nil {
		t.Fatalf("%s %v", msg, err)
	}
	files := readBundle(t, out)
	for _, name := range []string{"status.json", "doors.json", "activity.json", "metrics.txt", "config.yaml", "versions.txt", "readyz.json", "journal.txt"} {
		if _, ok := files[name]; !ok {
			t.Errorf("bundle lacks %s: has %v", name, keys(files))
		}
	}
	if !strings.Contains(files["status.json"], "hub-7") || !strings.Contains(files["metrics.txt"], "go_goroutines") ||
		!strings.Contains(files["config.yaml"], "broker.example") || !strings.Contains(files["journal.txt"], "doorhubd[1]: started token=REDACTED") {
		t.Errorf("bundle content: %v", files)
	}
	for name, content := range files {
		for _, secret := range []string{diagToken, "brokerpass-42", "key-material-77", "resident-1", "00112233445566778899aabbccddeeff"} {
			if strings.Contains(content, secret) {
				t.Errorf("%s holds the secret %q", name, secret)
			}
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
