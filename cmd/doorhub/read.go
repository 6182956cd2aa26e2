package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/hub/config"
	"github.com/doorhub/doorhub/hub/status"
)

// readCommands are status, events, explain and config: each reads, and
// each has --json.
func readCommands(stdout io.Writer, cfgPath *string, environ []string, client func() (*apiClient, error)) []*cobra.Command {
	return []*cobra.Command{statusCmd(stdout, client), eventsCmd(stdout, client), explainCmd(stdout, client),
		configCmd(stdout, cfgPath, environ), diagCmd(stdout, cfgPath, environ, client)}
}

func statusCmd(stdout io.Writer, client func() (*apiClient, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "status", Short: "What the hub is doing: clock, store, cloud link, outbox, radio", Args: cobra.NoArgs}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := client()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := c.do(cmd.Context(), "GET", "/api/v1/status", nil, &raw); err != nil {
			return err
		}
		if asJSON {
			_, err := fmt.Fprintf(stdout, "%s\n", raw)
			return err
		}
		var r status.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		printReport(stdout, r)
		return nil
	}
	return cmd
}

func printReport(w io.Writer, r status.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintf(tw, "hub\t%s (doorhubd %s), up %s\n", r.HubID, r.Version, r.Uptime)
	trust := "NOT TRUSTED"
	if r.Clock.Trusted {
		trust = "trusted"
	}
	fmt.Fprintf(tw, "clock\t%s, %s: %s\n", r.Clock.Now.Format(time.RFC3339), trust, r.Clock.Reason)
	c := r.Store.Counts
	fmt.Fprintf(tw, "site model\tversion %d: %d doors, %d keys, %d people, %d grants, %d keycards, %d devices, %d guest codes, %d tours\n",
		r.Store.Version, c.Doors, c.Keys, c.People, c.Grants, c.Keycards, c.Devices, c.GuestCodes, c.Tours)
	cloud := r.Cloud.State
	if r.Cloud.Broker != "" {
		cloud += " (" + r.Cloud.Broker + ")"
	}
	if !r.Cloud.LastContact.IsZero() {
		cloud += ", last contact " + ago(r.Cloud.LastContact)
	}
	fmt.Fprintf(tw, "cloud\t%s\n", cloud)
	if o := r.Outbox; o != nil {
		line := fmt.Sprintf("%d events waiting", o.Pending)
		if !o.Oldest.IsZero() {
			line += fmt.Sprintf(", oldest %s", (time.Duration(o.OldestAgeSeconds) * time.Second).String())
		}
		if o.Degraded {
			line += ", DEGRADED: " + o.Reason
		}
		if o.Discarded > 0 {
			line += fmt.Sprintf(", %d discarded", o.Discarded)
		}
		fmt.Fprintf(tw, "outbox\t%s\n", line)
	}
	radio := fmt.Sprintf("%s on %s", r.Radio.State, r.Radio.Port)
	if !r.Radio.Since.IsZero() {
		radio += " since " + ago(r.Radio.Since)
	}
	if r.Radio.LastError != "" {
		radio += ", last error: " + r.Radio.LastError
	}
	fmt.Fprintf(tw, "radio\t%s\n", radio)
	var rec []string
	for k, v := range r.Recovery {
		if v > 0 {
			rec = append(rec, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(rec)
	if len(rec) == 0 {
		rec = []string{"none"}
	}
	fmt.Fprintf(tw, "recovery\t%s\n", strings.Join(rec, ", "))
}

func ago(t time.Time) string {
	return time.Since(t).Round(time.Second).String() + " ago"
}

func eventsCmd(stdout io.Writer, client func() (*apiClient, error)) *cobra.Command {
	var asJSON, follow bool
	var limit int
	cmd := &cobra.Command{Use: "events [--follow]", Short: "Recent activity at the doors (residents at their own doors without identity)", Args: cobra.NoArgs}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing events as they happen, until interrupted")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many recent events to show first")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := client()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		var tw *tabwriter.Writer
		if !asJSON {
			tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tDOOR\tEVENT\tCREDENTIAL\tREASON\tWHO")
		}
		var after uint64
		first := true
		for {
			q := url.Values{"after": {fmt.Sprint(after)}, "wait": {"20s"}, "limit": {"1000"}}
			if first {
				q = url.Values{"limit": {fmt.Sprint(limit)}}
			}
			var out struct {
				Events []status.Event `json:"events"`
				Last   uint64         `json:"last"`
			}
			err := c.do(ctx, "GET", "/api/v1/activity?"+q.Encode(), nil, &out)
			if err != nil {
				if follow && ctx.Err() != nil {
					return nil
				}
				return err
			}
			if out.Last < after { // the daemon restarted: its events since then
				after = 0
				continue
			}
			first, after = false, max(after, out.Last)
			for _, e := range out.Events {
				if asJSON {
					if err := json.NewEncoder(stdout).Encode(e); err != nil {
						return err
					}
					continue
				}
				printEvent(tw, e)
			}
			if tw != nil {
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			if !follow {
				return nil
			}
		}
	}
	return cmd
}

func printEvent(tw io.Writer, e status.Event) {
	what := string(e.Kind)
	if e.Allowed != nil {
		what = "denied"
		if *e.Allowed {
			what = "allowed"
		}
	}
	if e.Battery != nil {
		what += fmt.Sprintf(" (%d%%)", *e.Battery)
	}
	if e.Lost != nil {
		what += fmt.Sprintf(" (%d lost)", e.Lost.Count)
	}
	who := e.Person
	switch {
	case e.Visibility != "" && e.Visibility != "visible":
		who = "(private)"
	case who == "" && e.Service != "":
		who = "service " + e.Service
	case who == "" && e.By != "":
		who = e.By
	}
	if e.Host != "" {
		who += " (guest of " + e.Host + ")"
	}
	at := e.At.Local().Format("2006-01-02 15:04:05")
	if !e.ClockTrusted {
		at += "?"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", at, dash(e.Door), what, dash(e.Credential), dash(e.Reason), dash(who))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func explainCmd(stdout io.Writer, client func() (*apiClient, error)) *cobra.Command {
	var asJSON bool
	var req status.ExplainRequest
	var at string
	cmd := &cobra.Command{
		Use:   "explain --door D (--card HEX | --code DIGITS | --email E) [--at T]",
		Short: "Would this credential open this door (at this time), and why: the reason and the grant behind it",
		Long: "Explain asks the hub's engine what it would decide, changing nothing: a wrong code does not count\n" +
			"towards a lockout and a guest code's first use is not recorded. --email explains each of the\n" +
			"person's credentials. --at takes RFC 3339 (2026-05-01T18:00:00+02:00) or a local 2006-01-02T15:04.",
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&req.Door, "door", "", "the door's id")
	cmd.Flags().StringVar(&req.Card, "card", "", "a keycard's id, hex")
	cmd.Flags().StringVar(&req.Code, "code", "", "a doorcode's digits")
	cmd.Flags().StringVar(&req.Email, "email", "", "a person's email: each of their credentials")
	cmd.Flags().StringVar(&at, "at", "", "the time to decide at (default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("door")
	_ = cmd.RegisterFlagCompletionFunc("door", completeDoors(client))
	cmd.MarkFlagsOneRequired("card", "code", "email")
	cmd.MarkFlagsMutuallyExclusive("card", "code", "email")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if at != "" {
			t, err := parseTime(at)
			if err != nil {
				return err
			}
			req.At = t
		}
		req.Card = strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(req.Card, ":", ""), "0x"))
		c, err := client()
		if err != nil {
			return err
		}
		var raw json.RawMessage
		if err := c.do(cmd.Context(), "POST", "/api/v1/explain", req, &raw); err != nil {
			return err
		}
		if asJSON {
			_, err := fmt.Fprintf(stdout, "%s\n", raw)
			return err
		}
		var res status.ExplainResult
		if err := json.Unmarshal(raw, &res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "door %s at %s\n", res.Door, res.At.Format(time.RFC3339))
		for _, d := range res.Decisions {
			verdict := "DENIED"
			if d.Allowed != nil && *d.Allowed {
				verdict = "ALLOWED"
			}
			fmt.Fprintf(stdout, "  %s: %s (%s)", d.Credential, verdict, d.Reason)
			if d.Subject != "" {
				fmt.Fprintf(stdout, ", as %s", d.Subject)
			}
			fmt.Fprintln(stdout)
			if g := d.Grant; g != nil {
				until := "no end"
				if g.Expires != nil {
					until = "until " + g.Expires.Format(time.RFC3339)
				}
				fmt.Fprintf(stdout, "    grant %s: key %s, %s access from %s, %s", g.ID, g.KeyID, g.Method, g.StartsAt.Format(time.RFC3339), until)
				if g.Resident {
					fmt.Fprint(stdout, ", resident")
				}
				fmt.Fprintln(stdout)
			}
			for _, x := range []struct{ k, v string }{{"guest grant", d.GuestGrant}, {"tour", d.Tour}, {"alarm", d.Alarm}} {
				if x.v != "" {
					fmt.Fprintf(stdout, "    %s %s\n", x.k, x.v)
				}
			}
		}
		return nil
	}
	return cmd
}

// completeDoors completes a --door flag with the doors the daemon knows.
func completeDoors(client func() (*apiClient, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var out struct{ Doors []status.Door }
		if err := c.do(ctx, "GET", "/api/v1/doors", nil, &out); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []cobra.Completion
		for _, d := range out.Doors {
			if strings.HasPrefix(d.Door, prefix) {
				ids = append(ids, cobra.CompletionWithDesc(d.Door, d.Name))
			}
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02 15:04"} {
		if layout == time.RFC3339 {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
			continue
		}
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-05-01T18:00:00+02:00) or 2006-01-02T15:04", s)
}

func configCmd(stdout io.Writer, cfgPath *string, environ []string) *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "The daemon's configuration"}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check",
		Short: "Check the daemon's configuration (--config), printing every problem, as doorhubd --check-config",
		Args:  cobra.NoArgs,
	}
	check.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	check.RunE = func(_ *cobra.Command, _ []string) error {
		_, err := config.Load(*cfgPath, environ)
		if asJSON {
			out := map[string]any{"file": *cfgPath, "ok": err == nil, "problems": []string{}}
			if err != nil {
				out["problems"] = problems(err)
			}
			if e := json.NewEncoder(stdout).Encode(out); e != nil {
				return e
			}
			if err != nil {
				return errors.New("the configuration has problems")
			}
			return nil
		}
		if err != nil {
			for _, p := range problems(err) {
				fmt.Fprintln(stdout, p)
			}
			return fmt.Errorf("%s: the configuration has problems", *cfgPath)
		}
		fmt.Fprintf(stdout, "%s: ok\n", *cfgPath)
		return nil
	}
	cfg.AddCommand(check)
	return cfg
}

// problems splits a joined error into its lines.
func problems(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
