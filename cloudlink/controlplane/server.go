package controlplane

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// Files in the state directory.
const (
	DBDir       = "db"
	SigningKey  = "signing.key"
	ServerFile  = "server.json"
	OutboxDir   = "outbox"
	EnvState    = "DOORHUB_CLOUD_STATE"
	hubKey      = "cloud/hub/"
	activityKey = "cloud/activity/"
	eventIDKey  = "cloud/event/"
	ackKey      = "cloud/ack/"
)

// Options configures a Server.
type Options struct {
	StateDir string
	// Broker is the MQTT broker URL; "" serves the API without hubs.
	Broker string
	// Listen is the API's TCP address (loopback).
	Listen string
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ActivityPoll is how often activity received is stored (100 ms).
	ActivityPoll time.Duration
	// ResyncAfter is how long a hub may stay behind the site's version
	// before it is asked to resync (30 s): a batch the server could not
	// publish while the broker was away is then sent again.
	ResyncAfter time.Duration
}

// Server is a running doorhub-cloud.
type Server struct {
	opts    Options
	log     *slog.Logger
	store   *badgerstore.Store
	Console *console.Console
	cloud   *cloudlink.Cloud
	pub     ed25519.PublicKey
	token   string
	ln      net.Listener
	http    *http.Server

	mu      sync.Mutex
	primary *site
	sites   []*site // the primary first
	siteMu  sync.Mutex
	hubs    map[string]*hubState
	sendq   chan func()
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type hubState struct {
	ID     string `json:"id"`
	Site   string `json:"site"`
	stored int    // events of the cloud hub's Order already stored
	acked  uint64
	// pending is the last pending report the hub sent (nil: none yet,
	// or not read from the store yet).
	pending     *cloudlink.PendingReport
	pendingJSON []byte // as stored
	// doors is the last door-state report the hub sent (nil: none yet,
	// or not read from the store yet).
	doors     *cloudlink.DoorsReport
	doorsJSON []byte // as stored
	// behindSince is when the hub's acknowledged version first lagged the
	// site's; after ResyncAfter the hub is asked to resync.
	behindSince time.Time
}

// ServerInfo is what server.json holds.
type ServerInfo struct {
	Address   string `json:"address"`
	Token     string `json:"token"`
	PublicKey string `json:"public_key"`
	Broker    string `json:"broker,omitempty"`
	PID       int    `json:"pid"`
}

// Open opens the state, connects to the broker and serves the API.
func Open(o Options) (*Server, error) {
	if o.StateDir == "" {
		return nil, errors.New("--state is required")
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if host, _, err := net.SplitHostPort(o.Listen); err != nil {
		return nil, fmt.Errorf("--listen %q is not host:port", o.Listen)
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--listen %q: the API serves on loopback only (127.0.0.1:PORT)", o.Listen)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ActivityPoll <= 0 {
		o.ActivityPoll = 100 * time.Millisecond
	}
	if o.ResyncAfter <= 0 {
		o.ResyncAfter = 30 * time.Second
	}
	if err := os.MkdirAll(o.StateDir, 0o750); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger.With(slog.String("component", "doorhub-cloud")), hubs: map[string]*hubState{},
		sendq: make(chan func(), 1024)}
	priv, err := loadOrCreateKey(filepath.Join(o.StateDir, SigningKey))
	if err != nil {
		return nil, err
	}
	s.pub = priv.Public().(ed25519.PublicKey)
	if err := s.openSites(); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if o.Broker != "" {
		signer := cloudlink.NewSigner(priv)
		signer.Now = o.Now
		s.cloud, err = cloudlink.NewCloud(cloudlink.CloudOptions{Broker: o.Broker, ClientID: "doorhub-cloud-" + hex.EncodeToString(s.pub[:4]),
			Signer: signer, Logger: o.Logger})
		if err == nil {
			err = s.cloud.Open()
		}
		if err != nil {
			s.closeSites()
			return nil, fmt.Errorf("broker %s: %w", o.Broker, err)
		}
	}
	if err := s.loadHubs(); err != nil {
		s.closeLink()
		return nil, err
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	s.token = hex.EncodeToString(tok)
	if s.ln, err = net.Listen("tcp", o.Listen); err != nil {
		s.closeLink()
		return nil, err
	}
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	info := ServerInfo{Address: "http://" + s.ln.Addr().String(), Token: s.token, PublicKey: s.PublicKey(), Broker: o.Broker, PID: os.Getpid()}
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileAtomic(filepath.Join(o.StateDir, ServerFile), b, 0o600); err != nil {
		_ = s.ln.Close()
		s.closeLink()
		return nil, err
	}
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api stopped", slog.Any("err", err))
		}
	}()
	go s.sender()
	go s.collector()
	return s, nil
}

// Connected reports whether the server is connected to the broker and
// subscribed to the hubs' uplink.
func (s *Server) Connected() bool { return s.cloud != nil && s.cloud.Subscribed() }

// Addr is the API's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// PublicKey is the signing key hubs pin, base64.
func (s *Server) PublicKey() string { return base64.StdEncoding.EncodeToString(s.pub) }

// Close stops serving and closes the state.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	_ = os.Remove(filepath.Join(s.opts.StateDir, ServerFile))
	s.cancel()
	s.wg.Wait()
	s.storeActivity() // what arrived last
	s.closeLink()
	return err
}

func (s *Server) closeLink() {
	if s.cloud != nil {
		s.cloud.Close()
	}
	s.closeSites()
}

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		seed, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%s: not a base64 Ed25519 seed", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
		return nil, err
	}
	return priv, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loadHubs attaches every registered hub to the link, its model at the
// site's current set (a hub behind it gets a snapshot when it asks).
func (s *Server) loadHubs() error {
	vals, err := s.store.Values(hubKey)
	if err != nil {
		return err
	}
	for k, v := range vals {
		id := strings.TrimPrefix(k, hubKey)
		st := &hubState{ID: id, Site: string(v)}
		if b, _ := s.store.Value(ackKey + id); len(b) > 0 {
			_ = json.Unmarshal(b, &st.acked)
		}
		s.hubs[id] = st
		s.attach(id)
	}
	return nil
}

// attach brings the link's model of a hub to the site's set.
func (s *Server) attach(id string) {
	s.mu.Lock()
	var siteID string
	if h := s.hubs[id]; h != nil {
		siteID = h.Site
	}
	s.mu.Unlock()
	st := s.siteByID(siteID)
	if s.cloud == nil || st == nil || st.store.Version() == 0 {
		return
	}
	ch := s.cloud.Hub(id)
	if ch.Version() == st.store.Version() {
		return
	}
	snap := &hub.Snapshot{Version: st.store.Version()}
	st.store.View(func(cat *hub.Catalog) {
		snap.Site = cat.Site().ID
		_ = cat.Records(func(op hub.Op) error { snap.Ops = append(snap.Ops, op); return nil })
	})
	if err := hub.Replace(context.Background(), ch.Model(), snap); err != nil {
		s.log.Error("hub model not loaded", slog.String("hub", id), slog.Any("err", err))
	}
}

// publish sends a batch the console applied to every hub, in order.
func (s *Server) publish(b *hub.Batch) {
	if s.cloud == nil {
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.hubs))
	for id, h := range s.hubs {
		if h.Site == b.Site {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ids {
		ch := s.cloud.Hub(id)
		if ch.Version() != b.Base {
			s.attach(id)
			s.enqueue(func() {
				if err := ch.SendSnapshot(); err != nil {
					s.log.Warn("snapshot not sent", slog.String("hub", id), slog.Any("err", err))
				}
			})
			continue
		}
		nb, err := ch.Commit(b.Site, b.Ops...)
		if err != nil {
			s.log.Error("hub model refused a batch", slog.String("hub", id), slog.Any("err", err))
			continue
		}
		s.enqueue(func() {
			// A batch not sent is asked for again: the hub sees the gap.
			if err := ch.Send(nb); err != nil {
				s.log.Warn("batch not sent", slog.String("hub", id), slog.Uint64("version", nb.Version), slog.Any("err", err))
			}
		})
	}
}

// enqueue queues a publication without ever blocking an operation: when
// the broker is away long enough to fill the queue, a publication is
// dropped, and the hub catches up when it next asks (its "need" on
// reconnecting, or the gap the next batch shows).
func (s *Server) enqueue(fn func()) {
	select {
	case s.sendq <- fn:
	default:
		s.log.Warn("publication queue full; a hub catches up when it asks")
	}
}

func (s *Server) sender() {
	defer s.wg.Done()
	for {
		select {
		case fn := <-s.sendq:
			fn()
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Server) collector() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ActivityPoll)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.storeActivity()
			s.resyncLagging()
		case <-s.ctx.Done():
			return
		}
	}
}

// storedEvent is an activity event as the server keeps it.
type storedEvent struct {
	Hub   string                  `json:"hub"`
	Event cloudlink.ActivityEvent `json:"event"`
}

// storeActivity stores what hubs sent since the last call, once per event
// id, and their last acknowledged version.
func (s *Server) storeActivity() {
	if s.cloud == nil {
		return
	}
	// A doorcode collision is answered by re-rolling all but the first
	// of the people whose codes collided (PRODUCT.md, daily doorcodes).
	reroll := map[string][]string{} // by site
	defer func() {
		for siteID, ids := range reroll {
			if st := s.siteByID(siteID); st != nil {
				if _, err := st.console.Reroll(ids); err != nil {
					s.log.Warn("doorcodes not re-rolled", slog.Any("err", err))
				}
			}
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, st := range s.hubs {
		v := s.cloud.Hub(id).View()
		if a := v.LastAck(); a.Rejected == nil && a.Version > st.acked {
			st.acked = a.Version
			_ = s.store.SetValue(ackKey+id, fmt.Append(nil, a.Version))
		}
		s.keepPending(id, st, v.Pending)
		s.keepDoors(id, st, v.Doors)
		for ; st.stored < len(v.Order); st.stored++ {
			ev := v.Events[v.Order[st.stored]]
			if b, _ := s.store.Value(eventIDKey + ev.ID); len(b) > 0 {
				continue // delivered before a restart
			}
			b, _ := json.Marshal(storedEvent{Hub: id, Event: ev})
			key := activityKey + ev.At.UTC().Format("20060102T150405.000000000") + "/" + ev.ID
			if err := s.store.SetValue(key, b); err != nil {
				s.log.Warn("activity not stored", slog.Any("err", err))
				return
			}
			_ = s.store.SetValue(eventIDKey+ev.ID, []byte(key))
			if a := ev.Access; a != nil && a.Alarm == hub.AlarmDoorcodeCollide && len(a.Colliding) > 1 {
				reroll[st.Site] = append(reroll[st.Site], a.Colliding[1:]...)
			}
		}
	}
}

// resyncLagging asks each hub that stayed behind the site's version for
// ResyncAfter to say what it misses.
func (s *Server) resyncLagging() {
	if s.cloud == nil {
		return
	}
	now := time.Now()
	versions := map[string]uint64{}
	s.mu.Lock()
	hubSites := map[string]string{}
	for id, st := range s.hubs {
		hubSites[id] = st.Site
	}
	s.mu.Unlock()
	for _, siteID := range hubSites {
		if st := s.siteByID(siteID); st != nil {
			versions[siteID] = st.store.Version()
		}
	}
	s.mu.Lock()
	var ask []string
	for id, st := range s.hubs {
		version := versions[st.Site]
		switch {
		case st.acked >= version:
			st.behindSince = time.Time{}
		case st.behindSince.IsZero():
			st.behindSince = now
		case now.Sub(st.behindSince) >= s.opts.ResyncAfter:
			st.behindSince = now
			ask = append(ask, id)
		}
	}
	s.mu.Unlock()
	for _, id := range ask {
		ch := s.cloud.Hub(id)
		s.enqueue(func() {
			if err := ch.SendBody(&cloudlink.Resync{Reason: "behind the site's version"}, cloudlink.SealOptions{}); err != nil {
				s.log.Warn("resync not sent", slog.String("hub", id), slog.Any("err", err))
			}
		})
	}
}

// ackedVersion is the lowest version every hub acknowledged.
func (s *Server) ackedVersion(siteID string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	min, any := ^uint64(0), false
	for _, st := range s.hubs {
		if st.Site != siteID {
			continue
		}
		any = true
		if s.cloud != nil {
			v := s.cloud.Hub(st.ID).View()
			if a := v.LastAck(); a.Rejected == nil && a.Version > st.acked {
				st.acked = a.Version
			}
		}
		if st.acked < min {
			min = st.acked
		}
	}
	if !any {
		return 0, false
	}
	return min, true
}

// hubIDs lists the hubs of a site.
func (s *Server) hubIDs(siteID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.hubs))
	for id, h := range s.hubs {
		if h.Site == siteID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}
