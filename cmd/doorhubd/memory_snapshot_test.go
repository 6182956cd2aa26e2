package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/doorhub/doorhub/cloudlink"
	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/hub/status"
)

// BenchmarkDaemonSnapshotMemory measures PRODUCT.md's other footprint
// target — under 96 MB while a 100,000-credential snapshot is applied —
// on doorhubd as installed: it runs on the benchmark site connected to
// a test cloud in this process (embedded broker, signing cloud), and
// once its 100,000 buffered events drained to the cloud, the cloud sends
// it three snapshots: a typical resync (every 100th person renamed and
// their keycard deactivated: 0.67 % of the records, applied as a diff)
// and a wholly different set (every person, grant and keycard replaced:
// a new generation loaded beside the old one), with the largest diff
// between them (every 10th person renamed and their keycard deactivated:
// 20,000 records, SnapshotDiffMax). For each it reports the
// daemon's peak resident memory while applying it, from the moment the
// cloud sends it until the daemon is quiet again after its store held it
// (Badger flushes and compacts after; VmHWM, reset before each through
// /proc/PID/clear_refs; the highest sample when that is refused), and
// the seconds until the daemon's store held it; then the
// resident memory once the daemon is idle again after the last (and how
// long after it that was). It runs once whatever b.N.
func BenchmarkDaemonSnapshotMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		rig := startCloudRig(b, "cloud-mem")
		ch := rig.cloud.Hub("hub-mem")
		setModel(b, ch.Model(), 1, memorySiteOps("", 0))
		d := startMemDaemon(b, fmt.Sprintf("cloud:\n  broker: %s\n  public_key: %s\n", rig.broker.URL(),
			base64.StdEncoding.EncodeToString(rig.pub)))
		d.waitStatus(3*time.Minute, "the buffered events drained", func(r *status.Report) bool {
			return r.Outbox != nil && r.Outbox.Pending == 0 && r.Cloud.State == "connected"
		})
		time.Sleep(2 * settleInterval) // settled after the drain
		b.ReportMetric(mb(d.sample().RSS), "before-rss-MB")

		peak, took := d.applySnapshot(ch, 2, memorySiteOps("", 100))
		peak.report(b, "resync")
		b.ReportMetric(took.Seconds(), "resync-s")

		// The largest diff: every 10th person renamed and their card
		// deactivated, 20,000 records (Options.SnapshotDiffMax).
		peak, took = d.applySnapshot(ch, 3, memorySiteOps("", 10))
		peak.report(b, "bigdiff")
		b.ReportMetric(took.Seconds(), "bigdiff-s")

		peak, took = d.applySnapshot(ch, 4, memorySiteOps("x", 0))
		peak.report(b, "different")
		b.ReportMetric(took.Seconds(), "different-s")

		// Badger compacts and the old generation is removed for a while
		// after: "after" is once the daemon is idle again and settled.
		quiet := d.waitIdle(5 * time.Minute)
		time.Sleep(settleInterval + time.Second)
		b.ReportMetric(quiet.Seconds(), "quiet-after-s")
		b.ReportMetric(mb(d.sample().RSS), "after-rss-MB")
		d.saveProfile()
		d.stop()
	}
}

// setModel makes ops, the whole set, the cloud's set at version.
func setModel(b *testing.B, model hub.Store, version uint64, ops []hub.Op) {
	w, err := model.BeginSnapshot(context.Background(), "site-mem", version)
	if err != nil {
		b.Fatal(err)
	}
	for len(ops) > 0 {
		n := min(len(ops), 1000)
		if err := w.Add(ops[:n]); err != nil {
			w.Abort()
			b.Fatal(err)
		}
		ops = ops[n:]
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
}

// snapshotPeak is what a snapshot's application took at most: resident
// memory (the kernel's high-water mark, so also between samples), its
// anonymous part (Go's memory, sampled) and the mapped files' part
// (the binary and Badger's tables, sampled).
type snapshotPeak struct {
	rss, anon, file int64
}

func (p *snapshotPeak) see(s memSample, hwm bool) {
	p.rss = max(p.rss, s.RSS)
	if hwm {
		p.rss = max(p.rss, s.Peak)
	}
	p.anon = max(p.anon, s.Anon)
	p.file = max(p.file, s.RSS-s.Anon)
}

// report reports the peaks as <name>-peak-rss-MB, -anon-MB and -file-MB.
func (p snapshotPeak) report(b *testing.B, name string) {
	b.ReportMetric(mb(p.rss), name+"-peak-rss-MB")
	b.ReportMetric(mb(p.anon), name+"-anon-MB")
	b.ReportMetric(mb(p.file), name+"-file-MB")
}

// applySnapshot makes ops the cloud's set at version and sends it to the
// hub as a snapshot; it returns the daemon's peaks from then until it is
// quiet again after its store held version, and how long it took until
// the store held it.
func (d *memDaemon) applySnapshot(ch *cloudlink.CloudHub, version uint64, ops []hub.Op) (snapshotPeak, time.Duration) {
	setModel(d.b, ch.Model(), version, ops)
	hwm := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", d.cmd.Process.Pid), []byte("5"), 0) == nil
	var peak snapshotPeak
	start := time.Now()
	if err := ch.SendSnapshot(); err != nil {
		d.b.Fatal(err)
	}
	deadline := start.Add(3 * time.Minute)
	for {
		peak.see(d.sample(), hwm)
		if r := d.status(); r.Store.Version == version {
			took := time.Since(start)
			stored := time.Now()
			// Badger flushes, compacts and reaps for a while after the
			// store holds the version: that is part of applying it too.
			d.waitQuiet(func(s memSample) { peak.see(s, hwm) })
			// When, for lining up with a trace of the process.
			d.b.Logf("version %d: sent at %.3f, stored at %.3f, quiet at %.3f (Unix seconds)", version,
				float64(start.UnixMilli())/1e3, float64(stored.UnixMilli())/1e3, float64(time.Now().UnixMilli())/1e3)
			return peak, took
		}
		if time.Now().After(deadline) {
			d.b.Fatalf("the daemon did not apply version %d\n%s", version, d.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitQuiet samples the daemon every 50 ms, handing each sample to see,
// until it used under 5 % of a core over a second (at most 2 minutes).
func (d *memDaemon) waitQuiet(see func(memSample)) {
	deadline := time.Now().Add(2 * time.Minute)
	prev, prevAt := d.sample(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		s := d.sample()
		see(s)
		if since := time.Since(prevAt); since >= time.Second {
			if s.CPUTicks-prev.CPUTicks <= int64(since.Seconds()*5) { // ticks are 1/100 s
				return
			}
			prev, prevAt = s, time.Now()
		}
	}
}

// waitIdle waits until the daemon used under 2 % of a core over 5 s and
// returns how long that took.
func (d *memDaemon) waitIdle(timeout time.Duration) time.Duration {
	start := time.Now()
	prev := d.sample()
	for {
		time.Sleep(5 * time.Second)
		s := d.sample()
		if s.CPUTicks-prev.CPUTicks < 10 { // ticks are 1/100 s: 10 in 5 s is 2 %
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			d.b.Fatalf("the daemon still busy %v after the snapshot", timeout)
		}
		prev = s
	}
}

// status reads the daemon's GET /api/v1/status.
func (d *memDaemon) status() *status.Report {
	var r status.Report
	if err := json.Unmarshal(d.get("/api/v1/status"), &r); err != nil {
		d.b.Fatal(err)
	}
	return &r
}

// waitStatus polls the daemon's status until cond holds.
func (d *memDaemon) waitStatus(timeout time.Duration, what string, cond func(*status.Report) bool) {
	deadline := time.Now().Add(timeout)
	for !cond(d.status()) {
		if time.Now().After(deadline) {
			d.b.Fatalf("%s: not within %v\n%s", what, timeout, d.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
