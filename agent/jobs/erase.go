package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"lethe/agent/erasure"
	"lethe/agent/erasure/subjects"
	"lethe/agent/formats"
	"lethe/agent/receipts"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// Eraser carries out erasures in one repository its caller holds
// exclusively, with its index loaded: the CLI's erase and resume and the
// agent run the same code.
type Eraser struct {
	repo  *repository.Repository
	loc   string
	state *tombstones.State
	set   *tombstones.Set
	key   *tombstones.SubjectKey
	// indexes are the subject indexes loaded, by profile: loaded once,
	// they also hold what the erasures run since added (the Writer adds
	// every entry it stores to its index), so the next erasure sees the
	// content the previous one redacted.
	indexes map[string]*subjects.Index
}

// NewEraser loads the tombstones and the subject key of the repository,
// merged with the state directory's.
func NewEraser(ctx context.Context, repo *repository.Repository, stateDir string) (*Eraser, error) {
	st, err := tombstones.OpenState(stateDir)
	if err != nil {
		return nil, fmt.Errorf("opening state directory: %w", err)
	}
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		return nil, err
	}
	loc := repo.Backend().Location()
	svc := &tombstones.Service{State: st, Normalizer: n, Repos: []tombstones.Repo{{Name: loc, Store: repo}}}
	set, key, _, err := svc.Sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the erasures: %w", err)
	}
	return &Eraser{repo: repo, loc: loc, state: st, set: set, key: key, indexes: map[string]*subjects.Index{}}, nil
}

// index returns the repository's subject index for ix's profile, loaded
// on first use. An index that cannot be loaded is not kept: the next
// erasure tries again.
func (e *Eraser) index(ctx context.Context, ix *subjects.Indexer) (*subjects.Index, error) {
	if idx, ok := e.indexes[ix.Profile()]; ok {
		return idx, nil
	}
	idx, err := subjects.Load(ctx, e.repo, ix)
	if err != nil {
		return nil, err
	}
	e.indexes[ix.Profile()] = idx
	return idx, nil
}

// maskingRedactor redacts with one tombstone's matcher but masks paths
// with every active tombstone's: a message about this erasure must not
// name another erased subject either.
// minVersioned is the smallest file whose scan an erasure keeps for the
// file's next version: the large files that change a little every day
// are what an erasure spends its time on.
const minVersioned = 1 << 20

// maxVersionsKept bounds what an erasure keeps of the versions it
// scanned, for redacting and for indexing each (for the index, the keys
// of their records): past it, a file's next version is scanned whole.
const maxVersionsKept = 64 << 20

type maskingRedactor struct {
	*formats.Redactor
	mask *formats.Redactor
}

func (r maskingRedactor) MaskPath(p string) string { return r.mask.MaskPath(p) }

// EraseOptions tune one erasure.
type EraseOptions struct {
	// Rules decide what the subject's records are, for an erasure not
	// started yet; one started before keeps its journaled rules.
	Rules erasure.Rules
	// Event, if set, is told what the erasure is doing.
	Event func(erasure.Event)
	// Warn is told about problems that do not stop the erasure.
	Warn func(error)
	// Now is the time holds end by (time.Now if nil); the agent passes
	// its clock.
	Now func() time.Time
	// Window is how long the retention policy keeps a snapshot (see
	// erasure.Options.Window; zero: seven days).
	Window time.Duration
}

func (o *EraseOptions) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Run carries out (or resumes) the erasure of tombstone id and records
// its progress in the state directory.
func (e *Eraser) Run(ctx context.Context, id string, opts EraseOptions) (*erasure.Result, error) {
	t, ok := e.set.Get(id)
	if !ok {
		return nil, fmt.Errorf("erasure %s: no such tombstone", id)
	}
	if t.Revoked() {
		return nil, fmt.Errorf("erasure %s: revoked", id)
	}
	j, err := erasure.LoadJournal(ctx, e.repo, id)
	if err != nil {
		return nil, err
	}
	rules := opts.Rules
	if r, ok := j.Rules(); ok {
		rules = r
	}
	n, err := NormalizerFor(rules.Region, rules.Kinds)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	one := tombstones.NewSet()
	if err := one.AddTombstone(t); err != nil {
		return nil, err
	}
	m, err := tombstones.NewMatcher(n, e.key, one)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	fopts, err := FormatsOptions(rules.NameColumns, rules.PathRules)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	all, err := tombstones.NewMatcher(n, e.key, e.set)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	cfgID := e.repo.Config().ID
	mirror := erasure.FileMirror(filepath.Join(e.state.Dir(), "erasures", id+"-"+cfgID[:min(12, len(cfgID))]+".jsonl"))
	// The subject index rules out the files that cannot hold the subject,
	// and learns the new content of the files the rewrite redacts. Without
	// it every file is read: slower, as correct.
	ix := subjects.NewIndexer(n, e.key, fopts)
	// The rewrite redacts and indexes every version of a changed file
	// (and a repository restic wrote is indexed version by version);
	// each is scanned from where it stops sharing the previous one.
	ix.KeepVersions(formats.NewVersions(minVersioned, maxVersionsKept))
	red := formats.NewRedactor(m, fopts)
	red.KeepVersions(formats.NewVersions(minVersioned, maxVersionsKept))
	idx, err := e.index(ctx, ix)
	if err != nil {
		if opts.Warn != nil {
			opts.Warn(fmt.Errorf("%w; every file is read", err))
		}
		idx = subjects.New(ix)
	}
	w := subjects.NewWriter(e.repo, idx)
	var indexErr error
	res, err := erasure.Run(ctx, e.repo, erasure.Options{
		Tombstone:  id,
		Mode:       string(t.Mode),
		Redactor:   maskingRedactor{red, formats.NewRedactor(all, fopts)},
		Screen:     idx.Screen([]tombstones.Tombstone{t}),
		Rules:      rules,
		Mirror:     mirror,
		Event:      opts.Event,
		Now:        opts.now,
		Window:     opts.Window,
		IndexLimit: ix.MaxSize(),
		Indexed: func(_ string, node *repository.Node, data []byte) {
			ent := ix.Entry(node.Name, node.Content, data)
			if err := w.Add(ctx, ent); err != nil && indexErr == nil {
				indexErr = err
			}
		},
	})
	if err == nil {
		if ferr := w.Flush(ctx); ferr != nil && indexErr == nil {
			indexErr = ferr
		}
		if indexErr != nil && opts.Warn != nil {
			opts.Warn(fmt.Errorf("saving the subject index of the rewritten files: %w (they are read by every restore until lethe index adds them)", indexErr))
		}
	}
	if err != nil {
		_ = e.state.RecordProgress(tombstones.Progress{Tombstone: id, Repository: e.loc, State: tombstones.ProgressFailed, Updated: opts.now(), Note: "to be retried"})
		return nil, fmt.Errorf("erasure %s in %s: %w", id, e.loc, err)
	}
	if err := e.state.RecordProgress(tombstones.Progress{Tombstone: id, Repository: e.loc, State: tombstones.ProgressComplete, Updated: res.Completed, Note: ProgressNote(res)}); err != nil && opts.Warn != nil {
		opts.Warn(fmt.Errorf("recording progress in the state directory: %w", err))
	}
	return res, nil
}

// ProgressNote is the state directory's note on a finished erasure's
// progress: verified or expiring, and, while snapshots hold held records,
// until when (the erasure runs again then).
func ProgressNote(res *erasure.Result) string {
	note := "verified"
	if res.ExpiresAt != nil {
		note = "expiring until " + res.ExpiresAt.Format(time.DateOnly)
	}
	if res.HeldUntil != nil {
		note += "; records held until " + res.HeldUntil.Format(time.DateOnly) + ", when the erasure runs again"
	}
	return note
}

// Pending returns the active tombstones whose erasure is not complete in
// the repository, or is due to run again at now (erasure.Journal's
// RerunDue); with started set, only those already under way.
func (e *Eraser) Pending(ctx context.Context, started bool, now time.Time) ([]string, error) {
	var out []string
	var done []*erasure.Journal
	for _, t := range e.set.Active() {
		j, err := erasure.LoadJournal(ctx, e.repo, t.ID)
		if err != nil {
			return nil, err
		}
		switch {
		case j.Complete():
			done = append(done, j)
		case !started || len(j.Steps) > 0:
			out = append(out, t.ID)
		}
	}
	due, err := erasure.RerunsDue(ctx, e.repo, done, now)
	if err != nil {
		return nil, err
	}
	out = append(out, due...)
	sort.Strings(out)
	return out, nil
}

// Tombstone returns the tombstone id as the repository and the state
// directory know it.
func (e *Eraser) Tombstone(id string) (tombstones.Tombstone, bool) { return e.set.Get(id) }

// IssueReceipt signs and stores in the repository the receipt of erasure
// id's outcome res there (nil: not carried out yet). others are the
// request's other repositories as the receipt states them; the receipt is
// final when none of them, nor this one, is pending.
func (e *Eraser) IssueReceipt(ctx context.Context, id string, res *erasure.Result, holds []erasure.Hold, biz receipts.Business, others ...receipts.Repository) (*receipts.Receipt, error) {
	t, ok := e.set.Get(id)
	if !ok {
		return nil, fmt.Errorf("receipt of %s: no such tombstone", id)
	}
	f := receipts.FromTombstone(t, biz)
	f.Repositories = append([]receipts.Repository{receipts.FromErasure(e.loc, res)}, others...)
	f.Holds = receipts.HoldsOf(holds, res)
	pending := false
	for _, o := range others {
		pending = pending || o.State == receipts.StatePending
	}
	if res != nil && !pending {
		f.Final = true
		done := res.Completed
		f.Completed = &done
		f.NoCopyFrom = &done
		if res.ExpiresAt != nil {
			f.NoCopyFrom = res.ExpiresAt
		}
		// Held records leave the backups when their hold ends or their
		// snapshot leaves the window, and the erasure runs again.
		if h := res.HeldCopiesEnd; h != nil && h.After(*f.NoCopyFrom) {
			f.NoCopyFrom = h
		}
	}
	issuer := &receipts.Issuer{Keys: &receipts.Keys{StateDir: e.state.Dir(), Repos: []tombstones.Repo{{Name: e.loc, Store: e.repo}}}}
	r, err := issuer.Issue(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("issuing the receipt of %s: %w", id, err)
	}
	return &r, nil
}

// ErasureVerification is what a deep verification of the erasures
// complete in a repository found.
type ErasureVerification struct {
	// Erasures counts the erasures verified: the active ones complete in
	// the repository in rewrite mode (an expiring erasure leaves the
	// snapshots as they are until they age out).
	Erasures int
	// Verification is the scan's outcome; nil when there was no erasure
	// to verify, and nothing was read.
	Verification *erasure.Verification
}

// VerifyErasures scans every file of every snapshot, in one pass, for
// the subjects of every erasure complete in the repository, with the
// identifier rules and holds of rules besides each erasure's journaled
// holds. The repository needs a shared lock and its index loaded.
func (e *Eraser) VerifyErasures(ctx context.Context, rules erasure.Rules) (ErasureVerification, error) {
	var out ErasureVerification
	done := tombstones.NewSet()
	holds := append([]erasure.Hold(nil), rules.Holds...)
	for _, t := range e.set.Active() {
		if t.Mode == tombstones.ModeExpire {
			continue
		}
		j, err := erasure.LoadJournal(ctx, e.repo, t.ID)
		if err != nil {
			return out, err
		}
		if !j.Complete() {
			continue
		}
		if r, ok := j.Rules(); ok {
			holds = append(holds, r.Holds...)
		}
		if err := done.AddTombstone(t); err != nil {
			return out, err
		}
		out.Erasures++
	}
	if out.Erasures == 0 {
		return out, nil
	}
	n, err := NormalizerFor(rules.Region, rules.Kinds)
	if err != nil {
		return out, err
	}
	fopts, err := FormatsOptions(rules.NameColumns, rules.PathRules)
	if err != nil {
		return out, err
	}
	m, err := tombstones.NewMatcher(n, e.key, done)
	if err != nil {
		return out, err
	}
	all, err := tombstones.NewMatcher(n, e.key, e.set)
	if err != nil {
		return out, err
	}
	red := maskingRedactor{formats.NewRedactor(m, fopts), formats.NewRedactor(all, fopts)}
	if out.Verification, err = erasure.VerifyAll(ctx, e.repo, red, holds, nil); err != nil {
		return out, fmt.Errorf("in %s: %w", e.loc, err)
	}
	return out, nil
}

// CarryOut carries erasures out in the repositories they are made for,
// one call per repository, and issues the receipt after each: final only
// once the erasure is complete in every one of them. The CLI's erase and
// resume and the agent run it; it is safe for concurrent use, by one job
// per repository.
type CarryOut struct {
	// Repos names every repository the erasures are carried out in, as
	// the state directory's progress records name them; empty: only the
	// repository of each call.
	Repos []string
	// Business issues the receipts; without a name none is issued.
	Business receipts.Business

	// mu makes recording a repository complete and issuing the receipt
	// one step: of two repositories finishing at once, the second sees
	// the first complete, and its receipt is final.
	mu sync.Mutex
	// done are the outcomes of this CarryOut's runs, by erasure and
	// repository: the receipt states them in full.
	done map[[2]string]receipts.Repository
}

// Erase carries out (or resumes) erasure id with e, the eraser of the
// repository named name, records it complete there under name in the
// state directory, and issues the receipt there when a business is
// named. The receipt states the other repositories as this CarryOut saw
// them done or, for those it did not run in, as the state directory
// records their progress.
func (c *CarryOut) Erase(ctx context.Context, e *Eraser, name, id string, opts EraseOptions) (*erasure.Result, *receipts.Receipt, error) {
	res, err := e.Run(ctx, id, opts)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = map[[2]string]receipts.Repository{}
	}
	c.done[[2]string{id, name}] = receipts.FromErasure(e.loc, res)
	if name != e.loc {
		if err := e.state.RecordProgress(tombstones.Progress{Tombstone: id, Repository: name, State: tombstones.ProgressComplete, Updated: res.Completed, Note: ProgressNote(res)}); err != nil {
			return res, nil, fmt.Errorf("erasure %s is complete in %s, but recording it: %w", id, name, err)
		}
	}
	// A run again after a hold ended gets no new receipt: the customer's
	// states the hold and its end; the journal records the run's result.
	if c.Business.Name == "" || res.Rerun > 0 {
		return res, nil, nil
	}
	set, err := e.state.Load()
	if err != nil {
		return res, nil, fmt.Errorf("erasure %s is complete in %s, but reading the progress elsewhere: %w", id, name, err)
	}
	t, _ := set.Get(id)
	var others []receipts.Repository
	for _, n := range c.Repos {
		if n == name {
			continue
		}
		if o, ok := c.done[[2]string{id, n}]; ok {
			others = append(others, o)
			continue
		}
		o := receipts.Repository{Location: n, State: receipts.StatePending, RecordsRemoved: map[string]int64{}}
		if p, ok := t.Progress[n]; ok && p.State == tombstones.ProgressComplete {
			o.State = receipts.StateComplete
		}
		others = append(others, o)
	}
	rc, err := e.IssueReceipt(ctx, id, res, opts.Rules.Holds, c.Business, others...)
	if err != nil {
		return res, nil, fmt.Errorf("erasure %s is complete in %s, but: %w", id, name, err)
	}
	return res, rc, nil
}

// NormalizerFor returns the normalizer for a phone region (default SE)
// and custom kinds written NAME=REGEXP.
func NormalizerFor(region string, kinds []string) (*tombstones.Normalizer, error) {
	if region == "" {
		region = "SE"
	}
	var custom []tombstones.CustomKind
	for _, s := range kinds {
		name, pattern, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("custom kind %q: want NAME=REGEXP", s)
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("custom kind %s: invalid pattern: %w", name, err)
		}
		custom = append(custom, tombstones.CustomKind{Name: name, Pattern: re})
	}
	return tombstones.NewNormalizer(region, custom)
}

// FormatsOptions returns the scanning options for CSV name columns and
// path rules written as templates.
func FormatsOptions(nameColumns, pathRules []string) (*formats.Options, error) {
	opts := &formats.Options{NameColumns: nameColumns}
	for _, r := range pathRules {
		pr, err := formats.ParsePathRule(r)
		if err != nil {
			return nil, fmt.Errorf("path rule %s: %w", r, err)
		}
		opts.PathRules = append(opts.PathRules, pr)
	}
	return opts, nil
}
