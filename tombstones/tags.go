package tombstones

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Tag is a short keyed tag of an identifier as the subject index keeps
// it: a QuickTag, or, in entries built by an older lethe, the first 64
// bits of its fingerprint (TagOf). The subject index stores (truncations
// of) tags, never an identifier nor an unkeyed hash of one, so a
// tombstone's stored tags and fingerprints can be turned into the tags to
// look up.
type Tag uint64

// TagOf returns the fingerprint tag of a fingerprint.
func TagOf(fp Fingerprint) Tag { return Tag(binary.BigEndian.Uint64(fp[:8])) }

// Tag refs, as a TagMatcher hands them to formats: one class byte and the
// tag's eight bytes.
const (
	tagRefLen   = 9
	refIdent    = 'i' // the fingerprint of a normalized identifier
	refPhoneTag = 'p' // the tail of a phone number written in plain digits
)

// TagMatcher is a formats.Matcher for building the subject index: it
// matches every candidate that normalizes and names it by a tag ref (see
// ParseTagRef). Used with formats.Options.AllCandidates, the refs of a
// file's records are the tags of every identifier a tombstone matcher
// could match in it.
//
// A ref's tag is the candidate's QuickTag: indexing computes no HMAC.
// Phone numbers written in plain digits and punctuation are not parsed (a
// full parse is slow): their ref is the quick tag of their last digits, as
// the tombstone matcher's prefilter sees them, so that a tombstoned number
// is found by its tail. Other phone candidates are parsed and tagged. It
// is safe for concurrent use.
type TagMatcher struct {
	n   *Normalizer
	key *SubjectKey
}

// NewTagMatcher returns a tag matcher fingerprinting under key.
func NewTagMatcher(n *Normalizer, key *SubjectKey) *TagMatcher {
	return &TagMatcher{n: n, key: key}
}

// CustomKinds returns the custom kinds of the matcher's normalizer.
func (m *TagMatcher) CustomKinds() []CustomKind { return m.n.CustomKinds() }

// LookupBytes is Lookup without copying candidate (see Matcher.LookupBytes).
func (m *TagMatcher) LookupBytes(kind Kind, candidate []byte) (string, bool) {
	return m.Lookup(kind, unsafe.String(unsafe.SliceData(candidate), len(candidate)))
}

// Lookup returns candidate's tag ref; ok is false for a candidate that
// does not normalize as kind, which no tombstone matcher matches either.
// It keeps no reference to candidate.
func (m *TagMatcher) Lookup(kind Kind, candidate string) (string, bool) {
	if kind == KindPhone {
		var digits [64]byte
		if nd, plain := plainPhoneDigits(candidate, &digits); plain {
			if nd == 0 {
				return "", false
			}
			k := min(nd, maxTail)
			st := m.key.get(kindPhoneTail)
			st.msg = append(st.msg, digits[nd-k:nd]...)
			q := m.key.quick(st.msg)
			m.key.pool.Put(st)
			return tagRef(refPhoneTag, Tag(q)), true
		}
	}
	st := m.key.get(kind)
	defer m.key.pool.Put(st)
	var err error
	st.msg, err = m.n.appendNormalized(st.msg, kind, candidate)
	if err != nil {
		return "", false
	}
	return tagRef(refIdent, Tag(m.key.quick(st.msg))), true
}

// plainPhoneDigits collects the digits of a candidate made of ASCII digits
// and the punctuation the tombstone matcher's tail prefilter passes over.
// plain is false where that prefilter parses the candidate instead.
func plainPhoneDigits(candidate string, digits *[64]byte) (nd int, plain bool) {
	if len(candidate) > len(digits) {
		return 0, false
	}
	for i := 0; i < len(candidate); i++ {
		c := candidate[i]
		switch {
		case '0' <= c && c <= '9':
			digits[nd] = c
			nd++
		case c == ' ' || c == '\t' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' || c == '+':
		case c == 0xc2 && i+1 < len(candidate) && candidate[i+1] == 0xa0:
			i++
		default:
			return 0, false
		}
	}
	return nd, true
}

func tagRef(class byte, t Tag) string {
	var b [tagRefLen]byte
	b[0] = class
	binary.BigEndian.PutUint64(b[1:], uint64(t))
	return string(b[:])
}

// ParseTagRef decodes a ref of a TagMatcher. phoneTail is set for the tail
// of a plain phone number.
func ParseTagRef(ref string) (t Tag, phoneTail bool, err error) {
	if len(ref) != tagRefLen || (ref[0] != refIdent && ref[0] != refPhoneTag) {
		return 0, false, fmt.Errorf("not a tag ref")
	}
	return Tag(binary.BigEndian.Uint64([]byte(ref[1:]))), ref[0] == refPhoneTag, nil
}

// Probe is what to look for in the subject index to find a subject: a
// content may hold the subject if its entry has one of the tags, or, when
// PlainPhones is set, if it holds any phone number in plain digits (a
// tombstoned number whose tail is shorter than the tails the index keeps,
// or that has no tail, could be any of them).
//
// Entries of the index built by an older lethe hold fingerprint tags,
// looked up by Tags; entries built now hold quick tags, looked up by
// Quick. A tombstone entry without quick tags (made by an older lethe)
// cannot be looked up in the latter, so NoQuick makes every such entry
// answer "may hold".
type Probe struct {
	Tags        []Tag
	Quick       []Tag
	PlainPhones bool
	NoQuick     bool
}

// ProbeOf returns the probe for a tombstone's entries.
func ProbeOf(entries []Entry) Probe {
	var p Probe
	for _, e := range entries {
		p.add(e)
	}
	return p
}

// Merge adds the tags and marks of o to p.
func (p *Probe) Merge(o Probe) {
	p.Tags = append(p.Tags, o.Tags...)
	p.Quick = append(p.Quick, o.Quick...)
	p.PlainPhones = p.PlainPhones || o.PlainPhones
	p.NoQuick = p.NoQuick || o.NoQuick
}

func (p *Probe) add(e Entry) {
	quick := e.hasQuick()
	p.Tags = append(p.Tags, TagOf(e.Fingerprint))
	if quick {
		p.Quick = append(p.Quick, Tag(*e.Quick))
	} else {
		p.NoQuick = true
	}
	if e.Kind != KindPhone {
		return
	}
	if e.Tail == nil {
		p.PlainPhones = true
		return
	}
	p.Tags = append(p.Tags, TagOf(*e.Tail))
	if quick {
		p.Quick = append(p.Quick, Tag(*e.QuickTail))
	}
	if e.TailDigits < maxTail {
		// A candidate with more digits than the tail is kept under its
		// last maxTail digits, which the tail does not give.
		p.PlainPhones = true
	}
}

// EntriesOf fingerprints identifiers under key as a tombstone made of them
// would, without recording one (for `lethe find`).
func EntriesOf(n *Normalizer, key *SubjectKey, ids []Identifier) ([]Entry, error) {
	var out []Entry
	for i, id := range ids {
		v, err := n.Normalize(id.Kind, id.Value)
		if err != nil {
			return nil, fmt.Errorf("identifier %d (%s): %w", i+1, id.Kind, err)
		}
		e, err := newEntry(key, id.Kind, v)
		if err != nil {
			return nil, fmt.Errorf("identifier %d (%s): %w", i+1, id.Kind, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// ProfileOf describes what decides the identifiers a TagMatcher's refs
// cover besides the scanners: the phone region and the custom kinds.
func (m *TagMatcher) ProfileOf() string {
	s := "region=" + m.n.region
	for _, c := range m.n.custom {
		s += fmt.Sprintf(";kind=%s:%q", c.Name, c.Pattern.String())
	}
	return s
}

// ContentKey returns a keyed name for a file's content as the subject
// index keys it: the content blob IDs and what of the file name decides
// how it is read. It reveals neither without the subject key.
func (k *SubjectKey) ContentKey(nameClass string, content []byte) [16]byte {
	st := k.get(kindContent)
	st.msg = binary.AppendUvarint(st.msg, uint64(len(nameClass)))
	st.msg = append(st.msg, nameClass...)
	st.msg = append(st.msg, content...)
	fp := k.finish(st)
	k.pool.Put(st)
	var out [16]byte
	copy(out[:], fp[:16])
	return out
}

// kindContent is the internal kind of content keys; it cannot collide
// with a built-in or custom kind.
const kindContent Kind = "subjects#content"
