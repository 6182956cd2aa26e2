package status

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/config"
)

// openPprof serves net/http/pprof on its own loopback listener (never on
// the API's mux, never on http.DefaultServeMux).
func (s *Server) openPprof(addr string) error {
	if !loopback(addr) {
		return fmt.Errorf("status: pprof %q must be a loopback host:port", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status: pprof listen %s: %w", addr, err)
	}
	s.pprof = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.pprofAddr = ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.pprof.Serve(ln)
	}()
	return nil
}

// PprofAddr returns the pprof listener's address ("" for none).
func (s *Server) PprofAddr() string { return s.pprofAddr }

// Fetch gets one path of the endpoint (or of the pprof listener).
type Fetch func(ctx context.Context, path string) ([]byte, error)

// BundleFile is one file of a support bundle.
type BundleFile struct {
	Name string
	Data []byte
}

// Collect gathers a support bundle: what the endpoint says (status,
// readiness, doors, recent activity with the privacy rule applied,
// metrics), the configuration with secrets removed, profiles when pprof
// is given, and versions. It never reads a secret: the token and key
// files the configuration names are listed by name only. A part that
// cannot be fetched is replaced by a file saying why.
func Collect(ctx context.Context, api, pprofFetch Fetch, cfg config.Config) []BundleFile {
	var out []BundleFile
	get := func(name string, f Fetch, path string) {
		b, err := f(ctx, path)
		if err != nil {
			out = append(out, BundleFile{Name: name + ".error", Data: []byte(err.Error() + "\n")})
			return
		}
		out = append(out, BundleFile{Name: name, Data: b})
	}
	get("status.json", api, "/api/v1/status")
	get("readyz.json", api, "/readyz?verbose")
	get("doors.json", api, "/api/v1/doors")
	get("activity.json", api, "/api/v1/activity?limit=1000")
	get("metrics.txt", api, "/metrics")
	if pprofFetch != nil {
		get("goroutines.txt", pprofFetch, "/debug/pprof/goroutine?debug=2")
		get("heap.pb.gz", pprofFetch, "/debug/pprof/heap")
	}
	out = append(out, BundleFile{Name: "config.yaml", Data: RedactedConfig(cfg)})
	out = append(out, BundleFile{Name: "versions.txt", Data: versions()})
	out = append(out, BundleFile{Name: "serial.txt", Data: serialFacts(cfg.Radio.Port)})
	return out
}

// RedactedConfig is the configuration as YAML with every secret removed:
// a broker URL's user and password, and the contents of the files it names
// (never read; only their names and whether they are there).
func RedactedConfig(cfg config.Config) []byte {
	cfg.Cloud.Broker = RedactURL(cfg.Cloud.Broker)
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return []byte("# " + err.Error() + "\n")
	}
	var sb strings.Builder
	sb.WriteString("# doorhub diag: the daemon's configuration; secrets live in the files named, which are not included\n")
	for _, f := range []struct{ k, v string }{{"status.token_file", cfg.Status.TokenFile}, {"cloud.key_file", cfg.Cloud.KeyFile},
		{"cloud.cert_file", cfg.Cloud.CertFile}, {"cloud.ca_file", cfg.Cloud.CAFile}} {
		if f.v == "" {
			continue
		}
		state := "present"
		if fi, err := os.Stat(f.v); err != nil {
			state = "missing"
		} else {
			state += fmt.Sprintf(", mode %v", fi.Mode().Perm())
		}
		fmt.Fprintf(&sb, "# %s: %s\n", f.k, state)
	}
	sb.Write(b)
	return []byte(sb.String())
}

// RedactURL drops a user and password from a URL.
func RedactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, _, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(host, "@"); at >= 0 {
		rest = "REDACTED@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

func versions() []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "doorhub %s\n%s %s/%s\n", hub.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if strings.HasPrefix(s.Key, "vcs.") {
				fmt.Fprintf(&sb, "%s %s\n", s.Key, s.Value)
			}
		}
		for _, d := range bi.Deps {
			fmt.Fprintf(&sb, "%s %s\n", d.Path, d.Version)
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		sb.WriteString("\n")
		sb.Write(b)
	}
	return []byte(sb.String())
}

func serialFacts(port string) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "radio.port %s\n", port)
	if target, err := os.Readlink(port); err == nil {
		fmt.Fprintf(&sb, "link -> %s\n", target)
	}
	if fi, err := os.Stat(port); err != nil {
		fmt.Fprintf(&sb, "stat: %v\n", err)
	} else {
		fmt.Fprintf(&sb, "mode %v\n", fi.Mode())
	}
	if es, err := os.ReadDir("/dev/serial/by-id"); err == nil {
		for _, e := range es {
			fmt.Fprintf(&sb, "/dev/serial/by-id/%s\n", e.Name())
		}
	}
	return []byte(sb.String())
}

// WriteBundle writes the files as a gzipped tar under dir/.
func WriteBundle(w io.Writer, dir string, files []BundleFile) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	now := time.Now()
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/" + f.Name, Mode: 0o600, Size: int64(len(f.Data)), ModTime: now,
			Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// longHex matches runs of 32 or more hex digits: pairing keys, key
// material, digests.
var longHex = regexp.MustCompile(`(?i)\b[0-9a-f]{32,}\b`)

// RedactLog removes from log text every given secret (the token, say)
// and every long hex run, which could be key material.
func RedactLog(b []byte, secrets ...string) []byte {
	s := string(b)
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return []byte(longHex.ReplaceAllString(s, "REDACTED"))
}
