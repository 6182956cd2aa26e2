package seqset

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestAgainstNaiveSet drives a Set and a plain map of seqs through the
// same random adds and removes — appends mostly, as an outbox does, and
// some out of order — and compares every query after each step.
func TestAgainstNaiveSet(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var s Set
		naive := map[uint64]bool{}
		var next uint64 = 1
		for step := range 300 {
			switch op := rng.IntN(10); {
			case op < 5: // append
				n := uint64(rng.IntN(5) + 1)
				s.Add(next, next+n-1)
				for q := next; q < next+n; q++ {
					naive[q] = true
				}
				next += n + uint64(rng.IntN(2)) // sometimes a gap
			case op < 6: // out of order
				lo := uint64(rng.IntN(int(next) + 1))
				hi := lo + uint64(rng.IntN(4))
				s.Add(lo, hi)
				for q := lo; q <= hi; q++ {
					naive[q] = true
				}
			default: // remove
				lo := uint64(rng.IntN(int(next) + 1))
				hi := lo + uint64(rng.IntN(8))
				s.Remove(lo, hi)
				for q := lo; q <= hi; q++ {
					delete(naive, q)
				}
			}
			check(t, seed, step, s, naive, next+10)
		}
	}
}

func check(t *testing.T, seed uint64, step int, s Set, naive map[uint64]bool, top uint64) {
	t.Helper()
	for i := 1; i < len(s); i++ {
		if s[i][0] <= s[i-1][1]+1 || s[i][0] > s[i][1] {
			t.Fatalf("seed %d step %d: ranges not sorted, disjoint and apart: %v", seed, step, s)
		}
	}
	if got, want := s.Count(), uint64(len(naive)); got != want {
		t.Fatalf("seed %d step %d: Count %d, naive %d (%v)", seed, step, got, want, s)
	}
	var want []uint64
	for q := range top {
		if s.Has(q) != naive[q] {
			t.Fatalf("seed %d step %d: Has(%d) = %v, naive %v (%v)", seed, step, q, s.Has(q), naive[q], s)
		}
		if naive[q] {
			want = append(want, q)
		}
	}
	from, to := uint64(seed%7), top-uint64(seed%5)
	var got []uint64
	for _, r := range s.Within(from, to) {
		for q := r[0]; q <= r[1]; q++ {
			got = append(got, q)
		}
	}
	in := slices.DeleteFunc(slices.Clone(want), func(q uint64) bool { return q < from || q >= to })
	if !slices.Equal(got, in) {
		t.Fatalf("seed %d step %d: Within(%d, %d) = %v, naive %v", seed, step, from, to, got, in)
	}
	if lo, _, ok := s.First(); ok != (len(want) > 0) || ok && lo != want[0] {
		t.Fatalf("seed %d step %d: First = %d %v, naive %v", seed, step, lo, ok, want)
	}
	if _, hi, ok := s.Last(); ok != (len(want) > 0) || ok && hi != want[len(want)-1] {
		t.Fatalf("seed %d step %d: Last = %d %v, naive %v", seed, step, hi, ok, want)
	}
}

func TestCloneSharesNothing(t *testing.T) {
	s := Set{{1, 3}, {5, 9}}
	c := s.Clone()
	c.Remove(1, 9)
	c.Add(20, 20)
	if !slices.Equal(s, Set{{1, 3}, {5, 9}}) {
		t.Fatalf("changing the clone changed the set: %v", s)
	}
}

func TestEmptyAndReversedRanges(t *testing.T) {
	var s Set
	s.Add(5, 4)
	s.Remove(9, 1)
	if len(s) != 0 || s.Within(3, 3) != nil || s.Has(0) {
		t.Fatalf("a reversed range or an empty query changed or found something: %v", s)
	}
}
