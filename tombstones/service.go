package tombstones

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/oklog/ulid/v2"
)

// Service is what the CLI and the agent call: record, list, show, revoke
// and check erasures against the local state directory and the
// repositories. Each call reconciles the subject key first.
type Service struct {
	State      *State
	Repos      []Repo
	Normalizer *Normalizer

	// Warn, if set, is told about a repository that cannot be reached or
	// written, and the call carries on with the others: the tombstone is
	// safe in the state directory and a later Sync catches the repository
	// up. Without Warn such errors are returned. Key disagreements and
	// conflicting objects are always errors.
	Warn func(repo string, err error)

	// Now returns the current time (time.Now if nil).
	Now func() time.Time

	// ReadOnly makes the service never create a subject key: when no
	// place holds one, SubjectKey returns ErrNoSubjectKey and Sync goes on
	// without a key (there can be no tombstone then). Read-only commands
	// set it, so that running one where there is no key yet (no
	// repository given, or one lethe never wrote to) leaves no key
	// behind to disagree with the repository's later. A key that exists
	// is still copied to the places that lack it, as are tombstones.
	ReadOnly bool

	// Deadline returns when a request received at the given time must be
	// answered (OneMonthAfter if nil); the config's erasure.deadline
	// period gives it.
	Deadline func(received time.Time) time.Time

	idMu      sync.Mutex
	idEntropy *ulid.MonotonicEntropy
}

// newID returns a new ULID, increasing within a millisecond so ids made
// by one service sort in the order they were made.
func (s *Service) newID(now time.Time) (string, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.idEntropy == nil {
		s.idEntropy = ulid.Monotonic(rand.Reader, 0)
	}
	id, err := ulid.New(ulid.Timestamp(now), s.idEntropy)
	if err != nil {
		return "", fmt.Errorf("generating id: %w", err)
	}
	return id.String(), nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// repoErr reports err for repo through Warn, or returns it.
func (s *Service) repoErr(repo string, err error) error {
	err = fmt.Errorf("repository %s: %w", repo, err)
	if s.Warn != nil {
		s.Warn(repo, err)
		return nil
	}
	return err
}

// Request is an erasure request. Identifier values may be written in any
// accepted spelling; they are normalized, fingerprinted and masked, and
// never stored.
type Request struct {
	Identifiers []Identifier
	Reason      string // GDPR Art. 17(1) ground ("a".."f", "17(1)(b)") or free text
	Reference   string // ticket number
	Mode        Mode   // "" is rewrite
}

// ErrNoSubjectKey is what SubjectKey returns for a ReadOnly service when
// no place holds a key yet.
var ErrNoSubjectKey = errors.New("no subject key yet")

// SubjectKey reconciles the subject key across the state directory and all
// reachable repositories and returns it. The first use creates it, unless
// the service is ReadOnly. Every place that has a key must have the same
// one; places without it get a copy. A state directory that holds no
// tombstone adopts the repositories' key in place of its own: nothing was
// fingerprinted under its key that could be lost.
func (s *Service) SubjectKey(ctx context.Context) (*SubjectKey, error) {
	stateKey, err := s.State.LoadKey()
	if err != nil {
		return nil, err
	}
	reachable := make([]bool, len(s.Repos))
	repoKeys := make([]*SubjectKey, len(s.Repos))
	var unreachable []string
	var sources []keySource
	for i, r := range s.Repos {
		k, err := loadRepoKey(ctx, r.Store)
		if err != nil {
			if rerr := s.repoErr(r.Name, err); rerr != nil {
				return nil, rerr
			}
			unreachable = append(unreachable, r.Name)
			continue
		}
		reachable[i] = true
		repoKeys[i] = k
		if k != nil {
			sources = append(sources, keySource{"repository " + r.Name, k})
		}
	}
	if stateKey != nil && len(sources) > 0 && !stateKey.Equal(sources[0].key) {
		unused, err := s.stateKeyUnused()
		if err != nil {
			return nil, err
		}
		if unused && agree(sources) {
			if err := s.State.replaceKey(stateKey, sources[0].key, s.now()); err != nil {
				return nil, err
			}
			stateKey = sources[0].key
		}
	}
	if stateKey != nil {
		sources = append([]keySource{{"state directory " + s.State.Dir(), stateKey}}, sources...)
	}
	if err := s.checkAgree(sources); err != nil {
		return nil, err
	}
	var key *SubjectKey
	if len(sources) > 0 {
		key = sources[0].key
	}
	if key == nil {
		if s.ReadOnly {
			return nil, ErrNoSubjectKey
		}
		if len(unreachable) > 0 {
			return nil, fmt.Errorf("no subject key yet, and repositories %s are unreachable: "+
				"a new key might conflict with one there", strings.Join(unreachable, ", "))
		}
		if key, err = GenerateSubjectKey(); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if stateKey == nil {
		if err := s.State.SaveKey(key, now); err != nil {
			return nil, err
		}
	}
	for i, r := range s.Repos {
		if reachable[i] && repoKeys[i] == nil {
			if err := saveRepoKey(ctx, r.Store, key, now); err != nil {
				if rerr := s.repoErr(r.Name, err); rerr != nil {
					return nil, rerr
				}
			}
		}
	}
	return key, nil
}

// keySource is a place that holds a subject key.
type keySource struct {
	name string
	key  *SubjectKey
}

func agree(sources []keySource) bool {
	for _, src := range sources[1:] {
		if !src.key.Equal(sources[0].key) {
			return false
		}
	}
	return true
}

// stateKeyUnused reports whether the state directory's log holds no
// tombstone or revocation, so that nothing depends on its key.
func (s *Service) stateKeyUnused() (bool, error) {
	set, err := s.State.Load()
	if err != nil {
		return false, err
	}
	return len(set.tombstones) == 0 && len(set.revocations) == 0, nil
}

// checkAgree returns an error, saying how to resolve it, when two
// sources hold different keys. The state directory, if it has a key,
// comes first.
func (s *Service) checkAgree(sources []keySource) error {
	for _, src := range sources {
		if src.key.Equal(sources[0].key) {
			continue
		}
		first := sources[0]
		hint := "an agent's repositories share one key: " + src.name + " belongs to another agent " +
			"(another state directory and config); give it its own state directory"
		n := 0
		if strings.HasPrefix(first.name, "state directory ") && !sources[1].key.Equal(first.key) {
			if set, err := s.State.Load(); err == nil {
				n = len(set.tombstones)
			}
		}
		// A state directory without tombstones would have taken the
		// repositories' key had they agreed: then they are what differs.
		if n > 0 {
			hint = fmt.Sprintf("the %s holds %d erasure%s made under its key, so it belongs with other repositories; "+
				"run with the state directory that goes with %s (--state-dir or LETHE_STATE_DIR; "+
				"a new, empty one takes over the repository's key)", first.name, n, plural(n), strings.TrimPrefix(src.name, "repository "))
		}
		return fmt.Errorf("subject keys disagree: %s has key %s, %s has key %s; "+
			"fingerprints made under one do not match under the other, so lethe will not pick one; %s",
			first.name, first.key.ID(), src.name, src.key.ID(), hint)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// SyncReport says what a Sync copied where.
type SyncReport struct {
	ToState int            // objects appended to the state directory's log
	ToRepo  map[string]int // objects written per repository
	Skipped []string       // repositories that could not be reached
}

// Sync makes the state directory and every reachable repository hold the
// union of all their tombstones and revocations, and returns the union and
// the subject key. The key is nil only for a ReadOnly service where no
// place has one; the union is empty then.
func (s *Service) Sync(ctx context.Context) (*Set, *SubjectKey, *SyncReport, error) {
	key, err := s.SubjectKey(ctx)
	if err != nil && !errors.Is(err, ErrNoSubjectKey) {
		return nil, nil, nil, err
	}
	if _, err := s.State.Remask(); err != nil {
		return nil, nil, nil, err
	}
	local, err := s.State.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	union := NewSet()
	if err := union.Merge(local); err != nil {
		return nil, nil, nil, err
	}
	report := &SyncReport{ToRepo: make(map[string]int)}
	repoNames := make([]map[string]bool, len(s.Repos))
	for i, r := range s.Repos {
		set, stale, err := loadRepoSet(ctx, r.Store)
		if err == nil {
			err = remaskRepo(ctx, r.Store, stale)
		}
		if err != nil {
			if rerr := s.repoErr(r.Name, err); rerr != nil {
				return nil, nil, nil, rerr
			}
			report.Skipped = append(report.Skipped, r.Name)
			continue
		}
		if err := union.Merge(set); err != nil {
			return nil, nil, nil, fmt.Errorf("repository %s: %w", r.Name, err)
		}
		repoNames[i] = make(map[string]bool)
		for _, o := range set.objects() {
			repoNames[i][o.name()] = true
		}
	}
	for _, t := range union.Tombstones() {
		if key == nil {
			return nil, nil, nil, fmt.Errorf("tombstone %s was made under subject key %s, which neither the state directory nor a repository holds", t.ID, t.KeyID)
		}
		if keyID := key.ID(); t.KeyID != keyID {
			return nil, nil, nil, fmt.Errorf("tombstone %s was made under subject key %s, not this agent's key %s", t.ID, t.KeyID, keyID)
		}
	}
	all := union.objects()

	// The state directory first: it is what survives an unreachable repository.
	var missing []object
	for _, o := range all {
		if !local.has(o) {
			missing = append(missing, o)
		}
	}
	if err := s.State.append(missing...); err != nil {
		return nil, nil, nil, err
	}
	report.ToState = len(missing)
	for i, r := range s.Repos {
		if repoNames[i] == nil {
			continue
		}
		for _, o := range all {
			if repoNames[i][o.name()] {
				continue
			}
			if err := saveObject(ctx, r.Store, o); err != nil {
				if rerr := s.repoErr(r.Name, err); rerr != nil {
					return nil, nil, nil, rerr
				}
				report.Skipped = append(report.Skipped, r.Name)
				break
			}
			report.ToRepo[r.Name]++
		}
	}
	return union, key, report, nil
}

func (s *Set) has(o object) bool {
	switch o.Type {
	case objTombstone:
		_, ok := s.tombstones[o.Tombstone.ID]
		return ok
	case objRevocation:
		_, ok := s.revocations[o.Revocation.ID]
		return ok
	}
	return false
}

// Record records an erasure: the tombstone goes to the state directory
// (fsynced) and then to every repository, before any other step of the
// erasure. Unreachable repositories are reported through Warn (or fail the
// call without it) and caught up by a later Sync.
func (s *Service) Record(ctx context.Context, req Request) (Tombstone, error) {
	if len(req.Identifiers) == 0 {
		return Tombstone{}, errors.New("erasure request: no identifiers")
	}
	mode, err := ParseMode(string(req.Mode))
	if err != nil {
		return Tombstone{}, err
	}
	reason, err := ParseReason(req.Reason)
	if err != nil {
		return Tombstone{}, err
	}
	reference := strings.TrimSpace(req.Reference)
	if err := checkText("reference", reference); err != nil {
		return Tombstone{}, err
	}
	normalized := make([]string, len(req.Identifiers))
	for i, id := range req.Identifiers {
		if normalized[i], err = s.Normalizer.Normalize(id.Kind, id.Value); err != nil {
			return Tombstone{}, fmt.Errorf("identifier %d (%s): %w", i+1, id.Kind, err)
		}
		for _, field := range []struct{ name, text string }{{"reason", reason}, {"reference", reference}} {
			if containsIdentifier(field.text, id.Value, normalized[i]) {
				return Tombstone{}, fmt.Errorf("%s contains identifier %d (%s); lethe keeps no identifier in clear text, so leave it out", field.name, i+1, id.Kind)
			}
		}
	}
	key, err := s.SubjectKey(ctx)
	if err != nil {
		return Tombstone{}, err
	}
	now := s.now()
	id, err := s.newID(now)
	if err != nil {
		return Tombstone{}, err
	}
	t := Tombstone{ID: id, Created: now, KeyID: key.ID(), Reason: reason, Reference: reference, Mode: mode}
	seen := make(map[Fingerprint]bool)
	for i, ident := range req.Identifiers {
		e, err := newEntry(key, ident.Kind, normalized[i])
		if err != nil {
			return Tombstone{}, fmt.Errorf("identifier %d (%s): %w", i+1, ident.Kind, err)
		}
		if seen[e.Fingerprint] {
			continue
		}
		seen[e.Fingerprint] = true
		t.Entries = append(t.Entries, e)
	}
	obj := tombstoneObject(t)
	if err := s.State.append(obj); err != nil {
		return Tombstone{}, err
	}
	for _, r := range s.Repos {
		if err := saveObject(ctx, r.Store, obj); err != nil {
			if rerr := s.repoErr(r.Name, err); rerr != nil {
				return t, rerr
			}
		}
	}
	s.setDeadline(&t, now)
	return t, nil
}

// containsIdentifier reports whether text holds a spelling of the
// identifier: as given, normalized, or (for numbers) as its digits.
func containsIdentifier(text, raw, normalized string) bool {
	if text == "" {
		return false
	}
	lt := strings.ToLower(text)
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsDigit(r) {
				return r
			}
			return -1
		}, s)
	}
	for _, form := range []string{strings.TrimSpace(raw), normalized} {
		if len(form) >= 4 && strings.Contains(lt, strings.ToLower(form)) {
			return true
		}
	}
	// Numbers hide behind other separators: compare digit runs too.
	if d := digits(normalized); len(d) >= 6 && len(d) == len(strings.TrimLeft(normalized, "+")) {
		td := digits(text)
		if strings.Contains(td, d) || len(d) > 8 && strings.Contains(td, d[len(d)-8:]) {
			return true
		}
	}
	return false
}

// List syncs and returns every tombstone, revoked ones included, oldest
// first.
func (s *Service) List(ctx context.Context) ([]Tombstone, error) {
	set, _, _, err := s.Sync(ctx)
	if err != nil {
		return nil, err
	}
	ts := set.Tombstones()
	now := s.now()
	for i := range ts {
		s.setDeadline(&ts[i], now)
	}
	return ts, nil
}

// setDeadline fills in t.Deadline at now.
func (s *Service) setDeadline(t *Tombstone, now time.Time) {
	repos := make([]string, len(s.Repos))
	for i, r := range s.Repos {
		repos[i] = r.Name
	}
	d := DeadlineOf(*t, s.Deadline, repos, now)
	t.Deadline = &d
}

// Show returns one tombstone, named by its id or a unique prefix of it,
// with its revocations and progress.
func (s *Service) Show(ctx context.Context, id string) (Tombstone, error) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !validIDPrefix(id) {
		return Tombstone{}, errors.New("tombstone id: not a valid id or id prefix")
	}
	set, _, _, err := s.Sync(ctx)
	if err != nil {
		return Tombstone{}, err
	}
	t, err := set.Find(id)
	if err != nil {
		return Tombstone{}, err
	}
	s.setDeadline(&t, s.now())
	return t, nil
}

// Find returns the tombstone whose id is id or begins with it, as restic
// resolves an id prefix; a prefix that more than one id begins with is an
// error.
func (s *Set) Find(id string) (Tombstone, error) {
	if t, ok := s.Get(id); ok {
		return t, nil
	}
	var found []string
	for tid := range s.tombstones {
		if strings.HasPrefix(tid, id) {
			found = append(found, tid)
		}
	}
	switch len(found) {
	case 0:
		return Tombstone{}, fmt.Errorf("tombstone %s: not found", id)
	case 1:
		t, _ := s.Get(found[0])
		return t, nil
	}
	return Tombstone{}, fmt.Errorf("tombstone prefix %s is ambiguous: %d tombstones begin with it; give more of the id", id, len(found))
}

// validIDPrefix reports whether s is a non-empty beginning of a valid id.
func validIDPrefix(s string) bool {
	if s == "" || len(s) > ulid.EncodedSize {
		return false
	}
	// The rest of a valid id ("0…") makes the prefix whole.
	return ValidID(s + strings.Repeat("0", ulid.EncodedSize-len(s)))
}

// Revoke cancels a tombstone with its own reason; the revocation is
// recorded like a tombstone, first locally, then in every repository.
func (s *Service) Revoke(ctx context.Context, id, reason, reference string) (Revocation, error) {
	t, err := s.Show(ctx, id)
	if err != nil {
		return Revocation{}, err
	}
	if t.Revoked() {
		return Revocation{}, fmt.Errorf("tombstone %s: already revoked by %s", t.ID, t.Revocations[0].ID)
	}
	if reason, err = ParseRevocationReason(reason); err != nil {
		return Revocation{}, err
	}
	reference = strings.TrimSpace(reference)
	if err := checkText("reference", reference); err != nil {
		return Revocation{}, err
	}
	now := s.now()
	rid, err := s.newID(now)
	if err != nil {
		return Revocation{}, err
	}
	r := Revocation{ID: rid, Tombstone: t.ID, Created: now, Reason: reason, Reference: reference}
	obj := revocationObject(r)
	if err := s.State.append(obj); err != nil {
		return Revocation{}, err
	}
	for _, repo := range s.Repos {
		if err := saveObject(ctx, repo.Store, obj); err != nil {
			if rerr := s.repoErr(repo.Name, err); rerr != nil {
				return r, rerr
			}
		}
	}
	return r, nil
}

// ParseRevocationReason checks a revocation's reason (free text, required).
func ParseRevocationReason(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("revocation reason: empty")
	}
	if err := checkText("revocation reason", s); err != nil {
		return "", err
	}
	return s, nil
}

// CheckResult says which tombstones an identifier given to Check belongs to.
type CheckResult struct {
	Kind       Kind     `json:"kind"`
	Masked     string   `json:"masked"`
	Tombstones []string `json:"tombstones,omitempty"` // active tombstones
	Revoked    []string `json:"revoked,omitempty"`    // revoked tombstones
}

// Check tells, per identifier (any spelling), which tombstones hold it:
// what an operator runs when a former customer calls again.
func (s *Service) Check(ctx context.Context, ids []Identifier) ([]CheckResult, error) {
	if len(ids) == 0 {
		return nil, errors.New("check: no identifiers")
	}
	normalized := make([]string, len(ids))
	for i, id := range ids {
		var err error
		if normalized[i], err = s.Normalizer.Normalize(id.Kind, id.Value); err != nil {
			return nil, fmt.Errorf("identifier %d (%s): %w", i+1, id.Kind, err)
		}
	}
	set, key, _, err := s.Sync(ctx)
	if err != nil {
		return nil, err
	}
	revoked := set.revokedIDs()
	byFP := make(map[Fingerprint][]string)
	for _, t := range set.Tombstones() {
		for _, e := range t.Entries {
			byFP[e.Fingerprint] = append(byFP[e.Fingerprint], t.ID)
		}
	}
	out := make([]CheckResult, len(ids))
	for i, id := range ids {
		out[i] = CheckResult{Kind: id.Kind, Masked: Mask(id.Kind, normalized[i])}
		if key == nil { // no key, so no tombstone
			continue
		}
		for _, tid := range byFP[key.Fingerprint(id.Kind, normalized[i])] {
			if revoked[tid] {
				out[i].Revoked = append(out[i].Revoked, tid)
			} else {
				out[i].Tombstones = append(out[i].Tombstones, tid)
			}
		}
	}
	return out, nil
}

// Matcher syncs and returns a matcher over all active tombstones.
func (s *Service) Matcher(ctx context.Context) (*Matcher, error) {
	set, key, _, err := s.Sync(ctx)
	if err != nil {
		return nil, err
	}
	if key == nil { // no key, so no tombstone: a matcher of nothing
		return NewIdentifierMatcher(s.Normalizer, nil)
	}
	return NewMatcher(s.Normalizer, key, set)
}
