// Command doorhub-sim is a radio coprocessor with N simulated door locks
// behind a pseudo-terminal, for development, demos and tests. The locks'
// logic is radio/sim; this is its command line (CONTRACTS.md).
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/sim"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		fmt.Fprintln(os.Stderr, "doorhub-sim:", err)
		os.Exit(1)
	}
}

// exitError ends the command with a status and no message (the output
// said it all).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "doorhub-sim",
		Short:         "A radio coprocessor with simulated door locks behind a pseudo-terminal",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       hub.Version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	var control string
	root.PersistentFlags().StringVar(&control, "control", sim.DefaultControl(), "control socket of the running simulator")
	call := func(cmd *cobra.Command, req sim.Request) (sim.Response, error) {
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		return sim.Call(ctx, control, req)
	}
	printJSON := func(v any) error { return json.NewEncoder(stdout).Encode(v) }

	serve := &cobra.Command{
		Use:   "serve --locks N --link PATH",
		Short: "Create the pseudo-terminal, link PATH to it, print each lock's label and run until stopped",
		Args:  cobra.NoArgs,
	}
	var cfg sim.Config
	var linkPath, logLevel string
	serve.Flags().IntVar(&cfg.Locks, "locks", 1, "number of locks")
	serve.Flags().StringVar(&linkPath, "link", "", "symlink to create to the pseudo-terminal (the hub's radio.port)")
	serve.Flags().IntVar(&cfg.Baud, "baud", 0, "throttle the line to this UART rate (0: unthrottled)")
	serve.Flags().Uint64Var(&cfg.Seed, "seed", 0, "make lock ids and keys reproducible (0: random)")
	serve.Flags().DurationVar(&cfg.Heartbeat, "heartbeat", sim.DefaultHeartbeat, "how often each lock checks in")
	serve.Flags().DurationVar(&cfg.DecisionTimeout, "decision-timeout", sim.DefaultDecisionTimeout, "how long a lock waits for the hub before deciding alone")
	serve.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	_ = serve.MarkFlagRequired("link")
	serve.RunE = func(cmd *cobra.Command, _ []string) error {
		var level slog.Level
		if err := level.UnmarshalText([]byte(logLevel)); err != nil {
			return fmt.Errorf("--log-level %q", logLevel)
		}
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		s, err := sim.New(cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		plug, err := sim.NewPlug(s, linkPath)
		if err != nil {
			return err
		}
		defer plug.Close()
		ctl, err := sim.ServeControl(s, plug, control)
		if err != nil {
			return err
		}
		defer ctl.Close()
		for _, l := range s.Labels() {
			if err := printJSON(l); err != nil {
				return err
			}
		}
		s.Start()
		cfg.Logger.Info("serving", slog.String("link", linkPath), slog.String("device", plug.Device()),
			slog.String("control", control))
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		return nil
	}

	present := &cobra.Command{
		Use:   "present --lock ID (--card HEX | --code DIGITS | --phone KEYFILE)",
		Short: "Present a credential at a lock; print the outcome as one JSON line (exit 0 when the hub answered)",
		Args:  cobra.NoArgs,
	}
	var lock, card, code, phone string
	present.Flags().StringVar(&lock, "lock", "", "lock id (from its label)")
	present.Flags().StringVar(&card, "card", "", "keycard id, hex")
	present.Flags().StringVar(&code, "code", "", "doorcode digits")
	present.Flags().StringVar(&phone, "phone", "", "phone key file (doorhub-sim phone new)")
	_ = present.MarkFlagRequired("lock")
	present.MarkFlagsOneRequired("card", "code", "phone")
	present.MarkFlagsMutuallyExclusive("card", "code", "phone")
	present.RunE = func(cmd *cobra.Command, _ []string) error {
		req := sim.Request{Verb: "present", Lock: lock, Card: card, Code: code}
		if phone != "" {
			key, err := readPhone(phone)
			if err != nil {
				return err
			}
			ch, err := call(cmd, sim.Request{Verb: "challenge", Lock: lock})
			if err != nil {
				return err
			}
			nonce, err := hex.DecodeString(ch.Nonce)
			if err != nil {
				return fmt.Errorf("challenge: %w", err)
			}
			// The phone signs the door the lock shows it and the lock's nonce.
			sig := ed25519.Sign(key, hub.MobileMessage(ch.Door, nonce))
			req.PublicKey = hex.EncodeToString(key.Public().(ed25519.PublicKey))
			req.Nonce, req.Signature = ch.Nonce, hex.EncodeToString(sig)
		}
		resp, err := call(cmd, req)
		if err != nil {
			return err
		}
		if err := printJSON(resp.Result); err != nil {
			return err
		}
		if resp.Result.Offline {
			return exitError(3) // the lock decided alone: the hub did not answer
		}
		return nil
	}

	phoneCmd := &cobra.Command{Use: "phone", Short: "Simulated phones"}
	var out string
	phoneNew := &cobra.Command{
		Use:   "new --out KEYFILE",
		Short: "Make a phone (an Ed25519 key pair), write its private key to KEYFILE and print its public key (base64)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(pub))
			return err
		},
	}
	phoneNew.Flags().StringVar(&out, "out", "", "file for the phone's private key")
	_ = phoneNew.MarkFlagRequired("out")
	phoneCmd.AddCommand(phoneNew)

	fault := &cobra.Command{
		Use:   "fault [--garbage R] [--drop R] [--duplicate R] [--delay D]",
		Short: "Set what the serial line does wrong (rates per frame, 0..1; all zero: a clean line)",
		Args:  cobra.NoArgs,
	}
	var f sim.Faults
	fault.Flags().Float64Var(&f.Garbage, "garbage", 0, "rate of random bytes before a frame")
	fault.Flags().Float64Var(&f.Drop, "drop", 0, "rate of lost frames (both ways)")
	fault.Flags().Float64Var(&f.Duplicate, "duplicate", 0, "rate of frames sent twice")
	fault.Flags().DurationVar(&f.Delay, "delay", 0, "each frame waits up to this long")
	fault.RunE = func(cmd *cobra.Command, _ []string) error {
		for _, r := range []float64{f.Garbage, f.Drop, f.Duplicate} {
			if r < 0 || r > 1 {
				return fmt.Errorf("rate %v not in 0..1", r)
			}
		}
		resp, err := call(cmd, sim.Request{Verb: "fault", Faults: &f})
		if err != nil {
			return err
		}
		return printJSON(resp.Faults)
	}

	simple := func(use, short, verb string) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := call(cmd, sim.Request{Verb: verb})
			if err != nil {
				return err
			}
			if verb == "labels" {
				for _, l := range resp.Labels {
					if err := printJSON(l); err != nil {
						return err
					}
				}
			}
			return nil
		}}
	}
	onOff := func(s string) (bool, error) {
		switch s {
		case "on":
			return true, nil
		case "off":
			return false, nil
		}
		return false, fmt.Errorf("%q: want on or off", s)
	}
	isolate := &cobra.Command{
		Use:   "isolate --lock ID on|off",
		Short: "Make the hub unreachable for a lock (it decides alone) or reachable again",
		Args:  cobra.ExactArgs(1),
	}
	isolate.Flags().StringVar(&lock, "lock", "", "lock id")
	_ = isolate.MarkFlagRequired("lock")
	isolate.RunE = func(cmd *cobra.Command, args []string) error {
		on, err := onOff(args[0])
		if err != nil {
			return err
		}
		_, err = call(cmd, sim.Request{Verb: "isolate", Lock: lock, On: on})
		return err
	}
	hang := &cobra.Command{
		Use:   "hang on|off",
		Short: "Hang the coprocessor's firmware (frames acknowledged, nothing relayed) until the hub resets it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			on, err := onOff(args[0])
			if err != nil {
				return err
			}
			_, err = call(cmd, sim.Request{Verb: "hang", On: on})
			return err
		},
	}
	inject := &cobra.Command{
		Use:   "inject --lock ID replay|forge",
		Short: "Send the hub a replay of the lock's last message, or a forgery of it",
		Args:  cobra.ExactArgs(1),
	}
	inject.Flags().StringVar(&lock, "lock", "", "lock id")
	_ = inject.MarkFlagRequired("lock")
	inject.RunE = func(cmd *cobra.Command, args []string) error {
		_, err := call(cmd, sim.Request{Verb: "inject", Lock: lock, What: args[0]})
		return err
	}

	root.AddCommand(serve, present, phoneCmd, fault,
		simple("unplug", "Pull the radio's plug: the pseudo-terminal goes away", "unplug"),
		simple("replug", "Plug the radio in again (a new pseudo-terminal behind the same link)", "replug"),
		simple("labels", "Print each lock's pairing label again", "labels"),
		isolate, hang, inject)
	return root
}

func readPhone(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not a PEM key file (make one with doorhub-sim phone new)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return priv, nil
}
