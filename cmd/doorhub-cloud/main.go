// Command doorhub-cloud is the reference control plane: `serve` holds a
// site's authoritative state and talks to its hubs over MQTT; every other
// subcommand is a client of the server's HTTP API (CONTRACTS.md). The work
// is in cloudlink/console and cloudlink/controlplane.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr, os.Getenv).Execute(); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		fmt.Fprintln(os.Stderr, "doorhub-cloud:", err)
		os.Exit(1)
	}
}

// exitError ends the command with a status and no further message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }
