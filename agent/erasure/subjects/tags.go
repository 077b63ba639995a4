package subjects

import (
	"cmp"
	"slices"
)

// tagList holds an entry's sorted, unique tags in about 4 bytes each
// instead of 8: the low 32 bits of every tag, and the high bits, which
// only grow along the list, once per run of tags sharing them. An entry
// of n tags keeps bitlen(n)+16 bits of each, so its tags share their
// high bits in runs of about 2^15: a customer CSV's entries, the bulk of
// an index in memory, take half the memory.
type tagList struct {
	lo   []uint32
	runs []tagRun
}

// tagRun says that the tags from index start on have the high bits hi,
// up to the next run.
type tagRun struct{ hi, start uint32 }

// makeTags returns an empty list with room for n tags.
func makeTags(n int) tagList { return tagList{lo: make([]uint32, 0, n)} }

// Len returns the number of tags.
func (l *tagList) Len() int { return len(l.lo) }

// add appends t, which must be larger than every tag in the list.
func (l *tagList) add(t uint64) {
	hi := uint32(t >> 32)
	if n := len(l.runs); n == 0 || l.runs[n-1].hi != hi {
		l.runs = append(l.runs, tagRun{hi: hi, start: uint32(len(l.lo))})
	}
	l.lo = append(l.lo, uint32(t))
}

// last returns the last tag; the list must not be empty.
func (l *tagList) last() uint64 {
	return uint64(l.runs[len(l.runs)-1].hi)<<32 | uint64(l.lo[len(l.lo)-1])
}

// search returns the index of t and whether it is in the list.
func (l *tagList) search(t uint64) (int, bool) {
	r, ok := slices.BinarySearchFunc(l.runs, uint32(t>>32), func(r tagRun, hi uint32) int { return cmp.Compare(r.hi, hi) })
	if !ok {
		return 0, false
	}
	start, end := int(l.runs[r].start), len(l.lo)
	if r+1 < len(l.runs) {
		end = int(l.runs[r+1].start)
	}
	i, ok := slices.BinarySearch(l.lo[start:end], uint32(t))
	return start + i, ok
}

// each calls fn with every tag in order.
func (l *tagList) each(fn func(i int, t uint64)) {
	for r, run := range l.runs {
		end := len(l.lo)
		if r+1 < len(l.runs) {
			end = int(l.runs[r+1].start)
		}
		for i := int(run.start); i < end; i++ {
			fn(i, uint64(run.hi)<<32|uint64(l.lo[i]))
		}
	}
}
