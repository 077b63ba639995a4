package formats

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"unicode/utf8"
	"unsafe"
)

// LineScan is what ScanAfter and ScanKeysAfter keep of a file of a
// line-oriented format (text, JSON Lines, CSV without quotes) for
// scanning the next version of it: checkpoints at record ends, each with
// a hash of the bytes up to it and what the scan had found so far. A
// version that shares the bytes up to a checkpoint shares its records up
// to there, and is scanned only from there on. It holds no text: the
// matching records, or the keys of their refs, up to its last
// checkpoint.
type LineScan struct {
	ctx    lineContext
	seeds  [2]maphash.Seed
	marks  []checkpoint
	byKeys bool     // made by ScanKeysAfter
	keys   []uint64 // RecordKeys up to the last checkpoint
	recs   []Record // Records up to the last checkpoint
}

// lineContext is what decides how the records of a line-oriented file
// are read, besides their bytes.
type lineContext struct {
	format   Format
	comma    byte  // CSV: the delimiter
	nameCols []int // CSV: the columns matched as names
	bom      int   // CSV: the byte order mark's length
	start    int   // where the first record may start: past the byte order mark and a CSV header
}

func (c *lineContext) equal(o *lineContext) bool {
	return c.format == o.format && c.comma == o.comma && c.bom == o.bom && c.start == o.start && slices.Equal(c.nameCols, o.nameCols)
}

// checkpoint is the state of a scan just past a record that ends with a
// newline at end.
type checkpoint struct {
	end                                   int
	records, recs, keys, flagged, matched int
	kinds                                 kindSet
	sum                                   [2]uint64 // of data[:end]
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
	t.marks = append(t.marks, checkpoint{end: e, records: r.NumRecords, recs: len(r.Records), keys: len(r.RecordKeys), flagged: r.Flagged,
		matched: r.matched, kinds: r.kinds, sum: [2]uint64{t.h[0].Sum64(), t.h[1].Sum64()}})
}

// ScanAfter is Scan for the next version of a file whose previous
// version prev described (nil for a first version): where the two share
// their bytes up to a checkpoint, the records up to there are taken from
// prev and only the rest is scanned. The result is exactly what Scan
// gives. next describes data for the version after it; it is nil for a
// file that is not line-oriented, or whose scan made it one record.
func (s *Scanner) ScanAfter(prev *LineScan, name string, data []byte) (res *Result, next *LineScan) {
	return s.scanAfter(prev, name, data, nil)
}

// ScanKeysAfter is ScanAfter for ScanKeys: prev must come from
// ScanKeysAfter with the same key function.
func (s *Scanner) ScanKeysAfter(prev *LineScan, name string, data []byte, key RefKey) (res *Result, next *LineScan) {
	return s.scanAfter(prev, name, data, key)
}

// scanAfter is ScanKeysAfter with a key function, ScanAfter without.
func (s *Scanner) scanAfter(prev *LineScan, name string, data []byte, key RefKey) (res *Result, next *LineScan) {
	scan := func() *Result {
		if key != nil {
			return s.ScanKeys(name, data, key)
		}
		return s.Scan(name, data)
	}
	ctx, ok := s.lineContext(name, data)
	if !ok {
		return scan(), nil
	}
	if prev != nil && prev.byKeys == (key != nil) && prev.ctx.equal(&ctx) {
		if res, next := s.resume(prev, data, key); res != nil {
			return res, next
		}
	}
	next = &LineScan{ctx: ctx, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, byKeys: key != nil}
	t := newTracker(next.seeds)
	s.x.track = t
	defer func() { s.x.track = nil }()
	res = scan()
	next.marks = t.marks
	if res.Whole || res.Fallback != "" || res.Format != ctx.format || len(next.marks) == 0 {
		return res, nil
	}
	next.keep(res)
	return res, next
}

// Size returns about how many bytes ls holds.
func (ls *LineScan) Size() int {
	return len(ls.marks)*int(unsafe.Sizeof(checkpoint{})) + 8*len(ls.keys) + len(ls.recs)*int(unsafe.Sizeof(Record{}))
}

// keep keeps what res found up to the last checkpoint.
func (ls *LineScan) keep(res *Result) {
	m := ls.marks[len(ls.marks)-1]
	ls.keys = slices.Clone(res.RecordKeys[:m.keys])
	ls.recs = slices.Clone(res.Records[:m.recs])
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
		c.start = bomLen(data)
		return c, true
	case FormatCSV:
		body := bytes.TrimPrefix(data, utf8BOM)
		comma := csvDelimiter(name, body)
		if comma >= utf8.RuneSelf || !plainCSV(body) {
			return c, false
		}
		c.comma, c.bom = byte(comma), len(data)-len(body)
		rows := &plainRows{body: body, comma: c.comma}
		header, end, err := rows.next()
		if err != nil {
			return c, false // no rows at all
		}
		c.nameCols = csvNameCols(header, s.x, s.opts)
		c.start = c.bom + end
		return c, true
	}
	return c, false
}

// linesFrom adds the records of b's data from p on, a record's start
// (past the byte order mark and a CSV header).
func (c *lineContext) linesFrom(b *builder, p int) error {
	switch c.format {
	case FormatText:
		textLines(b, p)
	case FormatJSONL:
		jsonLines(b, p)
	case FormatCSV:
		rows := &plainRows{body: b.data[c.bom:], comma: c.comma, off: p - c.bom}
		if len(c.nameCols) == 0 {
			rows.skipFields()
		}
		return addCSVRows(b, c.bom, rows, p-c.bom, c.nameCols)
	default:
		panic(fmt.Sprintf("formats: reading the lines of %s", c.format))
	}
	return nil
}

// resume scans data from the last checkpoint of prev whose bytes it
// shares, with key for ScanKeysAfter; nil when it shares none, or the
// rest of it turns the file into one record (the caller scans it whole
// then).
func (s *Scanner) resume(prev *LineScan, data []byte, key RefKey) (res *Result, next *LineScan) {
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

	init := &Result{Format: prev.ctx.format, Records: slices.Clone(prev.recs[:m.recs]),
		NumRecords: m.records, Flagged: m.flagged, matched: m.matched, kinds: m.kinds}
	if key != nil {
		init.RecordKeys = append(make([]uint64, 0, m.keys+m.keys/8), prev.keys[:m.keys]...)
	}
	if res = s.scanLines(&prev.ctx, data, m.end, m.end, init, key, t); res == nil {
		return nil, nil
	}
	if key != nil {
		res.kindList = s.x.sortedKinds(res.kinds)
	}
	next = &LineScan{ctx: prev.ctx, seeds: prev.seeds, marks: t.marks, byKeys: key != nil}
	next.keep(res)
	return res, next
}

// scanLines adds the records of data from p on, a record's start, read
// as c says, to init (what the lines before p hold; nil for nothing);
// the gap before them is scanned from from on. With key it keeps the
// keys of their refs, as ScanKeys does, else whole records; with t it
// takes checkpoints. It returns nil when the lines do not parse as c
// says, or make the file one record: the caller scans it whole then.
func (s *Scanner) scanLines(c *lineContext, data []byte, from, p int, init *Result, key RefKey, t *tracker) (res *Result) {
	x := s.x
	defer func() {
		x.refsOnly, x.keys, x.track = false, nil, nil
		if r := recover(); r != nil {
			// As in scanFormat: a parser bug must not take a file's
			// scan down.
			res = nil
		}
	}()
	x.track = t
	if key != nil {
		x.refsOnly, x.keys = true, &refKeys{key: key, flat: true}
	}
	x.startRefs(0)
	b := newBuilder(c.format, data, x)
	if init != nil {
		b.res = init
	}
	b.prev = from
	if err := c.linesFrom(b, p); err != nil {
		return nil
	}
	res = b.done()
	if res.Whole {
		x.dropRefs(0)
		return nil
	}
	if key != nil {
		x.releaseRefs()
	}
	return res
}
