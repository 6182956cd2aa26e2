package hub

import (
	"math/rand"
	"testing"
	"unsafe"
)

// TestHandleIndexAgainstMap plays random inserts and removes against a Go
// map. Tags are drawn from a small range so that runs are long, wrap
// around the table's end and deletions shift slots back.
func TestHandleIndexAgainstMap(t *testing.T) {
	for _, tagRange := range []uint32{8, 64, 1 << 30} {
		rng := rand.New(rand.NewSource(int64(tagRange)))
		var x idIndex
		want := map[int32]uint32{} // handle -> tag
		for step := 0; step < 20000; step++ {
			h := int32(rng.Intn(500))
			if tag, ok := want[h]; ok && rng.Intn(2) == 0 {
				x.remove(tag, h)
				delete(want, h)
			} else if !ok {
				tag := rng.Uint32() % tagRange
				x.insert(tag, h, struct{}{})
				want[h] = tag
			}
			if x.n != len(want) {
				t.Fatalf("step %d: %d entries, want %d", step, x.n, len(want))
			}
			if step%97 != 0 {
				continue
			}
			for h := int32(0); h < 500; h++ {
				tag, ok := want[h]
				if !ok {
					tag = uint32(h) % tagRange
				}
				got := x.lookup(tag, func(c int32) bool { return c == h })
				if ok && got != h || !ok && got != none {
					t.Fatalf("step %d, tags < %d: lookup of handle %d (present %v) gave %d", step, tagRange, h, ok, got)
				}
			}
		}
	}
}

// TestCardIs checks the comparison of a presented card id with a decoded
// one, which never decodes the presented id, for an id held inline and
// one longer than cardInline bytes.
func TestCardIs(t *testing.T) {
	c := NewCatalog()
	short := c.cards.alloc()
	c.cards.recs[short] = cardRec{n: 4, live: true}
	copy(c.cards.recs[short].id[:], []byte{0xde, 0xad, 0x0b, 0xef})
	for _, tc := range []struct {
		id   string
		want bool
	}{{"dead0bef", true}, {"DEAD0BEF", false}, {"dead0be", false}, {"dead0bef00", false}, {"dead0bee", false}, {"", false}} {
		if got := c.cardIs(short, tc.id); got != tc.want {
			t.Errorf("cardIs(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if got := c.cardID(short); got != "dead0bef" {
		t.Errorf("cardID() = %q", got)
	}

	const longID = "00112233445566778899aabbccddeeff0123" // 18 bytes
	long := c.cards.alloc()
	c.cards.recs[long] = cardRec{n: 18, live: true}
	copy(c.cards.recs[long].id[:], []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff})
	c.cardTails = map[int32]cardTail{long: {0x01, 0x23}}
	for _, tc := range []struct {
		id   string
		want bool
	}{{longID, true}, {longID[:32], false}, {longID[:34] + "24", false}, {"10" + longID[2:], false}, {longID + "00", false}} {
		if got := c.cardIs(long, tc.id); got != tc.want {
			t.Errorf("cardIs(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if got := c.cardID(long); got != longID {
		t.Errorf("cardID() = %q", got)
	}
}

// TestIndexSlotSize: a slot is a tag and a handle, and its payload.
func TestIndexSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(indexSlot[struct{}]{}); n != 8 {
		t.Errorf("a slot without payload is %d bytes, want 8", n)
	}
	if n := unsafe.Sizeof(indexSlot[cardHint]{}); n != 16 {
		t.Errorf("a keycard slot is %d bytes, want 16", n)
	}
}
