package hub

import "unsafe"

// textArena holds the strings of the catalog's people and grants — a
// person's id, email and name back to back, a grant's id — in chunks of
// bytes that records address by a uint32 offset. A record thus carries
// no 16-byte string header and no allocation of its own, and holds no
// pointer: the collector does not scan the people and grant arenas.
//
// Bytes once written are never written again: getters hand out strings
// over them (unsafe.String), which must not change when the record does.
// A put appends; a change or a delete leaves the old bytes as garbage,
// counted, and once it is a quarter of the arena the live strings are
// copied into new chunks (Catalog.compactText). An old chunk stays as
// long as a string handed out refers to it.
//
// Chunks grow from textChunkMin to textChunkMax bytes and stay at that
// size: the arena grows without copying what it holds (so Reserve has no
// room to make for it and a load has no second copy at its peak), and a
// string handed out keeps its chunk alive, not the whole arena. A
// record's strings never span two chunks; a chunk's end left too short
// for the next record is lost, at most a few hundred bytes of 64 KiB.
type textArena struct {
	chunks  [][]byte
	size    int // bytes written into the current chunks, garbage included
	garbage int // bytes of them no record refers to any more
}

// An offset is a chunk's index above textChunkBits and the position in
// the chunk below: 65,536 chunks of 64 KiB, 4 GiB of text.
const (
	textChunkBits = 16
	textChunkMax  = 1 << textChunkBits
	textChunkMin  = 512
)

// textCompactMin is the garbage below which the arena is never compacted:
// a small catalog changed often would otherwise copy its strings again and
// again for a few kilobytes.
const textCompactMin = 32 << 10

// add appends a, b and c back to back and returns the offset of the
// first byte. Together they are shorter than textChunkMax: ids, emails
// and names are bounded (Validate).
func (t *textArena) add(a, b, c string) uint32 {
	n := len(a) + len(b) + len(c)
	last := len(t.chunks) - 1
	if last < 0 || cap(t.chunks[last])-len(t.chunks[last]) < n {
		size := textChunkMin
		if last >= 0 {
			size = min(textChunkMax, 2*cap(t.chunks[last]))
		}
		t.chunks = append(t.chunks, make([]byte, 0, max(size, n)))
		last++
	}
	ch := t.chunks[last]
	at := uint32(last)<<textChunkBits | uint32(len(ch))
	ch = append(ch, a...)
	ch = append(ch, b...)
	ch = append(ch, c...) // within cap: the chunk's array stays
	t.chunks[last] = ch
	t.size += n
	return at
}

// str is the n bytes at offset at, as a string that shares them.
func (t *textArena) str(at uint32, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&t.chunks[at>>textChunkBits][at&(textChunkMax-1)], n)
}

// drop counts n bytes as garbage; it reports whether the arena should be
// compacted.
func (t *textArena) drop(n int) bool {
	t.garbage += n
	return t.garbage >= textCompactMin && 4*t.garbage > t.size
}

// trim gives back the room left in the last chunk, in a copy: the bytes
// handed out stay where they are.
func (t *textArena) trim() {
	last := len(t.chunks) - 1
	if last < 0 || cap(t.chunks[last]) == len(t.chunks[last]) {
		return
	}
	ch := make([]byte, len(t.chunks[last]))
	copy(ch, t.chunks[last])
	t.chunks[last] = ch
}

// dropText counts a record's old strings as garbage and compacts the
// arena when there is enough. Call it once the record no longer refers to
// them.
func (c *Catalog) dropText(n int) {
	if c.text.drop(n) {
		c.compactText()
	}
}

// compactText copies the strings of the live people and grants into new
// chunks and points the records at them. The old chunks are never
// written again.
func (c *Catalog) compactText() {
	var t textArena
	for h := range c.people.recs {
		if p := &c.people.recs[h]; p.live {
			p.at = t.add(c.text.str(p.at, int(p.end)), "", "")
		}
	}
	for h := range c.grants.recs {
		if g := &c.grants.recs[h]; g.live {
			g.at = t.add(c.grantIDOf(g), "", "")
		}
	}
	c.text = t
}
