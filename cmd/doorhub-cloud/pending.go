package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/cloudlink/controlplane"
)

func (c *cli) pendingCmd() *cobra.Command {
	var r controlplane.PendingRequest
	cmd := &cobra.Command{Use: "pending [--hub ID]",
		Short: "Door updates the locks have not applied yet, from each hub's last report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "pending", r, showPending)
		}}
	cmd.Flags().StringVar(&r.Hub, "hub", "", "only this hub")
	return cmd
}

// showPending prints each hub's report: a line per door, the doors with
// something pending first as the hub sent them.
func showPending(w io.Writer, views []controlplane.PendingView) {
	for _, v := range views {
		if !v.Received {
			fmt.Fprintf(w, "hub %s: no pending report yet\n", v.Hub)
			continue
		}
		behind := ""
		if v.HubBehind {
			behind = fmt.Sprintf(" — the hub has not applied the site's version %d yet", v.SiteVersion)
		}
		fmt.Fprintf(w, "hub %s at version %d, reported %s%s\n", v.Hub, v.Version, v.At.UTC().Format(time.RFC3339), behind)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOOR\tSTATE\tPENDING\tSYNCED VERSION\tOVERFLOW\tOLDEST UNAPPLIED")
		for _, d := range v.Doors {
			name := d.Name
			if name == "" {
				name = d.Door
			}
			state := "synced"
			if !d.Synced {
				state = "pending"
			}
			oldest := "-"
			if d.Oldest != nil {
				oldest = fmt.Sprintf("%s (%s ago)", d.Oldest.UTC().Format(time.RFC3339), time.Duration(d.OldestAgeSeconds)*time.Second)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", name, state, d.Pending, d.SyncedVersion, d.Overflow, oldest)
		}
		_ = tw.Flush()
		if v.KeycardsTotal > 0 {
			fmt.Fprintf(w, "%d keycard changes pending\n", v.KeycardsTotal)
		}
		// Each listed card by reference (never its id) and owner; a
		// deactivation first is what a lost card looks like.
		for _, k := range v.Keycards {
			change := "activation"
			if !k.Active {
				change = "deactivation"
			}
			fmt.Fprintf(w, "  keycard %s of %s: %s pending at %s\n", k.CardRef, k.OwnerID, change, strings.Join(k.Doors, ", "))
		}
		if n := v.KeycardsTotal - len(v.Keycards); n > 0 {
			fmt.Fprintf(w, "  and %d more not listed in the hub's report\n", n)
		}
	}
}
