package cloudlink

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorhub/doorhub/hub"
)

// Clock is what the client needs of the hub's clock; *hub.Clock is one.
type Clock interface {
	Now() hub.Now
	TrustCloudTime(time.Time)
	Status() hub.ClockStatus
}

var _ Clock = (*hub.Clock)(nil)

// FloorClock is a Clock that also takes a signed lower bound on the time
// and persists its floor; *hub.Clock is one. With it, the cloud's time
// hints that answer no fresh request raise the floor (docs/cloud-protocol.md
// § 8.3); with a plain Clock they are only logged.
type FloorClock interface {
	Clock
	RaiseFloor(time.Time) bool
	PersistFloor() error
}

var _ FloorClock = (*hub.Clock)(nil)

// Unlocker carries a remote unlock to a door's lock: the radio layer
// implements it (cloudlink and radio do not import each other). It
// returns nil once the lock opened, an error wrapping ErrLockBusy when the
// lock is busy, any other error when the lock could not be reached.
type Unlocker interface {
	RemoteUnlock(ctx context.Context, door string, hold time.Duration) error
}

// Errors an Unlocker returns.
var (
	// ErrLockBusy: the lock is busy with another session; the reply says
	// "busy".
	ErrLockBusy = errors.New("lock busy")
	// ErrLockUnreachable: the lock did not answer; the reply says
	// "lock_unreachable".
	ErrLockUnreachable = errors.New("lock unreachable")
)

// StateStore keeps small pieces of the client's state across restarts:
// the replay cache, so that a command is not carried out twice when the
// broker delivers it again after a restart. hub/badgerstore's Outbox is
// one.
type StateStore interface {
	LoadState(name string) ([]byte, error)
	SaveState(name string, value []byte) error
}

// Reports supplies the retained door and pending reports (the door sync).
// Either may return nil: nothing to report yet.
type Reports interface {
	Doors() *DoorsReport
	Pending() *PendingReport
}

// ClientOptions configures a Client. Zero tuning values take the defaults
// shown.
type ClientOptions struct {
	// HubID is the hub's id: its MQTT client id and its topics' hub.
	HubID string
	// Broker is tls://host:8883 (also ssl://, mqtts://) or tcp://host:1883
	// (also mqtt://).
	Broker string
	// TLS: CAFile (PEM) verifies the broker, CertFile and KeyFile are the
	// hub's client certificate (the AWS IoT model). TLSConfig, when set,
	// is used as is instead.
	CAFile, CertFile, KeyFile string
	TLSConfig                 *tls.Config
	// Keys are the pinned cloud public keys.
	Keys []ed25519.PublicKey

	Store  hub.Store
	Clock  Clock
	Outbox hub.Outbox
	// State persists the replay cache; nil keeps it in memory only.
	State StateStore
	// Unlocker opens doors for remote unlocks; nil answers every unlock
	// with failed, lock_unreachable.
	Unlocker Unlocker
	// Reports supplies the door and pending reports; nil sends none.
	Reports Reports
	// Software is the hub's version, in its status.
	Software string
	Logger   *slog.Logger

	// PublishRate and PublishBurst bound publishes on the connection:
	// 90 a second after a burst of 10 (AWS IoT Core allows 100). A
	// negative rate does not limit.
	PublishRate  float64
	PublishBurst int
	// PublishTimeout bounds the wait for a broker's acknowledgement (a
	// token can hang): 10 s.
	PublishTimeout time.Duration
	// ConnectTimeout bounds a connection attempt: 10 s.
	ConnectTimeout time.Duration
	// KeepAlive is the MQTT keep-alive: 30 s.
	KeepAlive time.Duration
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts (1 s, 2 min), doubled each attempt with full jitter. It
	// starts again from BackoffMin only after a connection stayed up
	// StableAfter (1 min): a broker that drops the session right after
	// accepting it is not hammered.
	BackoffMin, BackoffMax, StableAfter time.Duration
	// InFlight is how many activity messages may await their PUBACK: 8.
	InFlight int
	// BacklogThreshold: when more records than this wait at connect, new
	// records take a live lane beside the backlog: 512.
	BacklogThreshold int
	// LiveInterval: while a backlog drains, the live lane sends a
	// message that is not full at most this often: 200 ms.
	LiveInterval time.Duration
	// MaxEventsPerMessage bounds an activity message (at most
	// MaxEventsPerMessage, 1000); the 128 KiB payload limit holds too.
	MaxEventsPerMessage int
	// NeedInterval: a need for the same reason and version goes at most
	// this often: 30 s.
	NeedInterval time.Duration
	// SnapshotStall: a snapshot that gets no chunk for this long is
	// aborted and asked for again: 60 s.
	SnapshotStall time.Duration
	// TimeRequestInterval: while the clock is untrusted, a time request
	// goes this often: 10 min. TimeRequestValid: how long an answer to
	// one is trusted: 30 s.
	TimeRequestInterval, TimeRequestValid time.Duration
	// SecurityFold: repeats of the same refusal within this time are
	// folded into one security event: 1 min.
	SecurityFold time.Duration
	// Skew is the clock difference tolerated in validity windows.
	Skew time.Duration
	// UnlockTimeout bounds one remote unlock: 30 s.
	UnlockTimeout time.Duration
	// DownlinkQueue bounds the received messages that wait to be
	// handled: 32 (at most 4 MiB of payloads; during a snapshot the queue
	// stays full, as the store is the slowest stage, so this is memory
	// the hub holds throughout). paho's handler only hands a message
	// over; when the queue is full it waits up to DownlinkWait (5 s) for
	// room — the TCP backpressure a broker needs when it keeps no
	// in-flight window (mochi for MQTT 3.1.1 clients; mosquitto let more
	// than its 20 through in the snapshot benchmark) — and then drops the
	// message (counted); what it carried is asked for again. A dropped
	// chunk costs the whole snapshot, and the store can stall for a
	// second while Badger compacts on a loaded machine, so the wait is
	// seconds; it stays below the ping timeout (paho reads nothing while
	// it waits) and below a publish's timeout.
	DownlinkQueue int
	DownlinkWait  time.Duration
	// ControlQueue bounds the acks, needs, replies and security events
	// waiting for the connection: 1000; the oldest go first.
	ControlQueue int
}

func (o *ClientOptions) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.PublishRate == 0 {
		o.PublishRate = 90
	}
	if o.PublishBurst <= 0 {
		o.PublishBurst = 10
	}
	set(&o.PublishTimeout, 10*time.Second)
	set(&o.ConnectTimeout, 10*time.Second)
	set(&o.KeepAlive, 30*time.Second)
	set(&o.BackoffMin, time.Second)
	set(&o.BackoffMax, 2*time.Minute)
	set(&o.StableAfter, time.Minute)
	set(&o.LiveInterval, 200*time.Millisecond)
	set(&o.NeedInterval, 30*time.Second)
	set(&o.SnapshotStall, 60*time.Second)
	set(&o.TimeRequestInterval, 10*time.Minute)
	set(&o.TimeRequestValid, 30*time.Second)
	set(&o.SecurityFold, time.Minute)
	set(&o.UnlockTimeout, 30*time.Second)
	if o.InFlight <= 0 {
		o.InFlight = 8
	}
	if o.BacklogThreshold <= 0 {
		o.BacklogThreshold = 512
	}
	if o.MaxEventsPerMessage <= 0 || o.MaxEventsPerMessage > MaxEventsPerMessage {
		o.MaxEventsPerMessage = MaxEventsPerMessage
	}
	if o.DownlinkQueue <= 0 {
		o.DownlinkQueue = 32
	}
	set(&o.DownlinkWait, 5*time.Second)
	if o.ControlQueue <= 0 {
		o.ControlQueue = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Log keys.
const (
	logErr      = "err"
	logTopic    = "topic"
	logType     = "type"
	logID       = "id"
	logReason   = "reason"
	logVersion  = "version"
	logHeld     = "held"
	logSnapshot = "snapshot"
	logSession  = "session"
	logDelay    = "retry_in"
	logEvents   = "events"
	logSize     = "size"
	logDoor     = "door"
	logCount    = "count"
)

// Client is the hub's side of the cloud link: it keeps one MQTT
// connection to the broker, applies the cloud's batches and snapshots in
// order through the store, answers commands, and drains the outbox into
// activity messages (doc.go, "The hub's client").
type Client struct {
	opts     ClientOptions
	log      *slog.Logger
	tls      *tls.Config
	verifier *Verifier
	asm      *SnapshotAssembler
	filter   string
	limiter  *limiter

	down     chan inbound
	verified chan verified // from downlinkLoop to applyLoop
	ctrl     *controlQueue
	removed  chan [2]uint64

	mu          sync.Mutex
	conn        *session
	connChanged chan struct{} // closed and replaced when conn changes

	// Downlink state, owned by the handler goroutine.
	needMu      sync.Mutex // needSent: the connect loop and the downlink loop both ask
	needSent    map[string]time.Time
	chunkAt     time.Time
	chunkMsgID  string
	folds       map[string]*fold
	refusalLogs map[string]time.Time

	nonceMu sync.Mutex
	nonces  map[string]time.Time // time requests sent, by nonce

	unlocks chan struct{} // a semaphore of concurrent remote unlocks

	stats stats

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// inbound is a message handed over by paho's handler.
type inbound struct {
	topic   string
	payload []byte
	ack     func()
}

// session is one MQTT connection.
type session struct {
	id       string
	since    time.Time
	mq       mqtt.Client
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
}

func (s *session) markLost(err error) {
	s.lostOnce.Do(func() {
		s.lostErr = err
		close(s.lost)
	})
}

// NewClient checks the options and prepares a client; Open connects it.
func NewClient(opts ClientOptions) (*Client, error) {
	opts.defaults()
	if err := ValidateHubID(opts.HubID); err != nil {
		return nil, fmt.Errorf("cloudlink: hub id: %w", err)
	}
	if opts.Store == nil || opts.Clock == nil || opts.Outbox == nil {
		return nil, errors.New("cloudlink: a client needs a store, a clock and an outbox")
	}
	u, err := url.Parse(opts.Broker)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("cloudlink: broker %q is not a URL like tls://broker.example:8883", opts.Broker)
	}
	c := &Client{opts: opts, log: opts.Logger.With(slog.String("component", "cloudlink")),
		down: make(chan inbound, opts.DownlinkQueue), verified: make(chan verified, 1), ctrl: newControlQueue(opts.ControlQueue),
		removed: make(chan [2]uint64, 1024), connChanged: make(chan struct{}),
		needSent: map[string]time.Time{}, folds: map[string]*fold{}, refusalLogs: map[string]time.Time{},
		nonces: map[string]time.Time{}, unlocks: make(chan struct{}, 4),
		limiter: newLimiter(opts.PublishRate, opts.PublishBurst)}
	c.stats.refused = map[string]uint64{}
	switch u.Scheme {
	case "tls", "ssl", "mqtts":
		if c.tls, err = loadTLS(opts, u.Hostname()); err != nil {
			return nil, err
		}
	case "tcp", "mqtt":
	default:
		return nil, fmt.Errorf("cloudlink: broker scheme %q: use tls, ssl, mqtts, tcp or mqtt", u.Scheme)
	}
	replay := NewReplayCache(DefaultReplayCapacity)
	if opts.State != nil {
		b, err := opts.State.LoadState(stateReplay)
		if err != nil {
			return nil, fmt.Errorf("cloudlink: loading the replay cache: %w", err)
		}
		if len(b) > 0 {
			var entries []ReplayEntry
			if err := json.Unmarshal(b, &entries); err != nil {
				c.log.Warn("replay cache unreadable; starting empty", slog.Any(logErr, err))
			}
			replay.Restore(entries, replayNow(opts.Clock))
		}
	}
	if c.verifier, err = NewVerifier(opts.HubID, VerifierOptions{Keys: opts.Keys, Skew: opts.Skew, Replay: replay}); err != nil {
		return nil, err
	}
	c.filter, _ = DownlinkFilter(opts.HubID)
	c.asm = NewSnapshotAssembler(opts.Store)
	return c, nil
}

const stateReplay = "cloudlink.replay"

// replayNow is the time persisted replay entries are judged expired at:
// the clock's now when trusted; else its floor, the last time known good,
// never ahead of the real time — an untrusted clock running ahead would
// otherwise forget an unlock that can still be replayed once the clock is
// right again.
func replayNow(clock Clock) time.Time {
	if now := clock.Now(); now.Trusted {
		return now.Time
	}
	return clock.Status().Floor
}

func loadTLS(o ClientOptions, host string) (*tls.Config, error) {
	if o.TLSConfig != nil {
		return o.TLSConfig.Clone(), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cloudlink: CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cloudlink: CA file %s holds no PEM certificate", o.CAFile)
		}
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cloudlink: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Open starts the client: the connection (with reconnects), the handler
// of downlink messages, the sender of acks and replies, the outbox's
// drain and the time requests. It returns at once; the connection comes
// up in the background.
func (c *Client) Open() error {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(7)
	go c.connectLoop()
	go c.downlinkLoop()
	go c.applyLoop()
	go c.controlLoop()
	go c.drainLoop()
	go c.removeLoop()
	go c.timeLoop()
	return nil
}

// Close stops the client: it publishes the offline status, disconnects
// and waits for its goroutines. Messages received and not handled are
// not acknowledged: the broker delivers them again. ctx bounds the wait.
func (c *Client) Close(ctx context.Context) error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cloudlink: close: %w", ctx.Err())
	}
}

// Connected reports whether the client holds a connection.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil
}

func (c *Client) setConn(s *session) {
	c.mu.Lock()
	c.conn = s
	close(c.connChanged)
	c.connChanged = make(chan struct{})
	c.mu.Unlock()
}

// current returns the connection and a channel closed when it changes.
func (c *Client) current() (*session, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn, c.connChanged
}

// awaitConn waits for a connection.
func (c *Client) awaitConn(ctx context.Context) (*session, error) {
	for {
		s, changed := c.current()
		if s != nil {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// connectLoop keeps a connection up until Close, backing off between
// attempts.
func (c *Client) connectLoop() {
	defer c.wg.Done()
	attempt := 0
	for c.ctx.Err() == nil {
		s, err := c.connect()
		if err == nil {
			c.stats.connects.Add(1)
			up := time.Now()
			c.setConn(s)
			select {
			case <-s.lost:
				c.setConn(nil)
				c.log.Warn("connection lost", slog.Any(logErr, s.lostErr), slog.String(logSession, s.id))
			case <-c.ctx.Done():
				c.setConn(nil)
				c.goOffline(s)
				return
			}
			if time.Since(up) >= c.opts.StableAfter {
				attempt = 0
			}
		} else if c.ctx.Err() == nil {
			c.stats.connectFailures.Add(1)
		}
		attempt++
		d := c.backoff(attempt)
		if err != nil {
			c.log.Warn("cannot connect to the broker", slog.Any(logErr, err), slog.Duration(logDelay, d))
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff is BackoffMin doubled per attempt, capped at BackoffMax, with
// full jitter over its upper half.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BackoffMin
	for i := 1; i < attempt && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// connect makes one connection: connect with the last will, subscribe,
// publish the online status, queue the startup need and reports.
func (c *Client) connect() (*session, error) {
	sessID, err := NewNonce(nil)
	if err != nil {
		return nil, err
	}
	s := &session{id: sessID, since: c.opts.Clock.Now().Time, lost: make(chan struct{})}
	will, err := c.statusMessage(StateOffline, s)
	if err != nil {
		return nil, err
	}
	o := mqtt.NewClientOptions().AddBroker(c.opts.Broker).SetClientID(c.opts.HubID).
		SetCleanSession(false).SetAutoReconnect(false).SetConnectRetry(false).
		// Order matters: batches and chunks are handled in the order the
		// broker delivers them; the handler only hands over.
		SetOrderMatters(true).SetAutoAckDisabled(true).
		SetKeepAlive(c.opts.KeepAlive).SetPingTimeout(c.opts.PublishTimeout).
		SetConnectTimeout(c.opts.ConnectTimeout).SetWriteTimeout(c.opts.PublishTimeout).
		SetBinaryWill(will.Topic, will.Payload, will.QoS, will.Retain).
		SetDefaultPublishHandler(c.onMessage).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.markLost(err) })
	if c.tls != nil {
		o.SetTLSConfig(c.tls)
	}
	s.mq = mqtt.NewClient(o)
	tok := s.mq.Connect()
	if err := c.waitToken(tok, c.opts.ConnectTimeout+time.Second, s); err != nil {
		s.mq.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", c.opts.Broker, err)
	}
	present := tok.(*mqtt.ConnectToken).SessionPresent()
	fail := func(what string, err error) (*session, error) {
		s.mq.Disconnect(0)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := c.waitToken(s.mq.Subscribe(c.filter, 1, c.onMessage), c.opts.PublishTimeout, s); err != nil {
		return fail("subscribe", err)
	}
	online, err := c.statusMessage(StateOnline, s)
	if err != nil {
		return fail("status", err)
	}
	if err := c.limiter.wait(c.ctx); err != nil {
		return fail("status", err)
	}
	if err := c.waitToken(s.mq.Publish(online.Topic, online.QoS, online.Retain, online.Payload), c.opts.PublishTimeout, s); err != nil {
		return fail("publish status", err)
	}
	c.log.Info("connected", slog.String(logSession, s.id), slog.Bool("session_present", present),
		slog.Uint64(logVersion, c.opts.Store.Version()))
	c.queueNeed(NeedStartup, false, true)
	if !c.opts.Clock.Now().Trusted {
		c.sendTimeRequest(s)
	}
	c.queueReports()
	return s, nil
}

// goOffline publishes the offline status and disconnects.
func (c *Client) goOffline(s *session) {
	if off, err := c.statusMessage(StateOffline, s); err == nil {
		_ = c.waitToken(s.mq.Publish(off.Topic, off.QoS, off.Retain, off.Payload), c.opts.PublishTimeout, s)
	}
	s.mq.Disconnect(250)
	c.log.Info("disconnected", slog.String(logSession, s.id))
}

// waitToken waits for a paho token, at most d, or until the session is
// lost. A token can hang; this does not.
func (c *Client) waitToken(tok mqtt.Token, d time.Duration, s *session) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return errTimeout
	case <-s.lost:
		return errConnectionLost
	}
}

var (
	errTimeout        = errors.New("no acknowledgement from the broker in time")
	errConnectionLost = errors.New("connection lost")
	errNotConnected   = errors.New("not connected")
)

// publish sends one message on the current connection and waits for its
// acknowledgement (QoS 1) or its write (QoS 0).
func (c *Client) publish(ctx context.Context, out *Outgoing) error {
	s, _ := c.current()
	if s == nil {
		return errNotConnected
	}
	if err := c.limiter.wait(ctx); err != nil {
		return err
	}
	c.stats.publishes.Add(1)
	return c.waitToken(s.mq.Publish(out.Topic, out.QoS, out.Retain, out.Payload), c.opts.PublishTimeout, s)
}

// onMessage is paho's handler: it hands the message over, waiting at
// most DownlinkWait for room.
func (c *Client) onMessage(_ mqtt.Client, m mqtt.Message) {
	in := inbound{topic: m.Topic(), payload: m.Payload(), ack: m.Ack}
	select {
	case c.down <- in:
		return
	default:
	}
	t := time.NewTimer(c.opts.DownlinkWait)
	defer t.Stop()
	select {
	case c.down <- in:
		return
	case <-t.C:
	case <-c.ctx.Done():
		return // not acknowledged: the broker delivers it again
	}
	if c.stats.downlinkDropped.Add(1)%1000 == 1 {
		c.log.Warn("downlink queue full: message dropped; what it carried is asked for again",
			slog.String(logTopic, m.Topic()), slog.Int("queued", len(c.down)))
	}
	m.Ack()
}

// statusMessage is the status of a session: online, or the last will.
func (c *Client) statusMessage(state string, s *session) (*Outgoing, error) {
	st := &Status{State: state, Session: s.id, Since: s.since, Software: c.opts.Software,
		Version: c.opts.Store.Version(), Site: c.site(), ClockSource: c.opts.Clock.Status().Source}
	return (&Uplink{Hub: c.opts.HubID, Stream: c.opts.Outbox.Stream(), SentAt: c.opts.Clock.Now().Time, Body: st}).Encode()
}

func (c *Client) site() string {
	site := ""
	c.opts.Store.View(func(cat *hub.Catalog) {
		if s := cat.Site(); s != nil {
			site = s.ID
		}
	})
	return site
}

// queueReports queues the retained door and pending reports.
func (c *Client) queueReports() {
	if c.opts.Reports == nil {
		return
	}
	if d := c.opts.Reports.Doors(); d != nil {
		c.queue(d)
	}
	if p := c.opts.Reports.Pending(); p != nil {
		c.queue(p)
	}
}

// PublishReports queues the current door and pending reports (the door
// sync calls it when a state changed).
func (c *Client) PublishReports() { c.queueReports() }

// queue encodes a sequenced uplink message and queues it for the
// connection. The seq is taken now, so a message sent again after a
// failed attempt keeps it and the cloud drops the duplicate.
func (c *Client) queue(b Body) {
	seq, err := c.opts.Outbox.NextMessageSeq()
	if err != nil {
		c.log.Error("no message seq; message not sent", slog.String(logType, string(b.MessageType())), slog.Any(logErr, err))
		return
	}
	out, err := (&Uplink{Hub: c.opts.HubID, Stream: c.opts.Outbox.Stream(), Seq: seq,
		SentAt: c.opts.Clock.Now().Time, Body: b}).Encode()
	if err != nil {
		c.log.Error("uplink message not encodable", slog.String(logType, string(b.MessageType())), slog.Any(logErr, err))
		return
	}
	if dropped := c.ctrl.push(out); dropped != nil {
		c.stats.controlDropped.Add(1)
		c.log.Warn("control queue full: the oldest message is dropped", slog.String(logType, string(dropped.Type)))
	}
}

// controlLoop sends the queued acks, needs, replies, reports and
// security events in order, each until the broker acknowledged it.
func (c *Client) controlLoop() {
	defer c.wg.Done()
	for {
		out := c.ctrl.front()
		if out == nil {
			select {
			case <-c.ctrl.wake:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		s, err := c.awaitConn(c.ctx)
		if err != nil {
			return
		}
		if err := c.publish(c.ctx, out); err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.log.Debug("control message not acknowledged; will retry", slog.String(logType, string(out.Type)), slog.Any(logErr, err))
			select { // wait for a new connection, or retry after a while
			case <-s.lost:
			case <-time.After(time.Second):
			case <-c.ctx.Done():
				return
			}
			continue
		}
		c.ctrl.pop(out)
	}
}

// controlQueue is a bounded FIFO of encoded messages.
type controlQueue struct {
	mu   sync.Mutex
	max  int
	msgs []*Outgoing
	wake chan struct{}
}

func newControlQueue(max int) *controlQueue {
	return &controlQueue{max: max, wake: make(chan struct{}, 1)}
}

func (q *controlQueue) push(m *Outgoing) (dropped *Outgoing) {
	q.mu.Lock()
	if len(q.msgs) >= q.max {
		dropped = q.msgs[0]
		q.msgs = q.msgs[1:]
	}
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return dropped
}

func (q *controlQueue) front() *Outgoing {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) == 0 {
		return nil
	}
	return q.msgs[0]
}

// pop removes m if it is still at the front (push may have dropped it).
func (q *controlQueue) pop(m *Outgoing) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) > 0 && q.msgs[0] == m {
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
	}
}

func (q *controlQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

// timeLoop asks for signed time while the clock is untrusted.
func (c *Client) timeLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.TimeRequestInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
		if s, _ := c.current(); s != nil && !c.opts.Clock.Now().Trusted {
			c.sendTimeRequest(s)
		}
	}
}

// sendTimeRequest publishes a time request with a fresh nonce (QoS 0).
func (c *Client) sendTimeRequest(s *session) {
	nonce, err := NewNonce(nil)
	if err != nil {
		return
	}
	c.nonceMu.Lock()
	for n, at := range c.nonces {
		if time.Since(at) > c.opts.TimeRequestValid {
			delete(c.nonces, n)
		}
	}
	c.nonces[nonce] = time.Now()
	c.nonceMu.Unlock()
	out, err := (&Uplink{Hub: c.opts.HubID, Stream: c.opts.Outbox.Stream(), SentAt: c.opts.Clock.Now().Time,
		Body: &TimeRequest{Nonce: nonce}}).Encode()
	if err != nil {
		return
	}
	go func() { // QoS 0: nothing to wait for but the write
		if err := c.limiter.wait(c.ctx); err == nil {
			c.stats.publishes.Add(1)
			_ = c.waitToken(s.mq.Publish(out.Topic, out.QoS, out.Retain, out.Payload), c.opts.PublishTimeout, s)
		}
	}()
}

// takeNonce reports whether nonce answers a time request sent within
// TimeRequestValid, by the monotonic clock, and forgets it: each is used
// once.
func (c *Client) takeNonce(nonce string) bool {
	c.nonceMu.Lock()
	defer c.nonceMu.Unlock()
	at, ok := c.nonces[nonce]
	delete(c.nonces, nonce)
	return ok && time.Since(at) <= c.opts.TimeRequestValid
}

// Stats are the client's counters since Open.
type Stats struct {
	Connects        uint64 `json:"connects"`
	ConnectFailures uint64 `json:"connect_failures"`
	Received        uint64 `json:"received"`
	DownlinkDropped uint64 `json:"downlink_dropped"`
	DownlinkQueued  int    `json:"downlink_queued"`
	BatchesApplied  uint64 `json:"batches_applied"`
	BatchesRejected uint64 `json:"batches_rejected"`
	Duplicates      uint64 `json:"duplicates"`
	Gaps            uint64 `json:"gaps"`
	Snapshots       uint64 `json:"snapshots"`
	SnapshotsFailed uint64 `json:"snapshots_failed"`
	// Refused counts refused downlink messages by security reason.
	Refused        map[string]uint64 `json:"refused"`
	SecurityEvents uint64            `json:"security_events"`
	Unlocks        uint64            `json:"unlocks"`
	Publishes      uint64            `json:"publishes"`
	EventsSent     uint64            `json:"events_sent"`
	EventsAcked    uint64            `json:"events_acked"`
	ControlDropped uint64            `json:"control_dropped"`
	ControlQueued  int               `json:"control_queued"`
	Connected      bool              `json:"connected"`
	// LastReceived: when the last downlink message arrived (zero: none
	// since start).
	LastReceived time.Time `json:"last_received,omitzero"`
}

type stats struct {
	connects, connectFailures, received, downlinkDropped atomic.Uint64
	batchesApplied, batchesRejected, duplicates, gaps    atomic.Uint64
	snapshots, snapshotsFailed, securityEvents, unlocks  atomic.Uint64
	publishes, eventsSent, eventsAcked, controlDropped   atomic.Uint64
	lastReceived                                         atomic.Int64 // unix ns
	mu                                                   sync.Mutex
	refused                                              map[string]uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	out := Stats{
		Connects: s.connects.Load(), ConnectFailures: s.connectFailures.Load(), Received: s.received.Load(),
		DownlinkDropped: s.downlinkDropped.Load(), DownlinkQueued: len(c.down), BatchesApplied: s.batchesApplied.Load(),
		BatchesRejected: s.batchesRejected.Load(), Duplicates: s.duplicates.Load(), Gaps: s.gaps.Load(),
		Snapshots: s.snapshots.Load(), SnapshotsFailed: s.snapshotsFailed.Load(),
		SecurityEvents: s.securityEvents.Load(), Unlocks: s.unlocks.Load(), Publishes: s.publishes.Load(),
		EventsSent: s.eventsSent.Load(), EventsAcked: s.eventsAcked.Load(),
		ControlDropped: s.controlDropped.Load(), ControlQueued: c.ctrl.len(), Connected: c.Connected(),
		Refused: map[string]uint64{},
	}
	if ns := s.lastReceived.Load(); ns != 0 {
		out.LastReceived = time.Unix(0, ns)
	}
	s.mu.Lock()
	for k, v := range s.refused {
		out.Refused[k] = v
	}
	s.mu.Unlock()
	return out
}
