package hub_test

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// syncDoors and syncEntries are the door sync state of a 100,000-credential
// site at rest: 200 doors of about 1,000 keycards each.
const (
	syncDoors   = 200
	syncEntries = 1000
)

// syncList is door i's list: syncEntries keycards with 4-byte ids and one
// open-ended window each; changed moves one card's start on.
func syncList(i int, changed bool) *hub.DoorList {
	l := &hub.DoorList{Door: "door" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Entries: make([]hub.ListEntry, syncEntries)}
	for j := range l.Entries {
		id := binary.BigEndian.AppendUint32(nil, uint32(i*syncEntries+j+0x10000000))
		l.Entries[j] = hub.ListEntry{Kind: hub.EntryKeycard, ID: id,
			Windows: []hub.ListWindow{{Start: t0.Unix() - int64(j)*3600}}}
	}
	if changed {
		l.Entries[0].Windows = []hub.ListWindow{{Start: t0.Unix() + 86400}}
	}
	l.Digest = hub.ListDigest(l.Encode())
	return l
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkDoorSyncMemory reports the bytes a DoorSync holds for 200 doors
// of 1,000 keycard entries (MB-held, and B/entry per door entry), and the
// time of Pending over it:
//
//   - desired: each door's list computed, no lock acknowledged anything
//     (the daemon before its locks wake);
//   - current: every lock acknowledged its desired list;
//   - behind: every lock holds the previous list and one card changed
//     since, so each door holds two lists and one pending change.
func BenchmarkDoorSyncMemory(b *testing.B) {
	for _, state := range []string{"desired", "current", "behind"} {
		b.Run(state, func(b *testing.B) {
			before := heapInUse()
			s := hub.NewDoorSync()
			for i := range syncDoors {
				l := syncList(i, false)
				s.Desire(l, t0)
				switch state {
				case "current":
					s.Ack(l.Door, l.Digest[:8], t0)
				case "behind":
					s.Ack(l.Door, l.Digest[:8], t0)
					s.Desire(syncList(i, true), t0)
				}
			}
			held := heapInUse() - before
			now := t0.Add(time.Minute)
			want := map[string][2]int{"desired": {syncEntries, 0}, "current": {0, 0}, "behind": {0, 1}}[state]
			if p := s.Pending(now); len(p) != syncDoors || p[0].Activations != want[0] || p[0].Revocations != want[1] {
				b.Fatalf("%s: %+v", state, p[0])
			}
			for b.Loop() {
				s.Pending(now)
			}
			// After the loop: its first call resets the metrics.
			b.ReportMetric(float64(held)/1e6, "MB-held")
			b.ReportMetric(float64(held)/(syncDoors*syncEntries), "B/entry")
			runtime.KeepAlive(s)
		})
	}
}
