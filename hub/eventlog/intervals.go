package eventlog

import "sort"

// intervals is a sorted set of disjoint, non-adjacent seq ranges
// [lo, hi]: the records stored. The log is appended at its end and
// acknowledged in message-sized ranges, so it holds few ranges.
type intervals [][2]uint64

// add inserts [lo, hi]; lo is above every seq in the set when records
// are appended, which is the fast path.
func (s *intervals) add(lo, hi uint64) {
	n := len(*s)
	if n > 0 && (*s)[n-1][1] < lo {
		if (*s)[n-1][1]+1 == lo {
			(*s)[n-1][1] = hi
			return
		}
		*s = append(*s, [2]uint64{lo, hi})
		return
	}
	if n == 0 {
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

func (s *intervals) remove(lo, hi uint64) {
	if lo > hi {
		return
	}
	var out intervals
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

// within returns the parts of the set in [from, to).
func (s intervals) within(from, to uint64) [][2]uint64 {
	var out [][2]uint64
	if to <= from {
		return nil
	}
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= from })
	for ; i < len(s) && s[i][0] < to; i++ {
		out = append(out, [2]uint64{max(s[i][0], from), min(s[i][1], to-1)})
	}
	return out
}

func (s intervals) has(seq uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= seq })
	return i < len(s) && s[i][0] <= seq
}

func (s intervals) count() uint64 {
	var n uint64
	for _, r := range s {
		n += r[1] - r[0] + 1
	}
	return n
}

func (s intervals) clone() intervals { return append(intervals(nil), s...) }
