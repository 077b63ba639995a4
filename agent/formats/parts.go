package formats

import (
	"bytes"
	"sync"
)

// ScanKeysParts is ScanKeys for a large line-oriented file (text, JSON
// Lines, CSV without quotes) read by several scanners at once, each a
// run of its lines; any other file is scanned whole by the first
// scanner. The result is exactly what ScanKeys gives. The scanners must
// be of one matcher and Options, and used by nothing else meanwhile.
func ScanKeysParts(scs []*Scanner, name string, data []byte, key RefKey) *Result {
	first := scs[0]
	c, ok := first.lineContext(name, data)
	if !ok || len(scs) < 2 {
		return first.ScanKeys(name, data, key)
	}
	cuts := lineCuts(data, c.start, len(scs))
	if len(cuts) < 3 {
		return first.ScanKeys(name, data, key)
	}
	parts := make([]*Result, len(cuts)-1)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() { parts[i] = scs[i].scanPart(&c, data[:cuts[i+1]], cuts[i], key) })
	}
	wg.Wait()
	res := &Result{Format: c.format}
	for _, p := range parts {
		if p == nil {
			// A part made the file one record, or did not parse: as a
			// whole, it is read by the rules for that.
			return first.ScanKeys(name, data, key)
		}
		res.RecordKeys = append(res.RecordKeys, p.RecordKeys...)
		res.NumRecords += p.NumRecords
		res.Flagged += p.Flagged
		res.matched += p.matched
		res.kinds |= p.kinds
	}
	res.kindList = first.x.sortedKinds(res.kinds)
	return res
}

// lineCuts returns where to cut data, whose records start at start or
// later, into at most n runs of whole lines of about the same size: 0,
// the cuts, and len(data).
func lineCuts(data []byte, start, n int) []int {
	cuts := []int{0}
	for i := 1; i < n; i++ {
		p := max(i*len(data)/n, start, cuts[len(cuts)-1]+1)
		if p >= len(data) {
			break
		}
		e := bytes.IndexByte(data[p:], '\n')
		if e < 0 || p+e+1 >= len(data) {
			break
		}
		cuts = append(cuts, p+e+1)
	}
	return append(cuts, len(data))
}

// scanPart scans the records of data from p on, p being 0 or a line's
// start past c.start, as ScanKeys scans them in the whole file; nil when
// they do not parse or make the file one record.
func (s *Scanner) scanPart(c *lineContext, data []byte, p int, key RefKey) (res *Result) {
	x := s.x
	defer func() {
		x.refsOnly, x.keys = false, nil
		if r := recover(); r != nil {
			res = nil // as in scanFormat; the caller scans the file whole
		}
	}()
	x.refsOnly, x.keys = true, &refKeys{key: key, flat: true}
	x.startRefs(0)
	b := newBuilder(c.format, data, x)
	if p == 0 {
		// The gap before the first record (a CSV header) is scanned
		// when the first record is added, as in the whole file.
		p = c.start
	} else {
		b.prev = p
	}
	if err := c.linesFrom(b, p); err != nil {
		return nil
	}
	res = b.done()
	if res.Whole {
		x.dropRefs(0)
		return nil
	}
	x.releaseRefs()
	return res
}
