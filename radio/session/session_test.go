package session_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/link"
	"github.com/doorhub/doorhub/radio/link/linktest"
	"github.com/doorhub/doorhub/radio/lockmsg"
	"github.com/doorhub/doorhub/radio/radiotest"
	"github.com/doorhub/doorhub/radio/session"
	"github.com/doorhub/doorhub/radio/sim"
)

var quiet = slog.New(slog.DiscardHandler)

var fastLink = link.Config{AckTimeout: 20 * time.Millisecond, MaxAckTimeout: 80 * time.Millisecond, MaxRetransmits: 6, Logger: quiet}

// activity records what the sessions hand it; fail makes LockEvent fail.
type activity struct {
	mu        sync.Mutex
	decisions []hub.Decision
	events    []session.LockEvent
	fail      bool
}

func (a *activity) Decision(_ context.Context, d hub.Decision) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.decisions = append(a.decisions, d)
	return nil
}

func (a *activity) LockEvent(_ context.Context, e session.LockEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("disk full")
	}
	a.events = append(a.events, e)
	return nil
}

func (a *activity) counts() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.decisions), len(a.events)
}

// linkTransport is a hub-side link used directly as the Transport.
type linkTransport struct{ *link.Link }

type rig struct {
	t        *testing.T
	sim      *sim.Sim
	locks    *session.Locks
	activity *activity
	kv       *session.MemoryKV
	hubLink  *link.Link
	line     *linktest.Line
	phone    ed25519.PrivateKey
	opts     session.Options
	store    *hub.MemStore
}

func noLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines leaked:\n%s", buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// newRig runs n simulated locks over an in-memory serial line against
// sessions deciding from the test site.
func newRig(t *testing.T, n int, cfg sim.Config) *rig {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	store := hub.NewMemStore()
	if err := store.Apply(context.Background(), radiotest.Batch(time.Now(), pub)); err != nil {
		t.Fatal(err)
	}
	clock, err := hub.NewClock(hub.ClockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, activity: &activity{}, kv: &session.MemoryKV{}, phone: priv, store: store}
	r.line = linktest.NewLine(linktest.Faults{}, linktest.Faults{}, 1)
	t.Cleanup(r.line.Close)
	r.hubLink, err = link.Open(context.Background(), r.line.A(), fastLink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.hubLink.Close(context.Background()) })
	cfg.Locks = n
	cfg.Link = fastLink
	cfg.Logger = quiet
	if cfg.DecisionTimeout == 0 {
		cfg.DecisionTimeout = time.Second
	}
	if cfg.HelloRetry == 0 {
		cfg.HelloRetry = 100 * time.Millisecond
	}
	r.sim, err = sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sim.Attach(r.line.B()); err != nil {
		t.Fatal(err)
	}
	r.sim.Start()
	t.Cleanup(r.sim.Close)
	r.opts = session.Options{Transport: linkTransport{r.hubLink}, Decider: hub.NewEngine(store, hub.EngineOptions{}),
		Clock: clock, Store: session.NewKVStore(r.kv), Activity: r.activity, Logger: quiet,
		FloorEvery: time.Hour}
	r.open()
	return r
}

func (r *rig) open() {
	var err error
	r.locks, err = session.Open(r.opts)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = r.locks.Close(context.Background()) })
}

func (r *rig) pair(i int, door string) *sim.Lock {
	r.t.Helper()
	lk := r.sim.Locks()[i]
	l := r.sim.Labels()[i]
	_, key, err := lockmsg.ParseLabel(l.ID + " " + l.Key)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.locks.Pair(session.Pairing{Lock: lk.ID(), Key: key, Door: door}); err != nil {
		r.t.Fatal(err)
	}
	return lk
}

func present(t *testing.T, lk *sim.Lock, c sim.Credential) sim.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := lk.Present(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDecisionsFromTheStore(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 2, sim.Config{})
	lobby, apt := r.pair(0, radiotest.Lobby), r.pair(1, radiotest.Apartment)
	for _, c := range []struct {
		lk     *sim.Lock
		cred   sim.Credential
		reason string
	}{
		{lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}, "allowed_by_grant"},
		{apt, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}, "no_key_for_door"},
		{lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.InactiveCard)}, "credential_inactive"},
		{lobby, sim.Credential{Card: radiotest.CardBytes(radiotest.UnknownCard)}, "unknown_credential"},
		// Daily codes are short windows: an untrusted clock denies them.
		{lobby, sim.Credential{Code: "123456"}, "clock_untrusted"},
	} {
		res := present(t, c.lk, c.cred)
		if res.Reason != c.reason || res.Allowed != (c.reason == "allowed_by_grant") || res.Offline {
			t.Errorf("%+v at %s: %+v, want %s", c.cred, c.lk.ID().Hex(), res, c.reason)
		}
		if res.Allowed && res.UnlockSeconds != session.DefaultUnlockSeconds {
			t.Errorf("unlock %d s", res.UnlockSeconds)
		}
	}
	// A phone signs the door and nonce the lock shows it.
	ctx := context.Background()
	door, nonce, err := lobby.Challenge(ctx)
	if err != nil || door != radiotest.Lobby {
		t.Fatalf("Challenge = %q, %v", door, err)
	}
	sig := ed25519.Sign(r.phone, hub.MobileMessage(door, nonce))
	pub := r.phone.Public().(ed25519.PublicKey)
	if res := present(t, lobby, sim.Credential{PublicKey: pub, Nonce: nonce, Signature: sig}); !res.Allowed {
		t.Errorf("phone: %+v", res)
	}
	// A signature made for another door fails.
	_, nonce, _ = lobby.Challenge(ctx)
	sig = ed25519.Sign(r.phone, hub.MobileMessage(radiotest.Apartment, nonce))
	if res := present(t, lobby, sim.Credential{PublicKey: pub, Nonce: nonce, Signature: sig}); res.Reason != "signature_invalid" {
		t.Errorf("phone signing another door: %+v", res)
	}
	waitFor(t, "7 decisions recorded", func() bool { d, _ := r.activity.counts(); return d == 7 })
	st := r.locks.Stats()
	if st.Decisions != 7 || st.Allowed != 2 || st.Forged+st.Replayed+st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
	waitFor(t, "both locks' status", func() bool {
		ls := r.locks.Locks()
		return ls[0].Firmware != "" && ls[1].Firmware != ""
	})
	ls := r.locks.Locks()
	if len(ls) != 2 || ls[0].LastSeen.IsZero() || ls[0].BatteryPercent < 0 || ls[0].DoorState != "closed_locked" {
		t.Errorf("lock status %+v", ls)
	}
}

func TestUnpairedLockIsIgnored(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{DecisionTimeout: 200 * time.Millisecond})
	res := present(t, r.sim.Locks()[0], sim.Credential{Card: radiotest.CardBytes(radiotest.Card)})
	if !res.Offline || res.Allowed {
		t.Errorf("unpaired: %+v", res)
	}
	if r.locks.Stats().Unpaired == 0 {
		t.Error("unpaired envelope not counted")
	}
}

func TestReplayAndForgeryDroppedAndCounted(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{})
	lk := r.pair(0, radiotest.Lobby)
	present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)})
	ctx := context.Background()
	for range 3 {
		if err := lk.Inject(ctx, "replay"); err != nil {
			t.Fatal(err)
		}
	}
	if err := lk.Inject(ctx, "forge"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "drops counted", func() bool { st := r.locks.Stats(); return st.Replayed == 3 && st.Forged == 1 })
	st := r.locks.Stats()
	if st.FloorsSent != 1 || st.Decisions != 1 {
		t.Errorf("one floor per FloorEvery and no second decision: %+v", st)
	}
	if ls := r.locks.Locks()[0]; ls.Replayed != 3 || ls.Forged != 1 {
		t.Errorf("lock status %+v", ls)
	}
	// The lock still gets answers after the floor.
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Allowed {
		t.Errorf("after the attack: %+v", res)
	}
}

func TestOfflineDecisionsStoredBeforeAcked(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{})
	lk := r.pair(0, radiotest.Lobby)
	waitFor(t, "door assigned", func() bool { return lk.Door() == radiotest.Lobby })
	lk.Isolate(true)
	res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)})
	if !res.Offline || res.Reason != "unknown_credential" {
		t.Fatalf("isolated: %+v", res)
	}
	r.activity.mu.Lock()
	r.activity.fail = true
	r.activity.mu.Unlock()
	lk.Isolate(false)
	waitFor(t, "store failure", func() bool { return r.locks.Stats().EventStoreFailures > 0 })
	if lk.PendingEvents() != 1 {
		t.Fatal("an event the hub could not store was acknowledged")
	}
	r.activity.mu.Lock()
	r.activity.fail = false
	r.activity.mu.Unlock()
	present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}) // wakes it: it reports again
	lk.Isolate(true)
	lk.Isolate(false) // a reconnect hello: the lock sends what it holds
	waitFor(t, "event acknowledged", func() bool { return lk.PendingEvents() == 0 })
	_, events := r.activity.counts()
	if events != 1 {
		t.Fatalf("%d events stored, want 1", events)
	}
	e := r.activity.events[0]
	if e.Offline == nil || e.Offline.Door != radiotest.Lobby || e.Offline.Reason != hub.UnknownCredential || e.Seq != 1 {
		t.Errorf("event %+v", e)
	}
}

func TestCommandWaitsForTheLockToWake(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{Heartbeat: 300 * time.Millisecond, AwakeWindow: 100 * time.Millisecond})
	lk := r.pair(0, radiotest.Lobby)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := r.locks.Command(ctx, lk.ID(), &lockmsg.RemoteUnlock{UnlockSeconds: 5})
	if err != nil || res.Status != lockmsg.CommandDone {
		t.Fatalf("Command = %+v, %v", res, err)
	}
	if _, err := r.locks.Command(ctx, 0x1234, &lockmsg.RemoteUnlock{UnlockSeconds: 5}); !errors.Is(err, session.ErrUnknownLock) {
		t.Errorf("unknown lock: %v", err)
	}
}

func TestHubRestartKeepsCounters(t *testing.T) {
	noLeaks(t)
	r := newRig(t, 1, sim.Config{})
	lk := r.pair(0, radiotest.Lobby)
	present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)})
	_ = r.locks.Close(context.Background())
	r.open() // same store: the pairing and its counters come back
	if res := present(t, lk, sim.Credential{Card: radiotest.CardBytes(radiotest.Card)}); !res.Allowed {
		t.Errorf("after a hub restart: %+v", res)
	}
	if ls := r.locks.Locks(); len(ls) != 1 || ls[0].Door != radiotest.Lobby {
		t.Errorf("pairings after restart: %+v", ls)
	}
	// Pairing again with another key starts the counters over.
	res, err := r.locks.Pair(session.Pairing{Lock: lk.ID(), Key: lockmsg.Key{1}, Door: radiotest.Lobby})
	if err != nil || !res.KeyChanged {
		t.Fatalf("Pair = %+v, %v", res, err)
	}
	if _, err := r.locks.Pair(session.Pairing{Lock: lk.ID(), Key: lockmsg.Key{1}, Door: "no such door!"}); !errors.Is(err, session.ErrInvalidPairing) {
		t.Errorf("bad door id: %v", err)
	}
}
