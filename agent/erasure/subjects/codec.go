package subjects

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"lethe/agent/formats"
)

// A batch is one stored object of the index: a header with the profile
// its entries were built with, then the entries. Batches are
// self-contained; the index is the union of all of them. The profile
// also names the tag scheme: it ends in ";tags=quick" when the tags are
// quick tags, and has no such part for the fingerprint tags an older
// lethe stored (see Entry.Quick).
//
//	magic "lethe-subjects-1\n"
//	uvarint len, profile
//	uvarint number of entries, then per entry:
//	  16 bytes content key
//	  uvarint len, format
//	  byte flags (1 fallback, 2 plain phones)
//	  uvarint records
//	  uvarint number of tags n; when n > 0:
//	    byte width, byte rice parameter k
//	    uvarint len, the Rice-coded gaps between the sorted tags
//	    n uvarints, each tag's record count minus one
const magic = "lethe-subjects-1\n"

const (
	flagFallback    = 1
	flagPlainPhones = 2
)

// maxFormatLen bounds a format name in a batch.
const maxFormatLen = 64

// batch is a decoded batch.
type batch struct {
	profile string
	entries []*Entry
}

// encodeBatch encodes entries built with profile.
func encodeBatch(profile string, entries []*Entry) []byte {
	b := []byte(magic)
	b = appendString(b, profile)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, e.Key[:]...)
		b = appendString(b, string(e.Format))
		var fl byte
		if e.Fallback {
			fl |= flagFallback
		}
		if e.PlainPhones {
			fl |= flagPlainPhones
		}
		b = append(b, fl)
		b = binary.AppendUvarint(b, uint64(e.Records))
		b = binary.AppendUvarint(b, uint64(e.Tags.Len()))
		if e.Tags.Len() == 0 {
			continue
		}
		k := riceParam(e.Width, e.Tags.Len())
		b = append(b, e.Width, k)
		gaps := riceEncode(e.Tags, k)
		b = binary.AppendUvarint(b, uint64(len(gaps)))
		b = append(b, gaps...)
		more := e.more
		for i := range e.Tags.Len() {
			c := uint32(1)
			if len(more) > 0 && more[0].i == uint32(i) {
				c, more = more[0].n, more[1:]
			}
			b = binary.AppendUvarint(b, uint64(c-1))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// riceParam is the Rice parameter for n tags of width bits: about the
// logarithm of the mean gap.
func riceParam(width uint8, n int) uint8 {
	l := bits.Len(uint(n))
	if int(width) <= l {
		return 0
	}
	return width - uint8(l)
}

// riceEncode codes the gaps between sorted unique tags: the first tag, then
// each difference minus one, as a unary quotient and k low bits.
func riceEncode(tags tagList, k uint8) []byte {
	var w bitWriter
	prev := uint64(0)
	tags.each(func(i int, t uint64) {
		d := t
		if i > 0 {
			d = t - prev - 1
		}
		prev = t
		for q := d >> k; q > 0; q-- {
			w.bit(1)
		}
		w.bit(0)
		w.bits(d, k)
	})
	return w.done()
}

type bitWriter struct {
	buf []byte
	cur byte
	n   uint8
}

func (w *bitWriter) bit(b byte) {
	w.cur = w.cur<<1 | b
	if w.n++; w.n == 8 {
		w.buf = append(w.buf, w.cur)
		w.cur, w.n = 0, 0
	}
}

func (w *bitWriter) bits(v uint64, k uint8) {
	for i := int(k) - 1; i >= 0; i-- {
		w.bit(byte(v>>uint(i)) & 1)
	}
}

func (w *bitWriter) done() []byte {
	if w.n > 0 {
		w.buf = append(w.buf, w.cur<<(8-w.n))
	}
	return w.buf
}

// errBatch marks a batch that does not decode.
var errBatch = errors.New("damaged subject index batch")

func batchErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBatch, fmt.Sprintf(format, args...))
}

// decodeBatch decodes a batch. It checks every length against the data
// left, so damaged input cannot make it allocate much more than its size.
func decodeBatch(data []byte) (*batch, error) {
	d := decoder{b: data}
	if string(d.take(len(magic))) != magic || d.err != nil {
		return nil, batchErr("unknown format")
	}
	bt := &batch{profile: d.string(1 << 16)}
	n := d.count(16 + 3) // the smallest entry
	for i := 0; i < n && d.err == nil; i++ {
		e := &Entry{}
		copy(e.Key[:], d.take(len(e.Key)))
		e.Format = formats.Format(d.string(maxFormatLen))
		fl := d.byte()
		e.Fallback, e.PlainPhones = fl&flagFallback != 0, fl&flagPlainPhones != 0
		e.Records = int(d.uvarint(1 << 40))
		nt := d.count(1) // at least one count byte per tag
		if nt > 0 && d.err == nil {
			w, k := d.byte(), d.byte()
			e.Width = w
			if d.err == nil && (e.Width == 0 || e.Width > 64 || k >= e.Width) {
				d.fail("tag width %d, parameter %d", e.Width, k)
			}
			gaps := d.take(d.count(1))
			if d.err == nil && nt > 8*len(gaps) {
				d.fail("%d tags in %d bytes", nt, len(gaps))
			}
			if d.err == nil {
				e.Tags, d.err = riceDecode(gaps, nt, e.Width, k)
			}
			for j := 0; j < nt && d.err == nil; j++ {
				if c := uint32(d.uvarint(1<<31)) + 1; c > 1 && d.err == nil {
					e.more = append(e.more, tagCount{i: uint32(j), n: c})
				}
			}
		}
		bt.entries = append(bt.entries, e)
	}
	if d.err == nil && d.left() != 0 {
		d.fail("%d bytes after the entries", d.left())
	}
	if d.err != nil {
		return nil, d.err
	}
	return bt, nil
}

func riceDecode(gaps []byte, n int, width, k uint8) (tagList, error) {
	r := bitReader{b: gaps}
	out := makeTags(n)
	var limit uint64 = 1<<width - 1 // largest tag; width 64 wraps to all ones
	if width == 64 {
		limit = ^uint64(0)
	}
	prev := uint64(0)
	for i := 0; i < n; i++ {
		q, err := r.unary(limit >> k)
		if err != nil {
			return tagList{}, batchErr("tag %d: %s", i, err)
		}
		low, ok := r.bits(k)
		if !ok {
			return tagList{}, batchErr("tag %d: truncated", i)
		}
		d := q<<k | low
		t := d
		if i > 0 {
			if d >= limit-prev {
				return tagList{}, batchErr("tag %d: beyond the tag width", i)
			}
			t = prev + d + 1
		} else if d > limit {
			return tagList{}, batchErr("tag %d: beyond the tag width", i)
		}
		out.add(t)
		prev = t
	}
	return out, nil
}

// bitReader reads bits most significant first, up to 64 at a time: the
// index is decoded whole by every restore and backup with erasures, and
// bit by bit it cost a tenth of an unchanged backup.
type bitReader struct {
	b   []byte
	pos int // in bits
}

// window returns the bits from pos on, left-aligned, and how many of them
// are in b (the rest are zero): at least 57 when that many are left.
func (r *bitReader) window() (uint64, int) {
	i, off := r.pos/8, r.pos%8
	var w uint64
	if i+8 <= len(r.b) {
		w = binary.BigEndian.Uint64(r.b[i:])
	} else {
		for j := i; j < i+8; j++ {
			w <<= 8
			if j < len(r.b) {
				w |= uint64(r.b[j])
			}
		}
	}
	return w << uint(off), min(8*len(r.b)-r.pos, 64-off)
}

var (
	errTruncated = errors.New("truncated")
	errGapLarge  = errors.New("gap too large")
)

// unary reads a run of ones ended by a zero and returns its length, which
// may not exceed max.
func (r *bitReader) unary(max uint64) (uint64, error) {
	var q uint64
	for {
		w, valid := r.window()
		if valid <= 0 {
			return 0, errTruncated
		}
		ones := bits.LeadingZeros64(^w)
		if ones > valid {
			ones = valid
		}
		if q += uint64(ones); q > max {
			return 0, errGapLarge
		}
		if ones < valid {
			r.pos += ones + 1
			return q, nil
		}
		r.pos += ones
	}
}

// bits reads a k-bit number.
func (r *bitReader) bits(k uint8) (uint64, bool) {
	switch {
	case int(k) > 8*len(r.b)-r.pos:
		return 0, false
	case k == 0:
		return 0, true
	case k > 56:
		hi, _ := r.bits(k - 32)
		lo, _ := r.bits(32)
		return hi<<32 | lo, true
	}
	w, _ := r.window()
	r.pos += int(k)
	return w >> (64 - uint(k)), true
}

// decoder reads a batch; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = batchErr(format, args...)
	}
}

func (d *decoder) left() int { return len(d.b) }

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.fail("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of items each taking at least size bytes.
func (d *decoder) count(size int) int {
	v := d.uvarint(uint64(len(d.b)))
	if d.err == nil && v*uint64(size) > uint64(len(d.b)) {
		d.fail("%d items in %d bytes", v, len(d.b))
		return 0
	}
	return int(v)
}

func (d *decoder) string(max int) string {
	n := d.uvarint(uint64(max))
	return string(d.take(int(n)))
}
