package formats

// RefKey maps a matcher's ref to a 64-bit key for Scanner.ScanKeys. It
// must be one to one on the refs it accepts (ok); flag marks keys the
// caller wants counted (Result.Flagged, nonzero when a kept key was).
type RefKey func(ref string) (key uint64, flag, ok bool)

// refKeys is the state of a ScanKeys scan: the key function, and scratch
// for one record's refs.
// flat is set when no parser of the file takes the refs of a range of
// x.refs that holds records (as containers do for their whole record):
// a record's refs are then dropped once their keys are kept.
type refKeys struct {
	key     RefKey
	scratch []string
	flat    bool
}

// ScanKeys is ScanRefs keeping the key of each ref instead of the ref:
// Result.RecordKeys holds, record after record, the keys of each
// matching record's refs without duplicates, in place of RecordRefs.
// Refs the key function does not accept are left out. A key takes half
// the memory of a ref's string header, and the refs of a record need not
// outlive the record, so a file with millions of identifiers is indexed
// in a fraction of the memory.
func (s *Scanner) ScanKeys(name string, data []byte, key RefKey) *Result {
	if Detect(name, data) == FormatSQLite {
		// A SQLite database's record of free space holds the refs no
		// live row does, which it tells from the live rows' refs.
		res := s.ScanRefs(name, data)
		for _, ref := range res.RecordRefs {
			res.appendKey(key, ref)
		}
		res.RecordRefs = nil
		return res
	}
	s.x.keys = &refKeys{key: key, flat: flatFormat(Detect(name, data), data)}
	defer func() { s.x.keys = nil }()
	return s.ScanRefs(name, data)
}

// addKeys adds the keys of the refs collected from x.refs[mark] on, each
// once, for a matching record.
func (r *Result) addKeys(x *extractor, mark int) {
	k := x.keys
	k.scratch = sortUnique(append(k.scratch[:0], x.refs[mark:]...))
	for _, ref := range k.scratch {
		r.appendKey(k.key, ref)
	}
	if cap(k.scratch) > maxKeptRefs {
		k.scratch = nil
	}
}

func (r *Result) appendKey(key RefKey, ref string) {
	v, flag, ok := key(ref)
	if !ok {
		return
	}
	r.RecordKeys = append(r.RecordKeys, v)
	if flag {
		r.Flagged++
	}
}

// maxKeptRefs is the most refs a scanner's buffers keep between files:
// one file full of identifiers must not hold its refs' memory for as
// long as the scanner lives.
const maxKeptRefs = 1 << 14

// releaseRefs drops x's buffer of refs if a file made it large.
func (x *extractor) releaseRefs() {
	if cap(x.refs) > maxKeptRefs {
		x.refs = nil
		x.seg, x.segMax = 0, 0
	}
}

// flatFormat reports whether the parsers that read data, detected as f,
// build records of no other parser's content: the formats without
// containers, and not UTF-16 (decoded and read by the format of its
// content).
func flatFormat(f Format, data []byte) bool {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return false
	}
	switch f {
	case FormatCSV, FormatJSONL, FormatJSON, FormatSQL, FormatVCard, FormatICal, FormatText:
		return true
	}
	return false
}

// dropKept forgets the refs of the record just added when their keys are
// kept and nothing else needs them: a file of a million records then
// holds one record's refs at a time. A whole-file record after all takes
// the records' keys from the builder (see withKeysOf).
func (b *builder) dropKept() {
	if b.x.keys != nil && b.x.keys.flat {
		b.x.dropRefs(b.mark)
	}
}

// withKeysOf returns res, the whole-file result replacing b's, with the
// keys of b's records, whose refs dropKept dropped.
func (res *Result) withKeysOf(b *builder) *Result {
	if b.x.keys == nil || !b.x.keys.flat || len(b.res.RecordKeys) == 0 {
		return res
	}
	if res.matched == 0 {
		return res // no whole record: the file had no match after all
	}
	res.RecordKeys = sortUnique(append(res.RecordKeys, b.res.RecordKeys...))
	res.Flagged += b.res.Flagged
	return res
}
