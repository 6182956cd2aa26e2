package cloudlink_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// The link tests run a hub's client and the test cloud against a real
// broker on loopback: the embedded one always, mosquitto when CI started
// one (brokertest.MosquittoURL).

const site = "s1"

func quietLog() *slog.Logger {
	if os.Getenv("DOORHUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startBroker starts an embedded broker for the test.
func startBroker(t testing.TB) *brokertest.Broker {
	t.Helper()
	b, err := brokertest.Start("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// brokers runs fn against the embedded broker and against mosquitto.
func brokers(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("embedded", func(t *testing.T) { fn(t, startBroker(t).URL()) })
	t.Run("mosquitto", func(t *testing.T) { fn(t, brokertest.MosquittoURL(t)) })
}

// seedOps is a small site: two doors, two keys, a resident with a card.
func seedOps() []hub.Op {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []hub.Op{
		{Type: hub.OpPutSite, Site: &hub.Site{ID: site, Name: "Linden Court", TimeZone: "Europe/Berlin",
			DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef-site-secret")}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "front", Name: "Front door", Type: hub.DoorEntrance}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "apt-3b", Name: "Apartment 3B", Type: hub.DoorResidence}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "building", Name: "Building", Doors: []string{"front"}, DoorcodesAllowed: true, MayShareAllowed: true}},
		{Type: hub.OpPutKey, Key: &hub.Key{ID: "unit-3b", Name: "Unit 3B", Doors: []string{"apt-3b"}}},
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-anna", Email: "anna@example.org", Name: "Anna"}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna", PersonID: "p-anna", KeyID: "building", StartsAt: from, Method: hub.MethodApp, Resident: true}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-anna-3b", PersonID: "p-anna", KeyID: "unit-3b", StartsAt: from, Method: hub.MethodApp, Resident: true}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3d4e5f6", OwnerID: "p-anna", Active: true}},
	}
}

// personOps adds a person with a grant and a keycard.
func personOps(i int) []hub.Op {
	id := fmt.Sprintf("p-%05d", i)
	return []hub.Op{
		{Type: hub.OpPutPerson, Person: &hub.Person{ID: id, Email: id + "@example.org", Name: "Person " + id}},
		{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + id, PersonID: id, KeyID: "building",
			StartsAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Method: hub.MethodApp}},
		{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("c0ffee%08x", i), OwnerID: id, Active: true}},
	}
}

// fakeUnlocker records remote unlocks.
type fakeUnlocker struct {
	mu    sync.Mutex
	doors []string
	err   error
}

func (f *fakeUnlocker) RemoteUnlock(ctx context.Context, door string, hold time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.doors = append(f.doors, door)
	return nil
}

func (f *fakeUnlocker) opened() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.doors...)
}

// rig is one hub (store, clock, outbox, client) and the cloud.
type rig struct {
	t        testing.TB
	url      string
	hubID    string
	store    hub.Store
	clock    *hub.Clock
	outbox   hub.Outbox
	client   *cloudlink.Client
	cloud    *cloudlink.Cloud
	ch       *cloudlink.CloudHub
	unlocker *fakeUnlocker
	opts     cloudlink.ClientOptions
	prepare  func(ch *cloudlink.CloudHub)
}

type rigOption func(*rig)

// fastOptions are the client's options for tests: short waits, no rate
// limit.
func fastOptions() cloudlink.ClientOptions {
	return cloudlink.ClientOptions{
		PublishRate: -1, PublishTimeout: 5 * time.Second, ConnectTimeout: 2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond, StableAfter: time.Second,
		NeedInterval: 200 * time.Millisecond, LiveInterval: 20 * time.Millisecond,
		Logger: quietLog(), Software: "test",
	}
}

func withStore(s hub.Store, o hub.Outbox) rigOption {
	return func(r *rig) { r.store, r.outbox = s, o }
}

func withOptions(fn func(*cloudlink.ClientOptions)) rigOption {
	return func(r *rig) { fn(&r.opts) }
}

func withClock(c *hub.Clock) rigOption { return func(r *rig) { r.clock = c } }

// withCloudSet lets the cloud's set exist before the hub connects.
func withCloudSet(fn func(ch *cloudlink.CloudHub)) rigOption {
	return func(r *rig) { r.prepare = fn }
}

// withCloud shares a cloud between rigs (or keeps one across a restart).
func withCloud(c *cloudlink.Cloud) rigOption { return func(r *rig) { r.cloud = c } }

func newCloud(t testing.TB, url string, manual bool, chunk int) *cloudlink.Cloud {
	t.Helper()
	signer := cloudlink.NewSigner(testKey)
	c, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: url, Signer: signer, Logger: quietLog(),
		Manual: manual, ChunkBytes: chunk, ClientID: fmt.Sprintf("cloud-%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func trustedClock(t testing.TB) *hub.Clock {
	c, err := hub.NewClock(hub.ClockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.SetNTPSynchronized(true)
	return c
}

// newRig starts a cloud (manual: needs are not answered) and a hub.
func newRig(t testing.TB, url string, manual bool, options ...rigOption) *rig {
	t.Helper()
	// Each rig is a new hub: mosquitto keeps the sessions of earlier tests.
	r := &rig{t: t, url: url, hubID: fmt.Sprintf("hub-%x", time.Now().UnixNano()), unlocker: &fakeUnlocker{}, opts: fastOptions()}
	for _, o := range options {
		o(r)
	}
	if r.store == nil {
		r.store, r.outbox = hub.NewMemStore(), hub.NewMemOutbox(testStream)
	}
	if r.clock == nil {
		r.clock = trustedClock(t)
	}
	if r.cloud == nil {
		r.cloud = newCloud(t, url, manual, 0)
	}
	r.ch = r.cloud.Hub(r.hubID)
	if r.prepare != nil {
		r.prepare(r.ch)
	}
	r.start()
	return r
}

// start opens the hub's client.
func (r *rig) start() {
	r.t.Helper()
	o := r.opts
	o.HubID, o.Broker, o.Keys = r.hubID, r.url, []ed25519.PublicKey{testPublic}
	o.Store, o.Clock, o.Outbox, o.Unlocker = r.store, r.clock, r.outbox, r.unlocker
	if st, ok := r.outbox.(cloudlink.StateStore); ok {
		o.State = st
	}
	c, err := cloudlink.NewClient(o)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		r.t.Fatal(err)
	}
	r.client = c
	r.t.Cleanup(func() { r.stop() })
}

func (r *rig) stop() {
	if r.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.client.Close(ctx); err != nil {
		r.t.Error(err)
	}
	r.client = nil
}

// waitConnected waits until the client is connected and the cloud saw
// its online status.
func (r *rig) waitConnected() {
	r.t.Helper()
	if _, ok := r.ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool {
		return v.Status != nil && v.Status.State == cloudlink.StateOnline && r.client.Connected()
	}); !ok {
		r.t.Fatal("the hub did not connect")
	}
}

// commit makes a batch on the cloud's set.
func (r *rig) commit(ops ...hub.Op) *hub.Batch {
	r.t.Helper()
	b, err := r.ch.Commit(site, ops...)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

func (r *rig) send(b *hub.Batch) {
	r.t.Helper()
	if err := r.ch.SendBody(&cloudlink.Batch{Batch: *b}, cloudlink.SealOptions{}); err != nil {
		r.t.Fatal(err)
	}
}

// waitAck waits for an ack of at least version v.
func (r *rig) waitAck(v uint64) cloudlink.HubView {
	r.t.Helper()
	view, ok := r.ch.Wait(20*time.Second, func(view *cloudlink.HubView) bool {
		return len(view.Acks) > 0 && view.LastAck().Version >= v
	})
	if !ok {
		r.t.Fatalf("no ack of version %d; acks %+v, store at %d", v, view.Acks, r.store.Version())
	}
	return view
}

// sameAsCloud checks that the hub holds the cloud's set at version v.
func (r *rig) sameAsCloud(v uint64) {
	r.t.Helper()
	if got := r.store.Version(); got != v {
		r.t.Fatalf("store at version %d, want %d", got, v)
	}
	if r.ch.Version() == v {
		storetest.RequireSameContent(r.t, storetest.ContentOf(r.t, r.ch.Model()), storetest.ContentOf(r.t, r.store), "hub and cloud")
	}
}

// appendEvents appends n door events to the outbox.
func appendEvents(t testing.TB, o hub.Outbox, door string, from, n int) {
	t.Helper()
	base := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		now := hub.Now{Time: base.Add(time.Duration(i) * time.Millisecond), Trusted: true}
		if _, err := o.Append(context.Background(), hub.DoorActivity(door, hub.ActivityDoorHeldOpen, now, -1)); err != nil {
			t.Fatal(err)
		}
	}
}
