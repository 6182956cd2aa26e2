package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub/config"
)

const cloudKey = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadLayers(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "doorhub.yaml", "hub_id: hub-1\nradio:\n  port: /dev/ttyUSB0\ncloud:\n  broker: tcp://127.0.0.1:1883\n  public_key: "+cloudKey+"\n")
	write(t, dir, "conf.d/10-keypad.yaml", "keypad:\n  lockout_attempts: 7\n")
	write(t, dir, "conf.d/20-time.yaml", "time:\n  untrusted_margin: 48h\n")
	cfg, err := config.Load(p, []string{"DOORHUB_RADIO_BAUD=57600", "DOORHUB_LOG_LEVEL=debug", "PATH=/bin",
		"DOORHUB_CLOUD_STATE=/var/lib/doorhub-cloud", "DOORHUB_MOSQUITTO=127.0.0.1:1883", "DOORHUB_CONFIG=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HubID != "hub-1" || cfg.Radio.Port != "/dev/ttyUSB0" || cfg.Radio.Baud != 57600 ||
		cfg.Keypad.LockoutAttempts != 7 || cfg.Time.UntrustedMargin.Std() != 48*time.Hour ||
		cfg.Log.Level != "debug" || cfg.StateDir != "/var/lib/doorhub" || cfg.Status.Listen != "127.0.0.1:8765" {
		t.Fatalf("config %+v", cfg)
	}
}

// TestValidateReportsEveryProblem: one run names every bad field.
func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "doorhub.yaml", `
hub_id: "a/b"
state_dir: relative/dir
radio: {port: ttyUSB0, baud: 12345}
status: {listen: "0.0.0.0:8765", token_file: "", pprof: "0.0.0.0:6060"}
cloud: {broker: "http://x:1", public_key: "short", cert_file: /c.pem}
time: {untrusted_margin: 10m, lock_quorum: 1}
keypad: {lockout_attempts: 1, lockout_window: 0s, lockout_duration: -1s}
log: {level: loud, format: xml}
`)
	_, err := config.Load(p, nil)
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, field := range []string{"hub_id", "state_dir", "radio.port", "radio.baud", "status.listen", "status.pprof",
		"cloud.broker", "cloud.public_key", "cloud.cert_file", "time.untrusted_margin", "time.lock_quorum",
		"keypad.lockout_attempts", "keypad.lockout_window", "keypad.lockout_duration", "log.level", "log.format"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("error does not name %s:\n%v", field, err)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		body string
		env  []string
		want string
	}{
		"unknown field":         {body: "hub_id: h\nradio:\n  prot: /dev/x\n", want: "field prot not found"},
		"bad duration":          {body: "hub_id: h\ntime:\n  untrusted_margin: tomorrow\n", want: "not a duration"},
		"unknown env setting":   {body: "hub_id: h\n", env: []string{"DOORHUB_RADIO_PROT=/dev/x"}, want: "DOORHUB_RADIO_PROT: no such setting"},
		"bad env number":        {body: "hub_id: h\n", env: []string{"DOORHUB_RADIO_BAUD=fast"}, want: "DOORHUB_RADIO_BAUD"},
		"non-loopback no token": {body: "hub_id: h\nstatus:\n  listen: 192.0.2.1:80\n  token_file: \"\"\n", want: "token_file is required"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := write(t, dir, name+".yaml", c.body)
			_, err := config.Load(p, c.env)
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	placeholder := write(t, dir, "placeholder.yaml", "hub_id: new-hub\ncloud:\n  broker: tcp://127.0.0.1:1883\n  public_key: "+cloudKey+"\n")
	if _, err := config.Load(placeholder, nil); !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("placeholder hub id with a broker: %v", err)
	}
	if _, err := config.Load(filepath.Join(dir, "missing.yaml"), nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
