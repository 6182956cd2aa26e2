package cloudlink_test

import (
	"sync"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// TestLinkUnlockReplayAfterRestart: a remote unlock carried out, then the
// hub restarted (client, outbox and store closed and opened again from
// disk): the same signed message, delivered again within its lifetime,
// is refused as a replay and the door stays shut. The remembered ids
// live in the store's state (ClientOptions.State), not in memory — also
// when the hub comes back with a clock that is untrusted and runs ahead,
// which must not expire them before the clock is right again.
func TestLinkUnlockReplayAfterRestart(t *testing.T) {
	url := startBroker(t).URL()
	for _, c := range []struct {
		name  string
		clock func(t *testing.T) *hub.Clock
	}{
		{"trusted clock", func(t *testing.T) *hub.Clock { return trustedClock(t) }},
		{"untrusted clock ahead, trusted later", func(t *testing.T) *hub.Clock {
			c, err := hub.NewClock(hub.ClockOptions{System: func() time.Time { return time.Now().Add(time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			store, outbox := openDurable(t, dir)
			r := newRig(t, url, true, withStore(store, outbox))
			r.waitConnected()
			r.send(r.commit(seedOps()...))
			r.waitAck(1)

			out, err := r.cloud.Signer().Seal(r.hubID, &cloudlink.Unlock{Door: "front", By: "p-maria", HoldSeconds: 5}, cloudlink.SealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.cloud.Publish(out); err != nil {
				t.Fatal(err)
			}
			if v, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Replies) > 0 }); !ok ||
				v.Replies[0].Status != cloudlink.ReplyDone {
				t.Fatalf("replies %+v", v.Replies)
			}

			// The hub restarts: everything closed, opened again from the disk.
			r.stop()
			if err := outbox.Close(); err != nil {
				t.Fatal(err)
			}
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			r.store, r.outbox = openDurable(t, dir)
			r.clock = c.clock(t)
			r.start()
			r.waitConnected()
			if !r.clock.Now().Trusted {
				r.clock.TrustCloudTime(time.Now())
			}
			sec := len(r.ch.View().Security)
			if err := r.cloud.Publish(out); err != nil {
				t.Fatal(err)
			}
			v, _ := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Security) > sec })
			if len(v.Security) == sec || v.Security[sec].Reason != cloudlink.ReasonReplay || v.Security[sec].Message != out.ID {
				t.Fatalf("the unlock replayed after a restart: security events %+v", v.Security[sec:])
			}
			if got := r.unlocker.opened(); len(got) != 1 {
				t.Fatalf("doors opened %v, want front once", got)
			}
			if n := len(v.Replies); n != 1 {
				t.Fatalf("%d replies, want the first only", n)
			}
		})
	}
}

// floorDisk is a hub.FloorStore in memory.
type floorDisk struct {
	mu    sync.Mutex
	saved time.Time
}

func (f *floorDisk) LoadFloor() (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saved, nil
}

func (f *floorDisk) SaveFloor(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = t
	return nil
}

func (f *floorDisk) get() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saved
}

// TestLinkTimeHintRaisesFloor: a hub whose clock booted a month behind
// gets an unsolicited signed time hint: its clock stays untrusted, but
// its floor — in memory and on disk — rises to the hint's time, so "now"
// is no longer a month behind. A hint whose time lies outside its own
// signed window, and the same hint replayed, move nothing.
func TestLinkTimeHintRaisesFloor(t *testing.T) {
	url := startBroker(t).URL()
	disk := &floorDisk{}
	clock, err := hub.NewClock(hub.ClockOptions{Floor: disk,
		System: func() time.Time { return time.Now().Add(-30 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, url, true, withClock(clock))
	r.waitConnected()
	before := clock.Status().Floor

	// Far ahead of its own window: not a bound on anything.
	if err := r.ch.SendBody(&cloudlink.TimeHint{Now: time.Now().Add(24 * time.Hour)}, cloudlink.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	hint := time.Now().UTC().Truncate(time.Millisecond)
	out, err := r.cloud.Signer().Seal(r.hubID, &cloudlink.TimeHint{Now: hint}, cloudlink.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cloud.Publish(out); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for disk.get().Before(hint) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st := clock.Status()
	if st.Trusted || st.Floor.Before(hint) || st.Floor.After(hint.Add(time.Minute)) || !before.Before(hint) {
		t.Fatalf("clock %+v after a hint of %v (floor before %v)", st, hint, before)
	}
	if saved := disk.get(); saved.Before(hint) || saved.After(hint.Add(time.Minute)) {
		t.Fatalf("persisted floor %v, hint %v", saved, hint)
	}
	if now := clock.Now(); now.Trusted || now.Time.Before(hint) {
		t.Fatalf("now %+v", now)
	}

	// The same hint again is a replay: refused, nothing moves.
	sec := len(r.ch.View().Security)
	if err := r.cloud.Publish(out); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Security) > sec }); len(v.Security) == sec ||
		v.Security[sec].Reason != cloudlink.ReasonReplay {
		t.Fatalf("replayed hint: %+v", v.Security[sec:])
	}
	if clock.Now().Trusted {
		t.Fatal("a time hint made the clock trusted")
	}
}
