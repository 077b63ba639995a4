package formats

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Format names a file format lethe knows how to split into records.
type Format string

const (
	FormatMail     Format = "mail"      // one RFC 5322 message (.eml, a Maildir file)
	FormatMbox     Format = "mbox"      // mboxo/mboxrd; a message is a record
	FormatCSV      Format = "csv"       // CSV/TSV; a row is a record, the header stays
	FormatJSONL    Format = "jsonl"     // JSON Lines; a line is a record
	FormatJSON     Format = "json"      // a top-level array element is a record
	FormatVCard    Format = "vcard"     // a card is a record
	FormatICal     Format = "icalendar" // a VEVENT/VTODO/VJOURNAL is a record
	FormatSQL      Format = "sql"       // pg_dump / mysqldump; a row is a record
	FormatText     Format = "text"      // plain text, logs; a line is a record
	FormatGzip     Format = "gzip"      // scanned inside; a hit is the whole file
	FormatZip      Format = "zip"       // docx/xlsx/odt/zip; a hit is the whole file
	FormatTar      Format = "tar"       // tar, also gzip-compressed; a member is a record
	FormatSQLite   Format = "sqlite"    // a SQLite database; a table row is a record
	FormatMsg      Format = "msg"       // Outlook .msg and other compound files; a hit is the whole file
	FormatFallback Format = "fallback"  // raw bytes as UTF-8 and UTF-16; a hit is the whole file
	FormatName     Format = "name"      // an identifier in a file or directory name
	FormatPath     Format = "path"      // a path rule makes a folder one subject's
)

// DefaultMaxSize is the largest file read whole into memory; bigger files are
// streamed through the fallback scanner.
const DefaultMaxSize = 256 << 20

// Options tune scanning.
type Options struct {
	// MaxSize is the largest file (and the largest member of a container)
	// parsed by its format; bigger ones are scanned as raw bytes, in a
	// stream. 0 means DefaultMaxSize.
	MaxSize int64
	// NameColumns are CSV header names (compared case-insensitively) whose
	// values are matched as names. Names are never matched in free text.
	NameColumns []string
	// PathRules make whole folders one subject's: Redactor.DecidePath,
	// and the walks of Scan and Redact, apply them; a Scanner does not.
	PathRules []PathRule
	// AllCandidates looks at every identifier candidate, also after
	// another of the same kind in the same text matched, so that
	// Record.Refs name every identifier in a record: for a matcher whose
	// refs are fingerprints of everything a file holds (the subject
	// index). Without it, looking for a kind in a piece of a record (a
	// line, a header field, a value) stops at its first hit, which is
	// enough to decide what to remove.
	AllCandidates bool
	// Report is called by Scan and Redact when a file that looked like a
	// format did not parse and was scanned by the fallback instead, and
	// for files that could not be read. The reason never contains file
	// contents, and identifiers in the paths it names are masked (see
	// Redactor.MaskPath); path itself is the file's real path. A Redactor
	// does not call it: its Findings say the same.
	Report func(path string, format Format, reason string)
}

func (o *Options) maxSize() int64 {
	if o == nil || o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// Record is one matching record of a file.
type Record struct {
	Index  int   // position among all records of the file, from 0
	Offset int64 // first byte of the record in the file (in a compressed tar archive, in its decompressed form)
	Length int64 // bytes, including the record's line terminator; a SQLite row has no byte range (0 and 0)
	Kinds  []Kind
	// Refs are the matcher's refs of the identifiers matched in the
	// record, sorted and without duplicates: every one, also when the
	// scanner answered from its cache for a candidate seen before.
	Refs []string
}

// Result is what scanning one file found.
type Result struct {
	Format Format
	// Records are the records holding an identifier the matcher knows, in
	// file order.
	Records []Record
	// NumRecords counts all records of the file, matching or not.
	NumRecords int
	// Whole is set when the file cannot be split: the single record is the
	// whole file (a mail message, a container, the fallback, or a hit outside
	// any record such as in a CSV header).
	Whole bool
	// Fallback says why the file's format parser was not used, if it failed;
	// Tried is that format.
	Fallback string
	Tried    Format
	// RecordRefs are, from Scanner.ScanRefs, the refs of every matching
	// record, one record's after another's, each record's sorted and
	// without duplicates; Records is then empty. It is all the subject
	// index needs, in a fraction of the memory.
	RecordRefs []string
	// RecordKeys are, from Scanner.ScanKeys, the keys of the refs of
	// every matching record, as RecordRefs are the refs; Flagged counts
	// those the key function flagged. RecordRefs is then empty.
	RecordKeys []uint64
	Flagged    int

	// matched and kinds are, for a result of ScanRefs, the number of
	// matching records and the union of their kinds; kindList names them.
	matched  int
	kinds    kindSet
	kindList []Kind

	// lists are runs of records sharing separators (SQL tuples, JSON array
	// elements), which need more than cutting the record's bytes.
	lists []list
	// gzip is set for a compressed tar archive: the records are ranges
	// of its decompressed form.
	gzip *gzipped
	// sqlite names the rows of a SQLite database's records.
	sqlite *sqliteRows
}

// Kinds returns the union of the kinds of all matching records.
func (r *Result) Kinds() []Kind {
	if r.matched > 0 {
		return slices.Clone(r.kindList)
	}
	var ks []Kind
	for _, rec := range r.Records {
		for _, k := range rec.Kinds {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	slices.Sort(ks)
	return ks
}

// Refs returns the union of the refs of all matching records, sorted.
func (r *Result) Refs() []string {
	if r.matched > 0 {
		return sortUnique(slices.Clone(r.RecordRefs))
	}
	var refs []string
	for _, rec := range r.Records {
		refs = append(refs, rec.Refs...)
	}
	if len(r.Records) > 1 {
		refs = sortUnique(refs)
	}
	return refs
}

// span is a byte range [s, e).
type span struct{ s, e int }

// list is a sequence of records separated by separators inside an enclosing
// statement: removing some keeps the statement valid, removing all removes
// the statement.
type list struct {
	stmt  span   // the whole statement, with its line terminator
	items []span // the records, in order
	first int    // record index of items[0]
}

// ErrParse marks a file that did not parse as the format it claimed.
var ErrParse = errors.New("parse error")

func parseErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrParse, fmt.Sprintf(format, args...))
}

// Scanner scans files against one matcher. It caches the matcher's
// verdicts across files, which never hides a match from a file's result;
// it is not safe for concurrent use (use one per goroutine, or a
// Redactor).
type Scanner struct {
	x    *extractor
	opts *Options
}

// NewScanner returns a scanner for m; opts may be nil.
func NewScanner(m Matcher, opts *Options) *Scanner {
	x := newExtractor(m)
	x.all = opts != nil && opts.AllCandidates
	return &Scanner{x: x, opts: opts}
}

// Scan finds the records of data that hold identifiers known to the
// matcher. name is the file's name (used for format detection by extension
// only). Scan never panics on malformed input: a file that fails its parser
// is scanned by the fallback and Result.Fallback says why.
func (s *Scanner) Scan(name string, data []byte) *Result {
	s.x.startRefs(0)
	return scanWith(name, data, s.x, s.opts, 0)
}

// ScanRefs is Scan for a caller that needs only the refs of the matching
// records (the subject index): the result has RecordRefs instead of
// Records, and so cannot be redacted. Everything else is as Scan finds it.
func (s *Scanner) ScanRefs(name string, data []byte) *Result {
	s.x.refsOnly = true
	defer func() { s.x.refsOnly = false }()
	s.x.startRefs(0)
	res := scanWith(name, data, s.x, s.opts, 0)
	res.kindList = s.x.sortedKinds(res.kinds)
	s.x.releaseRefs()
	return res
}

// ScanFormat scans data as the given format, without detection and without
// the fallback: a parse failure is returned as an error wrapping ErrParse.
func (s *Scanner) ScanFormat(f Format, data []byte) (*Result, error) {
	s.x.startRefs(0)
	return scanFormat(f, "", data, s.x, s.opts, 0)
}

// ScanReader scans a stream too large to parse by its format with the
// fallback scanner and returns the kinds found (a hit is the whole file).
func (s *Scanner) ScanReader(r io.Reader) ([]Kind, error) {
	rec, err := s.scanStream(r)
	return rec.Kinds, err
}

// scanStream is ScanReader with the refs: the whole stream as one record
// (Offset and Length are 0), with no kinds when nothing matched.
func (s *Scanner) scanStream(r io.Reader) (Record, error) {
	s.x.startRefs(0)
	k, err := s.x.scanStream(r)
	return Record{Kinds: s.x.kinds(k), Refs: s.x.takeRefs(0)}, err
}

// MatchName returns the kinds of identifiers in a file or directory name
// (its last element). A hit makes the whole file or directory the record.
func (s *Scanner) MatchName(name string) []Kind {
	return s.matchName(name).Kinds
}

// matchName is MatchName with the refs, as a record without offsets.
func (s *Scanner) matchName(name string) Record {
	s.x.startRefs(0)
	k := s.x.scanNameKinds(name)
	return Record{Kinds: s.x.kinds(k), Refs: s.x.takeRefs(0)}
}

// ScanBytes is NewScanner(m, opts).Scan(name, data).
func ScanBytes(name string, data []byte, m Matcher, opts *Options) *Result {
	return NewScanner(m, opts).Scan(name, data)
}

// ScanFormat is NewScanner(m, opts).ScanFormat(f, data).
func ScanFormat(f Format, data []byte, m Matcher, opts *Options) (*Result, error) {
	return NewScanner(m, opts).ScanFormat(f, data)
}

// maxDepth bounds containers inside containers (an attachment in a zip in a
// mail).
const maxDepth = 4

func scanWith(name string, data []byte, x *extractor, opts *Options, depth int) *Result {
	f := Detect(name, data)
	from := len(x.refs)
	res, err := scanFormat(f, name, data, x, opts, depth)
	if err != nil {
		x.dropRefs(from)
		if lineOriented(f, name, data) {
			// Content sniffing took text for JSON: its lines are still
			// its records.
			res, _ = scanFormat(FormatText, name, data, x, opts, depth)
		}
		if res == nil {
			x.dropRefs(from)
			res = scanFallback(data, x)
		}
		res.Fallback = err.Error()
		res.Tried = f
	}
	return res
}

// lineOriented reports whether data, which failed to parse as f, is text
// whose lines are its records: JSON found by content sniffing alone in a
// file that is text by its name or its bytes.
func lineOriented(f Format, name string, data []byte) bool {
	if f != FormatJSON {
		return false
	}
	switch byExtension(name) {
	case FormatText:
		return true
	case "":
		return sniffWeak(data) != FormatFallback
	}
	return false
}

func scanFormat(f Format, name string, data []byte, x *extractor, opts *Options, depth int) (res *Result, err error) {
	defer func() {
		// A parser bug must not take down a backup: treat it as a parse
		// failure so the fallback still scans the file. (Fuzz tests call
		// parseFormat directly, so such bugs are still found.)
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: parser panic: %v", ErrParse, r)
		}
	}()
	return parseFormat(f, name, data, x, opts, depth)
}

func parseFormat(f Format, name string, data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	switch f {
	case FormatMail:
		return scanMail(data, x, opts, depth)
	case FormatMbox:
		return scanMbox(data, x, opts, depth)
	case FormatCSV:
		return scanCSV(name, data, x, opts)
	case FormatJSONL:
		return scanJSONL(data, x)
	case FormatJSON:
		return scanJSON(data, x)
	case FormatVCard, FormatICal:
		return scanDirectory(f, data, x)
	case FormatSQL:
		return scanSQL(data, x)
	case FormatText:
		return scanText(name, data, x, opts, depth)
	case FormatGzip:
		return scanGzip(name, data, x, opts, depth)
	case FormatZip:
		return scanZip(data, x, opts, depth)
	case FormatTar:
		return scanTar(data, x, opts, depth)
	case FormatSQLite:
		return scanSQLite(data, x, opts, depth)
	case FormatMsg:
		return scanMsg(data, x, opts, depth)
	default:
		return scanFallback(data, x), nil
	}
}

// builder collects records while a parser walks a file. A parser scans a
// record's content and then adds it, so the refs the extractor collected
// since the previous add are the record's.
type builder struct {
	res  *Result
	x    *extractor
	data []byte
	prev int // end of the previous record, to scan the gaps between records
	gap  kindSet
	// from is where the file's refs start in x.refs, mark where the
	// next record's do.
	from, mark int
}

func newBuilder(f Format, data []byte, x *extractor) *builder {
	n := len(x.refs)
	x.startRefs(n)
	return &builder{res: &Result{Format: f}, x: x, data: data, from: n, mark: n}
}

// add records the record data[s:e] with the kinds found in it. Records must
// be added in order and must not overlap.
func (b *builder) add(s, e int, k kindSet) {
	// The record takes its refs before the gap before it is scanned,
	// whose refs are the whole file's only.
	if k != 0 {
		b.res.addRecord(b.x, Record{Index: b.res.NumRecords, Offset: int64(s), Length: int64(e - s)}, k, b.mark)
		b.dropKept()
	} else {
		b.x.dropRefs(b.mark)
	}
	if s > b.prev {
		b.gap |= b.x.scan(b.data[b.prev:s])
	}
	b.prev = e
	b.res.NumRecords++
	b.mark = len(b.x.refs)
	b.x.startRefs(b.mark)
	if b.x.track != nil {
		b.x.track.note(b, e)
	}
}

// done scans the rest of the file; an identifier outside every record makes
// the whole file the record, since no smaller part can be removed.
func (b *builder) done() *Result {
	if b.prev < len(b.data) {
		b.gap |= b.x.scan(b.data[b.prev:])
	}
	if b.gap != 0 {
		res := wholeResult(b.res.Format, b.data, b.x, b.gap|b.res.recordKinds(b.x), b.from)
		b.res = res.withKeysOf(b)
	}
	return b.res
}

// builderState is where a builder was, to go back to when a part of the
// file it began to read as records turns out to be one record.
type builderState struct {
	records, num, prev, mark int
	gap                      kindSet
	lists                    int
	// refs, matched and kinds are the result's of ScanRefs; the union
	// of kinds only grows, so the saved one is the one to go back to.
	refs, matched int
	kinds         kindSet
	keys, flagged int
}

func (b *builder) save() builderState {
	return builderState{records: len(b.res.Records), num: b.res.NumRecords, prev: b.prev, mark: b.mark, gap: b.gap, lists: len(b.res.lists),
		refs: len(b.res.RecordRefs), matched: b.res.matched, kinds: b.res.kinds,
		keys: len(b.res.RecordKeys), flagged: b.res.Flagged}
}

func (b *builder) restore(st builderState) {
	b.res.Records = b.res.Records[:st.records]
	b.res.RecordRefs = b.res.RecordRefs[:st.refs]
	b.res.RecordKeys, b.res.Flagged = b.res.RecordKeys[:st.keys], st.flagged
	b.res.matched, b.res.kinds = st.matched, st.kinds
	b.res.NumRecords = st.num
	b.res.lists = b.res.lists[:st.lists]
	b.prev, b.mark, b.gap = st.prev, st.mark, st.gap
	b.x.dropRefs(st.mark)
	b.x.startRefs(st.mark)
}

// addRecord adds rec, a matching record of kinds k whose refs were
// collected from x.refs[mark] on: with its kinds and refs, or, for
// ScanRefs, as its refs alone.
func (r *Result) addRecord(x *extractor, rec Record, k kindSet, mark int) {
	if x.refsOnly && x.keys != nil {
		r.addKeys(x, mark)
		r.matched++
		r.kinds |= k
		return
	}
	if x.refsOnly {
		n := len(r.RecordRefs)
		r.RecordRefs = append(r.RecordRefs, x.refs[mark:]...)
		r.RecordRefs = r.RecordRefs[:n+len(sortUnique(r.RecordRefs[n:]))]
		r.matched++
		r.kinds |= k
		return
	}
	rec.Kinds, rec.Refs = x.kinds(k), x.takeRefs(mark)
	r.Records = append(r.Records, rec)
}

// matching returns the number of matching records of r.
func (r *Result) matching() int { return len(r.Records) + r.matched }

// recordKinds is the union of the kinds of r's records, as a set of x.
func (r *Result) recordKinds(x *extractor) kindSet {
	s := r.kinds
	for _, rec := range r.Records {
		for _, k := range rec.Kinds {
			s |= x.bit(k)
		}
	}
	return s
}

func (x *extractor) bit(k Kind) kindSet {
	switch k {
	case KindEmail:
		return bitEmail
	case KindPhone:
		return bitPhone
	case KindPersonnummer:
		return bitPersonnummer
	case KindOrgnr:
		return bitOrgnr
	case KindName:
		return bitName
	}
	for i, c := range x.custom {
		if k == c.Kind() {
			return bitCustom0 << i
		}
	}
	return 0
}

// wholeResult is a file whose only record is the whole file, holding the
// kinds k and the refs collected from x.refs[from] on.
func wholeResult(f Format, data []byte, x *extractor, k kindSet, from int) *Result {
	res := &Result{Format: f, NumRecords: 1, Whole: true}
	if k != 0 {
		res.addRecord(x, Record{Index: 0, Offset: 0, Length: int64(len(data))}, k, from)
	} else {
		x.dropRefs(from)
	}
	return res
}

// RedactBytes returns data without the given records (records from res, e.g. a
// subset of res.Records when holds keep some). Every other byte stays as it
// was. gone is true when nothing of the file is left to keep: the file was
// one record and it was removed.
func RedactBytes(data []byte, res *Result, recs []Record) (out []byte, gone bool) {
	if len(recs) == 0 {
		return data, false
	}
	if res.Whole {
		return nil, true
	}
	if res.gzip != nil {
		return res.gzip.redact(res, recs), false
	}
	if res.sqlite != nil {
		return res.sqlite.redact(data, recs)
	}
	return cutRecords(data, res, recs)
}

// redactInPlace is RedactBytes for data no one else holds: records that
// are ranges of data are cut out of data itself.
func redactInPlace(data []byte, res *Result, recs []Record) (out []byte, gone bool) {
	if len(recs) == 0 || res.Whole || res.gzip != nil || res.sqlite != nil {
		return RedactBytes(data, res, recs)
	}
	return cutRecordsTo(data[:0], data, res, recs)
}

// cutRecords is RedactBytes for a file whose records are ranges of data.
func cutRecords(data []byte, res *Result, recs []Record) (out []byte, gone bool) {
	return cutRecordsTo(make([]byte, 0, len(data)), data, res, recs)
}

// cutRecordsTo is cutRecords appending the kept bytes to dst. dst may be
// data[:0]: the kept bytes move only towards the start, so cutting in
// place needs no second buffer the size of the file.
func cutRecordsTo(dst, data []byte, res *Result, recs []Record) (out []byte, gone bool) {
	out = dst
	p := 0
	for _, c := range cutSpans(res, recs) {
		c.e = min(c.e, len(data)) // records from another version of the file
		if c.s < p {
			c.s = p // overlapping cuts: never re-emit removed bytes
		}
		if c.e <= c.s {
			continue
		}
		out = append(out, data[p:c.s]...)
		p = c.e
	}
	out = append(out, data[p:]...)
	if len(out) == 0 {
		return nil, true // every byte belonged to removed records
	}
	return out, false
}

// cutSpans returns the byte ranges removing recs from a file whose
// records are ranges of its bytes cuts, by their start.
func cutSpans(res *Result, recs []Record) []span {
	remove := make(map[int]bool, len(recs))
	for _, r := range recs {
		remove[r.Index] = true
	}
	var cuts []span
	inList := make(map[int]bool)
	for _, l := range res.lists {
		for i := range l.items {
			inList[l.first+i] = true
		}
		cuts = append(cuts, l.cuts(remove)...)
	}
	for _, r := range recs {
		if !inList[r.Index] {
			cuts = append(cuts, span{int(r.Offset), int(r.Offset + r.Length)})
		}
	}
	slices.SortFunc(cuts, func(a, b span) int { return cmp.Compare(a.s, b.s) })
	return cuts
}

// unchangedPrefix returns how many bytes at the start of data, scanned
// to res, redacting recs leaves as they are.
func unchangedPrefix(data []byte, res *Result, recs []Record) int {
	if len(recs) == 0 {
		return len(data)
	}
	if res.Whole || res.gzip != nil || res.sqlite != nil {
		return 0
	}
	cuts := cutSpans(res, recs)
	if len(cuts) == 0 {
		return len(data)
	}
	return min(max(cuts[0].s, 0), len(data))
}

// cuts returns the byte ranges to cut from a list to remove the chosen items.
// A run of removed items takes the separator on its right, or on its left
// when it reaches the end; when every item goes, the statement goes.
func (l list) cuts(remove map[int]bool) []span {
	n := len(l.items)
	all := true
	for i := 0; i < n; i++ {
		if !remove[l.first+i] {
			all = false
			break
		}
	}
	if all {
		return []span{l.stmt}
	}
	var cuts []span
	for i := 0; i < n; {
		if !remove[l.first+i] {
			i++
			continue
		}
		j := i
		for j+1 < n && remove[l.first+j+1] {
			j++
		}
		if j+1 < n {
			cuts = append(cuts, span{l.items[i].s, l.items[j+1].s})
		} else {
			cuts = append(cuts, span{l.items[i-1].e, l.items[j].e})
		}
		i = j + 1
	}
	return cuts
}
