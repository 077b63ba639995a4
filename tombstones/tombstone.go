package tombstones

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Mode is how an erasure is carried out in the backups.
type Mode string

// Erasure modes (see docs/erasure.md, "Modes").
const (
	ModeRewrite Mode = "rewrite" // rewrite snapshots, erasure-grade prune
	ModeExpire  Mode = "expire"  // keep snapshots sealed, filter restores
)

// ParseMode parses a mode; "" is ModeRewrite.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", ModeRewrite:
		return ModeRewrite, nil
	case ModeExpire:
		return ModeExpire, nil
	}
	return "", fmt.Errorf("mode %q: want rewrite or expire", s)
}

// Entry is one identifier of a tombstone as stored: its kind, fingerprint
// and masked form. Phone entries also carry the fingerprint of the
// number's last digits for the matcher's prefilter.
//
// Entries of tombstones made since object version 2 also carry the quick
// tags of the identifier and of a phone's tail, which matchers and the
// subject index reject candidates by; older entries have none and are
// matched by fingerprint alone.
type Entry struct {
	Kind        Kind         `json:"kind"`
	Fingerprint Fingerprint  `json:"fingerprint"`
	Masked      string       `json:"masked"`
	Tail        *Fingerprint `json:"tail,omitempty"`
	TailDigits  int          `json:"tail_digits,omitempty"`
	Quick       *QuickTag    `json:"quick,omitempty"`
	QuickTail   *QuickTag    `json:"quick_tail,omitempty"`
}

// newEntry returns the entry of a normalized identifier under key.
func newEntry(key *SubjectKey, kind Kind, normalized string) (Entry, error) {
	q := key.QuickTag(kind, normalized)
	e := Entry{Kind: kind, Fingerprint: key.Fingerprint(kind, normalized), Masked: Mask(kind, normalized), Quick: &q}
	if kind == KindPhone {
		tail, err := phoneTail(normalized)
		if err != nil {
			return Entry{}, err
		}
		fp, qt := key.Fingerprint(kindPhoneTail, tail), key.QuickTag(kindPhoneTail, tail)
		e.Tail, e.TailDigits, e.QuickTail = &fp, len(tail), &qt
	}
	return e, nil
}

// hasQuick reports whether the entry carries the quick tags of its kind.
func (e Entry) hasQuick() bool {
	return e.Quick != nil && (e.Kind != KindPhone || e.Tail == nil || e.QuickTail != nil)
}

// Tombstone is the durable record of one erasure request. The stored
// object is written once; Revocations and Progress are filled in from other
// objects and log entries when a Set is built.
type Tombstone struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	KeyID     string    `json:"key_id"`
	Entries   []Entry   `json:"identifiers"`
	Reason    string    `json:"reason"`
	Reference string    `json:"reference,omitempty"`
	Mode      Mode      `json:"mode"`

	Revocations []Revocation        `json:"revocations,omitempty"`
	Progress    map[string]Progress `json:"progress,omitempty"`
	// Deadline is computed when the service lists or shows a tombstone
	// (never stored: the period may be configured anew).
	Deadline *Deadline `json:"deadline,omitempty"`
}

// Revoked reports whether the tombstone has been revoked.
func (t Tombstone) Revoked() bool { return len(t.Revocations) > 0 }

// Status is "active" or "revoked".
func (t Tombstone) Status() string {
	if t.Revoked() {
		return "revoked"
	}
	return "active"
}

// Masked returns the masked identifiers ("a***@example.se", ...).
func (t Tombstone) Masked() []string {
	out := make([]string, len(t.Entries))
	for i, e := range t.Entries {
		out[i] = e.Masked
	}
	return out
}

// stored returns the write-once part of t.
func (t Tombstone) stored() Tombstone {
	t.Revocations, t.Progress, t.Deadline = nil, nil, nil
	return t
}

// Revocation cancels an earlier tombstone (the customer came back and
// consented again). It is itself a write-once record with its own reason.
type Revocation struct {
	ID        string    `json:"id"`
	Tombstone string    `json:"tombstone"`
	Created   time.Time `json:"created"`
	Reason    string    `json:"reason"`
	Reference string    `json:"reference,omitempty"`
}

// ProgressState is where an erasure stands in one repository.
type ProgressState string

// Progress states.
const (
	ProgressPending  ProgressState = "pending"
	ProgressRunning  ProgressState = "running"
	ProgressComplete ProgressState = "complete"
	ProgressFailed   ProgressState = "failed"
)

// Progress is a tombstone's progress in one repository. The erasure
// issue fills it in; for now a recorded tombstone is pending everywhere.
type Progress struct {
	Tombstone  string        `json:"tombstone"`
	Repository string        `json:"repository"`
	State      ProgressState `json:"state"`
	Updated    time.Time     `json:"updated"`
	Note       string        `json:"note,omitempty"`
}

// ValidID reports whether s is a well-formed tombstone or revocation id:
// a ULID (26 characters, 48-bit millisecond time then 80 random bits,
// Crockford base32), so ids sort by time.
func ValidID(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil && len(s) == ulid.EncodedSize && strings.ToUpper(s) == s
}

// --- reasons ---

var gdprGroundRE = regexp.MustCompile(`^(?i)(?:gdpr\s*)?(?:art(?:icle|\.)?\s*)?(?:17\s*\(\s*1\s*\)\s*)?\(?\s*([a-f])\s*\)?$`)

// gdprGrounds are the grounds of GDPR Art. 17(1) for erasure.
var gdprGrounds = map[string]string{
	"a": "no longer necessary for the purposes collected",
	"b": "consent withdrawn",
	"c": "objection to processing",
	"d": "unlawfully processed",
	"e": "erasure required by a legal obligation",
	"f": "collected for information society services offered to a child",
}

// ParseReason returns the canonical reason: one of GDPR Art. 17(1)'s
// grounds ("b", "17(1)(b)", "Art. 17(1)(b)" all give "GDPR Art. 17(1)(b)")
// or free text, trimmed.
func ParseReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("reason: empty")
	}
	if m := gdprGroundRE.FindStringSubmatch(s); m != nil {
		return "GDPR Art. 17(1)(" + strings.ToLower(m[1]) + ")", nil
	}
	if err := checkText("reason", s); err != nil {
		return "", err
	}
	return s, nil
}

// DescribeReason explains a GDPR ground reason; free text is returned as is.
func DescribeReason(reason string) string {
	if strings.HasPrefix(reason, "GDPR Art. 17(1)(") && len(reason) == len("GDPR Art. 17(1)(a)") {
		if d, ok := gdprGrounds[reason[len(reason)-2:len(reason)-1]]; ok {
			return reason + ": " + d
		}
	}
	return reason
}

func checkText(field, s string) error {
	if len(s) > 1000 {
		return fmt.Errorf("%s: longer than 1000 bytes", field)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: invalid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: contains control characters", field)
		}
	}
	return nil
}

// --- masking ---

// Masks show enough for a person to recognise their own identifier and
// too little to narrow a guess much: tombstones keep the fingerprint and
// the subject key beside the mask, so every character a mask shows is one
// an attacker holding the state directory need not guess (docs/security.md).
// An email keeps the first character of its local part and its domain; a
// number (phone, personnummer, orgnr, custom) keeps at most its last two
// digits, and only when it has at least minMaskedDigits, so no date of
// birth or area code shows; a name keeps its initials.
const minMaskedDigits = 6

// Mask returns the display form of an identifier: enough to recognise it,
// not enough to recover it. normalized is the output of Normalize.
func Mask(kind Kind, normalized string) string {
	switch kind {
	case KindEmail:
		local, domain, ok := strings.Cut(normalized, "@")
		if !ok || local == "" || domain == "" {
			return "***"
		}
		r, _ := utf8.DecodeRuneInString(local)
		return string(r) + "***@" + domain
	case KindName:
		return maskName(normalized)
	}
	return maskNumber(digitsOf(normalized))
}

// Remask returns the mask of an identifier from a mask stored by an older
// lethe (which showed a birth date or five digits of a phone number): the
// normalized value is not stored, so the new mask is cut from the old
// one's characters. It is Mask's output again for a current mask.
func Remask(kind Kind, masked string) string {
	switch kind {
	case KindEmail:
		at := strings.LastIndexByte(masked, '@')
		if at <= 0 || at == len(masked)-1 {
			return "***"
		}
		r, _ := utf8.DecodeRuneInString(masked)
		if r == '*' || r == '@' {
			return "***"
		}
		return string(r) + "***@" + masked[at+1:]
	case KindName:
		var b strings.Builder
		for i, f := range strings.Fields(masked) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r, _ := utf8.DecodeRuneInString(f)
			if r == '*' {
				return "***"
			}
			b.WriteString(string(unicode.ToUpper(r)) + "***")
		}
		if b.Len() == 0 {
			return "***"
		}
		return b.String()
	}
	// Only digits the old mask showed at its very end are the number's
	// last digits ("19800101-****" ends masked: its digits are a date).
	n := len(masked)
	if n >= 2 && isDigit(masked[n-1]) && isDigit(masked[n-2]) {
		return "***" + masked[n-2:]
	}
	return "***"
}

func maskName(normalized string) string {
	var b strings.Builder
	for i, f := range strings.Fields(normalized) {
		if i > 0 {
			b.WriteByte(' ')
		}
		r, _ := utf8.DecodeRuneInString(f)
		b.WriteString(string(unicode.ToUpper(r)) + "***")
	}
	if b.Len() == 0 {
		return "***"
	}
	return b.String()
}

// maskNumber shows the last two of digits: "***67".
func maskNumber(digits string) string {
	if len(digits) < minMaskedDigits {
		return "***"
	}
	return "***" + digits[len(digits)-2:]
}

func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// --- the set ---

// Set is a union of tombstones, revocations and progress records from any
// number of sources. Adding the same object twice is harmless.
type Set struct {
	tombstones  map[string]*Tombstone
	revocations map[string]Revocation
	progress    map[string]map[string]Progress // tombstone -> repository -> latest
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{
		tombstones:  make(map[string]*Tombstone),
		revocations: make(map[string]Revocation),
		progress:    make(map[string]map[string]Progress),
	}
}

// AddTombstone adds t. A different tombstone under an existing id is an
// error: objects are write-once.
func (s *Set) AddTombstone(t Tombstone) error {
	t = t.stored()
	if old, ok := s.tombstones[t.ID]; ok {
		if !sameTombstone(*old, t) {
			return fmt.Errorf("tombstone %s: two different objects with this id", t.ID)
		}
		return nil
	}
	// Tombstones written by an older lethe carry masks that show too much;
	// what is read is re-masked, so no caller sees the old form.
	entries := make([]Entry, len(t.Entries))
	for i, e := range t.Entries {
		e.Masked = Remask(e.Kind, e.Masked)
		entries[i] = e
	}
	t.Entries = entries
	s.tombstones[t.ID] = &t
	return nil
}

func sameTombstone(a, b Tombstone) bool {
	if a.ID != b.ID || !a.Created.Equal(b.Created) || a.KeyID != b.KeyID || a.Reason != b.Reason ||
		a.Reference != b.Reference || a.Mode != b.Mode || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i].Kind != b.Entries[i].Kind || a.Entries[i].Fingerprint != b.Entries[i].Fingerprint {
			return false
		}
	}
	return true
}

// AddRevocation adds r.
func (s *Set) AddRevocation(r Revocation) error {
	if old, ok := s.revocations[r.ID]; ok {
		if old.Tombstone != r.Tombstone || !old.Created.Equal(r.Created) || old.Reason != r.Reason {
			return fmt.Errorf("revocation %s: two different objects with this id", r.ID)
		}
		return nil
	}
	s.revocations[r.ID] = r
	return nil
}

// AddProgress records p; the latest update per repository wins.
func (s *Set) AddProgress(p Progress) {
	m := s.progress[p.Tombstone]
	if m == nil {
		m = make(map[string]Progress)
		s.progress[p.Tombstone] = m
	}
	if old, ok := m[p.Repository]; !ok || p.Updated.After(old.Updated) {
		m[p.Repository] = p
	}
}

// Merge adds everything in o to s.
func (s *Set) Merge(o *Set) error {
	for _, t := range o.tombstones {
		if err := s.AddTombstone(*t); err != nil {
			return err
		}
	}
	for _, r := range o.revocations {
		if err := s.AddRevocation(r); err != nil {
			return err
		}
	}
	for _, m := range o.progress {
		for _, p := range m {
			s.AddProgress(p)
		}
	}
	return nil
}

// Len returns the number of tombstones (revoked ones included).
func (s *Set) Len() int { return len(s.tombstones) }

// Get returns the tombstone with the given id, with its revocations and
// progress.
func (s *Set) Get(id string) (Tombstone, bool) {
	t, ok := s.tombstones[id]
	if !ok {
		return Tombstone{}, false
	}
	return s.view(t), true
}

func (s *Set) view(t *Tombstone) Tombstone {
	v := *t
	v.Entries = append([]Entry(nil), t.Entries...)
	for _, r := range s.revocations {
		if r.Tombstone == t.ID {
			v.Revocations = append(v.Revocations, r)
		}
	}
	sort.Slice(v.Revocations, func(i, j int) bool { return v.Revocations[i].ID < v.Revocations[j].ID })
	if m := s.progress[t.ID]; len(m) > 0 {
		v.Progress = make(map[string]Progress, len(m))
		for k, p := range m {
			v.Progress[k] = p
		}
	}
	return v
}

// Tombstones returns all tombstones, revoked ones included, oldest first.
func (s *Set) Tombstones() []Tombstone {
	out := make([]Tombstone, 0, len(s.tombstones))
	for _, t := range s.tombstones {
		out = append(out, s.view(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Active returns the tombstones that are not revoked, oldest first.
func (s *Set) Active() []Tombstone {
	revoked := s.revokedIDs()
	out := make([]Tombstone, 0, len(s.tombstones))
	for id, t := range s.tombstones {
		if !revoked[id] {
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Set) revokedIDs() map[string]bool {
	m := make(map[string]bool, len(s.revocations))
	for _, r := range s.revocations {
		m[r.Tombstone] = true
	}
	return m
}

// Revocations returns all revocations, oldest first.
func (s *Set) Revocations() []Revocation {
	out := make([]Revocation, 0, len(s.revocations))
	for _, r := range s.revocations {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NewMatcher returns a matcher over the set's active (not revoked)
// tombstones. Every tombstone must have been made under key.
func NewMatcher(n *Normalizer, key *SubjectKey, s *Set) (*Matcher, error) {
	active := s.Active()
	size := 0
	for _, t := range active {
		size += len(t.Entries)
	}
	m := newMatcher(n, key, size)
	keyID := key.ID()
	for _, t := range active {
		if t.KeyID != keyID {
			return nil, fmt.Errorf("tombstone %s was made under subject key %s, not this agent's key %s", t.ID, t.KeyID, keyID)
		}
		for _, e := range t.Entries {
			m.addEntry(e, t.ID)
		}
	}
	return m, nil
}
