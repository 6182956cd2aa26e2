package cloudlink_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/storetest"
)

// TestLinkBatches drives the ordering rules of docs/cloud-protocol.md 5.1
// with a cloud that answers nothing by itself: batches in order, a
// duplicate, a gap (nothing applied past it), out-of-order delivery, an
// old batch, and a batch the store refuses.
func TestLinkBatches(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		r := newRig(t, url, true)
		r.waitConnected()
		startup, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Needs) > 0 })
		if !ok || startup.Needs[0].Reason != cloudlink.NeedStartup || startup.Needs[0].FromVersion != 0 || !startup.Needs[0].Snapshot {
			t.Fatalf("startup need %+v", startup.Needs)
		}

		// In order.
		b1 := r.commit(seedOps()...)
		r.send(b1)
		var bs []*hub.Batch
		for i := 0; i < 4; i++ {
			bs = append(bs, r.commit(personOps(i)...))
			r.send(bs[i])
		}
		r.waitAck(5)
		r.sameAsCloud(5)

		// A duplicate is acknowledged again and changes nothing.
		before := storetest.ContentOf(t, r.store)
		acks := len(r.ch.View().Acks)
		r.send(bs[1])
		v, _ := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Acks) > acks })
		if v.LastAck().Version != 5 || v.LastAck().Rejected != nil {
			t.Fatalf("ack of a duplicate %+v", v.LastAck())
		}
		storetest.RequireSameContent(t, before, storetest.ContentOf(t, r.store), "after a duplicate")

		// A gap: 8 arrives before 6 and 7. Nothing past the gap applies; the
		// hub asks from 5.
		b6, b7, b8 := r.commit(personOps(10)...), r.commit(personOps(11)...), r.commit(personOps(12)...)
		needs := len(r.ch.View().Needs)
		r.send(b8)
		v, ok = r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Needs) > needs })
		if n := v.Needs[len(v.Needs)-1]; !ok || n.Reason != cloudlink.NeedGap || n.FromVersion != 5 || n.Snapshot {
			t.Fatalf("need after a gap %+v", v.Needs)
		}
		if r.store.Version() != 5 {
			t.Fatalf("applied past a gap: version %d", r.store.Version())
		}
		// Out of order: 7 before 6 is another gap; then 6, 7, 8 apply.
		r.send(b7)
		r.send(b6)
		r.waitAck(6)
		if r.store.Version() != 6 {
			t.Fatalf("version %d after 7 then 6", r.store.Version())
		}
		r.send(b7)
		r.send(b8)
		r.waitAck(8)
		r.sameAsCloud(8)

		// An older batch is ignored, acknowledged with the version held.
		acks = len(r.ch.View().Acks)
		r.send(b1)
		v, _ = r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Acks) > acks })
		if v.LastAck().Version != 8 {
			t.Fatalf("ack of an old batch %+v", v.LastAck())
		}

		// A verified batch the store refuses: acknowledged with the
		// rejection, the set unchanged.
		before = storetest.ContentOf(t, r.store)
		bad := &hub.Batch{Site: site, Version: 9, Base: 8, IssuedAt: time.Now(),
			Ops: []hub.Op{{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-x", PersonID: "p-anna", KeyID: "no-such-key",
				StartsAt: time.Now(), Method: hub.MethodApp}}}}
		acks = len(r.ch.View().Acks)
		r.send(bad)
		v, _ = r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Acks) > acks })
		rej := v.LastAck().Rejected
		if rej == nil || rej.Version != 9 || v.LastAck().Version != 8 || rej.Error == "" {
			t.Fatalf("ack of a refused batch %+v", v.LastAck())
		}
		storetest.RequireSameContent(t, before, storetest.ContentOf(t, r.store), "after a refused batch")
		if st := r.client.Stats(); st.BatchesApplied != 8 || st.Duplicates < 2 || st.Gaps < 2 || st.BatchesRejected != 1 ||
			st.LastReceived.IsZero() || time.Since(st.LastReceived) > time.Minute {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestLinkSnapshotWhileDeltasComeIn starts an empty hub against a cloud
// that holds a site already: the hub's startup need is answered with a
// snapshot in many chunks while changes keep being made. The cloud holds
// them back until the snapshot is acknowledged (one thing at a time),
// then the hub catches up to the cloud's set exactly.
func TestLinkSnapshotWhileDeltasComeIn(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		cloud := newCloud(t, url, false, cloudlink.MinChunkBytes)
		r := newRig(t, url, false, withCloud(cloud), withCloudSet(func(ch *cloudlink.CloudHub) {
			mustCommit(t, ch, seedOps()...)
			var ops []hub.Op
			for i := 0; i < 300; i++ {
				ops = append(ops, personOps(i)...)
			}
			mustCommit(t, ch, ops...)
		}))
		for i := 300; i < 400; i++ {
			if err := r.ch.Send(r.commit(personOps(i)...)); err != nil {
				t.Fatal(err)
			}
		}
		v := r.waitAck(r.ch.Version())
		r.sameAsCloud(r.ch.Version())
		snap := false
		for _, a := range v.Acks {
			if a.SnapshotID != "" && a.Rejected == nil {
				snap = true
			}
		}
		if !snap {
			t.Fatalf("no snapshot was acknowledged: %+v", v.Acks)
		}
	})
}

// TestLinkSnapshotInterleaved delivers, by hand, a snapshot whose chunks
// are interleaved with batches the hub cannot apply yet (built on the
// snapshot's version), a repeated chunk and a stray chunk of another
// snapshot: the hub drops the batches without asking for a gap, commits
// the snapshot whole, and then applies the batches sent again.
func TestLinkSnapshotInterleaved(t *testing.T) {
	r := newRig(t, startBroker(t).URL(), true)
	r.waitConnected()
	mustCommit(t, r.ch, seedOps()...)
	var ops []hub.Op
	for i := 0; i < 100; i++ {
		ops = append(ops, personOps(i)...)
	}
	mustCommit(t, r.ch, ops...)
	snap := &hub.Snapshot{Site: site, Version: r.ch.Version()}
	r.ch.Model().View(func(cat *hub.Catalog) {
		_ = cat.Records(func(op hub.Op) error { snap.Ops = append(snap.Ops, op); return nil })
	})
	chunks, err := cloudlink.SplitSnapshot(snap, "snap-a", cloudlink.MinChunkBytes)
	if err != nil || len(chunks) < 4 {
		t.Fatalf("%d chunks, %v", len(chunks), err)
	}
	other, _ := cloudlink.SplitSnapshot(snap, "snap-b", cloudlink.MinChunkBytes)
	want := storetest.ContentOf(t, r.ch.Model())
	next := r.commit(personOps(500)...) // built on the snapshot's version
	needs := len(r.ch.View().Needs)
	sendChunk := func(c *cloudlink.SnapshotChunk) {
		t.Helper()
		if err := r.ch.SendBody(c, cloudlink.SealOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range chunks {
		sendChunk(&chunks[i])
		switch i {
		case 1:
			r.send(next) // cannot apply yet: dropped, no need while the snapshot is in progress
			sendChunk(&chunks[1])
		case 2:
			sendChunk(&other[3]) // a stray chunk: dropped, the snapshot goes on
		}
		if i < len(chunks)-1 && r.store.Version() != 0 {
			t.Fatalf("the set changed before the last chunk: version %d", r.store.Version())
		}
	}
	v := r.waitAck(snap.Version)
	if a := v.LastAck(); a.SnapshotID != "snap-a" || a.Rejected != nil {
		t.Fatalf("ack %+v", a)
	}
	if len(v.Needs) != needs {
		t.Fatalf("needs while the snapshot was in progress: %+v", v.Needs[needs:])
	}
	storetest.RequireSameContent(t, want, storetest.ContentOf(t, r.store), "after the snapshot")
	r.send(next) // it was dropped: sent again, it applies
	r.waitAck(next.Version)
	r.sameAsCloud(next.Version)

	// A snapshot older than the set is refused at its first chunk and
	// acknowledged with the version held; its other chunks are strays.
	acks := len(r.ch.View().Acks)
	sendChunk(&other[0])
	v, _ = r.ch.Wait(5*time.Second, func(v *HubView) bool { return len(v.Acks) > acks })
	if a := v.LastAck(); a.Version != next.Version || a.Rejected != nil {
		t.Fatalf("ack of an old snapshot %+v", a)
	}
	// A corrupted snapshot (its digest does not match its chunks), and
	// one whose chunks skip: each is rejected, asked for again, reported,
	// and the set stays.
	before := storetest.ContentOf(t, r.store)
	snap.Version = next.Version + 1
	for _, skip := range []bool{false, true} {
		bad, _ := cloudlink.SplitSnapshot(snap, fmt.Sprintf("snap-bad-%v", skip), cloudlink.MinChunkBytes)
		sec := len(r.ch.View().Security)
		for i := range bad {
			if !skip {
				bad[i].SHA256 = strings.Repeat("0", 64)
			}
			if skip && i == 2 {
				continue
			}
			sendChunk(&bad[i])
		}
		v, ok := r.ch.Wait(5*time.Second, func(v *HubView) bool {
			return v.LastAck().Rejected != nil && hasNeed(v.Needs, cloudlink.NeedSnapshotFailed) && len(v.Security) > sec
		})
		if !ok {
			t.Fatalf("skip %v: no rejection of a broken snapshot: %+v", skip, v.LastAck())
		}
		if want := map[bool]string{false: cloudlink.ReasonSnapshotDigest, true: cloudlink.ReasonSnapshotOrder}[skip]; v.Security[sec].Reason != want {
			t.Fatalf("skip %v: security event %+v", skip, v.Security[sec])
		}
		storetest.RequireSameContent(t, before, storetest.ContentOf(t, r.store), "after a broken snapshot")
		time.Sleep(250 * time.Millisecond) // the need interval
	}
}

type HubView = cloudlink.HubView

func mustCommit(t testing.TB, ch *cloudlink.CloudHub, ops ...hub.Op) *hub.Batch {
	t.Helper()
	b, err := ch.Commit(site, ops...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLinkRefusals sends forged, unsigned, replayed, expired, malformed
// and oversize messages: each changes nothing, is counted and reported
// as a security event with its reason; an expired batch is asked for
// again.
func TestLinkRefusals(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		r := newRig(t, url, true, withOptions(func(o *cloudlink.ClientOptions) { o.SecurityFold = 200 * time.Millisecond }))
		r.waitConnected()
		r.send(r.commit(seedOps()...))
		r.waitAck(1)
		next := r.commit(personOps(1)...) // version 2, sealed below in bad ways
		before := storetest.ContentOf(t, r.store)
		topic, _ := cloudlink.Topic(r.hubID, cloudlink.ChanBatch)
		cmdTopic, _ := cloudlink.Topic(r.hubID, cloudlink.ChanCommand)
		good, err := cloudlink.NewSigner(testKey).Seal(r.hubID, &cloudlink.Batch{Batch: *next}, cloudlink.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := cloudlink.NewSigner(otherKey).Seal(r.hubID, &cloudlink.Batch{Batch: *next}, cloudlink.SealOptions{})
		cut := strings.Index(string(good.Payload), `,"sig":`)
		unsigned := append(append([]byte(nil), good.Payload[:cut]...), '}')
		old := time.Now().Add(-40 * 24 * time.Hour)
		expired, _ := cloudlink.NewSigner(testKey).Seal(r.hubID, &cloudlink.Batch{Batch: *next},
			cloudlink.SealOptions{IssuedAt: old, ExpiresAt: old.Add(cloudlink.DefaultBatchLifetime)})
		otherHub, _ := cloudlink.NewSigner(testKey).Seal("hub-other", &cloudlink.Batch{Batch: *next}, cloudlink.SealOptions{})
		oversize := make([]byte, cloudlink.MaxPayload+1)
		for i := range oversize {
			oversize[i] = ' '
		}
		cases := []struct {
			name, topic string
			payload     []byte
			reason      string
		}{
			{"forged", topic, forged.Payload, cloudlink.ReasonBadSignature},
			{"unsigned", topic, unsigned, cloudlink.ReasonBadSignature},
			{"expired", topic, expired.Payload, cloudlink.ReasonExpired},
			{"malformed", topic, []byte(`{"v":1,"type":"batch",`), cloudlink.ReasonMalformed},
			{"oversize", topic, oversize, cloudlink.ReasonOversize},
			{"another hub's", topic, otherHub.Payload, cloudlink.ReasonWrongHub},
			{"on the wrong topic", cmdTopic, good.Payload, cloudlink.ReasonWrongTopic},
		}
		for _, c := range cases {
			sec := len(r.ch.View().Security)
			if err := r.cloud.PublishRaw(c.topic, c.payload, 1); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			v, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Security) > sec })
			if !ok {
				t.Fatalf("%s: no security event", c.name)
			}
			if ev := v.Security[len(v.Security)-1]; ev.Reason != c.reason || ev.Topic != c.topic || ev.Count < 1 {
				t.Fatalf("%s: security event %+v, want reason %s", c.name, ev, c.reason)
			}
			storetest.RequireSameContent(t, before, storetest.ContentOf(t, r.store), c.name)
			if r.store.Version() != 1 {
				t.Fatalf("%s: version %d", c.name, r.store.Version())
			}
		}
		// The expired batch was asked for again.
		if v := r.ch.View(); !hasNeed(v.Needs, cloudlink.NeedExpired) {
			t.Fatalf("no need after an expired batch: %+v", v.Needs)
		}
		st := r.client.Stats()
		for _, c := range cases {
			if st.Refused[c.reason] == 0 {
				t.Errorf("refusals not counted for %s: %v", c.reason, st.Refused)
			}
		}
		// A flood of the same refusal is folded: one event at once, the
		// rest counted in one event when the fold's window is over.
		time.Sleep(250 * time.Millisecond)
		sec := len(r.ch.View().Security)
		for i := 0; i < 50; i++ {
			_ = r.cloud.PublishRaw(topic, []byte("garbage"), 1)
		}
		r.send(next) // after the flood: the good batch still applies
		r.waitAck(2)
		v, _ := r.ch.Wait(5*time.Second, func(v *HubView) bool {
			n := 0
			for _, ev := range v.Security[sec:] {
				n += ev.Count
			}
			return n == 50
		})
		if got := len(v.Security) - sec; got < 2 || got > 10 {
			t.Fatalf("a flood of 50 garbage messages made %d security events, want a few (%+v)", got, v.Security[sec:])
		}
	})
}

func hasNeed(needs []cloudlink.Need, reason string) bool {
	for _, n := range needs {
		if n.Reason == reason {
			return true
		}
	}
	return false
}

// TestLinkRemoteUnlock: a verified unlock opens the door once; its replay
// is refused; an unknown door, an untrusted clock and a busy lock are
// answered as such.
func TestLinkRemoteUnlock(t *testing.T) {
	url := startBroker(t).URL()
	r := newRig(t, url, true)
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
	v, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Replies) > 0 && len(v.Events) > 0 })
	if !ok || v.Replies[0].Status != cloudlink.ReplyDone || v.Replies[0].Command != out.ID {
		t.Fatalf("reply %+v", v.Replies)
	}
	for _, ev := range v.Events {
		if ev.Kind != cloudlink.EventRemoteUnlock || ev.Remote.Command != out.ID || ev.Door != "front" || ev.Remote.By != "p-maria" {
			t.Fatalf("event %+v", ev)
		}
	}
	// The same message again: a replay, the door stays shut.
	sec := len(v.Security)
	if err := r.cloud.Publish(out); err != nil {
		t.Fatal(err)
	}
	v, _ = r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Security) > sec })
	if len(v.Security) == sec || v.Security[sec].Reason != cloudlink.ReasonReplay {
		t.Fatalf("replay: %+v", v.Security)
	}
	if got := r.unlocker.opened(); len(got) != 1 {
		t.Fatalf("doors opened %v", got)
	}

	reply := func(door string) cloudlink.Reply {
		t.Helper()
		n := len(r.ch.View().Replies)
		id, err := r.ch.Unlock(door, "p-maria", 0)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return len(v.Replies) > n })
		if !ok || v.Replies[n].Command != id {
			t.Fatalf("no reply to %s", id)
		}
		return v.Replies[n]
	}
	if rp := reply("cellar"); rp.Status != cloudlink.ReplyRefused || rp.Reason != cloudlink.ReplyUnknownDoor {
		t.Fatalf("unknown door: %+v", rp)
	}
	r.unlocker.mu.Lock()
	r.unlocker.err = cloudlink.ErrLockBusy
	r.unlocker.mu.Unlock()
	if rp := reply("front"); rp.Status != cloudlink.ReplyFailed || rp.Reason != cloudlink.ReplyBusy {
		t.Fatalf("busy lock: %+v", rp)
	}
	r.unlocker.mu.Lock()
	r.unlocker.err = errors.New("no answer")
	r.unlocker.mu.Unlock()
	if rp := reply("front"); rp.Status != cloudlink.ReplyFailed || rp.Reason != cloudlink.ReplyLockUnreachable {
		t.Fatalf("unreachable lock: %+v", rp)
	}
	r.clock.Distrust()
	if rp := reply("front"); rp.Status != cloudlink.ReplyRefused || rp.Reason != cloudlink.ReplyClockUntrusted {
		t.Fatalf("untrusted clock: %+v", rp)
	}
	if got := r.unlocker.opened(); len(got) != 1 {
		t.Fatalf("doors opened %v", got)
	}
}

// TestLinkTime: an untrusted hub asks for the time when it connects and
// trusts the signed answer to its own request; an unsolicited time hint
// is not trusted.
func TestLinkTime(t *testing.T) {
	url := startBroker(t).URL()
	clock, err := hub.NewClock(hub.ClockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The cloud does not answer at first: an unsolicited hint comes.
	r := newRig(t, url, true, withClock(clock))
	r.waitConnected()
	if _, ok := r.ch.Wait(5*time.Second, func(v *cloudlink.HubView) bool { return v.TimeRequests > 0 }); !ok {
		t.Fatal("no time request from an untrusted hub")
	}
	if err := r.ch.SendBody(&cloudlink.TimeHint{Now: time.Now()}, cloudlink.SealOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if clock.Now().Trusted {
		t.Fatal("an unsolicited time hint made the clock trusted")
	}
	r.stop()

	// An answering cloud: the hub trusts the cloud's time.
	r2 := newRig(t, url, false, withClock(clock))
	r2.waitConnected()
	deadline := time.Now().Add(5 * time.Second)
	for !clock.Now().Trusted && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := clock.Status(); !st.Trusted || st.Source != hub.SourceCloud {
		t.Fatalf("clock %+v", st)
	}
}

// TestLinkActivityLanes: a backlog waits when the hub connects, live
// events keep coming while it drains at a limited rate: every event
// reaches the cloud once, each lane in seq order, the live ones long
// before the backlog is through, and the outbox ends empty.
func TestLinkActivityLanes(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		o := hub.NewMemOutbox(testStream)
		appendEvents(t, o, "front", 0, 2000)
		r := newRig(t, url, true, withStore(hub.NewMemStore(), o), withOptions(func(co *cloudlink.ClientOptions) {
			co.PublishRate, co.PublishBurst, co.MaxEventsPerMessage, co.BacklogThreshold = 100, 1, 20, 100
		}))
		r.waitConnected()
		time.Sleep(100 * time.Millisecond)
		appendEvents(t, o, "apt-3b", 2000, 5)
		v, ok := r.ch.Wait(30*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == 2005 })
		if !ok {
			t.Fatalf("%d of 2005 events arrived", len(v.Events))
		}
		lastSeq := map[bool]uint64{}
		firstLive, lastBacklog := -1, -1
		for i, id := range v.Order {
			ev := v.Events[id]
			live := ev.Door == "apt-3b"
			if ev.Seq <= lastSeq[live] {
				t.Fatalf("lane live=%v: seq %d after %d", live, ev.Seq, lastSeq[live])
			}
			lastSeq[live] = ev.Seq
			if live && firstLive < 0 {
				firstLive = i
			}
			if !live {
				lastBacklog = i
			}
		}
		if firstLive > lastBacklog/2 {
			t.Fatalf("the first live event arrived as number %d, behind most of the backlog (%d)", firstLive, lastBacklog)
		}
		deadline := time.Now().Add(5 * time.Second)
		for o.Status().Pending > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if p := o.Status().Pending; p != 0 {
			t.Fatalf("%d events still in the outbox after their PUBACK", p)
		}
	})
}

// TestLinkSnapshotBadOps: signed snapshots whose chunk 1 holds ops that
// do not decode, or ops the store refuses, reach the store through the
// client's two stages (verified and decoded ahead, applied in order): each
// is rejected and asked for again, and the set stays as it was; the
// good snapshot after them applies.
func TestLinkSnapshotBadOps(t *testing.T) {
	r := newRig(t, startBroker(t).URL(), true)
	r.waitConnected()
	r.send(r.commit(seedOps()...))
	r.waitAck(1)
	var ops []hub.Op
	for i := 0; i < 100; i++ {
		ops = append(ops, personOps(i)...)
	}
	mustCommit(t, r.ch, ops...)
	snap := &hub.Snapshot{Site: site, Version: r.ch.Version()}
	r.ch.Model().View(func(cat *hub.Catalog) {
		_ = cat.Records(func(op hub.Op) error { snap.Ops = append(snap.Ops, op); return nil })
	})
	before := storetest.ContentOf(t, r.store)
	for _, c := range []struct {
		name string
		ops  string
	}{
		{"ops that do not decode", `[{"op":"put_person","person":7}]`},
		{"ops the store refuses", `[{"op":"put_grant","grant":{"id":"g-x","person_id":"nobody","key_id":"building","starts_at":"2026-01-01T00:00:00Z","method":"app"}}]`},
	} {
		bad, err := cloudlink.SplitSnapshot(snap, "snap-"+strings.ReplaceAll(c.name, " ", "-"), cloudlink.MinChunkBytes)
		if err != nil || len(bad) < 3 {
			t.Fatalf("%d chunks, %v", len(bad), err)
		}
		bad[1].Ops = json.RawMessage(c.ops)
		acks := len(r.ch.View().Acks)
		for i := range bad {
			if err := r.ch.SendBody(&bad[i], cloudlink.SealOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		v, ok := r.ch.Wait(5*time.Second, func(v *HubView) bool {
			return len(v.Acks) > acks && v.LastAck().Rejected != nil && hasNeed(v.Needs, cloudlink.NeedSnapshotFailed)
		})
		if !ok {
			t.Fatalf("%s: no rejection: %+v", c.name, v.LastAck())
		}
		if st := r.client.Stats(); st.SnapshotsFailed == 0 || st.Snapshots != 0 {
			t.Fatalf("%s: stats %+v", c.name, st)
		}
		storetest.RequireSameContent(t, before, storetest.ContentOf(t, r.store), c.name)
		time.Sleep(250 * time.Millisecond) // the need interval
	}
	good, err := cloudlink.SplitSnapshot(snap, "snap-good", cloudlink.MinChunkBytes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range good {
		if err := r.ch.SendBody(&good[i], cloudlink.SealOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if v := r.waitAck(snap.Version); v.LastAck().SnapshotID != "snap-good" || v.LastAck().Rejected != nil {
		t.Fatalf("ack %+v", v.LastAck())
	}
	r.sameAsCloud(snap.Version)
}
