package main

import (
	"context"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink/console"
	"github.com/doorhub/doorhub/cloudlink/controlplane"
	"github.com/doorhub/doorhub/hub"
)

// TestSeedDoorUpdateTasksAndOfflineDecisions walks the seed's "door update
// tasks" with a hub: a keycard reaches the lobby's lock by itself and the
// cloud's pending view says when; with the hub unreachable the lock
// decides alone, and those decisions come up in the cloud's activity as
// decided by the lock offline — the lock, its counter and clock, and who
// (the entry that decided); a revocation made meanwhile is pending at the
// lobby, with its age, until the lock wakes, and then the lock alone
// denies the card.
func TestSeedDoorUpdateTasksAndOfflineDecisions(t *testing.T) {
	r := newSeedRig(t)
	const bea, stranger = "b0b0b0b0", "5e5e5e5e"
	r.do("invite", console.Invite{Email: "bea@example.com", Name: "Bea", Method: "app", Keys: []string{"Building"},
		Start: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
	r.do("keycard", console.KeycardRequest{Email: "bea@example.com", Card: bea, Active: true})
	r.synced()
	lobby := r.locks["lobby"]
	dl := r.hub.m.DoorLists

	// The door update reaches the lock by itself, and the cloud says so.
	lobbyPending := func() controlplane.PendingDoorView {
		var views []controlplane.PendingView
		if err := r.client.Call(context.Background(), "pending", controlplane.PendingRequest{Hub: "hub-elm"}, &views); err != nil {
			t.Fatal(err)
		}
		for _, v := range views {
			for _, d := range v.Doors {
				if d.Door == "lobby" && v.Version == r.cloud.Console.Store().Version() {
					return d
				}
			}
		}
		return controlplane.PendingDoorView{Pending: -1}
	}
	cardPending := func() []string {
		var p console.PersonView
		if err := r.client.Call(context.Background(), "people/show", console.EmailRequest{Email: "bea@example.com"}, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Credentials) != 1 {
			t.Fatalf("Bea's credentials: %+v", p.Credentials)
		}
		return p.Credentials[0].Pending
	}
	waitUntil(t, "Bea's card at the lobby's lock, synced in the cloud's view", 15*time.Second, func() bool {
		return len(dl.KeycardPending(bea)) == 0 && lobbyPending().Synced && len(cardPending()) == 0
	})

	// The hub is unreachable: the lock decides alone.
	lobby.Isolate(true)
	if res := r.present("lobby", bea); !res.Offline || !res.Allowed {
		t.Fatalf("Bea's card at the lock alone: %+v", res)
	}
	if res := r.present("lobby", stranger); !res.Offline || res.Allowed || res.Reason != "unknown_credential" {
		t.Fatalf("a stranger's card at the lock alone: %+v", res)
	}

	// Bea's access is revoked meanwhile: pending at the lobby at once,
	// with the revocation's age, and the lock still admits her.
	r.do("revoke", console.EmailRequest{Email: "bea@example.com"})
	r.synced()
	var p controlplane.PendingDoorView
	waitUntil(t, "the revocation pending at the lobby in the cloud's view", 10*time.Second, func() bool {
		p = lobbyPending()
		return p.Pending > 0 && !p.Synced && p.Oldest != nil
	})
	if res := r.present("lobby", bea); !res.Offline || !res.Allowed {
		t.Fatalf("Bea at the lock alone before it heard of the revocation: %+v", res)
	}
	// People show: her card's change is pending at the lobby, per lock.
	waitUntil(t, "Bea's card pending at the lobby in people show", 10*time.Second, func() bool {
		got := cardPending()
		return len(got) == 1 && got[0] == "lobby"
	})

	// The lock reaches the hub again: its decisions come up as decided by
	// the lock offline, and the revocation is applied.
	lobby.Isolate(false)
	offline := r.activity("Bea's offline decision", func(e controlplane.ActivityView) bool {
		return e.Door == "lobby" && e.DecidedByLock != nil && e.Email == "bea@example.com"
	})
	if l := offline.DecidedByLock; l.Lock != lobby.ID().Hex() || l.Seq == 0 || l.Clock.IsZero() ||
		l.Entry != hub.EntryRef(hub.EntryKeycard, []byte{0xb0, 0xb0, 0xb0, 0xb0}) || offline.Allowed == nil || !*offline.Allowed {
		t.Fatalf("Bea's offline decision: %+v %+v", offline, l)
	}
	if d := time.Since(offline.DecidedByLock.Clock); d < 0 || d > time.Minute {
		t.Fatalf("the lock's clock: %v", offline.DecidedByLock.Clock)
	}
	st := r.activity("the stranger's offline decision", func(e controlplane.ActivityView) bool {
		return e.Door == "lobby" && e.DecidedByLock != nil && e.Reason == "unknown_credential"
	})
	if st.Email != "" || st.DecidedByLock.Entry != 0 {
		t.Fatalf("an unknown card's offline decision names someone: %+v %+v", st, st.DecidedByLock)
	}
	waitUntil(t, "the revocation applied at the lobby", 15*time.Second, func() bool {
		return len(dl.KeycardPending(bea)) == 0 && lobbyPending().Synced && len(cardPending()) == 0
	})
	lobby.Isolate(true)
	if res := r.present("lobby", bea); !res.Offline || res.Allowed {
		t.Fatalf("Bea at the lock alone after the revocation: %+v", res)
	}
	lobby.Isolate(false)
}
