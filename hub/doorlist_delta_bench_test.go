package hub_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
)

// Radio cost of one list_chunk of n data bytes at 115200 baud, from
// docs/radio-protocol.md: the chunk's body is 16 bytes of header and the
// data; sealing adds 13, the envelope 6, the link frame 6, the serial
// frame at most 7; the link ACK is 13 bytes; the lock's list_ack (15-byte
// body) is 47 bytes on the wire with its own 13-byte link ACK.
const (
	chunkData     = 208
	chunkOverhead = 16 + 13 + 6 + 6 + 7 + 13 + (15 + 13 + 6 + 6 + 7) + 13
)

func wireBytes(data int) int {
	chunks := (data + chunkData - 1) / chunkData
	return data + chunks*chunkOverhead
}

// importSite is a 200-door site (an entrance and 199 apartments) with
// people residents of one apartment each, with a keycard: an import adds
// people p<from>..p<from+n-1>.
func importOps(from, n int) []hub.Op {
	var ops []hub.Op
	for i := from; i < from+n; i++ {
		p := fmt.Sprintf("p%d", i)
		ops = append(ops, hub.Op{Type: hub.OpPutPerson, Person: &hub.Person{ID: p, Email: p + "@example.org"}},
			hub.Op{Type: hub.OpPutGrant, Grant: &hub.Grant{ID: "g" + p, PersonID: p, KeyID: fmt.Sprintf("kapt%d", i%199),
				Resident: true, StartsAt: t0, Method: hub.MethodApp}},
			card(fmt.Sprintf("%08x", 0x10000000+i), p, true))
	}
	return ops
}

func importSite(t testing.TB, people int) (*hub.MemStore, []string) {
	store := hub.NewMemStore()
	ops := []hub.Op{{Type: hub.OpPutSite, Site: &hub.Site{ID: "s1", TimeZone: "UTC", DoorcodeLength: 6, DoorcodeSecret: secret}},
		{Type: hub.OpPutDoor, Door: &hub.Door{ID: "entrance", Name: "entrance", Type: hub.DoorEntrance, LockCapacity: 5000}}}
	doors := []string{"entrance"}
	for i := range 199 {
		id := fmt.Sprintf("apt%d", i)
		doors = append(doors, id)
		ops = append(ops, hub.Op{Type: hub.OpPutDoor, Door: &hub.Door{ID: id, Name: id, Type: hub.DoorResidence}},
			hub.Op{Type: hub.OpPutKey, Key: &hub.Key{ID: "k" + id, Name: id, Doors: []string{"entrance", id}}})
	}
	ops = append(ops, importOps(0, people)...)
	if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Version: 1, IssuedAt: t0, Ops: ops}); err != nil {
		t.Fatal(err)
	}
	return store, doors
}

// importDeltaCost is the radio cost of a 2,000-person import at a site
// whose locks acknowledged the lists of 1,000 residents: the bytes of the
// changed entries alone (the minimum), the deltas' bytes, and the bytes
// on the wire with the chunks' and acknowledgements' overhead.
func importDeltaCost(t testing.TB) (minimum, deltas, wire int) {
	store, doors := importSite(t, 1000)
	now := t0.Add(time.Hour)
	dl := hub.NewDoorLists(store, func() time.Time { return now })
	before := map[string][]byte{}
	for _, d := range doors {
		_, data, _ := dl.DoorList(d)
		sum := sha256.Sum256(data)
		dl.ListHeld(d, [hub.MinAckDigest]byte(sum[:8]), now)
		before[d] = data
	}
	if err := store.Apply(context.Background(), &hub.Batch{Site: "s1", Base: 1, Version: 2, IssuedAt: t0, Ops: importOps(1000, 2000)}); err != nil {
		t.Fatal(err)
	}
	for _, d := range doors {
		v, data, _ := dl.DoorList(d)
		sum := sha256.Sum256(before[d])
		delta, ok := dl.ListDelta(d, [hub.MinAckDigest]byte(sum[:8]), v)
		if !ok {
			t.Fatalf("%s: no delta", d)
		}
		old, err := hub.DecodeList(before[d])
		if err != nil {
			t.Fatal(err)
		}
		now, err := hub.DecodeList(data)
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]bool{}
		for _, e := range old {
			held[string(e.AppendEncode(nil))] = true
		}
		for _, e := range now {
			if enc := e.AppendEncode(nil); !held[string(enc)] {
				minimum += len(enc)
			}
		}
		deltas += len(delta)
		wire += wireBytes(min(len(delta), len(data)))
	}
	return minimum, deltas, wire
}

// TestImportDeltaWithinTwiceTheMinimum is issue 6's radio goal: a
// 2,000-person import at a 200-door site costs on the wire at most twice
// the bytes of the changed entries alone.
func TestImportDeltaWithinTwiceTheMinimum(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 people at 200 doors")
	}
	minimum, deltas, wire := importDeltaCost(t)
	t.Logf("changed entries %d bytes; deltas %d bytes; on the wire %d bytes (%.2f× the minimum), %.1f s at 115200 baud (minimum %.1f s)",
		minimum, deltas, wire, float64(wire)/float64(minimum), float64(wire)*10/115200, float64(minimum)*10/115200)
	if wire > 2*minimum {
		t.Errorf("on the wire %d bytes, over twice the changed entries' %d", wire, minimum)
	}
}

// BenchmarkDoorListImportDelta measures computing the 200 deltas of a
// 2,000-person import and reports their radio cost beside the minimum.
func BenchmarkDoorListImportDelta(b *testing.B) {
	var minimum, deltas, wire int
	for b.Loop() {
		minimum, deltas, wire = importDeltaCost(b)
	}
	b.ReportMetric(float64(minimum), "min_bytes")
	b.ReportMetric(float64(deltas), "delta_bytes")
	b.ReportMetric(float64(wire), "wire_bytes")
	b.ReportMetric(float64(wire)/float64(minimum), "x_min")
	b.ReportMetric(float64(wire)*10/115200, "radio_s_at_115200")
}
