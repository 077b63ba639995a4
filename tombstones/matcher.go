package tombstones

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/nyaruka/phonenumbers"
)

// Matcher answers "does this identifier belong to an erased subject, and
// which tombstone" with one normalization, one quick tag and one set
// lookup for almost every candidate: only a candidate whose quick tag is
// known is fingerprinted (one HMAC) to confirm it and name the tombstone.
// Kinds with entries of older tombstones, which have no quick tags, are
// fingerprinted always. It is safe for concurrent use and does not
// allocate for emails, personnummer, organisationsnummer, names and
// custom kinds.
type Matcher struct {
	n     *Normalizer
	key   *SubjectKey
	index map[Fingerprint]int32
	ids   []string
	kinds map[Kind]bool
	// builtin has bit kindBit(k) set for each built-in kind in kinds: the
	// hot path tests it without hashing the kind.
	builtin uint8

	// quick holds the quick tags of all entries that have one. An entry
	// without makes its kind slow: slowBuiltin bits and slowCustom.
	quick       quickSet
	slowBuiltin uint8
	slowCustom  map[Kind]bool

	// Phone numbers need a full phone-number parse to normalize, which is
	// slow and allocates. Tombstones therefore also carry a keyed
	// fingerprint of the last digits of each number (a "tail"): a candidate
	// whose tail is unknown cannot be any tombstoned number, so most
	// candidates are rejected with one quick tag per tail length (or
	// one HMAC, for tails of older tombstones, which have no quick tag).
	tails         map[Fingerprint]struct{}
	tailLens      uint16 // bit L set: some tail without quick tag has L digits
	quickTails    quickSet
	quickTailLens uint16 // bit L set: some quick tail has L digits
	phoneNoTail   bool   // a phone fingerprint without tail: no prefilter
}

// kindPhoneTail is the internal kind of phone tail fingerprints; it cannot
// collide with a built-in or custom kind.
const kindPhoneTail Kind = "phone#tail"

// maxTail is the number of trailing national digits in a phone tail.
const maxTail = 7

func newMatcher(n *Normalizer, key *SubjectKey, size int) *Matcher {
	return &Matcher{
		n:          n,
		key:        key,
		index:      make(map[Fingerprint]int32, size),
		kinds:      make(map[Kind]bool),
		tails:      make(map[Fingerprint]struct{}),
		slowCustom: make(map[Kind]bool),
	}
}

// add records fp (of kind, with quick tag q when it has one) as belonging
// to tombstone id. The first id added for a fingerprint wins.
func (m *Matcher) add(kind Kind, fp Fingerprint, q *QuickTag, id string) {
	if q != nil {
		m.quick.add(uint64(*q))
	} else if b := kindBit(kind); b != 0 {
		m.slowBuiltin |= b
	} else {
		m.slowCustom[kind] = true
	}
	if _, dup := m.index[fp]; dup {
		return
	}
	if len(m.ids) == 0 || m.ids[len(m.ids)-1] != id {
		m.ids = append(m.ids, id)
	}
	m.index[fp] = int32(len(m.ids) - 1)
	m.kinds[kind] = true
	m.builtin |= kindBit(kind)
}

// kindBit is the bit of a built-in kind in Matcher.builtin, 0 for others.
func kindBit(kind Kind) uint8 {
	switch kind {
	case KindEmail:
		return 1
	case KindPhone:
		return 2
	case KindPersonnummer:
		return 4
	case KindOrgnr:
		return 8
	case KindName:
		return 16
	}
	return 0
}

// hasKind is HasKind without a map lookup for built-in kinds.
func (m *Matcher) hasKind(kind Kind) bool {
	if b := kindBit(kind); b != 0 {
		return m.builtin&b != 0
	}
	return m.kinds[kind]
}

// slow reports whether candidates of kind must be fingerprinted: some
// entry of kind has no quick tag.
func (m *Matcher) slow(kind Kind) bool {
	if b := kindBit(kind); b != 0 {
		return m.slowBuiltin&b != 0
	}
	return m.slowCustom[kind]
}

// addTail records the tail of a phone entry, by its quick tag q when it
// has one.
func (m *Matcher) addTail(fp Fingerprint, q *QuickTag, digits int) {
	if digits < 1 || digits > maxTail {
		return
	}
	if q != nil {
		m.quickTails.add(uint64(*q))
		m.quickTailLens |= 1 << digits
		return
	}
	m.tails[fp] = struct{}{}
	m.tailLens |= 1 << digits
}

// NewIdentifierMatcher returns a matcher for the given identifiers (for
// `lethe scan --email ...`), fingerprinted under a fresh random key. Lookup
// returns "identifier-N" for the N-th (from 1) identifier.
func NewIdentifierMatcher(n *Normalizer, ids []Identifier) (*Matcher, error) {
	key, err := GenerateSubjectKey()
	if err != nil {
		return nil, err
	}
	m := newMatcher(n, key, len(ids))
	for i, id := range ids {
		v, err := n.Normalize(id.Kind, id.Value)
		if err != nil {
			return nil, fmt.Errorf("identifier %d: %w", i+1, err)
		}
		e, err := newEntry(key, id.Kind, v)
		if err != nil {
			return nil, fmt.Errorf("identifier %d: %w", i+1, err)
		}
		m.addEntry(e, "identifier-"+strconv.Itoa(i+1))
	}
	return m, nil
}

// addEntry records a tombstone entry.
func (m *Matcher) addEntry(e Entry, id string) {
	if !e.hasQuick() {
		e.Quick, e.QuickTail = nil, nil
	}
	m.add(e.Kind, e.Fingerprint, e.Quick, id)
	if e.Kind == KindPhone {
		if e.Tail == nil {
			m.phoneNoTail = true
		} else {
			m.addTail(*e.Tail, e.QuickTail, e.TailDigits)
		}
	}
}

// phoneTail returns the last (up to maxTail) digits of the national
// significant number of an E.164 number.
func phoneTail(e164 string) (string, error) {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return "", errPhoneParse
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	if len(nsn) > maxTail {
		nsn = nsn[len(nsn)-maxTail:]
	}
	return nsn, nil
}

// Len returns the number of fingerprints in the matcher.
func (m *Matcher) Len() int { return len(m.index) }

// Normalizer returns the matcher's normalizer.
func (m *Matcher) Normalizer() *Normalizer { return m.n }

// CustomKinds returns the custom kinds the matcher's normalizer knows.
func (m *Matcher) CustomKinds() []CustomKind { return m.n.CustomKinds() }

// HasKind reports whether any fingerprint of kind is in the matcher, so
// a scanner can skip looking for kinds nobody asked about.
func (m *Matcher) HasKind(kind Kind) bool { return m.hasKind(kind) }

// Match reports whether candidate, normalized as kind, belongs to a
// tombstone. A candidate that does not parse as kind never matches.
func (m *Matcher) Match(kind Kind, candidate string) bool {
	_, ok := m.Lookup(kind, candidate)
	return ok
}

// LookupBytes is Lookup for a candidate in a byte slice, which scanners
// reuse: it does not copy the candidate, keeps no reference to it, and
// candidate must not change during the call. The returned id does not
// share candidate's bytes.
func (m *Matcher) LookupBytes(kind Kind, candidate []byte) (tombstoneID string, ok bool) {
	// Nothing on the lookup path keeps the string beyond the call (the
	// phone parser, which might, gets a copy), so it may share the bytes.
	return m.Lookup(kind, unsafe.String(unsafe.SliceData(candidate), len(candidate)))
}

// Lookup returns the id of the tombstone candidate belongs to. It keeps no
// reference to candidate (LookupBytes relies on that).
func (m *Matcher) Lookup(kind Kind, candidate string) (tombstoneID string, ok bool) {
	if !m.hasKind(kind) {
		return "", false
	}
	if kind == KindPhone && !m.phoneMayMatch(candidate) {
		return "", false
	}
	st := m.key.get(kind)
	if kindBit(kind) == 0 && !m.slow(kind) {
		// A custom identifier that matches its kind's pattern normalizes
		// to itself, trimmed: its quick tag rejects it before the pattern
		// is run, which costs more.
		st.msg = append(st.msg, strings.TrimSpace(candidate)...)
		if !m.quick.has(uint64(m.key.quick(st.msg))) {
			m.key.pool.Put(st)
			return "", false
		}
		st.msg = st.msg[:len(kind)+1]
	}
	var err error
	st.msg, err = m.n.appendNormalized(st.msg, kind, candidate)
	if err != nil || !m.slow(kind) && !m.quick.has(uint64(m.key.quick(st.msg))) {
		m.key.pool.Put(st)
		return "", false
	}
	fp := m.key.finish(st)
	m.key.pool.Put(st)
	return m.LookupFingerprint(fp)
}

// LookupFingerprint returns the tombstone a fingerprint belongs to.
func (m *Matcher) LookupFingerprint(fp Fingerprint) (tombstoneID string, ok bool) {
	i, ok := m.index[fp]
	if !ok {
		return "", false
	}
	return m.ids[i], true
}

// phoneMayMatch is the tail prefilter. It answers true (go and parse) for
// anything that is not plain digits and punctuation, because letters
// (extensions, vanity numbers) and non-ASCII digits change which digits
// end the number. Plain candidates end with their national significant
// number: prefixes (+, 00, the trunk 0, "(0)", carrier codes, mobile
// tokens) only ever come before it.
func (m *Matcher) phoneMayMatch(candidate string) bool {
	if m.phoneNoTail || len(candidate) > 64 {
		return true
	}
	var digits [64]byte
	nd := 0
	for i := 0; i < len(candidate); i++ {
		c := candidate[i]
		switch {
		case '0' <= c && c <= '9':
			digits[nd] = c
			nd++
		case c == ' ' || c == '\t' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' || c == '+':
		case c == 0xc2 && i+1 < len(candidate) && candidate[i+1] == 0xa0: // no-break space
			i++
		default:
			return true
		}
	}
	st := m.key.get(kindPhoneTail)
	defer m.key.pool.Put(st)
	// The verdict depends on the last maxTail digits and on how many
	// there are, up to maxTail.
	var tk [maxTail + 1]byte
	k := min(nd, maxTail)
	tk[0] = byte(k)
	copy(tk[1:], digits[nd-k:nd])
	if st.tailM == m && st.tailKey == tk {
		return st.tailOK
	}
	ok := m.tailMayMatch(st, digits[:nd])
	st.tailM, st.tailKey, st.tailOK = m, tk, ok
	return ok
}

// tailMayMatch looks up the tails of digits; st.msg holds the tail kind.
func (m *Matcher) tailMayMatch(st *hmacState, digits []byte) bool {
	base, nd := len(st.msg), len(digits)
	for l := 1; l <= min(nd, maxTail); l++ {
		lb := uint16(1) << l
		if (m.quickTailLens|m.tailLens)&lb == 0 {
			continue
		}
		st.msg = append(st.msg[:base], digits[nd-l:nd]...)
		if m.quickTailLens&lb != 0 && m.quickTails.has(uint64(m.key.quick(st.msg))) {
			return true
		}
		if m.tailLens&lb != 0 {
			if _, ok := m.tails[m.key.finish(st)]; ok {
				return true
			}
		}
	}
	return false
}
