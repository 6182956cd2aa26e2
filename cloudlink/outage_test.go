package cloudlink_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/cloudlink/brokertest"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/badgerstore"
)

// openDurable opens a badgerstore and its outbox in dir, closed at the
// end of the test.
func openDurable(t testing.TB, dir string) (*badgerstore.Store, *badgerstore.Outbox) {
	t.Helper()
	so := badgerstore.DefaultOptions()
	so.Logger = quietLog()
	s, err := badgerstore.Open(dir, so)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.OpenLogOutbox(badgerstore.OutboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = o.Close()
		_ = s.Close()
	})
	return s, o
}

// restartCloudFirst restarts a stopped broker and lets the hub in only
// once the cloud is subscribed again: a message a hub publishes while no
// one subscribes is acknowledged by the broker and dropped (the cloud's
// side of a real deployment is always subscribed: AWS IoT rules, a
// persistent session). The hub meanwhile meets refused connections, and
// backs off.
func restartCloudFirst(t testing.TB, b *brokertest.Broker, cloud *cloudlink.Cloud) {
	t.Helper()
	b.Admit(func(id string) bool { return strings.HasPrefix(id, "cloud-") })
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !cloud.Subscribed() {
		if time.Now().After(deadline) {
			t.Fatal("the cloud did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Admit(nil)
}

// TestLinkBrokerRestartMidBacklog kills the broker while a durable
// backlog drains at a limited rate, and starts it again: every event
// reaches the cloud (some twice), the outbox ends empty.
func TestLinkBrokerRestartMidBacklog(t *testing.T) {
	b := startBroker(t)
	store, outbox := openDurable(t, t.TempDir())
	const n = 3000
	appendEvents(t, outbox, "front", 0, n)
	cloud := newCloud(t, b.URL(), true, 0)
	r := newRig(t, b.URL(), true, withCloud(cloud), withStore(store, outbox), withOptions(func(o *cloudlink.ClientOptions) {
		o.PublishRate, o.PublishBurst, o.MaxEventsPerMessage = 40, 1, 50 // 2,000 events a second: 1.5 s
	}))
	v, ok := r.ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) >= n/4 })
	if !ok {
		t.Fatalf("only %d events before the restart", len(v.Events))
	}
	b.Stop()
	time.Sleep(300 * time.Millisecond)
	if r.client.Connected() {
		t.Fatal("still connected to a dead broker")
	}
	restartCloudFirst(t, b, cloud)
	v, ok = r.ch.Wait(30*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == n })
	if !ok {
		t.Fatalf("%d of %d events reached the cloud", len(v.Events), n)
	}
	for i := uint64(1); i <= n; i++ {
		if _, ok := v.Events[cloudlink.EventID(outbox.Stream(), i)]; !ok {
			t.Fatalf("event %d lost", i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for outbox.Status().Pending > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := outbox.Status(); st.Pending != 0 {
		t.Fatalf("outbox %+v", st)
	}
	if st := r.client.Stats(); st.Connects < 2 || st.ConnectFailures == 0 {
		t.Fatalf("stats %+v: want a reconnect after refused attempts", st)
	}
	t.Logf("%d events, %d delivered twice", n, v.DupEvents)
}

// fakeTime is a wall and monotonic clock that a test moves.
type fakeTime struct{ off atomic.Int64 }

var fakeStart = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func (f *fakeTime) now() time.Time          { return fakeStart.Add(time.Duration(f.off.Load())) }
func (f *fakeTime) mono() time.Duration     { return time.Duration(f.off.Load()) }
func (f *fakeTime) advance(d time.Duration) { f.off.Add(int64(d)) }
func (f *fakeTime) clock(t testing.TB) *hub.Clock {
	c, err := hub.NewClock(hub.ClockOptions{System: f.now, Monotonic: f.mono})
	if err != nil {
		t.Fatal(err)
	}
	c.SetNTPSynchronized(true)
	return c
}

// TestLinkOutageOfHours: the broker is gone for six hours of a fake
// clock. Decisions go on from the held set — a grant that starts during
// the outage admits once its time comes — and every decision is stored;
// the cloud's change made meanwhile, and the backlog, flow once the
// broker is back.
func TestLinkOutageOfHours(t *testing.T) {
	b := startBroker(t)
	var ft fakeTime
	clock := ft.clock(t)
	store, outbox := openDurable(t, t.TempDir())
	cloud := newCloud(t, b.URL(), false, 0)
	cloud.Signer().Now = ft.now
	r := newRig(t, b.URL(), false, withCloud(cloud), withClock(clock), withStore(store, outbox))
	r.waitConnected()
	// A resident, and a new tenant whose grant starts three hours in.
	late := fakeStart.Add(3 * time.Hour)
	ops := append(seedOps(),
		hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: "p-ben", Email: "ben@example.org"}},
		hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-ben", PersonID: "p-ben", KeyID: "building", StartsAt: late, Method: hub.MethodApp}},
		hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "0b0b0b0b", OwnerID: "p-ben", Active: true}})
	if err := r.ch.Send(r.commit(ops...)); err != nil {
		t.Fatal(err)
	}
	r.waitAck(1)

	b.Stop()
	engine := hub.NewEngine(store, hub.EngineOptions{})
	log := hub.NewActivityLog(outbox)
	var decisions, benAllowed, benDenied int
	for m := 0; m < 6*60; m++ {
		ft.advance(time.Minute)
		now := clock.Now()
		for _, card := range []string{"04a1b2c3d4e5f6", "0b0b0b0b"} {
			d := engine.Decide("front", hub.Presentation{Kind: hub.CredKeycard, CardID: card}, now)
			decisions++
			switch {
			case card == "04a1b2c3d4e5f6" && !d.Allowed:
				t.Fatalf("the resident was refused at %v: %s", now.Time, d.Reason)
			case card == "0b0b0b0b" && d.Allowed:
				benAllowed++
				if now.Time.Before(late) {
					t.Fatalf("Ben admitted before his start at %v", now.Time)
				}
			case card == "0b0b0b0b":
				benDenied++
				if !now.Time.Before(late) || d.Reason != hub.NotStarted {
					t.Fatalf("Ben refused at %v: %s", now.Time, d.Reason)
				}
			}
			if _, err := log.Decision(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
		if m == 100 { // the cloud revokes Anna's card meanwhile
			r.commit(hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: "04a1b2c3d4e5f6", OwnerID: "p-anna", Active: false}})
		}
	}
	if benAllowed == 0 || benDenied == 0 {
		t.Fatalf("Ben: %d allowed, %d denied", benAllowed, benDenied)
	}
	if st := outbox.Status(); st.Pending != decisions {
		t.Fatalf("%d decisions, %d records pending", decisions, st.Pending)
	}

	restartCloudFirst(t, b, cloud)
	v, ok := r.ch.Wait(20*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == decisions })
	if !ok {
		t.Fatalf("%d of %d decisions reached the cloud", len(v.Events), decisions)
	}
	r.waitAck(2)
	r.sameAsCloud(2)
	d := engine.Decide("front", hub.Presentation{Kind: hub.CredKeycard, CardID: "04a1b2c3d4e5f6"}, clock.Now())
	if d.Allowed {
		t.Fatal("the card revoked during the outage still opens the door after it")
	}
}
