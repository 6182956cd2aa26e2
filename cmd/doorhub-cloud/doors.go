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

func (c *cli) doorsCmd() *cobra.Command {
	var r controlplane.DoorsRequest
	cmd := &cobra.Command{Use: "doors [--hub ID]",
		Short: "Each door's lock: online or not, battery, door and list state, from each hub's last report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return call(c, cmd, "doors", r, showDoors)
		}}
	cmd.Flags().StringVar(&r.Hub, "hub", "", "only this hub")
	return cmd
}

// showDoors prints each hub's last door-state report, a line per door.
func showDoors(w io.Writer, views []controlplane.DoorsView) {
	for _, v := range views {
		if !v.Received {
			fmt.Fprintf(w, "hub %s: no door-state report yet\n", v.Hub)
			continue
		}
		fmt.Fprintf(w, "hub %s, reported %s\n", v.Hub, v.At.UTC().Format(time.RFC3339))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOOR\tLOCK\tSTATE\tLAST SEEN\tBATTERY\tLIST\tDOOR SENSOR\tALARMS")
		for _, d := range v.Doors {
			name := d.Name
			if name == "" {
				name = d.Door
			}
			lock, state := "-", "offline"
			if d.Lock != "" {
				lock = d.Lock
			}
			if d.Reachable {
				state = "online"
			}
			seen := "-"
			if d.LastSeen != nil {
				seen = fmt.Sprintf("%s (%s ago)", d.LastSeen.UTC().Format(time.RFC3339), time.Duration(d.LastSeenAgeSeconds)*time.Second)
			}
			battery := "-"
			if d.BatteryPercent != nil {
				battery = fmt.Sprintf("%d%% %s", *d.BatteryPercent, d.BatteryBand)
			}
			list := string(d.List)
			if list == "" {
				list = "-"
			}
			var sensor []string
			if d.Open != nil {
				sensor = append(sensor, map[bool]string{true: "open", false: "closed"}[*d.Open])
			}
			if d.Locked != nil {
				sensor = append(sensor, map[bool]string{true: "locked", false: "unlocked"}[*d.Locked])
			}
			alarms := make([]string, 0, len(d.Alarms))
			for _, a := range d.Alarms {
				alarms = append(alarms, string(a))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, lock, state, seen, battery, list,
				dashIfEmpty(strings.Join(sensor, ", ")), dashIfEmpty(strings.Join(alarms, ", ")))
		}
		_ = tw.Flush()
	}
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
