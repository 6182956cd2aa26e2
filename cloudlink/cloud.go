package cloudlink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorhub/doorhub/hub"
)

// Cloud is the cloud's side of the link, as much as tests and a small
// control plane need: it holds each hub's authoritative credential set
// and its history of batches, signs and publishes batches, snapshots and
// commands, answers "need" and time requests, and collects what hubs send
// (acks, activity with duplicates dropped, replies, security events,
// status). doorhub-cloud builds on it; the hub's tests drive the hub with
// it.
type Cloud struct {
	opts   CloudOptions
	log    *slog.Logger
	signer *Signer
	mq     mqtt.Client
	work   chan *Uplink

	mu         sync.Mutex
	hubs       map[string]*CloudHub
	subscribed atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// CloudOptions configures a Cloud.
type CloudOptions struct {
	Broker    string
	ClientID  string // "doorhub-cloud" when empty
	TLSConfig *tls.Config
	Signer    *Signer
	Logger    *slog.Logger
	// ChunkBytes is the snapshot chunk size (DefaultChunkBytes when 0).
	ChunkBytes int
	// PublishTimeout bounds a publish: 10 s.
	PublishTimeout time.Duration
	// Manual: needs and time requests are recorded but not answered
	// (tests answer them).
	Manual bool
}

// NewCloud returns a cloud side; Open connects it.
func NewCloud(o CloudOptions) (*Cloud, error) {
	if o.Signer == nil {
		return nil, errors.New("cloudlink: a cloud needs a signer")
	}
	if o.ClientID == "" {
		o.ClientID = "doorhub-cloud"
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Cloud{opts: o, log: o.Logger.With(slog.String("component", "cloud")), signer: o.Signer,
		hubs: map[string]*CloudHub{}, work: make(chan *Uplink, 4096)}, nil
}

// Open connects to the broker and subscribes to every hub's uplink; it
// reconnects by itself (paho's), and keeps its session.
func (c *Cloud) Open() error {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	o := mqtt.NewClientOptions().AddBroker(c.opts.Broker).SetClientID(c.opts.ClientID).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(time.Second).
		SetOrderMatters(true).SetConnectTimeout(5 * time.Second).SetWriteTimeout(c.opts.PublishTimeout).
		SetOnConnectHandler(func(m mqtt.Client) {
			// Subscribing again is harmless and covers a broker that lost the session.
			tok := m.Subscribe(UplinkFilter, 1, c.onMessage)
			c.subscribed.Store(tok.WaitTimeout(c.opts.PublishTimeout) && tok.Error() == nil)
		}).
		SetConnectionLostHandler(func(mqtt.Client, error) { c.subscribed.Store(false) })
	if c.opts.TLSConfig != nil {
		o.SetTLSConfig(c.opts.TLSConfig)
	}
	c.mq = mqtt.NewClient(o)
	tok := c.mq.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("cloud: connect: %v", tok.Error())
	}
	// Subscribed before Open returns, so nothing a hub sends afterwards is
	// missed (OnConnect subscribes again after each reconnect).
	if sub := c.mq.Subscribe(UplinkFilter, 1, c.onMessage); !sub.WaitTimeout(10*time.Second) || sub.Error() != nil {
		return fmt.Errorf("cloud: subscribe: %v", sub.Error())
	}
	c.subscribed.Store(true)
	c.wg.Add(1)
	go c.loop()
	return nil
}

// Subscribed reports whether the cloud is connected and subscribed to
// the hubs' uplink.
func (c *Cloud) Subscribed() bool { return c.subscribed.Load() && c.mq.IsConnected() }

// Close disconnects.
func (c *Cloud) Close() {
	if c.cancel == nil {
		return
	}
	c.mq.Disconnect(100)
	c.cancel()
	c.wg.Wait()
}

func (c *Cloud) onMessage(_ mqtt.Client, m mqtt.Message) {
	u, err := DecodeUplink(m.Topic(), m.Payload())
	if err != nil {
		c.log.Warn("uplink message refused", slog.String(logTopic, m.Topic()), slog.Any(logErr, err))
		return
	}
	select {
	case c.work <- u:
	case <-c.ctx.Done():
	}
}

// Hub returns the state the cloud keeps of a hub, creating it.
func (c *Cloud) Hub(hubID string) *CloudHub {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hubs[hubID]
	if h == nil {
		h = &CloudHub{cloud: c, id: hubID, model: hub.NewMemStore(), seen: map[string]bool{},
			events: map[string]ActivityEvent{}}
		c.hubs[hubID] = h
	}
	return h
}

func (c *Cloud) loop() {
	defer c.wg.Done()
	for {
		select {
		case u := <-c.work:
			c.Hub(u.Hub).receive(u)
		case <-c.ctx.Done():
			return
		}
	}
}

// PublishRaw publishes bytes as they are (tests send forgeries with it).
func (c *Cloud) PublishRaw(topic string, payload []byte, qos byte) error {
	tok := c.mq.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(c.opts.PublishTimeout) {
		return errTimeout
	}
	return tok.Error()
}

// Publish publishes a sealed message.
func (c *Cloud) Publish(out *Outgoing) error {
	tok := c.mq.Publish(out.Topic, out.QoS, out.Retain, out.Payload)
	if !tok.WaitTimeout(c.opts.PublishTimeout) {
		return errTimeout
	}
	return tok.Error()
}

// Signer is the cloud's signer.
func (c *Cloud) Signer() *Signer { return c.signer }

// CloudHub is what the cloud holds of one hub: the authoritative set (a
// MemStore), the batches that made it, and what the hub sent.
type CloudHub struct {
	cloud *Cloud
	id    string

	mu      sync.Mutex
	model   *hub.MemStore
	batches []*hub.Batch // in version order
	// snapshotting is the version of the snapshot sent and not yet
	// acknowledged: batches wait meanwhile (docs/cloud-protocol.md 5.3).
	snapshotting uint64
	snapSeq      int
	// cut is the set cut into chunks at its version, kept for the next
	// snapshot of the same version.
	cut *snapshotCut

	seen      map[string]bool // stream/seq of messages received
	dupMsgs   int
	acks      []Ack
	needs     []Need
	events    map[string]ActivityEvent
	order     []string // event ids in arrival order
	dupEvents int
	replies   []Reply
	security  []SecurityEvent
	status    *Status
	pending   *PendingReport // the last one received
	// pendingStream and pendingSeq order pending reports.
	pendingStream string
	pendingSeq    uint64
	doors         *DoorsReport // the last one received, ordered as pending
	doorsStream   string
	doorsSeq      uint64
	requests      int
	stream        string
}

// ID is the hub's id.
func (h *CloudHub) ID() string { return h.id }

// Model is the authoritative set.
func (h *CloudHub) Model() *hub.MemStore { return h.model }

// Version is the authoritative set's version.
func (h *CloudHub) Version() uint64 { return h.model.Version() }

// Commit applies ops to the authoritative set as the next batch, keeps it
// in the history and returns it, unpublished (Send publishes it).
func (h *CloudHub) Commit(site string, ops ...hub.Op) (*hub.Batch, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.model.Version()
	b := &hub.Batch{Site: site, Version: v + 1, Base: v, IssuedAt: h.cloud.signer.now(), Ops: ops}
	if err := h.model.Apply(context.Background(), b); err != nil {
		return nil, err
	}
	h.batches = append(h.batches, b)
	return b, nil
}

// Send seals a batch and publishes it, unless a snapshot is being
// acknowledged (then it goes when the snapshot is).
func (h *CloudHub) Send(b *hub.Batch) error {
	h.mu.Lock()
	wait := h.snapshotting != 0
	h.mu.Unlock()
	if wait {
		return nil
	}
	return h.SendBody(&Batch{Batch: *b}, SealOptions{})
}

// SendBody seals any downlink body for the hub and publishes it.
func (h *CloudHub) SendBody(b Body, o SealOptions) error {
	out, err := h.cloud.signer.Seal(h.id, b, o)
	if err != nil {
		return err
	}
	return h.cloud.Publish(out)
}

// Unlock sends a remote unlock and returns its id.
func (h *CloudHub) Unlock(door, by string, hold int) (string, error) {
	out, err := h.cloud.signer.Seal(h.id, &Unlock{Door: door, By: by, HoldSeconds: hold}, SealOptions{})
	if err != nil {
		return "", err
	}
	return out.ID, h.cloud.Publish(out)
}

// SendSnapshot publishes the authoritative set as a snapshot, under a new
// snapshot id. The set is cut once per version and the cut kept: a hub
// that asks again, or asks while it is sent to another, costs no new cut.
// Batches wait until the hub acknowledged the snapshot's version.
func (h *CloudHub) SendSnapshot() error {
	h.mu.Lock()
	if err := h.cutLocked(); err != nil {
		h.mu.Unlock()
		return err
	}
	v := h.model.Version()
	cut := h.cut
	h.snapSeq++
	id := fmt.Sprintf("snap-%d-%d", v, h.snapSeq)
	h.snapshotting = v
	h.mu.Unlock()
	chunks := cut.chunks(id)
	return h.cloud.publishAll(len(chunks), func(i int) (*Outgoing, error) {
		out, err := h.cloud.signer.sealCut(h.id, &chunks[i], SealOptions{})
		if err != nil {
			return nil, fmt.Errorf("snapshot %s chunk %d: %w", id, i, err)
		}
		return out, nil
	})
}

// CutSnapshot cuts the authoritative set into chunks now, if it was not
// cut at its version yet, so that the next SendSnapshot only seals and
// publishes (a cloud may cut after each change, off the hub's time).
func (h *CloudHub) CutSnapshot() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cutLocked()
}

func (h *CloudHub) cutLocked() error {
	v := h.model.Version()
	if h.cut == nil || h.cut.version != v {
		// Cut under the lock: the ops point into the model. They are
		// gathered in runs, not one slice grown 300,000 times over, and
		// each run is encoded and cut while the next is gathered.
		cut, err := cutSnapshot(v, h.cloud.opts.ChunkBytes, func(emit func([]hub.Op)) (site string) {
			h.model.View(func(cat *hub.Catalog) {
				if s := cat.Site(); s != nil {
					site = s.ID
				}
				run := make([]hub.Op, 0, cutRun)
				_ = cat.Records(func(op hub.Op) error {
					if run = append(run, op); len(run) == cutRun {
						emit(run)
						run = make([]hub.Op, 0, cutRun)
					}
					return nil
				})
				if len(run) > 0 {
					emit(run)
				}
			})
			return site
		})
		if err != nil {
			return err
		}
		h.cut = cut
	}
	return nil
}

// publishWindow is how many messages publishAll keeps awaiting their
// PUBACK: the broker's round trip is paid once per window, not per
// message. Order holds: paho writes publishes in the order they are made.
const publishWindow = 16

// publishAll publishes n messages in order, each made by next just
// before it goes, with up to publishWindow awaiting their PUBACK.
func (c *Cloud) publishAll(n int, next func(i int) (*Outgoing, error)) error {
	var inflight []mqtt.Token
	wait := func(tok mqtt.Token) error {
		if !tok.WaitTimeout(c.opts.PublishTimeout) {
			return errTimeout
		}
		return tok.Error()
	}
	for i := 0; i < n; i++ {
		out, err := next(i)
		if err != nil {
			return err
		}
		inflight = append(inflight, c.mq.Publish(out.Topic, out.QoS, out.Retain, out.Payload))
		if len(inflight) >= publishWindow {
			if err := wait(inflight[0]); err != nil {
				return fmt.Errorf("message %d of %d: %w", i+1-len(inflight), n, err)
			}
			inflight = inflight[1:]
		}
	}
	for j, tok := range inflight {
		if err := wait(tok); err != nil {
			return fmt.Errorf("message %d of %d: %w", n-len(inflight)+j, n, err)
		}
	}
	return nil
}

// answerNeed sends what a need asks for: the batches after its version,
// or a snapshot when asked, when the hub is empty or when the history
// does not reach back that far.
func (h *CloudHub) answerNeed(n *Need) {
	h.mu.Lock()
	v := h.model.Version()
	var send []*hub.Batch
	snapshot := n.Snapshot || n.FromVersion == 0
	if !snapshot && n.FromVersion < v {
		i := sort.Search(len(h.batches), func(i int) bool { return h.batches[i].Base >= n.FromVersion })
		if i == len(h.batches) || h.batches[i].Base != n.FromVersion {
			snapshot = true
		} else {
			send = h.batches[i:]
		}
	}
	if !snapshot && h.snapshotting != 0 && n.Reason != NeedStartup {
		h.mu.Unlock()
		return // one thing at a time: the snapshot is on its way
	}
	if !snapshot {
		h.snapshotting = 0
	}
	h.mu.Unlock()
	if v == 0 || n.FromVersion >= v && !snapshot {
		return
	}
	if snapshot {
		if err := h.SendSnapshot(); err != nil {
			h.cloud.log.Warn("snapshot not sent", slog.String("hub", h.id), slog.Any(logErr, err))
		}
		return
	}
	for _, b := range send {
		if err := h.SendBody(&Batch{Batch: *b}, SealOptions{}); err != nil {
			h.cloud.log.Warn("batch not sent", slog.String("hub", h.id), slog.Any(logErr, err))
			return
		}
	}
}

// receive records an uplink message and answers what needs an answer.
func (h *CloudHub) receive(u *Uplink) {
	h.mu.Lock()
	if u.Seq != 0 {
		key := u.Stream + "/" + fmt.Sprint(u.Seq)
		if h.seen[key] {
			h.dupMsgs++
			h.mu.Unlock()
			return
		}
		h.seen[key] = true
	}
	h.stream = u.Stream
	var answer func()
	switch b := u.Body.(type) {
	case *Status:
		h.status = b
	case *PendingReport:
		// The last by the hub's message order (its clock may have been
		// wrong); a new stream is a reinstalled hub.
		if h.pending == nil || u.Stream != h.pendingStream || u.Seq > h.pendingSeq {
			h.pending, h.pendingStream, h.pendingSeq = b, u.Stream, u.Seq
		}
	case *DoorsReport:
		if h.doors == nil || u.Stream != h.doorsStream || u.Seq > h.doorsSeq {
			h.doors, h.doorsStream, h.doorsSeq = b, u.Stream, u.Seq
		}
	case *Ack:
		h.acks = append(h.acks, *b)
		if h.snapshotting != 0 && (b.Version >= h.snapshotting || b.Rejected != nil) {
			h.snapshotting = 0
			if b.Rejected == nil {
				from := b.Version
				answer = func() { h.answerNeed(&Need{FromVersion: from, Reason: "snapshot_acked"}) }
			}
		}
	case *Need:
		h.needs = append(h.needs, *b)
		if !h.cloud.opts.Manual {
			n := *b
			answer = func() { h.answerNeed(&n) }
		}
	case *Activity:
		for _, ev := range b.Events {
			if _, dup := h.events[ev.ID]; dup {
				h.dupEvents++
				continue
			}
			h.events[ev.ID] = ev
			h.order = append(h.order, ev.ID)
		}
	case *Reply:
		h.replies = append(h.replies, *b)
	case *SecurityEvent:
		h.security = append(h.security, *b)
	case *TimeRequest:
		h.requests++
		nonce := b.Nonce
		if h.cloud.opts.Manual {
			break
		}
		answer = func() {
			_ = h.SendBody(&TimeHint{Now: h.cloud.signer.now(), Request: nonce}, SealOptions{})
		}
	}
	h.mu.Unlock()
	if answer != nil {
		answer()
	}
}

// HubView is a copy of what the cloud received from a hub.
type HubView struct {
	Status *Status
	// Pending is the last pending report (door updates not acknowledged
	// by the locks); nil before the first.
	Pending *PendingReport
	// Doors is the last door-state report; nil before the first.
	Doors    *DoorsReport
	Acks     []Ack
	Needs    []Need
	Replies  []Reply
	Security []SecurityEvent
	// Events by id, each once; Order is their arrival order.
	Events        map[string]ActivityEvent
	Order         []string
	DupEvents     int
	DupMessages   int
	TimeRequests  int
	Stream        string
	Snapshotting  uint64
	LatestVersion uint64 // the authoritative version
}

// LastAck is the last ack, or a zero Ack.
func (v *HubView) LastAck() Ack {
	if len(v.Acks) == 0 {
		return Ack{}
	}
	return v.Acks[len(v.Acks)-1]
}

// View copies what the cloud received from the hub.
func (h *CloudHub) View() HubView {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := HubView{Acks: append([]Ack(nil), h.acks...), Needs: append([]Need(nil), h.needs...),
		Replies: append([]Reply(nil), h.replies...), Security: append([]SecurityEvent(nil), h.security...),
		Events: make(map[string]ActivityEvent, len(h.events)), Order: append([]string(nil), h.order...),
		DupEvents: h.dupEvents, DupMessages: h.dupMsgs, TimeRequests: h.requests, Stream: h.stream,
		Snapshotting: h.snapshotting, LatestVersion: h.model.Version()}
	for k, e := range h.events {
		v.Events[k] = e
	}
	if h.status != nil {
		s := *h.status
		v.Status = &s
	}
	if h.pending != nil {
		p := *h.pending
		p.Doors = append([]DoorPending(nil), p.Doors...)
		p.Keycards = append([]KeycardPending(nil), p.Keycards...)
		v.Pending = &p
	}
	if h.doors != nil {
		d := *h.doors
		d.Doors = append([]DoorState(nil), d.Doors...)
		v.Doors = &d
	}
	return v
}

// Wait polls the hub's view until cond holds, at most timeout.
func (h *CloudHub) Wait(timeout time.Duration, cond func(v *HubView) bool) (HubView, bool) {
	deadline := time.Now().Add(timeout)
	for {
		v := h.View()
		if cond(&v) {
			return v, true
		}
		if time.Now().After(deadline) {
			return v, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
