package cloudlink_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
)

// benchEvents is the backlog of the drain benchmarks.
const benchEvents = 100000

// benchDecision is the kind of decision the backlog holds: a visible
// keycard decision with a person and a grant (about 330 bytes as an
// activity event).
func benchDecision(i int) hub.Decision {
	return hub.Decision{Door: fmt.Sprintf("d-%03d", i%200), At: fakeStart.Add(time.Duration(i) * time.Millisecond),
		Kind: hub.CredKeycard, Allowed: true, Reason: hub.AllowedByGrant, ClockTrusted: true,
		Subject: hub.SubjectPerson, PersonID: fmt.Sprintf("p-%05d", i%100000), GrantID: fmt.Sprintf("g-p-%05d", i%100000),
		Visibility: hub.Visible}
}

// fillOutbox appends n decisions from many goroutines (group commits).
func fillOutbox(b *testing.B, o hub.Outbox, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				if _, err := o.Append(context.Background(), hub.AccessActivity(benchDecision(i))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkDrainBacklog drains 100,000 buffered events from the durable
// outbox to a broker on loopback, with the cloud subscribed, until the
// outbox is empty (every event acknowledged by the broker and removed):
// within the default rate (90 publishes a second after a burst of 10, as
// AWS IoT Core allows 100) and without a limit. max-pub/s is the most
// publishes of the connection in any one-second window.
func BenchmarkDrainBacklog(b *testing.B) {
	for _, c := range []struct {
		name string
		rate float64
	}{{"limited", 0}, {"unlimited", -1}} {
		b.Run(c.name, func(b *testing.B) {
			broker := startBroker(b)
			cloud := newCloud(b, broker.URL(), true, 0)
			var total time.Duration
			var maxRate, pubs uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				store, outbox := openDurable(b, b.TempDir())
				fillOutbox(b, outbox, benchEvents)
				r := &rig{t: b, url: broker.URL(), hubID: fmt.Sprintf("hub-bench-%d-%d", i, time.Now().UnixNano()),
					store: store, outbox: outbox, clock: trustedClock(b), cloud: cloud, unlocker: &fakeUnlocker{}, opts: fastOptions()}
				r.opts.PublishRate = c.rate
				r.ch = cloud.Hub(r.hubID)
				b.StartTimer()
				start := time.Now()
				r.start()
				var window []uint64 // publishes, sampled every 50 ms
				for outbox.Status().Pending > 0 {
					time.Sleep(50 * time.Millisecond)
					window = append(window, r.client.Stats().Publishes)
					if n := len(window); n > 20 {
						maxRate = max(maxRate, window[n-1]-window[n-21])
					}
					if time.Since(start) > 5*time.Minute {
						b.Fatal("the backlog did not drain in 5 minutes")
					}
				}
				total += time.Since(start)
				b.StopTimer()
				pubs += r.client.Stats().Publishes
				if v, _ := r.ch.Wait(10*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == benchEvents }); len(v.Events) != benchEvents {
					b.Fatalf("the cloud got %d of %d events", len(v.Events), benchEvents)
				}
				r.stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(benchEvents*b.N)/total.Seconds(), "events/s")
			b.ReportMetric(float64(pubs)/float64(b.N), "publishes")
			b.ReportMetric(float64(maxRate), "max-pub/s")
		})
	}
}

// BenchmarkRawPublish is the baseline of BenchmarkDrainBacklog: the same
// 100,000 events, one QoS 1 message each (an activity message of one
// event), published by a bare paho client to the same kind of broker with
// the cloud subscribed, waiting for each PUBACK before the next ("sync"),
// or keeping up to 64 in flight ("window-64").
func BenchmarkRawPublish(b *testing.B) {
	for _, window := range []int{1, 64} {
		name := "sync"
		if window > 1 {
			name = fmt.Sprintf("window-%d", window)
		}
		b.Run(name, func(b *testing.B) {
			broker := startBroker(b)
			cloud := newCloud(b, broker.URL(), true, 0)
			hubID := fmt.Sprintf("hub-raw-%d", time.Now().UnixNano())
			mq := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(hubID).SetCleanSession(false))
			if tok := mq.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				b.Fatal(tok.Error())
			}
			defer mq.Disconnect(100)
			var total time.Duration
			for it := 0; it < b.N; it++ {
				start := time.Now()
				var inflight []mqtt.Token
				for i := 1; i <= benchEvents; i++ {
					ev, err := cloudlink.EventOf(testStream, &hub.Activity{Seq: uint64(it*benchEvents + i), Kind: hub.ActivityAccess,
						Door: "d-000", At: fakeStart, Decision: hub.AccessActivity(benchDecision(i)).Decision})
					if err != nil {
						b.Fatal(err)
					}
					out, err := (&cloudlink.Uplink{Hub: hubID, Stream: testStream, Seq: uint64(it*benchEvents + i), SentAt: fakeStart,
						Body: &cloudlink.Activity{Events: []cloudlink.ActivityEvent{ev}}}).Encode()
					if err != nil {
						b.Fatal(err)
					}
					inflight = append(inflight, mq.Publish(out.Topic, 1, false, out.Payload))
					if len(inflight) >= window {
						if t := inflight[0]; !t.WaitTimeout(10*time.Second) || t.Error() != nil {
							b.Fatalf("publish %d: %v", i, t.Error())
						}
						inflight = inflight[1:]
					}
				}
				for _, t := range inflight {
					t.WaitTimeout(10 * time.Second)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(benchEvents*b.N)/total.Seconds(), "events/s")
			v, _ := cloud.Hub(hubID).Wait(10*time.Second, func(v *cloudlink.HubView) bool { return len(v.Events) == benchEvents*b.N })
			if len(v.Events) != benchEvents*b.N {
				b.Fatalf("the cloud got %d of %d events", len(v.Events), benchEvents*b.N)
			}
		})
	}
}

// BenchmarkSnapshot100k: an empty hub with the durable store connects; the
// cloud answers its need with a snapshot of a 100,000-credential site
// (200 doors, 20 keys, 100,000 people each with a keycard and a grant:
// 300,221 records) in chunks of DefaultChunkBytes; the time runs from the
// client's Open to the cloud's receipt of the ack of the snapshot.
//
// cold: the cloud cuts the set into chunks inside the time (its first
// snapshot of this version). cached: it cut this version before (for
// another hub, or an earlier need) and only seals and publishes.
func BenchmarkSnapshot100k(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "cold"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			broker := startBroker(b)
			cloud := newCloud(b, broker.URL(), false, 0)
			snap := synthSite(100000)
			var total, cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				hubID := fmt.Sprintf("hub-snap-%d-%d", i, time.Now().UnixNano())
				ch := cloud.Hub(hubID)
				if err := hub.Replace(context.Background(), ch.Model(), snap); err != nil {
					b.Fatal(err)
				}
				if cached {
					if err := ch.CutSnapshot(); err != nil {
						b.Fatal(err)
					}
				}
				store, outbox := openDurable(b, b.TempDir())
				r := &rig{t: b, url: broker.URL(), hubID: hubID, store: store, outbox: outbox, clock: trustedClock(b),
					cloud: cloud, ch: ch, unlocker: &fakeUnlocker{}, opts: fastOptions()}
				r.opts.Keys = []ed25519.PublicKey{testPublic}
				runtime.GC()
				b.StartTimer()
				start, cpu0 := time.Now(), processCPU()
				r.start()
				v, ok := ch.Wait(60*time.Second, func(v *cloudlink.HubView) bool {
					return v.LastAck().Version == snap.Version && v.LastAck().SnapshotID != ""
				})
				total += time.Since(start)
				cpu += processCPU() - cpu0
				b.StopTimer()
				if !ok {
					b.Fatalf("no ack of the snapshot: %+v, stats %+v", v.LastAck(), r.client.Stats())
				}
				if st := r.client.Stats(); st.DownlinkDropped != 0 || st.SnapshotsFailed != 0 {
					b.Fatalf("stats %+v", st)
				}
				r.stop()
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/snapshot")
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
		})
	}
}

// processCPU is the CPU time the process (hub, cloud and broker alike)
// used so far: beside the wall time, it shows the work when other
// processes share the cores.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSnapshot100kStages times each stage of BenchmarkSnapshot100k
// alone, one after another on the same data, without MQTT: the cloud's
// cut (CloudHub.CutSnapshot: reading the set from its model, encoding and
// cutting it), its
// sealing of every chunk, the hub's verifying and decoding of every
// chunk, and the durable store taking the decoded ops and committing.
// What BenchmarkSnapshot100k takes beyond the cut plus the slowest of the
// others is the transfer and the waits between the stages. Each stage's
// <stage>-cpu-s is the process's CPU time during it (the cut runs on
// all CPUs, the store's Badger compacts in the background).
func BenchmarkSnapshot100kStages(b *testing.B) {
	snap := synthSite(100000)
	signer := cloudlink.NewSigner(testKey)
	cloud, err := cloudlink.NewCloud(cloudlink.CloudOptions{Broker: "tcp://127.0.0.1:1", Signer: signer, Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	ch := cloud.Hub(testHub) // never connected: only its set and its cut
	if err := hub.Replace(context.Background(), ch.Model(), snap); err != nil {
		b.Fatal(err)
	}
	verifier := newVerifier(b)
	var cut, seal, open, store time.Duration
	var cpu [4]time.Duration // of each stage, the process's
	var chunks, bytes int
	for i := 0; i < b.N; i++ {
		runtime.GC()
		ch.ForgetCut()
		start, cpu0 := time.Now(), processCPU()
		if err := ch.CutSnapshot(); err != nil {
			b.Fatal(err)
		}
		cs := ch.CutChunks(fmt.Sprintf("snap-%d", i))
		cut += time.Since(start)
		cpu[0] += processCPU() - cpu0
		chunks = len(cs)

		start, cpu0 = time.Now(), processCPU()
		outs := make([]*cloudlink.Outgoing, len(cs))
		for j := range cs {
			if outs[j], err = cloudlink.SealCut(signer, testHub, &cs[j]); err != nil {
				b.Fatal(err)
			}
		}
		seal += time.Since(start)
		cpu[1] += processCPU() - cpu0
		bytes = 0
		for _, o := range outs {
			bytes += len(o.Payload)
		}

		runtime.GC()
		start, cpu0 = time.Now(), processCPU()
		ops := make([][]hub.Op, len(outs))
		now := hub.Now{Time: time.Now(), Trusted: true}
		for j, o := range outs {
			dl, err := verifier.Open(o.Topic, o.Payload, now)
			if err != nil {
				b.Fatal(err)
			}
			if ops[j], err = dl.Body.(*cloudlink.SnapshotChunk).DecodeOps(); err != nil {
				b.Fatal(err)
			}
		}
		open += time.Since(start)
		cpu[2] += processCPU() - cpu0

		b.StopTimer()
		outs = nil
		s, _ := openDurable(b, b.TempDir())
		runtime.GC()
		b.StartTimer()
		start, cpu0 = time.Now(), processCPU()
		w, err := s.BeginSnapshot(context.Background(), site, snap.Version)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range ops {
			if err := w.Add(o); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		store += time.Since(start)
		cpu[3] += processCPU() - cpu0
	}
	n := float64(b.N)
	b.ReportMetric(cut.Seconds()/n, "cut-s")
	b.ReportMetric(seal.Seconds()/n, "seal-s")
	b.ReportMetric(open.Seconds()/n, "open-s")
	b.ReportMetric(store.Seconds()/n, "store-s")
	for i, name := range []string{"cut", "seal", "open", "store"} {
		b.ReportMetric(cpu[i].Seconds()/n, name+"-cpu-s")
	}
	b.ReportMetric(float64(chunks), "chunks")
	b.ReportMetric(float64(bytes)/float64(chunks), "B/chunk")
}

// synthSite is the access core's benchmark site (docs/performance.md).
func synthSite(n int) *hub.Snapshot {
	s := &hub.Snapshot{Site: site, Version: 7, Ops: []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: site, Name: "Synth",
		TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: []byte("0123456789abcdef")}}}}
	for d := 0; d < 200; d++ {
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: fmt.Sprintf("d-%03d", d), Name: "Door", Type: hub.DoorEntrance}})
	}
	for k := 0; k < 20; k++ {
		doors := []string{"d-000"}
		for j := 1; j <= 9; j++ {
			doors = append(doors, fmt.Sprintf("d-%03d", k*9+j))
		}
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: fmt.Sprintf("k-%02d", k), Name: "Key", Doors: doors}})
	}
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%06d", i)
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org", Name: "Person " + p}})
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("p-%06d", i)
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g-" + p, PersonID: p, KeyID: fmt.Sprintf("k-%02d", i%20),
			Resident: true, StartsAt: start, Method: hub.MethodApp}})
	}
	for i := 0; i < n; i++ {
		s.Ops = append(s.Ops, hub.Op{Type: hub.OpPutKeycard, Keycard: &hub.Keycard{CardID: fmt.Sprintf("%016x", uint64(i+1)*0x9E3779B97F4A7C15),
			OwnerID: fmt.Sprintf("p-%06d", i), Active: true}})
	}
	return s
}
