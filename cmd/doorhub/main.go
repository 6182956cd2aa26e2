// Command doorhub is the installer's and technician's command line. It
// finds the daemon through the daemon's own config file (--config): the
// local endpoint's unix socket or loopback address, and the token file. It
// never opens the database.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/config"
	"github.com/doorhub/doorhub/hub/status"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr, os.Environ()).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "doorhub:", err)
		os.Exit(1)
	}
}

func newRoot(stdout, stderr io.Writer, environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "doorhub",
		Short:         "Check and pair a doorhub hub: status, doors, events, explain, pair, diag",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       hub.Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	var cfgPath string
	var asJSON bool
	root.PersistentFlags().StringVar(&cfgPath, "config", config.DefaultPath, "the daemon's configuration file (endpoint and token come from it)")
	client := func() (*apiClient, error) { return newClient(cfgPath, environ) }

	pair := &cobra.Command{
		Use:   "pair --lock ID --key HEX --door DOOR | pair --label TEXT --door DOOR",
		Short: "Pair a lock with a door: its id and key from its label (or the label's text or QR code)",
		Args:  cobra.NoArgs,
	}
	var lock, key, door, label string
	pair.Flags().StringVar(&lock, "lock", "", "the lock's id, from its label")
	pair.Flags().StringVar(&key, "key", "", "the lock's pairing key, 32 hex digits, from its label")
	pair.Flags().StringVar(&label, "label", "", `the label's text: {"id": ..., "key": ...} or "ID KEY"`)
	pair.Flags().StringVar(&door, "door", "", "the id of the door the lock is mounted on")
	_ = pair.MarkFlagRequired("door")
	_ = pair.RegisterFlagCompletionFunc("door", completeDoors(client))
	pair.MarkFlagsMutuallyExclusive("label", "lock")
	pair.MarkFlagsMutuallyExclusive("label", "key")
	pair.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	pair.RunE = func(cmd *cobra.Command, _ []string) error {
		var id lockmsg.LockID
		var k lockmsg.Key
		var err error
		if label != "" {
			id, k, err = lockmsg.ParseLabel(label)
		} else {
			if lock == "" || key == "" {
				return errors.New("give --lock and --key, or --label")
			}
			if id, err = lockmsg.ParseLockID(lock); err == nil {
				k, err = lockmsg.ParseKey(key)
			}
		}
		if err != nil {
			return err
		}
		c, err := client()
		if err != nil {
			return err
		}
		var res status.PairResult
		if err := c.do(cmd.Context(), "POST", "/api/v1/pair", status.PairRequest{Lock: id.Hex(), Key: k.Hex(), Door: door}, &res); err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		what := "paired"
		switch {
		case res.KeyChanged:
			what = "paired again with a new key"
		case !res.New:
			what = "pairing updated"
		}
		fmt.Fprintf(stdout, "lock %s %s with door %s\n", res.Lock, what, res.Door)
		if !res.DoorKnown {
			fmt.Fprintf(stdout, "note: door %s is not in the site yet; until the cloud sends it, its decisions say unknown_door\n", res.Door)
		}
		return nil
	}

	doors := &cobra.Command{
		Use:   "doors",
		Short: "List the doors and their locks",
		Args:  cobra.NoArgs,
	}
	doors.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	doors.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := client()
		if err != nil {
			return err
		}
		var out struct {
			Doors []status.Door `json:"doors"`
		}
		if err := c.do(cmd.Context(), "GET", "/api/v1/doors", nil, &out); err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(stdout).Encode(out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOOR\tLOCK\tLAST SEEN\tLIST\tREVOCATIONS\tBATTERY\tRSSI\tSTATE\tNEEDS")
		const rssiUnknown = -128
		// What needs attention first.
		now := time.Now()
		status.ByAttention(out.Doors, now)
		for _, d := range out.Doors {
			_, why := status.Attention(d, now)
			needs := strings.Join(why, "; ")
			if needs == "" {
				needs = "-"
			}
			seen, battery, lk, rssi := "never", "?", d.Lock, "?"
			if d.RSSI != rssiUnknown && d.RSSI != 0 {
				rssi = fmt.Sprintf("%d dBm", d.RSSI)
			}
			if !d.LastSeen.IsZero() {
				seen = time.Since(d.LastSeen).Round(time.Second).String() + " ago"
			}
			if d.BatteryPercent >= 0 {
				battery = fmt.Sprintf("%d%%", d.BatteryPercent)
			}
			if lk == "" {
				lk, seen, battery, rssi = "(no lock)", "-", "-", "-"
			}
			name := d.Door
			if !d.Known {
				name += " (not in site)"
			}
			list, revs := listState(d), "-"
			switch {
			case d.PendingRevocations > 0:
				revs = fmt.Sprintf("%d, oldest %s", d.PendingRevocations, now.Sub(d.OldestRevocation).Round(time.Second))
			case d.Known:
				revs = "none"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, lk, seen, list, revs, battery, rssi, dash(d.DoorState), needs)
		}
		return tw.Flush()
	}
	root.AddCommand(pair, doors)
	root.AddCommand(readCommands(stdout, &cfgPath, environ, client)...)
	return root
}

// apiClient talks to the daemon's local endpoint.
type apiClient struct {
	http  *http.Client
	base  string
	token string
}

func newClient(cfgPath string, environ []string) (*apiClient, error) {
	cfg, err := config.Load(cfgPath, environ)
	if err != nil {
		return nil, err
	}
	st := cfg.Status
	c := &apiClient{http: &http.Client{Timeout: 30 * time.Second}}
	if st.TokenFile != "" {
		b, err := os.ReadFile(st.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the token (status.token_file): %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	// The unix socket first: no port to find, and file permissions guard it.
	if st.Socket != "" {
		if _, err := os.Stat(st.Socket); err == nil {
			sock := st.Socket
			c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}
			c.base = "http://doorhubd"
			return c, nil
		}
	}
	if st.Listen == "" {
		return nil, fmt.Errorf("%s: neither status.socket (%q) is there nor status.listen set: is doorhubd running?", cfgPath, st.Socket)
	}
	c.base = "http://" + st.Listen
	return c, nil
}

func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("cannot reach doorhubd: %w (the socket is for root and group %s: sudo, or sudo adduser $USER %s and log in again)",
			err, status.DefaultSocketGroup, status.DefaultSocketGroup)
	}
	if err != nil {
		return fmt.Errorf("cannot reach doorhubd: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("doorhubd: %s", e.Error)
		}
		return fmt.Errorf("doorhubd: %s", resp.Status)
	}
	return json.Unmarshal(b, out)
}

// listState is a door's access list in a few words: current, drifted or
// what is pending, its digest, and the overflow.
func listState(d status.Door) string {
	var s string
	switch {
	case d.ListDrift:
		s = "drifted"
	case d.ListCurrent:
		s = "current"
	case d.ListDigest != "":
		s = fmt.Sprintf("%d pending", d.PendingChanges)
	default:
		return "-"
	}
	if d.ListDigest != "" {
		s += " " + d.ListDigest
	}
	if d.Overflow > 0 {
		s += fmt.Sprintf(", %d left out", d.Overflow)
	}
	return s
}
