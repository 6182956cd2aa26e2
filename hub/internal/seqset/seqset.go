// Package seqset is a set of sequence numbers kept as sorted, disjoint,
// non-adjacent ranges: the records an activity outbox holds. Records are
// appended at the end and removed in message-sized ranges, so a set holds
// few ranges and the common operations touch only its ends.
package seqset

import "sort"

// Set holds ranges [lo, hi], both ends included, sorted by lo, never
// overlapping or touching. The zero value is the empty set.
type Set [][2]uint64

// Add inserts [lo, hi]. When lo is above every seq in the set (an
// append, the fast path) it extends or follows the last range.
func (s *Set) Add(lo, hi uint64) {
	if lo > hi {
		return
	}
	n := len(*s)
	if n == 0 || (*s)[n-1][1] < lo {
		if n > 0 && (*s)[n-1][1]+1 == lo {
			(*s)[n-1][1] = hi
			return
		}
		*s = append(*s, [2]uint64{lo, hi})
		return
	}
	all := append(*s, [2]uint64{lo, hi})
	sort.Slice(all, func(i, j int) bool { return all[i][0] < all[j][0] })
	merged := all[:1]
	for _, r := range all[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1]+1 {
			last[1] = max(last[1], r[1])
		} else {
			merged = append(merged, r)
		}
	}
	*s = merged
}

// Remove takes [lo, hi] out of the set.
func (s *Set) Remove(lo, hi uint64) {
	if lo > hi {
		return
	}
	var out Set
	for _, r := range *s {
		if r[1] < lo || r[0] > hi {
			out = append(out, r)
			continue
		}
		if r[0] < lo {
			out = append(out, [2]uint64{r[0], lo - 1})
		}
		if r[1] > hi {
			out = append(out, [2]uint64{hi + 1, r[1]})
		}
	}
	*s = out
}

// Within returns the parts of the set in [from, to), in order.
func (s Set) Within(from, to uint64) [][2]uint64 {
	if to <= from {
		return nil
	}
	var out [][2]uint64
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= from })
	for ; i < len(s) && s[i][0] < to; i++ {
		out = append(out, [2]uint64{max(s[i][0], from), min(s[i][1], to-1)})
	}
	return out
}

// Has reports whether seq is in the set.
func (s Set) Has(seq uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= seq })
	return i < len(s) && s[i][0] <= seq
}

// First returns the lowest range.
func (s Set) First() (lo, hi uint64, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	return s[0][0], s[0][1], true
}

// Last returns the highest range.
func (s Set) Last() (lo, hi uint64, ok bool) {
	if len(s) == 0 {
		return 0, 0, false
	}
	return s[len(s)-1][0], s[len(s)-1][1], true
}

// Count is the number of seqs in the set.
func (s Set) Count() uint64 {
	var n uint64
	for _, r := range s {
		n += r[1] - r[0] + 1
	}
	return n
}

// Clone returns a copy that shares nothing with s.
func (s Set) Clone() Set { return append(Set(nil), s...) }
