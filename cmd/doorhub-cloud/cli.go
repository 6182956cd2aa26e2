package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub"
)

type cli struct {
	out, errOut io.Writer
	getenv      func(string) string
	state       string
	site        string
	json        bool
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	c := &cli{out: stdout, errOut: stderr, getenv: getenv}
	root := &cobra.Command{
		Use:           "doorhub-cloud",
		Short:         "A small, real control plane for doorhub sites",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       hub.Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&c.state, "state", "", "state directory of the server (default $"+controlplane.EnvState+")")
	root.PersistentFlags().BoolVar(&c.json, "json", false, "print JSON")
	root.PersistentFlags().StringVar(&c.site, "site", "", "the site (needed when the server holds several)")
	root.AddCommand(c.serveCmd(), c.siteCmd(), c.doorCmd(), c.keyCmd(), c.hubCmd(), c.deviceCmd(),
		c.inviteCmd(), c.accessCmd(), c.revokeCmd(), c.deleteCmd(), c.peopleCmd(), c.shareCmd(),
		c.importCmd(), c.keycardCmd(), c.tourCmd(), c.unlockCmd(), c.doorcodeCmd(), c.reportCmd(),
		c.activityCmd(), c.hubsCmd(), c.pendingCmd(), c.doorsCmd())
	return root
}

func (c *cli) stateDir() string {
	if c.state != "" {
		return c.state
	}
	return c.getenv(controlplane.EnvState)
}

// call posts to the server and prints the answer: JSON with --json,
// otherwise what show makes of it (its message when show is nil).
func call[Resp any](c *cli, cmd *cobra.Command, path string, req any, show func(w io.Writer, r Resp)) error {
	cl, err := controlplane.Dial(c.stateDir())
	if err != nil {
		return err
	}
	cl.Site = c.site
	ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
	defer cancel()
	var resp Resp
	if err := cl.Call(ctx, path, req, &resp); err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	if show != nil {
		show(c.out, resp)
		return nil
	}
	var m struct {
		Message string `json:"message"`
	}
	b, _ := json.Marshal(resp)
	_ = json.Unmarshal(b, &m)
	fmt.Fprintln(c.out, m.Message)
	return nil
}

func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		_ = cmd.MarkFlagRequired(n)
	}
}

func (c *cli) serveCmd() *cobra.Command {
	var broker, listen, embedded string
	cmd := &cobra.Command{
		Use:   "serve --state DIR --broker URL --listen ADDR",
		Short: "Hold the site's state, serve the API and talk to the hubs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if embedded != "" {
				if broker != "" {
					return fmt.Errorf("--broker and --embedded-broker: choose one")
				}
				b, err := brokertest.Start(embedded, nil)
				if err != nil {
					return fmt.Errorf("--embedded-broker %s: %w", embedded, err)
				}
				defer b.Stop()
				broker = b.URL()
				fmt.Fprintf(c.out, "embedded MQTT broker on %s\n", broker)
			}
			s, err := controlplane.Open(controlplane.Options{StateDir: c.stateDir(), Broker: broker, Listen: listen,
				Logger: slog.New(slog.NewTextHandler(c.errOut, nil))})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "doorhub-cloud serving on http://%s\npublic key: %s\n", s.Addr(), s.PublicKey())
			<-ctx.Done()
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&broker, "broker", "", "MQTT broker URL (tcp://127.0.0.1:1883)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8780", "API address (loopback)")
	cmd.Flags().StringVar(&embedded, "embedded-broker", "", "run an MQTT broker in the process on this loopback address (demos)")
	return cmd
}

func (c *cli) siteCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "site", Short: "The site"}
	var r console.SiteCreate
	create := &cobra.Command{Use: "create --name N --timezone TZ --doorcode-length N", Short: "Create the site", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "site/create", r, nil) }}
	create.Flags().StringVar(&r.Name, "name", "", "site name")
	create.Flags().StringVar(&r.TimeZone, "timezone", "", "IANA time zone (America/New_York)")
	create.Flags().IntVar(&r.DoorcodeLength, "doorcode-length", hub.DefaultDoorcodeLen, "digits of a doorcode (5 to 7)")
	required(create, "name", "timezone")
	show := &cobra.Command{Use: "show", Short: "Show the site", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "site", struct{}{}, func(w io.Writer, s console.SiteView) {
				fmt.Fprintf(w, "%s (%s): %s, doorcodes of %d digits, version %d\n", s.Name, s.ID, s.TimeZone, s.DoorcodeLength, s.Version)
			})
		}}
	list := &cobra.Command{Use: "list", Short: "List the sites this server holds", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "sites", struct{}{}, func(w io.Writer, ss []console.SiteView) {
				for _, s := range ss {
					fmt.Fprintf(w, "%s\t%s\t%s\tversion %d\n", s.ID, s.Name, s.TimeZone, s.Version)
				}
			})
		}}
	cmd.AddCommand(create, show, list)
	return cmd
}

func (c *cli) doorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "door", Short: "Doors"}
	var r console.DoorAdd
	add := &cobra.Command{Use: "add --name N --type entrance|residence|service|communal", Short: "Add a door", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "door/add", r, nil) }}
	add.Flags().StringVar(&r.Name, "name", "", "door name (its id is the name in lowercase with dashes)")
	add.Flags().StringVar(&r.Type, "type", "", "entrance, residence, service or communal")
	add.Flags().StringVar(&r.Offline, "offline", "", "what the lock does without the hub for a credential it has no entry for: secure (default) or as-is")
	required(add, "name", "type")
	var o console.DoorOffline
	offline := &cobra.Command{Use: "offline --door D --mode secure|as-is", Short: "Set what a door's lock does without the hub", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call[console.Result](c, cmd, "door/offline", o, nil)
		}}
	offline.Flags().StringVar(&o.Door, "door", "", "the door")
	offline.Flags().StringVar(&o.Offline, "mode", "", "secure: deny and lock a door held unlocked; as-is: deny and leave the door as it is")
	required(offline, "door", "mode")
	cmd.AddCommand(add, offline)
	return cmd
}

func (c *cli) keyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Keys"}
	var r console.KeyCreate
	create := &cobra.Command{Use: "create --name N --doors A,B [--no-doorcodes] [--no-sharing]", Short: "Create a key", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "key/create", r, nil) }}
	create.Flags().StringVar(&r.Name, "name", "", "key name")
	create.Flags().StringSliceVar(&r.Doors, "doors", nil, "doors of the key")
	create.Flags().BoolVar(&r.NoDoorcodes, "no-doorcodes", false, "the key admits no doorcodes")
	create.Flags().BoolVar(&r.NoSharing, "no-sharing", false, "the key cannot be shared")
	required(create, "name", "doors")
	cmd.AddCommand(create)
	return cmd
}

func (c *cli) hubCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hub", Short: "Hubs"}
	var r controlplane.HubAdd
	add := &cobra.Command{Use: "add --id ID [--radio-port P] [--state-dir D] [--listen ADDR]",
		Short: "Register a hub and print its doorhubd config", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "hub/add", r, func(w io.Writer, h controlplane.HubConfig) { fmt.Fprint(w, h.Config) })
		}}
	add.Flags().StringVar(&r.ID, "id", "", "hub id")
	add.Flags().StringVar(&r.RadioPort, "radio-port", "", "serial port of the radio (default /dev/doorhub-radio)")
	add.Flags().StringVar(&r.StateDir, "state-dir", "", "the hub's state directory (default /var/lib/doorhub)")
	add.Flags().StringVar(&r.Listen, "listen", "", "the hub's status endpoint (default 127.0.0.1:8765)")
	add.Flags().StringVar(&r.Broker, "broker", "", "the broker URL the hub uses (default the server's)")
	required(add, "id")
	cmd.AddCommand(add)
	return cmd
}

func (c *cli) hubsCmd() *cobra.Command {
	return &cobra.Command{Use: "hubs", Short: "List hubs and what they acknowledged", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "hubs", struct{}{}, func(w io.Writer, hs []controlplane.HubView) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HUB\tSTATE\tACKED\tVERSION")
				for _, h := range hs {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", h.ID, h.State, h.Acked, h.Version)
				}
				_ = tw.Flush()
			})
		}}
}

func (c *cli) deviceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Phones"}
	var r console.DeviceRegister
	reg := &cobra.Command{Use: "register --email E --public-key KEY", Short: "Register a person's phone", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call[console.Result](c, cmd, "device/register", r, nil)
		}}
	reg.Flags().StringVar(&r.Email, "email", "", "the phone's owner")
	reg.Flags().StringVar(&r.PublicKey, "public-key", "", "the phone's Ed25519 public key, base64 or hex (doorhub-sim phone new)")
	required(reg, "email", "public-key")
	cmd.AddCommand(reg)
	return cmd
}

func (c *cli) inviteCmd() *cobra.Command {
	var r console.Invite
	cmd := &cobra.Command{Use: "invite --email E --name N --method app|doorcode --key K[,K] [--resident] [--may-share] [--start T] [--expires T]",
		Short: "Invite a person (or add keys to the person with that email)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "invite", r, nil) }}
	f := cmd.Flags()
	f.StringVar(&r.Email, "email", "", "email (the person's identity, case-insensitive)")
	f.StringVar(&r.Name, "name", "", "name")
	f.StringVar(&r.Method, "method", "app", "app or doorcode")
	f.StringSliceVar(&r.Keys, "key", nil, "keys")
	f.BoolVar(&r.Resident, "resident", false, "the person lives behind the keys' residence doors")
	f.BoolVar(&r.MayShare, "may-share", false, "the person may share the keys")
	f.StringVar(&r.Start, "start", "", "start, RFC 3339 (default now)")
	f.StringVar(&r.Expires, "expires", "", "expiry, RFC 3339 (default none)")
	f.BoolVar(&r.Manager, "manager", false, "the person has property-management permissions")
	f.BoolVar(&r.OutsidePortfolio, "outside-portfolio", false, "the person has access at sites outside this portfolio (they manage their keycard themselves)")
	required(cmd, "email", "key")
	return cmd
}

func (c *cli) accessCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "access", Short: "A person's keys"}
	var r console.AccessEdit
	var resident, mayShare bool
	edit := &cobra.Command{Use: "edit --email E --key K [--expires T] [--resident=B] [--may-share=B] [--remove]",
		Short: "Edit or remove one of a person's keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("resident") {
				r.Resident = &resident
			}
			if cmd.Flags().Changed("may-share") {
				r.MayShare = &mayShare
			}
			return call[console.Result](c, cmd, "access/edit", r, nil)
		}}
	f := edit.Flags()
	f.StringVar(&r.Email, "email", "", "the person")
	f.StringVar(&r.Key, "key", "", "the key")
	f.StringVar(&r.Expires, "expires", "", "new expiry, RFC 3339")
	f.BoolVar(&resident, "resident", false, "resident status")
	f.BoolVar(&mayShare, "may-share", false, "may share the key")
	f.BoolVar(&r.Remove, "remove", false, "remove the key from the person")
	required(edit, "email", "key")
	cmd.AddCommand(edit)
	return cmd
}

func (c *cli) emailCmd(use, short, path string) *cobra.Command {
	var r console.EmailRequest
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, path, r, nil) }}
	cmd.Flags().StringVar(&r.Email, "email", "", "the person")
	required(cmd, "email")
	return cmd
}

func (c *cli) revokeCmd() *cobra.Command {
	return c.emailCmd("revoke --email E", "Revoke every key of a person and the guest access they granted", "revoke")
}

func (c *cli) deleteCmd() *cobra.Command {
	return c.emailCmd("delete --email E", "Delete a person (past activity stays)", "delete")
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func showPerson(w io.Writer, p console.PersonView) {
	fmt.Fprintf(w, "%s", p.Email)
	if p.Name != "" {
		fmt.Fprintf(w, " (%s)", p.Name)
	}
	fmt.Fprintf(w, " — %s", p.Status)
	if p.Manager {
		fmt.Fprint(w, ", manager")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tSTATE\tMETHOD\tRESIDENT\tMAY SHARE\tSTART\tEXPIRES")
	for _, k := range p.Keys {
		start := k.Start
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%v\t%v\t%s\t%s\n", k.Key, k.State, k.Method, k.Resident, k.MayShare, fmtTime(&start), fmtTime(k.Expires))
	}
	_ = tw.Flush()
	for _, g := range p.GuestOf {
		window := "permanent"
		if !g.Permanent {
			start := g.Start
			window = fmtTime(&start) + " to " + fmtTime(g.Expires)
		}
		fmt.Fprintf(w, "  guest of %s on %s, %s\n", g.Host, g.Key, window)
	}
	for _, cr := range p.Credentials {
		fmt.Fprintf(w, "  %s", cr.Kind)
		if cr.Last4 != "" {
			fmt.Fprintf(w, " …%s", cr.Last4)
		}
		fmt.Fprintf(w, ": %s", cr.State)
		if len(cr.Pending) > 0 {
			fmt.Fprintf(w, " (pending at %s)", strings.Join(cr.Pending, ", "))
		}
		fmt.Fprintln(w)
	}
}

func (c *cli) peopleCmd() *cobra.Command {
	var r console.PeopleRequest
	cmd := &cobra.Command{Use: "people [--show-expired]", Short: "List people", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "people", r, func(w io.Writer, ps []console.PersonView) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "EMAIL\tNAME\tSTATUS\tKEYS\tCREDENTIALS")
				for _, p := range ps {
					var keys, creds []string
					for _, k := range p.Keys {
						keys = append(keys, k.Key)
					}
					for _, cr := range p.Credentials {
						s := cr.Kind + ":" + cr.State
						if len(cr.Pending) > 0 {
							s += "(pending)"
						}
						creds = append(creds, s)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Email, p.Name, p.Status, strings.Join(keys, ", "), strings.Join(creds, " "))
				}
				_ = tw.Flush()
			})
		}}
	cmd.Flags().BoolVar(&r.ShowExpired, "show-expired", false, "also people whose access was revoked or expired")
	var s console.EmailRequest
	show := &cobra.Command{Use: "show --email E", Short: "Show a person's keys and credentials", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call(c, cmd, "people/show", s, showPerson) }}
	show.Flags().StringVar(&s.Email, "email", "", "the person")
	required(show, "email")
	cmd.AddCommand(show)
	return cmd
}

func (c *cli) shareCmd() *cobra.Command {
	var r console.Share
	cmd := &cobra.Command{Use: "share --host E --key K (--guest E | --service NAME) (--permanent | --start T --expires T | --single-day | --fifteen-minute)",
		Short: "Share a key with a guest, a service, or as a guest doorcode", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "share", r, func(w io.Writer, s console.ShareResult) {
				fmt.Fprintln(w, s.Message)
				if s.Code != "" {
					fmt.Fprintf(w, "guest code: %s\n", s.Code)
				}
			})
		}}
	f := cmd.Flags()
	f.StringVar(&r.Host, "host", "", "the person sharing")
	f.StringVar(&r.Key, "key", "", "the key shared")
	f.StringVar(&r.Guest, "guest", "", "the guest's email")
	f.StringVar(&r.GuestName, "guest-name", "", "the guest's name")
	f.StringVar(&r.Service, "service", "", "a service (dog walker, cleaner)")
	f.BoolVar(&r.Permanent, "permanent", false, "no end")
	f.StringVar(&r.Start, "start", "", "start, RFC 3339")
	f.StringVar(&r.Expires, "expires", "", "end, RFC 3339")
	f.BoolVar(&r.SingleDay, "single-day", false, "a guest doorcode for today")
	f.BoolVar(&r.FifteenMinute, "fifteen-minute", false, "a guest doorcode valid 15 minutes from its first use")
	required(cmd, "host", "key")
	return cmd
}

func (c *cli) importCmd() *cobra.Command {
	var r console.Import
	var template bool
	var resident, mayShare bool
	cmd := &cobra.Command{Use: "import FILE.csv [--dry-run] | import --template", Short: "Invite people from a CSV file",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if template {
				fmt.Fprint(c.out, console.ImportTemplate())
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("name the CSV file (import FILE.csv), or print the template with --template")
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r.CSV = string(b)
			if cmd.Flags().Changed("resident") {
				r.Resident = &resident
			}
			if cmd.Flags().Changed("may-share") {
				r.MayShare = &mayShare
			}
			return call(c, cmd, "import", r, func(w io.Writer, ir console.ImportResult) {
				for _, row := range ir.Rows {
					fmt.Fprintf(w, "line %d: %s %s\n", row.Line, row.Email, row.Action)
				}
				fmt.Fprintln(w, ir.Message)
			})
		}}
	f := cmd.Flags()
	f.BoolVar(&template, "template", false, "print the CSV template")
	f.BoolVar(&r.DryRun, "dry-run", false, "check every line, apply nothing")
	f.StringSliceVar(&r.Keys, "key", nil, "keys for rows without keys")
	f.StringVar(&r.Method, "method", "", "method for rows without one")
	f.BoolVar(&resident, "resident", false, "resident for rows without a value")
	f.BoolVar(&mayShare, "may-share", false, "may-share for rows without a value")
	f.StringVar(&r.Start, "start", "", "start for rows without one")
	f.StringVar(&r.Expires, "expires", "", "expiry for rows without one")
	return cmd
}

func (c *cli) keycardCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keycard", Short: "Keycards"}
	for _, active := range []bool{true, false} {
		var r console.KeycardRequest
		r.Active = active
		name := map[bool]string{true: "activate", false: "deactivate"}[active]
		sub := &cobra.Command{Use: name + " --email E --card ID", Short: strings.ToUpper(name[:1]) + name[1:] + " a person's keycard", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "keycard", r, nil) }}
		sub.Flags().StringVar(&r.Email, "email", "", "the card's owner")
		sub.Flags().StringVar(&r.Card, "card", "", "the card id, hex")
		required(sub, "email", "card")
		cmd.AddCommand(sub)
	}
	return cmd
}

func (c *cli) tourCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tour", Short: "Self-guided tours"}
	var a console.TourAllowlist
	allow := &cobra.Command{Use: "allowlist --integration NAME --key K", Short: "Allowlist a key for an integration", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call[console.Result](c, cmd, "tour/allowlist", a, nil)
		}}
	allow.Flags().StringVar(&a.Integration, "integration", "", "integration (Tour24)")
	allow.Flags().StringVar(&a.Key, "key", "", "the key")
	required(allow, "integration", "key")
	var t console.TourCreate
	create := &cobra.Command{Use: "create --integration NAME --code DIGITS --start T --end T --key K[,K]", Short: "Book a tour", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return call[console.Result](c, cmd, "tour/create", t, nil) }}
	create.Flags().StringVar(&t.Integration, "integration", "", "integration")
	create.Flags().StringVar(&t.Code, "code", "", "the tour's code (the site's doorcode length)")
	create.Flags().StringVar(&t.Start, "start", "", "start, RFC 3339")
	create.Flags().StringVar(&t.End, "end", "", "end, RFC 3339")
	create.Flags().StringSliceVar(&t.Keys, "key", nil, "allowlisted keys")
	required(create, "integration", "code", "start", "end", "key")
	cmd.AddCommand(allow, create)
	return cmd
}

func (c *cli) unlockCmd() *cobra.Command {
	var r controlplane.UnlockRequest
	cmd := &cobra.Command{Use: "unlock --door D", Short: "Open a door remotely through its hub", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var failed bool
			err := call(c, cmd, "unlock", r, func(w io.Writer, u controlplane.UnlockResult) {
				fmt.Fprintln(w, u.Message)
				for _, rp := range u.Replies {
					failed = failed || rp.Status != "done"
				}
			})
			if err == nil && failed {
				return exitError(1)
			}
			return err
		}}
	cmd.Flags().StringVar(&r.Door, "door", "", "the door")
	cmd.Flags().IntVar(&r.WaitSeconds, "wait", 10, "seconds to wait for the hub's reply")
	required(cmd, "door")
	return cmd
}

func (c *cli) doorcodeCmd() *cobra.Command {
	var r console.DoorcodeRequest
	cmd := &cobra.Command{Use: "doorcode --email E --door D [--date YYYY-MM-DD]", Short: "Show a person's daily doorcode", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "doorcode", r, func(w io.Writer, v console.DoorcodeView) {
				fmt.Fprintf(w, "%s at %s on %s: %s\n", v.Email, v.Door, v.Date, v.Code)
			})
		}}
	cmd.Flags().StringVar(&r.Email, "email", "", "the person")
	cmd.Flags().StringVar(&r.Door, "door", "", "the door")
	cmd.Flags().StringVar(&r.Date, "date", "", "local date (default today)")
	required(cmd, "email", "door")
	return cmd
}

func (c *cli) reportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Reports"}
	var format string
	aa := &cobra.Command{Use: "assigned-access [--format csv|json]", Short: "Every person's keys with resident status", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "json" {
				c.json = true
			} else if format != "csv" {
				return fmt.Errorf("--format %q: use csv or json", format)
			}
			return call(c, cmd, "report/assigned-access", struct{}{}, func(w io.Writer, rows []console.AssignedAccess) {
				cw := csv.NewWriter(w)
				_ = cw.Write([]string{"email", "name", "key", "resident", "may_share", "method", "start", "expires", "credential_status"})
				for _, r := range rows {
					start := r.Start
					_ = cw.Write([]string{r.Email, r.Name, r.Key, strconv.FormatBool(r.Resident), strconv.FormatBool(r.MayShare),
						r.Method, fmtTime(&start), strings.TrimPrefix(fmtTime(r.Expires), "-"), r.CredentialStatus})
				}
				cw.Flush()
			})
		}}
	aa.Flags().StringVar(&format, "format", "csv", "csv or json")
	cmd.AddCommand(aa)
	return cmd
}

func showActivity(w io.Writer, evs []controlplane.ActivityView) {
	for _, e := range evs {
		who := e.Email
		switch {
		case e.Visibility == string(hub.IdentityRemoved):
			who = "(resident, identity removed)"
		case e.Service != "":
			who = "service " + e.Service
		case e.Tour != "":
			who = "tour " + e.Tour
		case who == "" && e.Subject != "":
			who = e.Subject
		case who == "":
			who = "-"
		}
		if e.Host != "" {
			who += " (guest of " + e.Host + ")"
		}
		outcome := e.Kind
		if e.Allowed != nil {
			outcome = map[bool]string{true: "allowed", false: "denied"}[*e.Allowed] + " " + e.Reason
		}
		if l := e.DecidedByLock; l != nil {
			who += fmt.Sprintf(" [decided by lock %s offline, its event %d at %s]", l.Lock, l.Seq, l.Clock.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "%s  %-12s %-9s %-32s %s\n", e.At.UTC().Format(time.RFC3339), e.Door, e.Credential, outcome, who)
	}
}

func (c *cli) activityCmd() *cobra.Command {
	var r controlplane.ActivityRequest
	var follow bool
	cmd := &cobra.Command{Use: "activity [--door D] [--follow]", Short: "Activity at the doors", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if follow && c.json {
				return fmt.Errorf("--follow prints lines; --json prints one answer: choose one")
			}
			for {
				var last []controlplane.ActivityView
				err := call(c, cmd, "activity", r, func(w io.Writer, evs []controlplane.ActivityView) {
					showActivity(w, evs)
					last = evs
				})
				if err != nil || !follow {
					return err
				}
				if len(last) > 0 {
					r.After = last[len(last)-1].Cursor
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		}}
	cmd.Flags().StringVar(&r.Door, "door", "", "only this door")
	cmd.Flags().BoolVar(&follow, "follow", false, "keep printing new events")
	return cmd
}
