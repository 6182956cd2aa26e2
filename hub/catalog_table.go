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
//
// A slot may carry a payload P beside the handle (struct{} for none): what
// a lookup needs next, so that it need not wait for the record to know it.
type handleIndex[P any] struct {
	slots []indexSlot[P]
	n     int
}

// The payload comes first: a zero-size field last in a struct is padded
// (so that its address stays inside the struct), which made a slot without
// payload 12 bytes instead of 8.
type indexSlot[P any] struct {
	p   P
	tag uint32 // the low 32 bits of the id's hash
	ref int32  // handle + 1; 0: the slot is empty
}

// idIndex is an index without payload.
type idIndex = handleIndex[struct{}]

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
func (x *handleIndex[P]) lookup(tag uint32, eq func(h int32) bool) int32 {
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
func (x *handleIndex[P]) insert(tag uint32, h int32, p P) {
	if (x.n+1)*indexLoadDen > len(x.slots)*indexLoadNum {
		x.grow()
	}
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		if x.slots[i].ref == 0 {
			x.slots[i] = indexSlot[P]{tag: tag, ref: h + 1, p: p}
			x.n++
			return
		}
	}
}

// payload returns the payload of a handle the index holds under tag, to
// change it, or nil.
func (x *handleIndex[P]) payload(tag uint32, h int32) *P {
	if i := x.find(tag, h); i >= 0 {
		return &x.slots[i].p
	}
	return nil
}

// find returns the slot of a handle under tag, or -1.
func (x *handleIndex[P]) find(tag uint32, h int32) int {
	if len(x.slots) == 0 {
		return -1
	}
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		switch x.slots[i].ref {
		case h + 1:
			return int(i)
		case 0:
			return -1
		}
	}
}

// remove drops a handle the index holds under tag.
func (x *handleIndex[P]) remove(tag uint32, h int32) {
	f := x.find(tag, h)
	if f < 0 {
		return
	}
	mask := uint32(len(x.slots) - 1)
	i := uint32(f)
	x.slots[i] = indexSlot[P]{}
	x.n--
	// Shift back every slot of the run after the hole that may take it:
	// one whose home is not between the hole and itself.
	for j := (i + 1) & mask; x.slots[j].ref != 0; j = (j + 1) & mask {
		home := x.slots[j].tag & mask
		if (j-home)&mask >= (j-i)&mask {
			x.slots[i], x.slots[j] = x.slots[j], indexSlot[P]{}
			i = j
		}
	}
}

func (x *handleIndex[P]) grow() { x.resize(max(indexMinSize, 2*len(x.slots))) }

// reserve sizes the table for n entries in all, so that inserting them
// never grows it again.
func (x *handleIndex[P]) reserve(n int) {
	size := max(indexMinSize, len(x.slots))
	for n*indexLoadDen > size*indexLoadNum {
		size *= 2
	}
	if size > len(x.slots) {
		x.resize(size)
	}
}

// resize moves the entries into a table of size slots (a power of two).
func (x *handleIndex[P]) resize(size int) {
	old := x.slots
	x.slots = make([]indexSlot[P], size)
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
