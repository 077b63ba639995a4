// Package tombstones is lethe's memory of who must stay forgotten: identifier
// kinds and their normalization, keyed fingerprints, the write-once tombstone
// objects in every repository, the local tombstone log and the matcher that
// answers "is this identifier erased, by which tombstone".
//
// Identifiers never leave this package in clear text: what is stored is a
// fingerprint (HMAC-SHA-256 under the subject key) and a masked form for
// display; errors describe what is wrong without repeating the value.
//
// Where things live:
//
//	lethe/keys/subject                      the subject key (JSON, encrypted by the repository)
//	lethe/tombstones/<id>                   a tombstone, written once
//	lethe/tombstones/<id>.revoked-<rid>     a revocation of that tombstone, written once
//	<state dir>/subject.key                 a copy of the subject key (0600)
//	<state dir>/tombstones.log              append-only, fsynced JSON lines (0600)
//
// The tombstone set is the union of the state directory and every
// repository; Service.Sync copies what is missing both ways. Ids are ULIDs,
// so they sort by creation time.
package tombstones

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Kind is the type of an identifier. Custom kinds are "custom:<name>".
type Kind string

// The built-in identifier kinds.
const (
	KindEmail        Kind = "email"
	KindPhone        Kind = "phone"
	KindPersonnummer Kind = "personnummer" // includes samordningsnummer
	KindOrgnr        Kind = "orgnr"        // organisationsnummer
	// KindName is weak: matched only where a rule says so (a CSV column, a
	// vCard FN, a path template), never in free text.
	KindName Kind = "name"
)

const customPrefix = "custom:"

// BuiltinKinds lists the built-in kinds in a stable order.
var BuiltinKinds = []Kind{KindEmail, KindPhone, KindPersonnummer, KindOrgnr, KindName}

// CustomKindOf returns the Kind of the custom kind with the given name.
func CustomKindOf(name string) Kind { return Kind(customPrefix + name) }

// IsCustom reports whether k is a custom kind.
func (k Kind) IsCustom() bool { return strings.HasPrefix(string(k), customPrefix) }

// CustomName returns the name of a custom kind ("" for built-in kinds).
func (k Kind) CustomName() string {
	if !k.IsCustom() {
		return ""
	}
	return string(k[len(customPrefix):])
}

// CustomKind is a business-defined identifier kind (a customer number, ...)
// from the config: a name and the pattern a value must match as a whole.
// Formats use Pattern unanchored to find candidates in text.
type CustomKind struct {
	Name    string
	Pattern *regexp.Regexp
}

// Kind returns the Kind under which values of c are fingerprinted.
func (c CustomKind) Kind() Kind { return CustomKindOf(c.Name) }

var customNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// DefaultRegion is the region whose national phone numbers are assumed when
// a number carries no country code.
const DefaultRegion = "SE"

// Normalizer turns identifier spellings into one canonical form per kind.
// It is safe for concurrent use.
type Normalizer struct {
	region   string
	custom   []CustomKind
	anchored map[Kind]*regexp.Regexp
	now      func() time.Time
}

// NewNormalizer returns a normalizer with the given default phone region
// (ISO 3166 code such as "SE"; "" means DefaultRegion) and custom kinds.
func NewNormalizer(defaultRegion string, custom []CustomKind) (*Normalizer, error) {
	if defaultRegion == "" {
		defaultRegion = DefaultRegion
	}
	defaultRegion = strings.ToUpper(defaultRegion)
	if phonenumbers.GetCountryCodeForRegion(defaultRegion) == 0 {
		return nil, fmt.Errorf("phone region %q: unknown region code", defaultRegion)
	}
	n := &Normalizer{
		region:   defaultRegion,
		anchored: make(map[Kind]*regexp.Regexp, len(custom)),
		now:      time.Now,
	}
	for i, c := range custom {
		if !customNameRE.MatchString(c.Name) {
			return nil, fmt.Errorf("custom kind %d: name %q must be lower-case letters, digits, '-' or '_', starting with a letter", i+1, c.Name)
		}
		if c.Pattern == nil {
			return nil, fmt.Errorf("custom kind %s: no pattern", c.Name)
		}
		if _, dup := n.anchored[c.Kind()]; dup {
			return nil, fmt.Errorf("custom kind %s: defined twice", c.Name)
		}
		re, err := regexp.Compile(`^(?:` + c.Pattern.String() + `)$`)
		if err != nil {
			return nil, fmt.Errorf("custom kind %s: anchoring pattern: %w", c.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("custom kind %s: pattern matches the empty string", c.Name)
		}
		n.anchored[c.Kind()] = re
		n.custom = append(n.custom, c)
	}
	return n, nil
}

// WithClock returns a copy of n that takes "today" from now. The century of
// a 10-digit personnummer depends on the current date.
func (n *Normalizer) WithClock(now func() time.Time) *Normalizer {
	c := *n
	c.now = now
	return &c
}

// Region returns the default phone region.
func (n *Normalizer) Region() string { return n.region }

// CustomKinds returns the configured custom kinds.
func (n *Normalizer) CustomKinds() []CustomKind { return append([]CustomKind(nil), n.custom...) }

// Known reports whether kind is built in or a configured custom kind.
func (n *Normalizer) Known(kind Kind) bool {
	switch kind {
	case KindEmail, KindPhone, KindPersonnummer, KindOrgnr, KindName:
		return true
	}
	_, ok := n.anchored[kind]
	return ok
}

// Normalize returns the canonical form of raw as an identifier of kind:
//
//   - email: trimmed, case-folded (NFC for non-ASCII), a final dot dropped
//   - phone: E.164 ("+46701234567")
//   - personnummer, samordningsnummer: 12 digits ("198001011232")
//   - orgnr: 10 digits ("5566778899")
//   - name: case-folded, whitespace collapsed
//   - custom: trimmed, must match the kind's pattern as a whole
//
// Errors say what is wrong without repeating the value.
func (n *Normalizer) Normalize(kind Kind, raw string) (string, error) {
	if kind == KindPhone {
		return n.normalizePhone(raw)
	}
	b, err := n.appendNormalized(nil, kind, raw)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendNormalized appends the canonical form to dst. It allocates only for
// phone numbers and non-ASCII input and returns only preallocated errors, so
// the matcher's hot path stays allocation-free.
func (n *Normalizer) appendNormalized(dst []byte, kind Kind, raw string) ([]byte, error) {
	switch kind {
	case KindEmail:
		return appendEmail(dst, raw)
	case KindPhone:
		s, err := n.normalizePhone(raw)
		return append(dst, s...), err
	case KindPersonnummer:
		return appendPersonnummer(dst, raw, n.now())
	case KindOrgnr:
		return appendOrgnr(dst, raw)
	case KindName:
		return appendName(dst, raw)
	}
	re, ok := n.anchored[kind]
	if !ok {
		return dst, errUnknownKind
	}
	s := strings.TrimSpace(raw)
	if !re.MatchString(s) {
		return dst, errCustomPattern
	}
	return append(dst, s...), nil
}

// Errors. They are values so the hot path does not allocate; Normalize
// prefixes none of them with the input.
var (
	errUnknownKind   = errors.New("unknown identifier kind")
	errCustomPattern = errors.New("custom identifier: does not match the kind's pattern")

	errEmailEmpty   = errors.New("email: empty")
	errEmailAt      = errors.New("email: needs exactly one '@' with text on both sides")
	errEmailChar    = errors.New("email: contains a space, control or delimiter character")
	errEmailLength  = errors.New("email: too long")
	errEmailDomain  = errors.New("email: domain needs a dot and no empty labels")
	errEmailUnicode = errors.New("email: invalid UTF-8")

	errPhoneParse   = errors.New("phone: not a phone number")
	errPhoneChar    = errors.New("phone: holds a letter or a character other than digits, spaces, '-', '.', '/', '(', ')' and a leading '+'")
	errPhoneInvalid = errors.New("phone: wrong number of digits for its country")
	errPhoneRange   = errors.New("phone: not a valid number in its country's numbering plan (wrong length for its area or operator code)")

	errPnrLength    = errors.New("personnummer: needs 10 or 12 digits, optionally with '-' or '+' before the last four")
	errPnrPlus      = errors.New("personnummer: '+' (100 years or older) only goes with 10 digits")
	errPnrDate      = errors.New("personnummer: birth date is not a valid date")
	errPnrFuture    = errors.New("personnummer: birth date is in the future")
	errPnrCheck     = checkDigitErrors("personnummer")
	errOrgnrLength  = errors.New("orgnr: needs 10 digits, optionally with '-' before the last four and an optional 16 prefix")
	errOrgnrCheck   = checkDigitErrors("orgnr")
	errOrgnrPerson  = errors.New("orgnr: the third and fourth digits are below 20, as in a personnummer: a sole trader's number is their personnummer, record it as one")
	errNameEmpty    = errors.New("name: empty")
	errNameUnicode  = errors.New("name: invalid UTF-8")
	errNameTooLong  = errors.New("name: too long")
	errNameControls = errors.New("name: contains control characters")
)

func checkDigitErrors(kind string) (errs [10]error) {
	for d := range errs {
		errs[d] = fmt.Errorf("%s: check digit should be %d", kind, d)
	}
	return errs
}

// --- email ---

func appendEmail(dst []byte, raw string) ([]byte, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return dst, errEmailEmpty
	}
	if len(s) > 254 {
		return dst, errEmailLength
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return dst, errEmailAt
	}
	if at > 64 {
		return dst, errEmailLength
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if emailBad[c] {
			return dst, errEmailChar
		}
	}
	if s[len(s)-1] == '.' && at < len(s)-2 {
		s = s[:len(s)-1] // the DNS root: "example.se." is "example.se"
	}
	domain := s[at+1:]
	if strings.IndexByte(domain, '.') < 0 || domain[0] == '.' || domain[len(domain)-1] == '.' || strings.Contains(domain, "..") {
		return dst, errEmailDomain
	}
	start := len(dst)
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst, nil
	}
	if out, ok := appendFoldLatin1(dst, s); ok {
		return out, nil // no space or control outside ASCII, already NFC
	}
	if !utf8.ValidString(s) {
		return dst, errEmailUnicode
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return dst[:start], errEmailChar
		}
	}
	return append(dst, foldNFC(s)...), nil
}

// emailBad marks the ASCII bytes an address may not hold: spaces, controls
// and delimiters.
var emailBad = func() (t [utf8.RuneSelf]bool) {
	for c := 0; c <= ' '; c++ {
		t[c] = true
	}
	t[0x7f] = true
	for _, c := range `"(),:;<>[\]` {
		t[c] = true
	}
	return t
}()

// appendFoldLatin1 appends foldNFC(s) to dst without allocating when s
// holds only ASCII and the Latin-1 letters U+00C0-U+00FF (Swedish names and
// addresses): those are in NFC, compose with nothing, and fold one to one
// except "ß" to "ss". ok is false, and dst unchanged, for anything else.
func appendFoldLatin1(dst []byte, s string) (out []byte, ok bool) {
	start := len(dst)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r < 0xC0 || r > 0xFF {
			return dst[:start], false
		}
		i += size
		switch {
		case r == 0xDF: // ß
			dst = append(dst, 's', 's')
			continue
		case r <= 0xDE && r != 0xD7: // À-Þ except ×
			r += 0x20
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst, true
}

// foldNFC case-folds s (full folding: "ß" and "ss" are equal) and puts it
// in Unicode normal form C, so precomposed and combining spellings of
// "å" are equal. Only non-ASCII input takes this slower path.
func foldNFC(s string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
}

// --- phone ---

func (n *Normalizer) normalizePhone(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > 64 {
		return "", errPhoneParse
	}
	// The parser reads letters as an extension ("070-123 45 6x") or a
	// vanity number: a typo would then erase another number. Only what
	// people write between digits is allowed.
	for i, r := range s {
		switch {
		case '0' <= r && r <= '9', r == ' ', r == '\u00a0', r == '-', r == '.', r == '/', r == '(', r == ')',
			'\u2010' <= r && r <= '\u2015', r == '\u2212': // dashes

		case r == '+' && i == 0:
		default:
			return "", errPhoneChar
		}
	}
	// A copy: the matcher passes candidates that share a scanner's buffer
	// (LookupBytes), and the parser may keep parts of its input.
	num, err := phonenumbers.Parse(strings.Clone(s), n.region)
	if err != nil {
		return "", errPhoneParse
	}
	if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		return "", errPhoneInvalid
	}
	// Valid by the numbering plan's ranges, not just of a possible length:
	// "070-123" or "070-123 45 678" is a typo, not a number to erase
	// under, and erase and erasures check must agree on that.
	if !phonenumbers.IsValidNumber(num) {
		return "", errPhoneRange
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if num.GetItalianLeadingZero() {
		// Leading zeros of the national number survive E.164 only where
		// they belong to the number (Italy); junk like "00000000" must
		// not give a form that normalizes to something else.
		again, err := phonenumbers.Parse(e164, n.region)
		if err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
			return "", errPhoneParse
		}
	}
	return e164, nil
}

// --- personnummer ---

// appendPersonnummer parses YYMMDD[-+]NNNC, YYMMDDNNNC, YYYYMMDD[-]NNNC or
// YYYYMMDDNNNC (see IsPersonnummerShape) and appends the 12-digit form. A
// 10-digit number's century is the latest one that puts the birth date on
// or before today, or at least 100 years back with '+'.
func appendPersonnummer(dst []byte, raw string, today time.Time) ([]byte, error) {
	p, err := parsePersonnummer(strings.TrimSpace(raw))
	if err != nil {
		return dst, err
	}
	yy := int(p.d[0]-'0')*10 + int(p.d[1]-'0')
	month, day := p.monthDay()
	ty, tm, td := today.Date()
	year := p.century*100 + yy
	if p.century < 0 {
		// Latest year ending in yy whose date is not after today (or not
		// after today-100y with '+').
		ly, lm, ld := ty, int(tm), td
		if p.sep == '+' {
			ly -= 100
		}
		year = ly - ((ly-yy)%100+100)%100
		if month > lm || month == lm && day > ld {
			if year == ly {
				year -= 100
			}
		}
	}
	if day > daysIn(year, month) {
		return dst, errPnrDate
	}
	if year > ty || year == ty && (month > int(tm) || month == int(tm) && day > td) {
		return dst, errPnrFuture
	}
	dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10))
	return append(dst, p.d[:]...), nil
}

// daysIn is the length of a month in the proleptic Gregorian calendar
// (what time.Date uses).
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// --- organisationsnummer ---

// appendOrgnr appends the ten digits of an organisationsnummer (see
// IsOrgnrShape).
func appendOrgnr(dst []byte, raw string) ([]byte, error) {
	d, err := parseOrgnr(strings.TrimSpace(raw))
	if err != nil {
		return dst, err
	}
	return append(dst, d[:]...), nil
}

// --- name ---

func appendName(dst []byte, raw string) ([]byte, error) {
	if len(raw) > 1024 {
		return dst, errNameTooLong
	}
	start := len(dst)
	ascii := true
	space := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			space = true
			continue
		case c < ' ' || c == 0x7f:
			return dst[:start], errNameControls
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if !ascii {
		dst = dst[:start]
		if out, ok := appendNameLatin1(dst, raw); ok {
			return out, nil
		}
		if !utf8.ValidString(raw) {
			return dst, errNameUnicode
		}
		s := foldNFC(raw)
		for _, f := range strings.Fields(s) {
			for _, r := range f {
				if unicode.IsControl(r) {
					return dst[:start], errNameControls
				}
			}
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			dst = append(dst, f...)
		}
	}
	if len(dst) == start {
		return dst, errNameEmpty
	}
	return dst, nil
}

// Identifier is a typed identifier value. In the matcher's API Value is the
// normalized form; ParseIdentifier produces one from user input.
type Identifier struct {
	Kind  Kind
	Value string
}

// ParseIdentifier normalizes raw as kind.
func (n *Normalizer) ParseIdentifier(kind Kind, raw string) (Identifier, error) {
	v, err := n.Normalize(kind, raw)
	if err != nil {
		return Identifier{}, err
	}
	return Identifier{Kind: kind, Value: v}, nil
}

// ParseKindValue parses the CLI's "KIND=VALUE" form (e.g. "email=a@b.se",
// "customer=K-1234" for the custom kind "customer"; "custom:customer=..."
// is accepted too).
func (n *Normalizer) ParseKindValue(s string) (Identifier, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return Identifier{}, errors.New("identifier: want KIND=VALUE")
	}
	kind := Kind(strings.ToLower(strings.TrimSpace(k)))
	if !n.Known(kind) && n.Known(CustomKindOf(string(kind))) {
		kind = CustomKindOf(string(kind))
	}
	if !n.Known(kind) {
		return Identifier{}, fmt.Errorf("identifier: unknown kind %q", k)
	}
	return n.ParseIdentifier(kind, v)
}

// appendNameLatin1 is appendName's non-ASCII path without allocating, for
// names of ASCII and Latin-1 letters (see appendFoldLatin1): whitespace and
// controls are then ASCII. ok is false for anything else, and for names
// the slow path must judge (controls, no letters).
func appendNameLatin1(dst []byte, raw string) (out []byte, ok bool) {
	start := len(dst)
	space := false
	for i := 0; i < len(raw); {
		c := raw[i]
		size := 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(raw[i:])
			if r < 0xC0 || r > 0xFF {
				return dst[:start], false
			}
		} else {
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
				space = true
				i++
				continue
			case c < ' ' || c == 0x7f:
				return dst[:start], false
			}
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst, _ = appendFoldLatin1(dst, raw[i:i+size])
		i += size
	}
	if len(dst) == start {
		return dst, false
	}
	return dst, true
}
