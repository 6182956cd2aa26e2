package hub

import "hash/maphash"

// handleIndex finds a record of an arena (people, grants, keycards) by
// its id. It is an open-addressing hash table with linear probing whose
// slots hold only a 32-bit hash of the id and the record's handle: 8 bytes
// a slot instead of a Go map entry with a string key, and a lookup that
// touches one or two cache lines of slots and then the one record whose
// hash matches. The caller says whether a record is the one sought.
//
// A slot's home is its tag masked to the table's size, so the table grows
// and deletes (by shifting the slots after a hole back, no tombstones)
// without hashing ids again.
type handleIndex struct {
	slots []indexSlot
	n     int
}

type indexSlot struct {
	tag uint32 // the low 32 bits of the id's hash
	ref int32  // handle + 1; 0: the slot is empty
}

// indexSeed seeds every index's hash; a process-wide random seed keeps
// crafted ids from colliding on purpose.
var indexSeed = maphash.MakeSeed()

func idTag(id string) uint32 { return uint32(maphash.String(indexSeed, id)) }

// The table grows when it would be more than 13/16 full: linear probing
// then finds a present id within about 3 slots on average.
const (
	indexLoadNum = 13
	indexLoadDen = 16
	indexMinSize = 16
)

// lookup returns the handle of the record with this tag for which eq is
// true, or -1.
func (x *handleIndex) lookup(tag uint32, eq func(h int32) bool) int32 {
	if len(x.slots) == 0 {
		return -1
	}
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s.ref == 0 {
			return -1
		}
		if s.tag == tag && eq(s.ref-1) {
			return s.ref - 1
		}
	}
}

// insert adds a handle the index does not hold yet.
func (x *handleIndex) insert(tag uint32, h int32) {
	if (x.n+1)*indexLoadDen > len(x.slots)*indexLoadNum {
		x.grow()
	}
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		if x.slots[i].ref == 0 {
			x.slots[i] = indexSlot{tag: tag, ref: h + 1}
			x.n++
			return
		}
	}
}

// remove drops a handle the index holds under tag.
func (x *handleIndex) remove(tag uint32, h int32) {
	if len(x.slots) == 0 {
		return
	}
	mask := uint32(len(x.slots) - 1)
	i := tag & mask
	for ; x.slots[i].ref != h+1; i = (i + 1) & mask {
		if x.slots[i].ref == 0 {
			return
		}
	}
	x.slots[i] = indexSlot{}
	x.n--
	// Shift back every slot of the run after the hole that may take it:
	// one whose home is not between the hole and itself.
	for j := (i + 1) & mask; x.slots[j].ref != 0; j = (j + 1) & mask {
		home := x.slots[j].tag & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i], x.slots[j] = x.slots[j], indexSlot{}
			i = j
		}
	}
}

func (x *handleIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, max(indexMinSize, 2*len(old)))
	x.n = 0
	mask := uint32(len(x.slots) - 1)
	for _, s := range old {
		if s.ref == 0 {
			continue
		}
		i := s.tag & mask
		for x.slots[i].ref != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
		x.n++
	}
}
