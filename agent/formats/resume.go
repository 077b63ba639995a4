package formats

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"unicode/utf8"
)

// KeysScan is what ScanKeysAfter keeps of a file of a line-oriented
// format (text, JSON Lines, CSV without quotes) for scanning the next
// version of it: checkpoints at record ends, each with a hash of the
// bytes up to it and what the scan had found so far. A version that
// shares the bytes up to a checkpoint shares its records up to there,
// and is scanned only from there on. It holds no text, only the keys of
// the records up to its last checkpoint.
type KeysScan struct {
	ctx   lineContext
	seeds [2]maphash.Seed
	marks []checkpoint
	keys  []uint64 // RecordKeys up to the last checkpoint
}

// lineContext is what decides how the records of a line-oriented file
// are read, besides their bytes.
type lineContext struct {
	format   Format
	comma    byte  // CSV: the delimiter
	nameCols []int // CSV: the columns matched as names
	bom      int   // CSV: the byte order mark's length
}

func (c *lineContext) equal(o *lineContext) bool {
	return c.format == o.format && c.comma == o.comma && c.bom == o.bom && slices.Equal(c.nameCols, o.nameCols)
}

// checkpoint is the state of a scan just past a record that ends with a
// newline at end.
type checkpoint struct {
	end                             int
	records, keys, flagged, matched int
	kinds                           kindSet
	sum                             [2]uint64 // of data[:end]
}

// checkpointEvery is about how many bytes lie between checkpoints: at
// most that much before the first byte a version changes is scanned
// again.
const checkpointEvery = 64 << 10

// tracker takes the checkpoints of a scan.
type tracker struct {
	h     [2]maphash.Hash
	done  int // the bytes hashed so far
	marks []checkpoint
}

func newTracker(seeds [2]maphash.Seed) *tracker {
	t := &tracker{}
	t.h[0].SetSeed(seeds[0])
	t.h[1].SetSeed(seeds[1])
	return t
}

// note takes a checkpoint after the record b added last, ending at e,
// when it is far enough from the last one and ends with a newline.
func (t *tracker) note(b *builder, e int) {
	if e-t.done < checkpointEvery || b.data[e-1] != '\n' {
		return
	}
	t.h[0].Write(b.data[t.done:e])
	t.h[1].Write(b.data[t.done:e])
	t.done = e
	r := b.res
	t.marks = append(t.marks, checkpoint{end: e, records: r.NumRecords, keys: len(r.RecordKeys), flagged: r.Flagged,
		matched: r.matched, kinds: r.kinds, sum: [2]uint64{t.h[0].Sum64(), t.h[1].Sum64()}})
}

// ScanKeysAfter is ScanKeys for the next version of a file whose
// previous version prev described (nil for a first version): where the
// two share their bytes up to a checkpoint, the records up to there are
// taken from prev and only the rest is scanned. The result is exactly
// what ScanKeys gives. next describes data for the version after it; it
// is nil for a file that is not line-oriented, or whose scan made it one
// record.
func (s *Scanner) ScanKeysAfter(prev *KeysScan, name string, data []byte, key RefKey) (res *Result, next *KeysScan) {
	ctx, ok := s.lineContext(name, data)
	if !ok {
		return s.ScanKeys(name, data, key), nil
	}
	if prev != nil && prev.ctx.equal(&ctx) {
		if res, next := s.resumeKeys(prev, data, key); res != nil {
			return res, next
		}
	}
	next = &KeysScan{ctx: ctx, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	s.x.track = newTracker(next.seeds)
	res = s.ScanKeys(name, data, key)
	next.marks = s.x.track.marks
	s.x.track = nil
	if res.Whole || res.Fallback != "" || res.Format != ctx.format || len(next.marks) == 0 {
		return res, nil
	}
	next.keys = slices.Clone(res.RecordKeys[:next.marks[len(next.marks)-1].keys])
	return res, next
}

// lineContext returns how data, a file named name, is read, when it is
// read as lines each its own record.
func (s *Scanner) lineContext(name string, data []byte) (lineContext, bool) {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return lineContext{}, false // UTF-16
	}
	c := lineContext{format: Detect(name, data)}
	switch c.format {
	case FormatText, FormatJSONL:
		return c, true
	case FormatCSV:
		body := bytes.TrimPrefix(data, utf8BOM)
		comma := csvDelimiter(name, body)
		if comma >= utf8.RuneSelf || !plainCSV(body) {
			return c, false
		}
		c.comma, c.bom = byte(comma), len(data)-len(body)
		rows := &plainRows{body: body, comma: c.comma}
		header, _, err := rows.next()
		if err != nil {
			return c, false // no rows at all
		}
		c.nameCols = csvNameCols(header, s.x, s.opts)
		return c, true
	}
	return c, false
}

// resumeKeys scans data from the last checkpoint of prev whose bytes it
// shares; nil when it shares none, or the rest of it turns the file into
// one record (the caller scans it whole then).
func (s *Scanner) resumeKeys(prev *KeysScan, data []byte, key RefKey) (res *Result, next *KeysScan) {
	t := newTracker(prev.seeds)
	last := -1
	for i, m := range prev.marks {
		if m.end > len(data) {
			break
		}
		h := t.h // the hashes up to the last shared checkpoint, kept
		h[0].Write(data[t.done:m.end])
		h[1].Write(data[t.done:m.end])
		if h[0].Sum64() != m.sum[0] || h[1].Sum64() != m.sum[1] {
			break
		}
		t.h, t.done, last = h, m.end, i
	}
	if last < 0 {
		return nil, nil
	}
	m := prev.marks[last]
	t.marks = slices.Clone(prev.marks[:last+1])

	x := s.x
	defer func() {
		x.refsOnly, x.keys, x.track = false, nil, nil
		if r := recover(); r != nil {
			// As in scanFormat: a parser bug must not take a file's
			// scan down; the caller scans it whole.
			res, next = nil, nil
		}
	}()
	x.refsOnly, x.keys, x.track = true, &refKeys{key: key, flat: true}, t
	x.startRefs(0)
	b := newBuilder(prev.ctx.format, data, x)
	b.res.RecordKeys = append(make([]uint64, 0, m.keys+m.keys/8), prev.keys[:m.keys]...)
	b.res.NumRecords, b.res.Flagged, b.res.matched, b.res.kinds = m.records, m.flagged, m.matched, m.kinds
	b.prev = m.end
	switch c := prev.ctx; c.format {
	case FormatText:
		textLines(b, m.end)
	case FormatJSONL:
		jsonLines(b, m.end)
	case FormatCSV:
		rows := &plainRows{body: data[c.bom:], comma: c.comma, off: m.end - c.bom}
		if len(c.nameCols) == 0 {
			rows.skipFields()
		}
		if err := addCSVRows(b, c.bom, rows, m.end-c.bom, c.nameCols); err != nil {
			return nil, nil
		}
	default:
		panic(fmt.Sprintf("formats: resuming a scan of %s", c.format))
	}
	res = b.done()
	if res.Whole {
		x.dropRefs(0)
		return nil, nil
	}
	res.kindList = x.sortedKinds(res.kinds)
	x.releaseRefs()
	next = &KeysScan{ctx: prev.ctx, seeds: prev.seeds, marks: t.marks}
	next.keys = slices.Clone(res.RecordKeys[:t.marks[len(t.marks)-1].keys])
	return res, next
}
