package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/hub/config"
	"github.com/doorhub/doorhub/hub/status"
)

func diagCmd(stdout io.Writer, cfgPath *string, environ []string, client func() (*apiClient, error)) *cobra.Command {
	var outPath string
	cmd := &cobra.Command{
		Use:   "diag -o FILE.tar.gz",
		Short: "Write a support bundle: status, doors, activity, metrics, config with secrets removed, profiles, versions",
		Long: "diag writes a redacted support bundle to send to support. It holds what the local endpoint says\n" +
			"(status, readiness, doors, recent activity with the privacy rule applied, metrics), the daemon's\n" +
			"configuration with secrets removed (the token and key files are named, never read), goroutine and\n" +
			"heap profiles when status.pprof is set, the daemon's recent journal (the token and anything like key\n" +
			"material removed), serial device facts and versions. Parts the daemon cannot\n" +
			"give are replaced by a file saying why, so a bundle is written even when doorhubd is down.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "the bundle to write (.tar.gz)")
	_ = cmd.MarkFlagRequired("output")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := config.Load(*cfgPath, environ)
		if err != nil {
			// A broken config is worth a bundle too: what could be read.
			fmt.Fprintf(cmd.ErrOrStderr(), "doorhub: %v\n", err)
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		api := func(context.Context, string) ([]byte, error) { return nil, fmt.Errorf("no endpoint") }
		if c, cerr := client(); cerr == nil {
			api = c.raw
		} else {
			api = func(context.Context, string) ([]byte, error) { return nil, cerr }
		}
		var pp status.Fetch
		if cfg.Status.Pprof != "" {
			hc := &http.Client{Timeout: 30 * time.Second}
			base := "http://" + cfg.Status.Pprof
			pp = func(ctx context.Context, path string) ([]byte, error) { return get(ctx, hc, base+path, "") }
		}
		files := status.Collect(ctx, api, pp, cfg)
		files = append(files, journal(ctx, token(client)))
		tmp, err := os.CreateTemp(filepath.Dir(outPath), ".diag-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if err := tmp.Chmod(0o600); err != nil {
			return err
		}
		name := "doorhub-diag-" + time.Now().UTC().Format("20060102-150405")
		if err := status.WriteBundle(tmp, name, files); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), outPath); err != nil {
			return err
		}
		var failed []string
		for _, f := range files {
			if n, ok := strings.CutSuffix(f.Name, ".error"); ok {
				failed = append(failed, n)
			}
		}
		fmt.Fprintf(stdout, "wrote %s (%d files)\n", outPath, len(files))
		if len(failed) > 0 {
			fmt.Fprintf(stdout, "not included (see the .error files): %s\n", strings.Join(failed, ", "))
		}
		return nil
	}
	return cmd
}

// journal is the daemon's recent log from journald, when there is one,
// with the token and anything like key material removed.
func journal(ctx context.Context, secret string) status.BundleFile {
	bin, err := exec.LookPath("journalctl")
	if err != nil {
		return status.BundleFile{Name: "journal.txt.error", Data: []byte("no journalctl: read the daemon's log where it goes\n")}
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-u", "doorhub.service", "-n", "2000", "--no-pager", "-o", "short-iso").Output()
	if err != nil && len(out) == 0 {
		return status.BundleFile{Name: "journal.txt.error", Data: []byte(err.Error() + "\n")}
	}
	return status.BundleFile{Name: "journal.txt", Data: status.RedactLog(out, secret)}
}

func token(client func() (*apiClient, error)) string {
	if c, err := client(); err == nil {
		return c.token
	}
	return ""
}

// raw gets a path of the endpoint as bytes.
func (c *apiClient) raw(ctx context.Context, path string) ([]byte, error) {
	return get(ctx, c.http, c.base+path, c.token)
}

func get(ctx context.Context, hc *http.Client, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
