package sim

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/doorhub/doorhub/hub"
	"github.com/doorhub/doorhub/radio/lockmsg"
)

// chunks splits an encoded list as the hub sends it.
func chunks(version uint32, data []byte, size int) []*lockmsg.ListChunk {
	d := lockmsg.ListDigest(data)
	n := (len(data) + size - 1) / size
	var out []*lockmsg.ListChunk
	for i := 0; i < n; i++ {
		out = append(out, &lockmsg.ListChunk{Version: version, Index: uint16(i), Count: uint16(n), Digest: d,
			Data: data[i*size : min(len(data), (i+1)*size)]})
	}
	return out
}

func testList(cards ...string) []byte {
	l := &hub.DoorList{}
	for _, c := range cards {
		id, _ := hex.DecodeString(c)
		l.Entries = append(l.Entries, hub.ListEntry{Kind: hub.EntryKeycard, ID: id, Windows: []hub.ListWindow{{Start: 1}}})
	}
	return l.Encode()
}

func TestLockListChunksAndDecides(t *testing.T) {
	var l lockList
	l.capacity = 10
	card := &lockmsg.AccessRequest{Kind: lockmsg.CredKeycard, CardID: []byte{0xc0, 0xc0, 0xc0, 0xc0}}
	now := time.Now()
	if r, entry := l.decide("main", card, now); r != lockmsg.ReasonUnknownCredential || entry != 0 {
		t.Fatalf("no list: %s", r)
	}
	data := testList("a0a0a0a0", "c0c0c0c0", "d0d0d0d0")
	cs := chunks(1, data, 10)
	for i, c := range cs {
		ack := l.chunk(c)
		want := lockmsg.ListChunkStored
		if i == len(cs)-1 {
			want = lockmsg.ListComplete
		}
		if ack.Status != want {
			t.Fatalf("chunk %d: %s", i, ack.Status)
		}
		// Never half a list: the old (none) stays active until the end.
		if i < len(cs)-1 && l.version != 0 {
			t.Fatal("a partial list became active")
		}
	}
	if l.version != 1 || l.digest != lockmsg.ListDigest(data) {
		t.Fatalf("version %d digest %x", l.version, l.digest)
	}
	if r, entry := l.decide("main", card, now); !r.Allowed() || entry != hub.EntryRef(hub.EntryKeycard, card.CardID) {
		t.Fatalf("listed card: %s, entry %08x", r, entry)
	}

	// Version 2 without the card; a lost chunk is answered out_of_order
	// naming the one expected.
	cs = chunks(2, testList("a0a0a0a0"), 6)
	l.chunk(cs[0])
	if ack := l.chunk(cs[2]); ack.Status != lockmsg.ListOutOfOrder || ack.Chunk != 1 || ack.Digest != lockmsg.ListDigest(data) {
		t.Fatalf("lost chunk: %+v", ack)
	}
	for _, c := range cs[1:] {
		l.chunk(c)
	}
	if r, entry := l.decide("main", card, now); r.Allowed() || entry != 0 {
		t.Fatalf("a revoked card after the new list: %s, entry %08x", r, entry)
	}

	// A corrupted transfer is refused and the list kept.
	bad := chunks(3, testList("c0c0c0c0"), 100)
	bad[0].Data = append([]byte(nil), bad[0].Data...)
	bad[0].Data[5] ^= 1
	if ack := l.chunk(bad[0]); ack.Status != lockmsg.ListDigestMismatch || l.version != 2 {
		t.Fatalf("corrupted: %+v, version %d", ack, l.version)
	}
	// Over capacity.
	l.capacity = 1
	if ack := l.chunk(chunks(4, testList("a0a0a0a0", "c0c0c0c0"), 200)[0]); ack.Status != lockmsg.ListTooLarge || l.version != 2 {
		t.Fatalf("too large: %+v", ack)
	}
	l.reset()
	if l.version != 0 || l.digest != ([lockmsg.DigestSize]byte{}) || l.capacity != 1 {
		t.Fatalf("reset: %+v", l)
	}
}

// TestLockListClear: the clear form drops the list and a partial one.
func TestLockListClear(t *testing.T) {
	var l lockList
	data := testList("c0c0c0c0", "c1c1c1c1")
	for _, c := range chunks(1, data, 20) {
		l.chunk(c)
	}
	part := chunks(2, testList("c2c2c2c2", "c3c3c3c3"), 20)
	l.chunk(part[0])
	if l.digest != lockmsg.ListDigest(data) || l.partNext != 1 {
		t.Fatalf("before the clear: %x, partial at %d", l.digest, l.partNext)
	}
	ack := l.chunk(&lockmsg.ListChunk{Version: 3})
	if ack.Status != lockmsg.ListComplete || ack.Digest != [lockmsg.DigestSize]byte{} || l.version != 3 || l.entries != nil || l.partNext != 0 {
		t.Fatalf("after the clear: %+v, version %d, %d entries, partial at %d", ack, l.version, len(l.entries), l.partNext)
	}
	// The abandoned partial list's next chunk is out of order now.
	if ack := l.chunk(part[1]); ack.Status != lockmsg.ListOutOfOrder || ack.Chunk != 0 {
		t.Fatalf("the old partial's chunk: %+v", ack)
	}
}
