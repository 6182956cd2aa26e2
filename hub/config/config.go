// Package config is the doorhubd configuration: defaults, then the YAML
// file, then the files of its conf.d directory in name order, then
// DOORHUB_* environment variables, then validation that reports every
// problem with the field's path.
//
// The doorhub CLI reads the same file to find the daemon's endpoint and
// token, so it lives outside the daemon's main package.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultPath is where the package installs the config file.
const DefaultPath = "/etc/doorhub/doorhub.yaml"

// PlaceholderHubID is the hub_id of the config the package ships: enough
// for an installer to pair and test doors, refused with a broker.
const PlaceholderHubID = "new-hub"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole daemon configuration. Secrets (the status token, the
// client key) live in files the config names, never in the config itself.
type Config struct {
	HubID    string `yaml:"hub_id"`
	StateDir string `yaml:"state_dir"`
	Radio    Radio  `yaml:"radio"`
	Status   Status `yaml:"status"`
	Cloud    Cloud  `yaml:"cloud"`
	Time     Time   `yaml:"time"`
	Keypad   Keypad `yaml:"keypad"`
	Log      Log    `yaml:"log"`
}

// Radio is the serial radio coprocessor.
type Radio struct {
	// Port is the serial device: /dev/doorhub-radio (the udev rule's
	// name), /dev/serial/by-id/..., or /dev/serial0 for the Pi's UART.
	Port string `yaml:"port"`
	Baud int    `yaml:"baud"`
}

// Status is the local status endpoint.
type Status struct {
	// Listen is a TCP address; loopback by default. A non-loopback
	// address requires a token.
	Listen string `yaml:"listen"`
	// Socket is a unix socket path in the runtime directory; "" for none.
	Socket string `yaml:"socket"`
	// TokenFile holds the bearer token for everything beyond /livez and
	// /readyz.
	TokenFile string `yaml:"token_file"`
	// Pprof is a separate loopback listener for net/http/pprof; "" is off.
	Pprof string `yaml:"pprof"`
}

// Cloud is the MQTT link to the property-management cloud.
type Cloud struct {
	// Broker is tls://host:8883, ssl://..., tcp://host:1883 or
	// mqtt://...; "" runs the hub without a cloud (installer mode).
	Broker      string `yaml:"broker"`
	ClientID    string `yaml:"client_id"`
	TopicPrefix string `yaml:"topic_prefix"`
	CAFile      string `yaml:"ca_file"`
	CertFile    string `yaml:"cert_file"`
	KeyFile     string `yaml:"key_file"`
	// PublicKey is the cloud's Ed25519 public key, base64; every downlink
	// message must verify with it.
	PublicKey string `yaml:"public_key"`
}

// Time configures time trust.
type Time struct {
	// UntrustedMargin: while the clock is untrusted, a time-limited grant
	// admits only if it expires at least this far beyond now.
	UntrustedMargin Duration `yaml:"untrusted_margin"`
	// LockQuorum: how many paired locks' clocks must agree to be trusted.
	LockQuorum int `yaml:"lock_quorum"`
}

// Keypad configures brute-force protection.
type Keypad struct {
	LockoutAttempts int      `yaml:"lockout_attempts"`
	LockoutWindow   Duration `yaml:"lockout_window"`
	LockoutDuration Duration `yaml:"lockout_duration"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Duration is a time.Duration written as "90s", "24h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 90s or 24h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Default returns the configuration every file is read over.
func Default() Config {
	return Config{
		StateDir: "/var/lib/doorhub",
		Radio:    Radio{Port: "/dev/doorhub-radio", Baud: 115200},
		Status: Status{Listen: "127.0.0.1:8765", Socket: "/run/doorhub/doorhub.sock",
			TokenFile: "/etc/doorhub/token"},
		Cloud: Cloud{TopicPrefix: "doorhub/v1/hubs"},
		Time:  Time{UntrustedMargin: Duration(24 * time.Hour), LockQuorum: 3},
		Keypad: Keypad{LockoutAttempts: 5, LockoutWindow: Duration(time.Minute),
			LockoutDuration: Duration(5 * time.Minute)},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Load reads path over the defaults, then path's conf.d directory (every
// *.yaml in name order), then the environment, and validates the result.
// Unknown fields are errors. The error lists every problem found.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if err := readFile(&cfg, path); err != nil {
		return cfg, err
	}
	dropins, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "conf.d", "*.yaml"))
	sort.Strings(dropins)
	for _, p := range dropins {
		if err := readFile(&cfg, p); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func readFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return nil
}

// notSettings are DOORHUB_ variables of other tools under a section's
// prefix: doorhub-cloud's state directory (CONTRACTS.md), set in the same
// shells as a demo's doorhubd.
var notSettings = map[string]bool{"DOORHUB_CLOUD_STATE": true}

// applyEnv applies DOORHUB_<SECTION>_<FIELD> variables, e.g.
// DOORHUB_RADIO_PORT=/dev/ttyUSB0, DOORHUB_HUB_ID=hub-1. A variable under a
// section's prefix that names no setting is an error (a typo must not pass
// silently); other DOORHUB_ variables (DOORHUB_CONFIG, test and CI
// variables) belong to other tools and are left alone.
func applyEnv(cfg *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	collectFields(reflect.ValueOf(cfg).Elem(), "DOORHUB", fields)
	var sections []string
	t := reflect.TypeOf(*cfg)
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Type.Kind() == reflect.Struct {
			sections = append(sections, "DOORHUB_"+strings.ToUpper(t.Field(i).Tag.Get("yaml"))+"_")
		}
	}
	var errs []string
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || notSettings[name] {
			continue
		}
		f, known := fields[name]
		if !known {
			for _, prefix := range sections {
				if strings.HasPrefix(name, prefix) {
					errs = append(errs, fmt.Sprintf("%s: no such setting", name))
				}
			}
			continue
		}
		if err := setValue(f, value); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(errs, "\n  "))
	}
	return nil
}

func collectFields(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		name := prefix + "_" + strings.ToUpper(tag)
		if t.Field(i).Type.Kind() == reflect.Struct {
			collectFields(v.Field(i), name, out)
			continue
		}
		out[name] = v.Field(i)
	}
}

func setValue(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 90s or 24h", s)
		}
		f.Set(reflect.ValueOf(Duration(d)))
	case string:
		f.SetString(s)
	case int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(int64(n))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Validate reports every problem, one per line, each with its field path.
func (c *Config) Validate() error {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	if c.HubID == "" {
		bad("hub_id", "required (the id the cloud knows this hub by)")
	} else if strings.ContainsAny(c.HubID, "/+#$ ") || len(c.HubID) > 64 {
		bad("hub_id", "%q: at most 64 characters, none of / + # $ or space (it is part of MQTT topics)", c.HubID)
	}
	if c.StateDir == "" || !filepath.IsAbs(c.StateDir) {
		bad("state_dir", "%q must be an absolute path", c.StateDir)
	}
	if c.Radio.Port == "" {
		bad("radio.port", "required, e.g. /dev/doorhub-radio, /dev/serial/by-id/... or /dev/serial0")
	} else if !strings.HasPrefix(c.Radio.Port, "/") {
		bad("radio.port", "%q must be a device path", c.Radio.Port)
	}
	switch c.Radio.Baud {
	case 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600:
	default:
		bad("radio.baud", "%d is not a standard rate (9600 to 921600)", c.Radio.Baud)
	}
	if c.Status.Listen != "" {
		host, _, err := net.SplitHostPort(c.Status.Listen)
		if err != nil {
			bad("status.listen", "%q is not host:port", c.Status.Listen)
		} else if !isLoopback(host) && c.Status.TokenFile == "" {
			bad("status.listen", "%q is not a loopback address: a token_file is required", c.Status.Listen)
		}
	}
	if c.Status.Pprof != "" {
		host, _, err := net.SplitHostPort(c.Status.Pprof)
		if err != nil || !isLoopback(host) {
			bad("status.pprof", "%q must be a loopback host:port", c.Status.Pprof)
		}
	}
	if c.Cloud.Broker != "" {
		if c.HubID == PlaceholderHubID {
			bad("hub_id", "%q is the shipped placeholder: set the id the cloud gave this hub before connecting it (two hubs would share topics)", c.HubID)
		}
		u, err := url.Parse(c.Cloud.Broker)
		switch {
		case err != nil || u.Host == "":
			bad("cloud.broker", "%q is not a URL like tls://broker.example:8883", c.Cloud.Broker)
		case u.Scheme != "tls" && u.Scheme != "ssl" && u.Scheme != "tcp" && u.Scheme != "mqtt" && u.Scheme != "mqtts":
			bad("cloud.broker", "scheme %q: use tls, ssl, mqtts, tcp or mqtt", u.Scheme)
		}
		if c.Cloud.PublicKey == "" {
			bad("cloud.public_key", "required with a broker: the cloud's Ed25519 public key, base64")
		} else if k, err := base64.StdEncoding.DecodeString(c.Cloud.PublicKey); err != nil || len(k) != 32 {
			bad("cloud.public_key", "must be 32 bytes in base64 (an Ed25519 public key)")
		}
		if (c.Cloud.CertFile == "") != (c.Cloud.KeyFile == "") {
			bad("cloud.cert_file", "cert_file and key_file go together")
		}
		if strings.Count(c.Cloud.TopicPrefix, "/") > 3 || strings.ContainsAny(c.Cloud.TopicPrefix, "+#$") ||
			c.Cloud.TopicPrefix == "" || strings.HasSuffix(c.Cloud.TopicPrefix, "/") {
			bad("cloud.topic_prefix", "%q: at most 4 levels, no + # $, no trailing /", c.Cloud.TopicPrefix)
		}
	}
	if c.Time.UntrustedMargin.Std() < time.Hour {
		bad("time.untrusted_margin", "%s is under 1h", c.Time.UntrustedMargin.Std())
	}
	if c.Time.LockQuorum < 2 {
		bad("time.lock_quorum", "%d: at least 2 locks must agree", c.Time.LockQuorum)
	}
	if c.Keypad.LockoutAttempts < 2 || c.Keypad.LockoutAttempts > 100 {
		bad("keypad.lockout_attempts", "%d must be 2 to 100", c.Keypad.LockoutAttempts)
	}
	if c.Keypad.LockoutWindow.Std() <= 0 {
		bad("keypad.lockout_window", "must be positive")
	}
	if c.Keypad.LockoutDuration.Std() <= 0 {
		bad("keypad.lockout_duration", "must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: use debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: use text or json", c.Log.Format)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalid, strings.Join(errs, "\n  "))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
