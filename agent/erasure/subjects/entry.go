// Package subjects is the subject index: per file content, the keyed tags
// of every identifier the content holds, stored encrypted under
// lethe/subjects/ in the repository. Restore and backup use it to keep
// files that cannot hold an erased subject on the fast path, `lethe find`
// to answer where a person occurs, and the erasure engine to plan which
// files to rewrite.
//
// An entry is trusted only when it was built with the profile at hand
// (formats.Version, phone region, custom kinds, name columns, size limit):
// any other entry, and a content without one, may hold anything and is
// scanned. A false positive costs a rescan of one file; there are no false
// negatives (see docs/subject-index.md).
package subjects

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"

	"lethe/agent/formats"
	"lethe/tombstones"
)

// ContentKey names a file's content in the index (see
// tombstones.SubjectKey.ContentKey).
type ContentKey [16]byte

// precision is the number of tag bits kept beyond what tells the tags of
// one entry apart: a looked-up tag that is not in an entry of n tags hits
// one of them with probability below 2^-precision.
const precision = 16

// Entry is what the index knows of one file content.
type Entry struct {
	Key ContentKey
	// Format is the format the content was read as; Fallback is set when
	// its parser failed and the raw bytes were scanned instead.
	Format   formats.Format
	Fallback bool
	// Records counts all records of the content.
	Records int
	// Quick is set when Tags are quick tags (tombstones.QuickTag), as
	// entries are built now; entries an older lethe built hold
	// fingerprint tags (tombstones.TagOf).
	Quick bool
	// PlainPhones is set when the content holds a phone number written in
	// plain digits (kept by the tag of its tail).
	PlainPhones bool
	// Width is the number of high bits kept in Tags of a tag spread
	// over the entry (see spread).
	Width uint8
	// Tags are the truncated tags (spread(tag) >> (64-Width)), sorted,
	// unique; Count(i) is the number of records the i-th occurs in.
	Tags tagList
	// more are the counts of the tags that occur in more than one record,
	// by increasing index: most tags occur in one (a customer list names
	// each customer once), and an entry in memory costs little more than
	// its tags.
	more []tagCount
}

// tagCount is the number of records n of the tag at index i.
type tagCount struct{ i, n uint32 }

// Count returns the number of records the i-th tag occurs in.
func (e *Entry) Count(i int) uint32 {
	j, ok := slices.BinarySearchFunc(e.more, uint32(i), func(c tagCount, i uint32) int { return cmp.Compare(c.i, i) })
	if ok {
		return e.more[j].n
	}
	return 1
}

// countOneMore counts one more record for the i-th tag, the last so far.
func (e *Entry) countOneMore(i int) {
	if n := len(e.more); n > 0 && e.more[n-1].i == uint32(i) {
		e.more[n-1].n++
		return
	}
	e.more = append(e.more, tagCount{i: uint32(i), n: 2})
}

// widthFor returns the tag width for an entry of n tags.
func widthFor(n int) uint8 {
	return uint8(min(64, bits.Len(uint(n))+precision))
}

// spread maps a tag to the value an entry keeps the top bits of. It is a
// bijection (so distinct tags stay distinct) that differs per entry: a tag
// looked up that truncates like a tag common to many files (a company's
// own address in every mail) would otherwise match all of them; spread,
// a collision in one entry says nothing about another.
func spread(key ContentKey, t uint64) uint64 {
	t ^= binary.BigEndian.Uint64(key[:8])
	// The SplitMix64 finalizer.
	t = (t ^ t>>30) * 0xbf58476d1ce4e5b9
	t = (t ^ t>>27) * 0x94d049bb133111eb
	return t ^ t>>31
}

// newEntry builds an entry from the tags of the identifiers of every
// record: a tag once per record it occurs in. It overwrites tags.
func newEntry(key ContentKey, tags []uint64) *Entry {
	for i, t := range tags {
		tags[i] = spread(key, t)
	}
	slices.Sort(tags)
	distinct := 0
	for i := range tags {
		if i == 0 || tags[i] != tags[i-1] {
			distinct++
		}
	}
	e := &Entry{Key: key, Width: widthFor(distinct)}
	shift := 64 - uint(e.Width)
	e.Tags = makeTags(distinct)
	for _, t := range tags {
		// Truncating keeps the order, so equal truncated tags are
		// neighbours.
		t >>= shift
		if n := e.Tags.Len(); n > 0 && e.Tags.last() == t {
			e.countOneMore(n - 1)
			continue
		}
		e.Tags.add(t)
	}
	return e
}

// find returns the number of records tag occurs in (0: not there).
func (e *Entry) find(tag tombstones.Tag) uint32 {
	if e.Tags.Len() == 0 {
		return 0
	}
	t := spread(e.Key, uint64(tag)) >> (64 - uint(e.Width))
	if i, ok := e.Tags.search(t); ok {
		return e.Count(i)
	}
	return 0
}

// Match reports whether the content may hold the subject of p, and the
// most records one of the subject's identifiers occurs in (0 when the
// entry says so only by its plain phone numbers).
func (e *Entry) Match(p tombstones.Probe) (records uint32, may bool) {
	tags := p.Tags
	if e.Quick {
		if p.NoQuick {
			// Some tombstone has no quick tags to look for.
			return 0, true
		}
		tags = p.Quick
	}
	for _, t := range tags {
		if c := e.find(t); c > 0 {
			records, may = max(records, c), true
		}
	}
	if p.PlainPhones && e.PlainPhones {
		may = true
	}
	return records, may
}
