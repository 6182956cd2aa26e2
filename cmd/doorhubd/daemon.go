package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
	"github.com/doorhub/doorhub/hub/config"
	"github.com/doorhub/doorhub/hub/status"
)

var errHelp = errors.New("help requested")

// floorInterval is how often the clock's floor is persisted.
const floorInterval = time.Minute

// Main is the daemon: ParseFlags, then Run opens every component and
// returns, then Close stops them in reverse order. Tests run the real Main
// on a temp dir.
type Main struct {
	stdout, stderr io.Writer
	environ        []string

	ConfigPath  string
	CheckConfig bool
	ShowVersion bool

	Config config.Config
	Log    *slog.Logger
	Store  *badgerstore.Store
	Clock  *hub.Clock
	Engine *hub.Engine
	// DoorLists: each door's lock list and what its lock holds.
	DoorLists *hub.DoorLists
	// Activity receives decisions and lock reports; openRadio makes one
	// without an outbox when nothing set it before.
	Activity *hub.ActivityLog
	// Outbox and Cloud are open when cloud.broker is configured.
	Outbox *badgerstore.Outbox
	Cloud  *cloudlink.Client
	// pendingPub republishes the pending report after changes.
	pendingPub *pendingPublisher
	// doorPub sends the door-state report when a door's state changed.
	doorPub *doorStatePublisher
	Radio   *Radio
	// radioUp is Radio for the cloud link's goroutines, which run from
	// before openRadio sets Radio: set once the sessions are open,
	// cleared before they stop (nil: no radio, nothing to report).
	radioUp atomic.Pointer[Radio]
	Status  *status.Server
	// Recent keeps the recent activity for the status endpoint.
	Recent *status.Recent
	// Metrics is the Prometheus registry (made by metrics()).
	Metrics *status.Metrics

	done   bool
	closed bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMain returns a daemon writing to stdout and stderr and reading
// DOORHUB_* overrides from environ.
func NewMain(stdout, stderr io.Writer, environ []string) *Main {
	return &Main{stdout: stdout, stderr: stderr, environ: environ, ConfigPath: config.DefaultPath}
}

// ParseFlags parses the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("doorhubd", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.ConfigPath, "config", m.ConfigPath, "configuration file")
	fs.BoolVar(&m.CheckConfig, "check-config", false, "check the configuration, print every problem, and exit")
	fs.BoolVar(&m.ShowVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Done reports whether Run did all there was to do (--version,
// --check-config) and the daemon should exit.
func (m *Main) Done() bool { return m.done }

// defaultMemProfileRate is the Go runtime's default heap profiling rate.
const defaultMemProfileRate = 512 << 10

// Run loads the configuration and opens the components. It returns once
// the daemon is up; ctx bounds the start, not the daemon's life.
func (m *Main) Run(ctx context.Context) error {
	if m.ShowVersion {
		fmt.Fprintf(m.stdout, "doorhubd %s\n", hub.Version)
		m.done = true
		return nil
	}
	cfg, err := config.Load(m.ConfigPath, m.environ)
	if err != nil {
		return err
	}
	m.Config = cfg
	if cfg.Status.Pprof != "" && runtime.MemProfileRate == 0 {
		// The unit turns heap profiling off (GODEBUG=memprofilerate=0:
		// its bucket table alone is 1.4 MB); a pprof listener wants it.
		runtime.MemProfileRate = defaultMemProfileRate
	}
	if m.CheckConfig {
		fmt.Fprintf(m.stdout, "%s: configuration ok\n", m.ConfigPath)
		m.done = true
		return nil
	}
	m.Log = newLogger(m.stderr, cfg.Log)
	m.Log.Info("starting", slog.String("version", hub.Version), slog.String("hub_id", cfg.HubID))

	store, err := badgerstore.Open(filepath.Join(cfg.StateDir, "db"), storeOptions(m.Log))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	m.Store = store
	m.Clock, err = hub.NewClock(hub.ClockOptions{Floor: store, UntrustedMargin: cfg.Time.UntrustedMargin.Std(),
		LockQuorum: cfg.Time.LockQuorum})
	if err != nil {
		return fmt.Errorf("clock: %w", err)
	}
	m.Engine = hub.NewEngine(store, hub.EngineOptions{
		UntrustedMargin: cfg.Time.UntrustedMargin.Std(),
		Lockout: hub.LockoutOptions{Attempts: cfg.Keypad.LockoutAttempts,
			Window: cfg.Keypad.LockoutWindow.Std(), Duration: cfg.Keypad.LockoutDuration.Std()},
	})
	m.Engine.OnError = func(err error) { m.Log.Error("decision state not persisted", slog.Any("err", err)) }
	m.DoorLists = hub.NewDoorLists(store, func() time.Time { return m.Clock.Now().Time })
	m.DoorLists.OnError(func(err error) { m.Log.Error("door list state not persisted", slog.Any("err", err)) })
	if err := m.DoorLists.Persist(store); err != nil {
		return fmt.Errorf("door lists: %w", err)
	}

	loopCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(1)
	go m.floorLoop(loopCtx)
	m.wg.Add(1)
	go m.settleLoop(loopCtx)
	m.openRecent(loopCtx)
	m.watchDoorLists(loopCtx)

	if err := m.openCloud(); err != nil {
		return err
	}
	if err := m.openRadio(); err != nil {
		return err
	}
	if err := m.openStatus(); err != nil {
		return fmt.Errorf("status endpoint: %w", err)
	}

	st := m.Clock.Status()
	m.Log.Info("ready", slog.Uint64("store_version", store.Version()),
		slog.Bool("clock_trusted", st.Trusted), slog.String("clock", st.Reason))
	return nil
}

// floorLoop persists the clock's floor so that a restart without network
// never goes back in time.
func (m *Main) floorLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(floorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Clock.PersistFloor(); err != nil {
				m.Log.Warn("persist clock floor", slog.Any("err", err))
			}
		}
	}
}

// Close stops the components in reverse order and returns the first error.
// A second call does nothing.
func (m *Main) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	first := m.closeStatus()
	if err := m.closeRadio(); err != nil && first == nil {
		first = err
	}
	if err := m.closeCloud(); err != nil && first == nil {
		first = err
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Clock != nil {
		if err := m.Clock.PersistFloor(); err != nil && first == nil {
			first = err
		}
	}
	if m.Store != nil {
		if err := m.Store.Close(); err != nil && first == nil {
			first = err
		}
		m.Store = nil
	}
	if m.Log != nil {
		m.Log.Info("stopped")
	}
	return first
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func storeOptions(log *slog.Logger) badgerstore.Options {
	o := badgerstore.DefaultOptions()
	o.Logger = log
	return o
}
