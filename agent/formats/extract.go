package formats

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"

	"lethe/tombstones"
)

// Matcher is the part of the tombstones matcher that formats needs: it
// normalizes a candidate of a kind, fingerprints it and looks it up. ref
// names what matched: a tombstone ID, or, for a matcher that collects what
// a file holds, the candidate's keyed fingerprint. ref must not share
// candidate's memory. A Matcher given to a Redactor must be safe for
// concurrent use.
type Matcher interface {
	Lookup(kind Kind, candidate string) (ref string, ok bool)
	CustomKinds() []CustomKind
}

// kindSet is a bitset of identifier kinds found in a record: the five
// built-in kinds, then one bit per configured custom kind.
type kindSet uint64

const (
	bitEmail kindSet = 1 << iota
	bitPhone
	bitPersonnummer
	bitOrgnr
	bitName
	bitCustom0
)

// maxCustomKinds is how many custom kinds fit in a kindSet.
const maxCustomKinds = 64 - 5

// extractor finds identifier candidates in decoded text and asks the matcher
// about them. It is not safe for concurrent use (the memo is unsynchronized).
type extractor struct {
	m      Matcher
	mb     BytesMatcher // m, when it implements it
	custom []CustomKind
	want   kindSet // kinds the matcher can match at all
	// memo caches verdicts and their refs: mail signatures, staff
	// addresses and repeated log values make the same candidates common,
	// and each matcher call costs a keyed hash. It is direct-mapped by a
	// 64-bit hash of kind and candidate, allocated on first use. A
	// verdict from the memo counts like one from the matcher: its ref
	// goes to the record at hand. Entries name refs by their position in
	// refTab (from 1), which keeps them small: the memo is read for every
	// candidate.
	memo   *[memoSize]memoEntry
	refTab []string
	refIdx map[string]uint32
	seed   maphash.Seed
	// prefixes are the custom kinds' literal pattern prefixes, and
	// customKinds their kinds.
	prefixes    []string
	customKinds []Kind
	// maxLens are the custom patterns' longest matches in bytes, 0 when
	// unbounded (or the pattern has assertions, which need context): a
	// bounded pattern with a literal prefix is only run on a short window
	// at each occurrence of its prefix.
	maxLens []int
	// anchored are the patterns anchored at the start, which the regexp
	// package runs much faster on a window (one pass, when the pattern
	// allows). Custom kinds are leftmost-first like the normalizer's.
	anchored []*regexp.Regexp
	// hdr is scratch for mail header fields.
	hdr []byte
	// u16 is scratch for text decoded from UTF-16 by scanRaw, and
	// u16Regions for the parts of it to decode. noStretches says that a
	// custom kind's pattern rules out decoding parts of a text (see
	// utf16Regions and scan), u16Prefixes are the first bytes of the
	// custom kinds' prefixes.
	u16         []byte
	u16Regions  [][2]int
	noStretches bool
	u16Prefixes []byte
	// num is scratch for numbers written with Unicode separators, pct
	// for percent-decoded text.
	num, pct []byte
	// prop are scratch buffers for decoding vCard and iCalendar values.
	prop [4][]byte
	// all offers every candidate to the matcher, also after one of the
	// same kind matched (Options.AllCandidates).
	all bool
	// refsOnly keeps only the refs of records (Scanner.ScanRefs), or,
	// with keys set, their keys (Scanner.ScanKeys).
	refsOnly bool
	keys     *refKeys
	// track, if set, takes checkpoints of a ScanKeysAfter scan.
	track *tracker
	// refs collects the refs of matches in scanning order; parsers take
	// a record's refs from it when they add the record (see builder).
	// refs[seg:] is the part being collected for the record at hand,
	// which addRef keeps free of most duplicates; segMax is the length
	// at which it is next compacted.
	refs   []string
	seg    int
	segMax int
	// kindsOf caches kinds' sorted lists; kindArena and refArena are
	// where the records' own copies are carved from (see carve).
	kindsOf   map[kindSet][]Kind
	kindArena []Kind
	refArena  []string
}

const memoSize = 1 << 12

type memoEntry struct {
	h    uint64
	ref  uint32 // refTab[ref-1] matched; 0: no match
	used bool
}

// maxRefTab bounds refTab; a matcher whose refs are all different (one
// that collects fingerprints) refills it from scratch.
const maxRefTab = 1 << 12

// BytesMatcher is optionally implemented by a Matcher that can look at a
// candidate in place: the extractor's buffers are reused, so the matcher
// must not keep the slice, and ref must not share its memory. It saves a
// string copy per candidate.
type BytesMatcher interface {
	LookupBytes(kind Kind, candidate []byte) (ref string, ok bool)
}

// KindFilter is optionally implemented by a Matcher that knows which kinds
// it holds, so scanning can skip looking for the others.
type KindFilter interface {
	HasKind(kind Kind) bool
}

func newExtractor(m Matcher) *extractor {
	x := &extractor{m: m, seed: maphash.MakeSeed()}
	if m == nil {
		return x
	}
	x.mb, _ = m.(BytesMatcher)
	x.custom = m.CustomKinds()
	if len(x.custom) > maxCustomKinds {
		x.custom = x.custom[:maxCustomKinds]
	}
	for _, c := range x.custom {
		p := ""
		if c.Pattern != nil {
			p, _ = c.Pattern.LiteralPrefix()
		}
		x.prefixes = append(x.prefixes, p)
		x.customKinds = append(x.customKinds, c.Kind())
		ml := patternMaxLen(c.Pattern)
		var anchored *regexp.Regexp
		if ml > 0 {
			var err error
			if anchored, err = regexp.Compile(`^(?:` + c.Pattern.String() + `)`); err != nil {
				ml = 0
			}
		}
		x.maxLens = append(x.maxLens, ml)
		x.anchored = append(x.anchored, anchored)
	}
	x.want = ^kindSet(0)
	if f, ok := m.(KindFilter); ok {
		x.want = 0
		for _, k := range []Kind{KindEmail, KindPhone, KindPersonnummer, KindOrgnr, KindName} {
			if f.HasKind(k) {
				x.want |= x.bit(k)
			}
		}
		for i, c := range x.custom {
			if f.HasKind(c.Kind()) {
				x.want |= bitCustom0 << i
			}
		}
	}
	for i, c := range x.custom {
		if x.want&(bitCustom0<<i) == 0 {
			continue
		}
		p := x.prefixes[i]
		if p == "" || p[0] >= utf8.RuneSelf || matchesBreaker(c.Pattern) {
			x.noStretches = true
			continue
		}
		x.u16Prefixes = append(x.u16Prefixes, p[0])
	}
	return x
}

// matchesBreaker reports whether re can match a text that holds a UTF-16
// breaker (see utf16Breaker), or cannot be told.
func matchesBreaker(re *regexp.Regexp) bool {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return true
	}
	return syntaxMatchesBreaker(t.Simplify())
}

func syntaxMatchesBreaker(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return true
	case syntax.OpLiteral:
		for _, r := range t.Rune {
			for f := r; ; {
				if f < utf8.RuneSelf && utf16Breaker[f] {
					return true
				}
				if t.Flags&syntax.FoldCase == 0 {
					break
				}
				if f = unicode.SimpleFold(f); f == r {
					break
				}
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(t.Rune); i += 2 {
			for c := t.Rune[i]; c <= t.Rune[i+1] && c < utf8.RuneSelf; c++ {
				if utf16Breaker[c] {
					return true
				}
			}
		}
	}
	for _, sub := range t.Sub {
		if syntaxMatchesBreaker(sub) {
			return true
		}
	}
	return false
}

// kinds turns a set into sorted kind names, in a new slice (which may
// share a backing array with other records' kinds, never their elements).
func (x *extractor) kinds(s kindSet) []Kind {
	if s == 0 {
		return nil
	}
	ks, ok := x.kindsOf[s]
	if !ok {
		ks = x.sortedKinds(s)
		if x.kindsOf == nil {
			x.kindsOf = make(map[kindSet][]Kind)
		}
		x.kindsOf[s] = ks
	}
	out := carve(&x.kindArena, len(ks))
	copy(out, ks)
	return out
}

// arenaChunk is how many elements carve allocates at a time: every
// record with a hit gets its kinds and refs, and one allocation each
// would dominate files of many small records.
const arenaChunk = 512

// carve returns a slice of n elements from *arena, allocating a new
// backing array when it is full. The slice's capacity is its length, so
// appending to it copies it instead of overwriting a neighbour.
func carve[T any](arena *[]T, n int) []T {
	if cap(*arena)-len(*arena) < n {
		*arena = make([]T, 0, max(arenaChunk, n))
	}
	a := *arena
	*arena = a[:len(a)+n]
	return a[len(a) : len(a)+n : len(a)+n]
}

func (x *extractor) sortedKinds(s kindSet) []Kind {
	var ks []Kind
	if s&bitEmail != 0 {
		ks = append(ks, KindEmail)
	}
	if s&bitPhone != 0 {
		ks = append(ks, KindPhone)
	}
	if s&bitPersonnummer != 0 {
		ks = append(ks, KindPersonnummer)
	}
	if s&bitOrgnr != 0 {
		ks = append(ks, KindOrgnr)
	}
	if s&bitName != 0 {
		ks = append(ks, KindName)
	}
	for i, c := range x.custom {
		if s&(bitCustom0<<i) != 0 {
			ks = append(ks, c.Kind())
		}
	}
	slices.Sort(ks)
	return ks
}

func (x *extractor) match(kind Kind, cand []byte) bool {
	if x.m == nil {
		return false
	}
	if x.memo == nil {
		x.memo = new([memoSize]memoEntry)
	}
	h := maphash.Bytes(x.seed, cand) ^ maphash.String(x.seed, string(kind))*0x9E3779B97F4A7C15
	e := &x.memo[h&(memoSize-1)]
	if !e.used || e.h != h {
		var ref string
		var ok bool
		if x.mb != nil {
			ref, ok = x.mb.LookupBytes(kind, cand)
		} else {
			ref, ok = x.m.Lookup(kind, string(cand))
		}
		var i uint32
		if ok {
			i = x.refIndex(ref)
		}
		*e = memoEntry{h: h, ref: i, used: true}
	}
	if e.ref == 0 {
		return false
	}
	x.addRef(x.refTab[e.ref-1])
	return true
}

// refIndex returns ref's position in refTab, from 1, adding it if needed.
func (x *extractor) refIndex(ref string) uint32 {
	if i, ok := x.refIdx[ref]; ok {
		return i
	}
	if x.refIdx == nil {
		x.refIdx = make(map[string]uint32)
	}
	if len(x.refTab) == maxRefTab {
		// Start over: no memo entry may point into the old table.
		clear(x.refIdx)
		x.refTab = x.refTab[:0]
		*x.memo = [memoSize]memoEntry{}
	}
	x.refTab = append(x.refTab, ref)
	i := uint32(len(x.refTab))
	x.refIdx[ref] = i
	return i
}

// minSegMax is the length at which a record's refs are first compacted.
const minSegMax = 64

// addRef notes ref for the record at hand.
func (x *extractor) addRef(ref string) {
	if n := len(x.refs); n > x.seg && x.refs[n-1] == ref {
		return
	}
	x.refs = append(x.refs, ref)
	if n := len(x.refs) - x.seg; n > max(x.segMax, minSegMax) {
		// Many matches in one record (a whole file full of addresses,
		// seen by a collecting matcher): keep each ref once.
		x.refs = x.refs[:x.seg+len(sortUnique(x.refs[x.seg:]))]
		x.segMax = 2 * (len(x.refs) - x.seg)
	}
}

// startRefs starts collecting refs for a new record at refs[n:].
func (x *extractor) startRefs(n int) {
	x.refs = x.refs[:n]
	x.seg, x.segMax = n, 0
}

// dropRefs forgets the refs collected from n on: those of a parse that
// failed, whose content is scanned again another way.
func (x *extractor) dropRefs(n int) {
	x.refs = x.refs[:n]
	x.seg = min(x.seg, n)
}

// takeRefs returns the refs collected from n on, sorted and unique, in a
// new slice (nil when there are none).
func (x *extractor) takeRefs(n int) []string {
	if n >= len(x.refs) {
		return nil
	}
	out := carve(&x.refArena, len(x.refs)-n)
	copy(out, x.refs[n:])
	out = sortUnique(out)
	return out[:len(out):len(out)]
}

// sortUnique sorts s and removes duplicates in place.
func sortUnique[T cmp.Ordered](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}

// name matches a value that a rule says is a person's name (a CSV column,
// a vCard FN). Names are never looked for in free text.
func (x *extractor) name(v []byte) kindSet {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || x.want&bitName == 0 {
		return 0
	}
	if x.match(KindName, v) {
		return bitName
	}
	return 0
}

// byte classes for the hot loops.
const (
	clDigit = 1 << iota
	clAlpha
	clLocal  // email local part
	clDomain // email domain
	clSep    // separator inside a spelled-out number
)

var class = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= clDigit | clLocal | clDomain
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clAlpha | clLocal | clDomain
		t[c-'a'+'A'] |= clAlpha | clLocal | clDomain
	}
	for _, c := range "._%+-" {
		t[c] |= clLocal
	}
	for _, c := range ".-" {
		t[c] |= clDomain
	}
	for _, c := range " -()+./" {
		t[c] |= clSep
	}
	return t
}()

// scan returns the kinds of all identifiers in text that the matcher knows,
// also where they are percent-encoded (URLs in access logs, mailto: links,
// RFC 2231 parameters).
func (x *extractor) scan(b []byte) kindSet {
	s := x.scanPlain(b)
	i := bytes.IndexByte(b, '%')
	if i < 0 || !hasPercentEscape(b[i:]) {
		return s
	}
	if x.noStretches {
		x.pct = appendPercentDecoded(x.pct[:0], b)
		s |= x.scanPlain(x.pct)
	} else {
		// Text without escapes decodes to itself, and its candidates
		// were found above: only the stretches between breakers (see
		// utf16Breaker) that hold an escape are decoded and scanned.
		for st, end := 0, 0; i < len(b); {
			j := bytes.IndexByte(b[i:], '%')
			if j < 0 {
				break
			}
			i += j
			if i+2 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) {
				i++
				continue
			}
			for st = i; st > end && !breakerByte(b[st]); st-- {
			}
			for end = i + 3; end < len(b) && !breakerByte(b[end]); end++ {
			}
			end = min(end+1, len(b)) // with the breaker
			x.pct = appendPercentDecoded(x.pct[:0], b[st:end])
			s |= x.scanPlain(x.pct)
			i = end
		}
	}
	if cap(x.pct) > 1<<20 {
		x.pct = nil // do not keep a large file's buffer
	}
	return s
}

// breakerByte reports whether c is a breaker (see utf16Breaker).
func breakerByte(c byte) bool { return c < utf8.RuneSelf && utf16Breaker[c] }

// hasPercentEscape reports whether b holds a %XX escape.
func hasPercentEscape(b []byte) bool {
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' && isHex(b[i+1]) && isHex(b[i+2]) {
			return true
		}
	}
	return false
}

// appendPercentDecoded appends b with its %XX escapes decoded to dst; '+'
// stays, since it is part of addresses and numbers.
func appendPercentDecoded(dst, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if b[i] == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
			v, _ := hexByte(b[i+1 : i+3])
			dst = append(dst, v)
			i += 2
			continue
		}
		dst = append(dst, b[i])
	}
	return dst
}

// scanPlain is scan without decoding.
func (x *extractor) scanPlain(b []byte) kindSet {
	var s kindSet
	if len(b) == 0 {
		return 0
	}
	if x.want&bitEmail != 0 && bytes.IndexByte(b, '@') >= 0 {
		s |= x.emails(b)
	}
	if x.want&(bitPhone|bitPersonnummer|bitOrgnr) != 0 {
		s |= x.numbers(b)
	}
	for i, c := range x.custom {
		if c.Pattern == nil || x.want&(bitCustom0<<i) == 0 {
			continue
		}
		if p := x.prefixes[i]; p != "" && !bytes.Contains(b, []byte(p)) {
			continue // the pattern's literal prefix is not in the text
		}
		if x.prefixes[i] != "" && x.maxLens[i] > 0 {
			s |= x.customWindows(b, i)
		} else {
			s |= x.customScan(b, i)
		}
	}
	return s
}

// customScan finds the matches of custom kind i with its pattern.
func (x *extractor) customScan(b []byte, i int) kindSet {
	c := x.custom[i]
	var s kindSet
	for p := 0; p <= len(b); {
		loc := c.Pattern.FindIndex(b[p:])
		if loc == nil {
			break
		}
		st, en := p+loc[0], p+loc[1]
		p = max(en, st+1)
		if x.offerCustom(b, st, en, i, &s) {
			break
		}
	}
	return s
}

// offerCustom offers the match b[st:en] of custom kind i to the matcher
// unless it sits inside a longer token, and records a hit in s. It reports
// whether scanning for the kind can stop.
func (x *extractor) offerCustom(b []byte, st, en, i int, s *kindSet) bool {
	if st == en || wordBefore(b, st) || wordAfter(b, en) {
		return false
	}
	if !x.match(x.customKinds[i], b[st:en]) {
		return false
	}
	*s |= bitCustom0 << i
	return !x.all
}

// customWindows finds the matches of custom kind i, which has a literal
// prefix and a bounded length: every match starts at an occurrence of the
// prefix and ends within maxLens[i] bytes, and without assertions the
// pattern cannot tell a window from the whole text, so the matches are the
// ones the pattern finds in the whole text.
func (x *extractor) customWindows(b []byte, i int) kindSet {
	re, prefix, ml := x.anchored[i], x.prefixes[i], x.maxLens[i]
	var s kindSet
	for p := 0; p < len(b); {
		j := bytes.Index(b[p:], []byte(prefix))
		if j < 0 {
			break
		}
		st := p + j
		loc := re.FindIndex(b[st:min(len(b), st+ml)])
		if loc == nil {
			p = st + 1 // a match further on starts at a later prefix
			continue
		}
		en := st + loc[1]
		p = max(en, st+1)
		if x.offerCustom(b, st, en, i, &s) {
			break
		}
	}
	return s
}

// maxWindow bounds the custom patterns that are run on windows.
const maxWindow = 256

// patternMaxLen returns the longest match of re in bytes, or 0 when it is
// unbounded, longer than maxWindow, or has empty-width assertions.
func patternMaxLen(re *regexp.Regexp) int {
	if re == nil {
		return 0
	}
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return 0
	}
	n, ok := syntaxMaxLen(t.Simplify())
	if !ok || n <= 0 || n > maxWindow {
		return 0
	}
	return n
}

func syntaxMaxLen(t *syntax.Regexp) (int, bool) {
	switch t.Op {
	case syntax.OpNoMatch, syntax.OpEmptyMatch:
		return 0, true
	case syntax.OpLiteral:
		return len(t.Rune) * utf8.UTFMax, true // case folding may change a rune's length
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return utf8.UTFMax, true
	case syntax.OpCapture, syntax.OpQuest:
		return syntaxMaxLen(t.Sub[0])
	case syntax.OpRepeat:
		if t.Max < 0 || t.Max > maxWindow {
			return 0, false
		}
		n, ok := syntaxMaxLen(t.Sub[0])
		return n * t.Max, ok && n*t.Max <= maxWindow
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range t.Sub {
			n, ok := syntaxMaxLen(sub)
			if !ok {
				return 0, false
			}
			if t.Op == syntax.OpConcat {
				total += n
			} else {
				total = max(total, n)
			}
			if total > maxWindow {
				return 0, false
			}
		}
		return total, true
	}
	// Star, plus and the assertions (begin/end of line or text, word
	// boundaries), which look outside a window.
	return 0, false
}

// wordBefore reports whether a letter or digit directly precedes b[i].
func wordBefore(b []byte, i int) bool {
	if i == 0 {
		return false
	}
	c := b[i-1]
	if c < utf8.RuneSelf {
		return class[c]&(clDigit|clAlpha) != 0
	}
	r, _ := utf8.DecodeLastRune(b[:i])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// wordAfter reports whether a letter or digit is at b[i].
func wordAfter(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	c := b[i]
	if c < utf8.RuneSelf {
		return class[c]&(clDigit|clAlpha) != 0
	}
	r, _ := utf8.DecodeRune(b[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// emails finds whole address tokens around each '@': the token is extended
// as far as address characters go, so an address inside a longer address or
// domain yields the longer token, never the embedded one.
func (x *extractor) emails(b []byte) (found kindSet) {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '@')
		if j < 0 {
			break
		}
		at := i + j
		i = at + 1
		s := at
		for s > 0 {
			c := b[s-1]
			if c < utf8.RuneSelf {
				if class[c]&clLocal == 0 {
					break
				}
				s--
				continue
			}
			r, n := utf8.DecodeLastRune(b[:s])
			if !isWordRune(r) {
				break
			}
			s -= n
		}
		e := at + 1
		for e < len(b) {
			c := b[e]
			if c < utf8.RuneSelf {
				if class[c]&clDomain == 0 {
					break
				}
				e++
				continue
			}
			r, n := utf8.DecodeRune(b[e:])
			if !isWordRune(r) {
				break
			}
			e += n
		}
		// An address glued to another '@' is part of something longer.
		if (s > 0 && b[s-1] == '@') || (e < len(b) && b[e] == '@') {
			continue
		}
		for s < at && b[s] == '.' {
			s++
		}
		for e > at+1 && (b[e-1] == '.' || b[e-1] == '-') {
			e--
		}
		if s == at || e <= at+1 || bytes.IndexByte(b[at+1:e], '.') < 0 {
			continue
		}
		if x.match(KindEmail, b[s:e]) {
			if !x.all {
				return bitEmail
			}
			found = bitEmail
		}
	}
	return found
}

// group is one run of digits in a spelled-out number; cont says the
// number goes on after it (see numbers).
type group struct {
	s, e int
	cont bool
}

// maxGroups bounds a phrase; the next phrase then starts maxSpan groups
// back, since no identifier spans more groups than that ("+46 (0)70 123 45
// 67" has six).
const (
	maxGroups = 12
	maxSpan   = 6
)

// sepUnit returns the length of the separator at b[q] inside a spelled-out
// number, 0 if there is none, and the ASCII separator it stands for: an
// ASCII separator stands for itself; Unicode spaces and dashes as word
// processors and web pages write them (no-break space, narrow no-break
// and thin spaces, "&nbsp;", en dash) for a space or '-'.
func sepUnit(b []byte, q int) (n int, ascii byte) {
	c := b[q]
	if class[c]&clSep != 0 {
		return 1, c
	}
	switch c {
	case 0xC2: // U+00A0
		if q+1 < len(b) && b[q+1] == 0xA0 {
			return 2, ' '
		}
	case 0xE2:
		if q+2 < len(b) && b[q+1] == 0x80 {
			switch d := b[q+2]; {
			case d >= 0x80 && d <= 0x8A || d == 0xAF: // U+2000-U+200A, U+202F
				return 3, ' '
			case d >= 0x90 && d <= 0x93: // U+2010-U+2013
				return 3, '-'
			}
		}
	case '&':
		if bytes.HasPrefix(b[q:], []byte("&nbsp;")) || bytes.HasPrefix(b[q:], []byte("&#160;")) {
			return 6, ' '
		}
	}
	return 0, 0
}

// nextDigit returns the index of the first ASCII digit in b at or after i,
// or len(b). Most text is not digits: it looks at eight bytes at a time.
func nextDigit(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := digitBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && class[b[i]]&clDigit == 0 {
		i++
	}
	return i
}

// digitBytes returns w with the top bit set in exactly the bytes that are
// ASCII digits. Each byte's low seven bits are compared with '0' and '9'
// by a sum and a difference that stay within the byte, so no byte's
// verdict depends on its neighbours.
func digitBytes(w uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	t := w &^ hi                  // the low seven bits of each byte
	below := lo*(127+'9'+1) - t   // top bit set where t <= '9'
	above := t + lo*(127-('0'-1)) // top bit set where t >= '0'
	return below & above &^ w & hi
}

// numbers finds phone numbers, personnummer and organisationsnummer. A
// number is a phrase of digit groups joined by short runs of separators
// ("070-123 45 67", "+46 (0)70 123 45 67", "19800101-1234"); candidates are
// runs of whole groups, so a number inside a longer digit run never
// matches. A group followed by a single space and a short group that does
// not start a new number (no leading 0) ends no candidate: "070-123 45 67
// 8" is another, longer number.
func (x *extractor) numbers(b []byte) kindSet {
	var s kindSet
	var gs [maxGroups]group
	n := len(b)
	for i := 0; i < n; {
		if i = nextDigit(b, i); i >= n {
			break
		}
		ng := 0
		p := i
		wide := false // a separator is not ASCII
		for {
			e := p
			for e < n && class[b[e]]&clDigit != 0 {
				e++
			}
			gs[ng] = group{s: p, e: e}
			ng++
			p = e
			if ng == maxGroups {
				break
			}
			// Up to three separators, then a digit continues the phrase.
			q, units, space := p, 0, false
			for q < n && units < 3 {
				c := b[q]
				if class[c]&clSep != 0 { // the common case, kept inline
					space = c == ' '
					q++
					units++
					continue
				}
				if c < utf8.RuneSelf && c != '&' {
					break
				}
				u, a := sepUnit(b, q)
				if u == 0 {
					break
				}
				space, wide = a == ' ', true
				q += u
				units++
			}
			if q == p || q >= n || class[b[q]]&clDigit == 0 {
				break
			}
			if units == 1 && space && b[q] != '0' {
				e := q
				for e < n && e-q <= 3 && class[b[e]]&clDigit != 0 {
					e++
				}
				gs[ng-1].cont = e-q <= 3
			}
			p = q
		}
		if ng < maxGroups && phraseDigits(gs[:ng]) < minNumberDigits {
			// No number is this short, nor one starting inside the
			// phrase, which ends here too: most digits in binary data
			// and tables of amounts stop here.
			i = gs[ng-1].e
			continue
		}
		if wordBefore(b, i) {
			i = gs[0].e // the first group runs on from a word
			continue
		}
		i = gs[ng-1].e
		last := ng
		if wordAfter(b, gs[ng-1].e) {
			last = ng - 1 // the final group runs into a word
		}
		if wide {
			s |= x.widePhrase(b, gs[:ng], last)
		} else {
			s |= x.phrase(b, gs[:ng], last)
		}
		if ng == maxGroups {
			// Overlap the next phrase so that long lists of numbers are
			// still seen whole.
			i = gs[ng-maxSpan].s
		}
	}
	return s
}

// minNumberDigits is the fewest digits of a candidate phrase offers: a
// phone number has at least seven.
const minNumberDigits = 7

// phraseDigits counts the digits of a phrase's groups.
func phraseDigits(gs []group) int {
	n := 0
	for _, g := range gs {
		n += g.e - g.s
	}
	return n
}

// widePhrase is phrase for a number with Unicode separators: they are
// offered to the matcher as ASCII, a space for a space and '-' for a dash,
// as the tombstones normalizer reads numbers.
func (x *extractor) widePhrase(b []byte, gs []group, last int) kindSet {
	base := max(0, gs[0].s-2) // room to see a leading '+'
	buf := append(x.num[:0], b[base:gs[0].s]...)
	var cg [maxGroups]group
	for k, g := range gs {
		if k > 0 {
			for q := gs[k-1].e; q < g.s; {
				u, c := sepUnit(b, q)
				buf = append(buf, c)
				q += max(u, 1)
			}
		}
		st := len(buf)
		buf = append(buf, b[g.s:g.e]...)
		cg[k] = group{s: st, e: len(buf), cont: g.cont}
	}
	x.num = buf
	return x.phrase(buf, cg[:len(gs)], last)
}

// phrase tries every run of whole groups gs[a..z] (z < last) as a candidate.
func (x *extractor) phrase(b []byte, gs []group, last int) kindSet {
	var s kindSet
	for a := 0; a < last; a++ {
		digits := 0
		start := gs[a].s
		if start > 0 && b[start-1] == '+' && (start < 2 || class[b[start-2]]&clDigit == 0) {
			start--
		}
		for z := a; z < last; z++ {
			digits += gs[z].e - gs[z].s
			if digits > 15 {
				break
			}
			if gs[z].cont {
				continue // the number goes on
			}
			cand := b[start:gs[z].e]
			// The tombstones package owns the shapes, so that every
			// spelling its normalizer accepts is offered.
			if (digits == 10 || digits == 12) && z-a <= 1 {
				if (s&bitPersonnummer == 0 || x.all) && x.want&bitPersonnummer != 0 && tombstones.IsPersonnummerShape(cand) && x.match(KindPersonnummer, cand) {
					s |= bitPersonnummer
				}
				if (s&bitOrgnr == 0 || x.all) && x.want&bitOrgnr != 0 && tombstones.IsOrgnrShape(cand) && x.match(KindOrgnr, cand) {
					s |= bitOrgnr
				}
			}
			if digits >= minNumberDigits && (s&bitPhone == 0 || x.all) && x.want&bitPhone != 0 && (cand[0] == '+' || cand[0] == '0') && x.match(KindPhone, cand) {
				s |= bitPhone
			}
		}
	}
	return s
}
