// Package status is the hub's local endpoint: health for systemd and
// monitors, and a small JSON API for the doorhub CLI, over a unix socket
// and a loopback TCP address (ECOSYSTEM.md, "Local status endpoint").
//
//	GET  /livez          200 while the process serves (no token)
//	GET  /readyz         200 when every check passes, else 503; ?verbose lists each (no token)
//	POST /api/v1/pair    pair a lock: {"lock", "key", "door"} -> PairResult
//	GET  /api/v1/doors   every door and its lock
//	GET  /api/v1/status  hub, clock, store, cloud, outbox, radio (Report)
//	GET  /api/v1/activity?after=ID&limit=N&wait=D  recent events, privacy rule applied
//	GET  /metrics        Prometheus metrics (token)
//	GET  /               the status page for people, HTML (token, or HTTP Basic with the token as password)
//	POST /api/v1/explain {"door", "card"|"code"|"email", "at"} -> ExplainResult
//
// Everything under /api/ needs "Authorization: Bearer <token>", the token
// being the content of the configured token file; without a token file the
// API answers 503. The server knows nothing of the radio or the store: the
// daemon hands it small interfaces.
package status

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Errors a Pairer returns for the endpoint to map to HTTP statuses.
var (
	// ErrInvalid: the request is wrong (400).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the component is not there (503).
	ErrUnavailable = errors.New("unavailable")
)

// PairRequest pairs a lock with a door: the id and key from its label.
type PairRequest struct {
	Lock string `json:"lock"`
	Key  string `json:"key"`
	Door string `json:"door"`
}

// PairResult says what pairing did.
type PairResult struct {
	Lock       string `json:"lock"`
	Door       string `json:"door"`
	New        bool   `json:"new"`
	KeyChanged bool   `json:"key_changed"`
	// DoorKnown: the door is in the site model; pairing a door the cloud
	// has not sent yet is allowed (its decisions say unknown_door).
	DoorKnown bool `json:"door_known"`
}

// Door is one door as a technician sees it: from the site model, its lock,
// or both.
type Door struct {
	Door              string    `json:"door"`
	Name              string    `json:"name,omitempty"`
	Type              string    `json:"type,omitempty"`
	Known             bool      `json:"known"` // in the site model
	Lock              string    `json:"lock,omitempty"`
	PairedAt          time.Time `json:"paired_at,omitzero"`
	LastSeen          time.Time `json:"last_seen,omitzero"`
	BatteryPercent    int       `json:"battery_percent"` // -1 unknown
	BatteryMillivolts int       `json:"battery_mv,omitempty"`
	RSSI              int       `json:"rssi,omitempty"`
	DoorState         string    `json:"door_state,omitempty"`
	Firmware          string    `json:"firmware,omitempty"`
	Queued            int       `json:"queued,omitempty"`
	// Online: heard from within OfflineAfter (set by the endpoint).
	Online bool `json:"online"`
	// ListVersion: the version of the access list the lock holds (0 none);
	// PendingEvents: the events the lock holds for the hub, as it last
	// said; ClockOffset: hub time minus lock time, seconds.
	ListVersion   uint32  `json:"list_version,omitempty"`
	PendingEvents int     `json:"pending_events,omitempty"`
	ClockOffset   float64 `json:"clock_offset_s,omitempty"`
	// The door's access list (docs/door-lists.md), for a door in the site
	// model. ListDigest: the first 8 bytes, hex, of the digest of the
	// list the hub wants the lock to hold (what a lock holding it reports
	// over the radio). ListCurrent: the lock acknowledged that list;
	// ListDrift: the lock reported a list the hub never issued (a full
	// reload is under way). PendingChanges: credentials whose entry the
	// lock has not applied yet (PendingActivations admitted by the hub
	// and not yet by the lock, PendingRevocations the other way round);
	// at least 1 while the lock is not current. OldestRevocation: since
	// when the oldest revocation the lock has not applied is pending,
	// RevocationAgeSeconds its age (revocation freshness). Overflow:
	// credentials left out of the list for the lock's capacity (the hub
	// still decides them while it is reachable).
	ListDigest           string    `json:"list_digest,omitempty"`
	ListCurrent          bool      `json:"list_current"`
	ListDrift            bool      `json:"list_drift,omitempty"`
	PendingChanges       int       `json:"pending_changes"`
	PendingActivations   int       `json:"pending_activations"`
	PendingRevocations   int       `json:"pending_revocations"`
	OldestRevocation     time.Time `json:"oldest_revocation,omitzero"`
	RevocationAgeSeconds int64     `json:"revocation_age_seconds,omitempty"`
	Overflow             int       `json:"overflow,omitempty"`
	// Attention lists what needs a technician (set by the endpoint).
	Attention []string `json:"attention,omitempty"`
	Forged    uint64   `json:"forged,omitempty"`
	Replayed  uint64   `json:"replayed,omitempty"`
}

// Pairer pairs locks (the daemon's radio sessions).
type Pairer interface {
	Pair(ctx context.Context, r PairRequest) (PairResult, error)
}

// Options configure the server. Listen or Socket, or both.
type Options struct {
	Listen string // TCP host:port; "" none
	Socket string // unix socket path; "" none
	// SocketGroup is the socket's group when it exists (default
	// DefaultSocketGroup); the socket is mode 0660 and only root, the
	// daemon's user and the group's members may use it (SO_PEERCRED).
	SocketGroup string
	TokenFile   string
	// Checks are the readiness checks, by name: nil error is ready.
	Checks map[string]func() error
	Pairer Pairer
	Doors  func() []Door
	// Report fills GET /api/v1/status.
	Report func() Report
	// Recent holds the recent activity.
	Recent *Recent
	// Explainer answers POST /api/v1/explain.
	Explainer Explainer
	// Metrics is served at GET /metrics.
	Metrics *Metrics
	// Pprof is a loopback host:port for net/http/pprof on a listener of
	// its own; "" is off.
	Pprof  string
	Logger *slog.Logger
}

// Server is the endpoint.
type Server struct {
	opts  Options
	log   *slog.Logger
	token string
	srv   *http.Server
	lns   []net.Listener
	addr  string
	wg    sync.WaitGroup

	pprof     *http.Server
	pprofAddr string
	access    *socketAccess
}

// Open listens and serves until Close.
func Open(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger.With(slog.String("component", "status"))}
	if opts.Listen != "" && !loopback(opts.Listen) && opts.TokenFile == "" {
		return nil, fmt.Errorf("status: %s is not a loopback address: it needs a token file", opts.Listen)
	}
	if opts.TokenFile != "" {
		b, err := os.ReadFile(opts.TokenFile)
		switch {
		case err == nil && strings.TrimSpace(string(b)) != "":
			s.token = strings.TrimSpace(string(b))
		case err == nil:
			s.log.Warn("status token file is empty: the API is off until it holds a token", slog.String("file", opts.TokenFile))
		default:
			s.log.Warn("no status token: the API is off until the token file exists", slog.String("file", opts.TokenFile), slog.Any("err", err))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "alive"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("POST /api/v1/pair", s.auth(http.HandlerFunc(s.pair)))
	mux.Handle("GET /api/v1/doors", s.auth(http.HandlerFunc(s.doors)))
	mux.Handle("GET /api/v1/status", s.auth(http.HandlerFunc(s.status)))
	mux.Handle("GET /api/v1/activity", s.auth(http.HandlerFunc(s.activity)))
	mux.Handle("POST /api/v1/explain", s.auth(http.HandlerFunc(s.explain)))
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(opts.Metrics.Registry, promhttp.HandlerOpts{})))
	}
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.page)))
	mux.Handle("/api/", s.auth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	if opts.Listen != "" {
		ln, err := net.Listen("tcp", opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("status: listen %s: %w", opts.Listen, err)
		}
		s.lns = append(s.lns, ln)
		s.addr = ln.Addr().String()
	}
	if opts.Socket != "" {
		_, statErr := os.Stat(filepath.Dir(opts.Socket))
		made := errors.Is(statErr, os.ErrNotExist) && os.MkdirAll(filepath.Dir(opts.Socket), 0o750) == nil
		_ = os.Remove(opts.Socket) // a stale socket from a killed process
		ln, err := net.Listen("unix", opts.Socket)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("status: listen %s: %w", opts.Socket, err)
		}
		s.access = s.setUpSocket(opts.Socket, opts.SocketGroup, made)
		s.srv.Handler = s.access.guard(mux)
		s.srv.ConnContext = connContext
		s.lns = append(s.lns, ln)
	}
	if opts.Pprof != "" {
		if err := s.openPprof(opts.Pprof); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	for _, ln := range s.lns {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("status endpoint stopped", slog.Any("err", err))
			}
		}()
	}
	s.log.Info("status endpoint listening", slog.String("listen", s.addr), slog.String("socket", opts.Socket))
	return s, nil
}

// loopback says whether a host:port names a loopback host only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr returns the TCP address listened on ("" for none).
func (s *Server) Addr() string { return s.addr }

// Close stops serving, waiting for requests in flight until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if s.pprof != nil {
		_ = s.pprof.Close()
	}
	s.closeListeners()
	s.wg.Wait()
	if s.opts.Socket != "" {
		_ = os.Remove(s.opts.Socket)
	}
	return err
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		_ = ln.Close()
	}
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token == "" {
			writeError(w, http.StatusServiceUnavailable, "no token configured: create the file named by status.token_file")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			// A browser asks for a password: the token, any user name.
			_, got, ok = r.BasicAuth()
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="doorhub"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="doorhub (the password is the status token)", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "a valid bearer token is required")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	names := make([]string, 0, len(s.opts.Checks))
	for n := range s.opts.Checks {
		names = append(names, n)
	}
	slices.Sort(names)
	checks := map[string]string{}
	ready := true
	for _, n := range names {
		if err := s.opts.Checks[n](); err != nil {
			checks[n], ready = err.Error(), false
		} else {
			checks[n] = "ok"
		}
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	body := map[string]any{"ready": ready}
	if _, verbose := r.URL.Query()["verbose"]; verbose || !ready {
		body["checks"] = checks
	}
	writeJSON(w, code, body)
}

func (s *Server) pair(w http.ResponseWriter, r *http.Request) {
	if s.opts.Pairer == nil {
		writeError(w, http.StatusServiceUnavailable, "no radio")
		return
	}
	var req PairRequest
	if !readBody(w, r, &req) {
		return
	}
	res, err := s.opts.Pairer.Pair(r.Context(), req)
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		s.log.Error("pairing failed", slog.Any("err", err))
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) doors(w http.ResponseWriter, _ *http.Request) {
	var doors []Door
	if s.opts.Doors != nil {
		doors = s.opts.Doors()
	}
	if doors == nil {
		doors = []Door{}
	}
	now := time.Now()
	for i := range doors {
		d := &doors[i]
		_, d.Attention = Attention(*d, now)
		d.Online = d.Lock != "" && !d.LastSeen.IsZero() && now.Sub(d.LastSeen) <= OfflineAfter
		if !d.OldestRevocation.IsZero() {
			d.RevocationAgeSeconds = int64(now.Sub(d.OldestRevocation) / time.Second)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"doors": doors})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readBody decodes a small JSON request body strictly (unknown fields are
// errors) into v; on failure it has answered 400 naming what is wrong.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+err.Error())
		return false
	}
	return true
}
