package erasure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/restic/chunker"

	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/backends"
)

// Modes of an erasure (tombstones.Mode's values).
const (
	ModeRewrite = "rewrite"
	ModeExpire  = "expire"
)

// Options describe one erasure in one repository.
type Options struct {
	// Tombstone is the request being carried out; its ID names the
	// journal.
	Tombstone string
	// Mode is ModeRewrite (default) or ModeExpire.
	Mode string
	// Redactor finds and removes the subject's records: its matcher holds
	// only this tombstone's fingerprints, so what it removes is what the
	// request erases.
	Redactor PathMasker
	// Screen, if set, rules out files that cannot hold the subject (the
	// subject index); nil reads every file. Verification asks it too,
	// about the new content of every file the rewrite redacted: when
	// Indexed adds that content's entry to the index the screen reads, a
	// file the entry rules out is not scanned again (see verifySnapshot).
	Screen Screen
	// Rules are journaled with the plan; Holds and Deep are taken from
	// them. A resumed erasure must be given the rules it was planned with
	// (Journal.Rules).
	Rules Rules
	// Prune tunes the prune that follows the rewrite; the packs holding
	// erased blobs are repacked whatever it says.
	Prune repository.PruneOptions
	// Window is how long a snapshot is kept (expire mode: the last copy
	// holding the subject ages out Window after it was taken). Default 7
	// days.
	Window time.Duration
	// Indexed, if set, is given the content of every file the rewrite
	// redacted, up to IndexLimit bytes (the subject index records it, so
	// the new content keeps the fast path of later restores). node is the
	// file's new node. It is called from one goroutine beside the
	// rewrite, one call at a time, and every call has returned before
	// the prune and before Run returns.
	Indexed    func(path string, node *repository.Node, data []byte)
	IndexLimit int64
	// Mirror, if set, gets a copy of every journal step (the state
	// directory's copy).
	Mirror func(Step) error
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
	// Event, if set, is told what the erasure is doing.
	Event func(Event)
}

// PathMasker is a Redactor that can also mask path components naming a
// subject, for messages; *formats.Redactor is one.
type PathMasker interface {
	Redactor
	MaskPath(p string) string
}

// Event reports progress: Step is the step kind being worked on,
// Snapshot the snapshot (for rewrites), Done and Total count snapshots.
type Event struct {
	Step        string
	Snapshot    repository.ID
	Done, Total int
}

// Removal counts what an erasure removed.
type Removal struct {
	FilesRedacted int                    `json:"files_redacted"`
	FilesDropped  int                    `json:"files_removed"`
	DirsDropped   int                    `json:"dirs_removed"`
	Records       map[formats.Format]int `json:"records,omitempty"`
	// Bytes is how much less file content the rewritten snapshots hold.
	Bytes int64 `json:"bytes"`
}

// RecordsTotal is the sum of Records.
func (r Removal) RecordsTotal() int {
	n := 0
	for _, c := range r.Records {
		n += c
	}
	return n
}

func (r *Removal) add(o Removal) {
	r.FilesRedacted += o.FilesRedacted
	r.FilesDropped += o.FilesDropped
	r.DirsDropped += o.DirsDropped
	r.Bytes += o.Bytes
	for f, n := range o.Records {
		if r.Records == nil {
			r.Records = map[formats.Format]int{}
		}
		r.Records[f] += n
	}
}

func (r *Removal) empty() bool {
	return r.FilesRedacted == 0 && r.FilesDropped == 0 && r.DirsDropped == 0
}

// SnapshotOutcome is what became of one snapshot.
type SnapshotOutcome struct {
	Old     repository.ID  `json:"old"`
	New     *repository.ID `json:"new,omitempty"`
	Time    time.Time      `json:"time"`
	Gone    bool           `json:"gone,omitempty"`
	Removed Removal        `json:"removed"`
	Held    []HeldRecords  `json:"held,omitempty"`
}

// Result is the outcome of an erasure in one repository.
type Result struct {
	Tombstone string                 `json:"tombstone"`
	Mode      string                 `json:"mode"`
	Started   time.Time              `json:"started"`
	Completed time.Time              `json:"completed"`
	Snapshots []SnapshotOutcome      `json:"snapshots"`
	Removed   Removal                `json:"removed"`
	Held      []HeldRecords          `json:"held,omitempty"`
	Prune     *repository.PruneStats `json:"prune,omitempty"`
	Verify    *Verification          `json:"verify,omitempty"`
	// ExpiresAt is, in expire mode, when the last snapshot holding the
	// subject leaves the retention window.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// FoundNowhere is set when no snapshot held anything of the subject.
	FoundNowhere bool `json:"found_nowhere"`
	// HeldUntil is when the first hold ends of the snapshots left
	// holding held records: the erasure runs again then (see
	// Journal.RerunDue).
	HeldUntil *time.Time `json:"held_until,omitempty"`
	// HeldCopiesEnd is when the last backup copy of a held record goes:
	// per snapshot left holding held records, the earlier of the end of
	// its last hold (the erasure runs again then) and its leaving the
	// retention window (forget, then the run again prunes), the latest of
	// those. Nil when nothing is held.
	HeldCopiesEnd *time.Time `json:"held_copies_end,omitempty"`
	// Rerun counts the runs before this one (see PlanStep.Rerun).
	Rerun int `json:"rerun,omitempty"`
}

// Repo is what an erasure needs of a repository; *repository.Repository
// is one. It must hold an exclusive lock and have its index loaded.
type Repo interface {
	repository.BlobLoadSaver
	journalStore
	SnapshotLister
	Config() repository.Config
	LoadAllSnapshots(ctx context.Context) ([]*repository.Snapshot, []*repository.SnapshotLoadError, error)
	LoadSnapshot(ctx context.Context, id repository.ID) (*repository.Snapshot, error)
	SaveSnapshot(ctx context.Context, sn *repository.Snapshot) (repository.ID, error)
	RemoveUnpacked(ctx context.Context, t backends.FileType, id repository.ID) error
	Flush(ctx context.Context) error
	Prune(ctx context.Context, opts repository.PruneOptions) (repository.PruneStats, error)
	UsedBlobs(ctx context.Context, snaps []*repository.Snapshot) (repository.BlobSet, error)
	LookupAll(h repository.BlobHandle) []repository.PackedBlob
	EachBlob(fn func(repository.PackedBlob) bool)
}

// Run carries out (or resumes) an erasure in one repository: plan,
// rewrite every snapshot holding the subject, erasure-grade prune, verify,
// each step journaled (see JournalPrefix). Resuming after a crash at any
// point finishes the job: a replacement snapshot is saved before the
// snapshot it replaces is removed, and one saved but not yet journaled is
// found again instead of being saved twice. A finished erasure returns
// its journaled result, unless it is due to run again (Journal.RerunDue):
// then it is planned again with the same rules, and what a hold kept
// until now is erased like the rest, while holds still running keep
// theirs.
func Run(ctx context.Context, repo Repo, opts Options) (*Result, error) {
	if opts.Mode == "" {
		opts.Mode = ModeRewrite
	}
	if opts.Mode != ModeRewrite && opts.Mode != ModeExpire {
		return nil, fmt.Errorf("erasure mode %q: want %s or %s", opts.Mode, ModeRewrite, ModeExpire)
	}
	if opts.Window == 0 {
		opts.Window = 7 * 24 * time.Hour
	}
	j, err := LoadJournal(ctx, repo, opts.Tombstone)
	if err != nil {
		return nil, err
	}
	if d := j.lastInRun(StepDone); d != nil && d.Done != nil {
		due, err := RerunsDue(ctx, repo, []*Journal{j}, opts.now())
		if err != nil || len(due) == 0 {
			return d.Done, err
		}
	}
	if r, ok := j.Rules(); ok {
		opts.Rules = r
	}
	e := newEraser(repo, opts, j)
	defer e.indexDone()
	if err := e.plan(ctx); err != nil {
		return nil, err
	}
	if opts.Mode == ModeExpire {
		return e.expire(ctx)
	}
	if err := e.rewriteAll(ctx); err != nil {
		return nil, err
	}
	// Verification asks the index about the redacted files' new content.
	e.indexDone()
	if err := e.prune(ctx); err != nil {
		return nil, err
	}
	v, err := e.verify(ctx)
	if err != nil {
		return nil, err
	}
	if !v.OK {
		return nil, fmt.Errorf("verifying the erasure: %d problems found (%s); the erasure stays pending", v.Problems, v.Note)
	}
	return e.finish(ctx, v, nil)
}

func newEraser(repo Repo, opts Options, j *Journal) *eraser {
	return &eraser{repo: repo, trees: repository.NewTreeCache(repo, treeCacheNodes), opts: opts, j: j,
		filters: map[string]*Filter{}, files: map[repository.ID]*fileOutcome{}}
}

// treeCacheNodes bounds the trees an erasure keeps decoded (see
// repository.TreeCache): the rewrite, the search for stale blobs and
// the verification walk the same folders.
const treeCacheNodes = 1 << 16

type eraser struct {
	repo    Repo
	trees   *repository.TreeCache // over repo
	opts    Options
	j       *Journal
	filters map[string]*Filter // by snapshot paths
	// rewritten are the paths of the files redacted in this run, per new
	// snapshot, for verification.
	rewritten map[repository.ID][]string
	// files remembers what redacting a file (by path and content) gave.
	files    map[repository.ID]*fileOutcome
	chunker  *chunker.Chunker
	chunkBuf []byte
	// used are the blobs the snapshots usedFor (their IDs, sorted)
	// reference, kept from the prune for verification.
	used    repository.BlobSet
	usedFor repository.IDs
	// clean are the folders verification found clean (see
	// verifySnapshot).
	clean map[cleanTree]bool
	// rewriters are shared by the snapshots with the same paths (see
	// rewriter).
	rewriters map[string]*rewriter
	// toIndex hands redacted contents to the goroutine calling Indexed;
	// indexing is closed when it is done.
	toIndex  chan indexJob
	indexing chan struct{}
}

// indexJob is a redacted file's new content for Options.Indexed.
type indexJob struct {
	path string
	node *repository.Node
	data []byte
}

// index gives a redacted file's new content to Options.Indexed, on a
// goroutine of its own: the index scan of one file runs while the
// rewrite goes on with the next. The hand-over waits while the previous
// content is being indexed, so at most one content waits beside the one
// being redacted.
func (e *eraser) index(p string, node *repository.Node, data []byte) {
	if e.toIndex == nil {
		e.toIndex, e.indexing = make(chan indexJob), make(chan struct{})
		go func(jobs <-chan indexJob, done chan<- struct{}) {
			defer close(done)
			for j := range jobs {
				e.opts.Indexed(j.path, j.node, j.data)
			}
		}(e.toIndex, e.indexing)
	}
	n := *node
	n.Content = slices.Clone(node.Content)
	e.toIndex <- indexJob{path: p, node: &n, data: data}
}

// indexDone waits until Options.Indexed has seen every content handed
// to it.
func (e *eraser) indexDone() {
	if e.toIndex == nil {
		return
	}
	close(e.toIndex)
	<-e.indexing
	e.toIndex, e.indexing = nil, nil
}

func (e *eraser) now() time.Time { return e.opts.now() }

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// SnapshotLister lists a repository's files of a type; RerunsDue needs
// no more than the snapshots' IDs.
type SnapshotLister interface {
	List(ctx context.Context, t backends.FileType, fn func(repository.ID, int64) error) error
}

// RerunsDue returns the tombstones of the complete journals js whose
// erasure is due to run again at now (Journal.RerunDue): a hold ended, or
// a snapshot holding held records is gone. It lists the snapshots only
// when a journal has held snapshots, and needs no lock.
func RerunsDue(ctx context.Context, repo SnapshotLister, js []*Journal, now time.Time) ([]string, error) {
	var held []*Journal
	for _, j := range js {
		if j.Complete() && len(j.Result().HeldSnapshots()) > 0 {
			held = append(held, j)
		}
	}
	if len(held) == 0 {
		return nil, nil
	}
	present := repository.IDSet{}
	err := repo.List(ctx, backends.SnapshotFile, func(id repository.ID, _ int64) error {
		present.Insert(id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the snapshots held records are in: %w", err)
	}
	var out []string
	for _, j := range held {
		if j.RerunDue(now, present) {
			out = append(out, j.Tombstone)
		}
	}
	return out, nil
}

func (e *eraser) event(step string, sn repository.ID, done, total int) {
	if e.opts.Event != nil {
		e.opts.Event(Event{Step: step, Snapshot: sn, Done: done, Total: total})
	}
}

func (e *eraser) append(ctx context.Context, s Step) error {
	s.Time = e.now()
	return e.j.append(ctx, e.repo, e.opts.Mirror, s)
}

// filter returns the seam filter for a snapshot's paths.
func (e *eraser) filter(paths []string) *Filter {
	key := fmt.Sprintf("%q", paths)
	f, ok := e.filters[key]
	if !ok {
		f = NewFilter(e.opts.Redactor, paths, e.opts.Screen)
		e.filters[key] = f
	}
	return f
}

// plan journals the snapshots to examine: all of them. A snapshot that
// cannot be loaded stops the erasure, as it would stop prune: it might
// hold the subject. A run under way is resumed; after a finished one a
// new run is planned (Run decides it is due).
func (e *eraser) plan(ctx context.Context) error {
	if e.j.last(StepPlan) != nil && e.j.lastInRun(StepDone) == nil {
		return nil
	}
	rerun := 0
	if d := e.j.lastInRun(StepDone); d != nil && d.Done != nil {
		rerun = d.Done.Rerun + 1
	}
	snaps, damaged, err := e.repo.LoadAllSnapshots(ctx)
	if err != nil {
		return fmt.Errorf("planning the erasure: %w", err)
	}
	if len(damaged) > 0 {
		return fmt.Errorf("planning the erasure: %d snapshots cannot be loaded (first: %v); repair them first (lethe repair snapshots)", len(damaged), damaged[0])
	}
	ids := make(repository.IDs, len(snaps))
	for i, sn := range snaps {
		ids[i] = sn.ID
	}
	return e.append(ctx, Step{Kind: StepPlan, Plan: &PlanStep{Mode: e.opts.Mode, Snapshots: ids, Rerun: rerun, Rules: e.opts.Rules}})
}

// rewriteAll rewrites every planned snapshot not yet journaled and
// removes the replaced ones.
func (e *eraser) rewriteAll(ctx context.Context) error {
	planned := e.j.lastInRun(StepPlan).Plan.Snapshots
	e.rewritten = map[repository.ID][]string{}
	var snaps []*repository.Snapshot // loaded lazily, for finding saved replacements
	for i, old := range planned {
		e.event(StepRewritten, old, i, len(planned))
		done, removed := e.j.snapshotSteps()
		if st, ok := done[old]; ok {
			if st.New != nil && !removed.Has(old) {
				if err := e.removeOld(ctx, old); err != nil {
					return err
				}
			}
			continue
		}
		sn, err := e.repo.LoadSnapshot(ctx, old)
		if err != nil {
			if isNotExist(err) {
				if err := e.append(ctx, Step{Kind: StepUnaffected, Snapshot: &SnapshotStep{Old: old, Gone: true}}); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("loading snapshot %s: %w", old.Str(), err)
		}
		res, err := e.rewriteSnapshot(ctx, sn, true)
		if err != nil {
			return err
		}
		if res.sn == nil {
			if err := e.append(ctx, Step{Kind: StepUnaffected, Snapshot: &SnapshotStep{Old: old, Time: sn.Time, Held: res.held}}); err != nil {
				return err
			}
			continue
		}
		if err := e.repo.Flush(ctx); err != nil {
			return fmt.Errorf("saving the rewrite of snapshot %s: %w", old.Str(), err)
		}
		if snaps == nil {
			if snaps, _, err = e.repo.LoadAllSnapshots(ctx); err != nil {
				return err
			}
		}
		newID, err := e.saveReplacement(ctx, res.sn, snaps)
		if err != nil {
			return err
		}
		e.rewritten[newID] = res.paths
		step := &SnapshotStep{Old: old, New: &newID, Time: sn.Time, Removed: res.removed, Held: res.held, Erased: res.erased}
		if err := e.append(ctx, Step{Kind: StepRewritten, Snapshot: step}); err != nil {
			return err
		}
		if err := e.removeOld(ctx, old); err != nil {
			return err
		}
	}
	e.event(StepRewritten, repository.ID{}, len(planned), len(planned))
	return nil
}

// saveReplacement saves sn, unless an earlier run already saved the same
// replacement and crashed before journaling it: then that one is used.
func (e *eraser) saveReplacement(ctx context.Context, sn *repository.Snapshot, existing []*repository.Snapshot) (repository.ID, error) {
	for _, o := range existing {
		if o.Original != nil && *o.Original == *sn.Original && o.Tree != nil && *o.Tree == *sn.Tree && o.Time.Equal(sn.Time) && o.Hostname == sn.Hostname {
			return o.ID, nil
		}
	}
	id, err := e.repo.SaveSnapshot(ctx, sn)
	if err != nil {
		return repository.ID{}, fmt.Errorf("saving the rewritten snapshot: %w", err)
	}
	return id, nil
}

func (e *eraser) removeOld(ctx context.Context, old repository.ID) error {
	err := e.repo.RemoveUnpacked(ctx, backends.SnapshotFile, old)
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("removing the replaced snapshot %s: %w", old.Str(), err)
	}
	return e.append(ctx, Step{Kind: StepRemoved, Snapshot: &SnapshotStep{Old: old}})
}

// snapshotRewrite is the rewrite of one snapshot.
type snapshotRewrite struct {
	sn      *repository.Snapshot // the replacement; nil when nothing changed
	removed Removal
	held    []HeldRecords
	erased  []repository.BlobHandle
	paths   []string // files redacted (not dropped), for verification
}

// rewriteSnapshot rewrites sn through the seams: items named after the
// subject are dropped, files that may hold the subject are redacted
// record by record, held records are kept. With save unset nothing is
// written: it only finds out what a rewrite would remove (expire mode).
func (e *eraser) rewriteSnapshot(ctx context.Context, sn *repository.Snapshot, save bool) (*snapshotRewrite, error) {
	r := e.rewriter(sn.Paths, save)
	st := &rewriteState{ctx: ctx, sn: sn, f: e.filter(sn.Paths), save: save, out: &snapshotRewrite{}, erased: repository.BlobSet{}, holds: map[int]*HeldRecords{}, now: e.now(), r: r}
	r.cur = st
	if sn.Tree != nil {
		// The root is a folder too: a snapshot of the same tree as one
		// rewritten before is not walked again.
		k := folderKey{tree: *sn.Tree, path: "/"}
		if r.walked[k] {
			if g := r.gave[k]; g != nil {
				st.removed(g)
			}
		} else {
			st.open = append(st.open, openFolder{key: k, prefix: "/"})
		}
	}
	newSn, changed, err := r.rw.RewriteSnapshot(ctx, sn)
	r.cur = nil
	if err != nil {
		return nil, err
	}
	st.leave("")
	out := st.out
	for i := range e.opts.Rules.Holds {
		if h := st.holds[i]; h != nil {
			out.held = append(out.held, *h)
		}
	}
	if !changed {
		return out, nil
	}
	for id := range r.rw.Replaced() {
		st.erased.Insert(repository.BlobHandle{ID: id, Type: repository.TreeBlob})
	}
	for h := range st.erased {
		out.erased = append(out.erased, h)
	}
	sortHandles(out.erased)
	out.sn = newSn
	return out, nil
}

// rewriter is a TreeRewriter and what its folders gave. One rewriter
// serves every snapshot with the same paths when no hold is in use: a
// folder met again at the same path is then rewritten the same way (what
// decides on an item is its path, its content and the snapshot paths),
// so the TreeRewriter reuses its result without loading it again, and
// what it removed is counted again from gave. With holds a decision also
// depends on the snapshot's time, and each snapshot gets its own.
type rewriter struct {
	rw  *repository.TreeRewriter
	cur *rewriteState
	// gave is what each folder rewritten so far removed, when it removed
	// anything.
	gave map[folderKey]*folderOutcome
	// walked are the folders rewritten so far: the TreeRewriter has
	// their result.
	walked map[folderKey]bool
}

// folderKey names a folder: its tree and its path.
type folderKey struct {
	tree repository.ID
	path string
}

// folderOutcome is what the rewrite of a folder removed, everything
// below it included.
type folderOutcome struct {
	removed Removal
	erased  []repository.BlobHandle
	paths   []string
}

func (o *folderOutcome) add(from *folderOutcome) {
	o.removed.add(from.removed)
	o.erased = append(o.erased, from.erased...)
	o.paths = append(o.paths, from.paths...)
}

// rewriteState is the rewrite of one snapshot under way.
type rewriteState struct {
	ctx    context.Context
	sn     *repository.Snapshot
	f      *Filter
	save   bool
	out    *snapshotRewrite
	erased repository.BlobSet
	holds  map[int]*HeldRecords
	now    time.Time
	r      *rewriter
	// open are the folders being rewritten, outermost first, with what
	// they removed so far.
	open []openFolder
}

type openFolder struct {
	key folderKey
	// prefix begins the path of everything below the folder.
	prefix string
	gave   folderOutcome
}

// rewriter returns the rewriter for snapshots with the given paths.
func (e *eraser) rewriter(paths []string, save bool) *rewriter {
	if len(e.opts.Rules.Holds) == 0 {
		key := fmt.Sprintf("%t %q", save, paths)
		if r, ok := e.rewriters[key]; ok {
			return r
		}
		r := e.newRewriter(save)
		if e.rewriters == nil {
			e.rewriters = map[string]*rewriter{}
		}
		e.rewriters[key] = r
		return r
	}
	return e.newRewriter(save)
}

func (e *eraser) newRewriter(save bool) *rewriter {
	var saver repository.BlobLoadSaver = e.trees
	if !save {
		saver = noSave{e.repo}
	}
	r := &rewriter{gave: map[folderKey]*folderOutcome{}, walked: map[folderKey]bool{}}
	r.rw = repository.NewTreeRewriter(saver, func(p string, node *repository.Node) (*repository.Node, error) {
		return e.rewriteNode(r.cur, p, node)
	})
	return r
}

// leave closes the folders that p is not below: their rewrite is done.
func (st *rewriteState) leave(p string) {
	for n := len(st.open); n > 0 && !strings.HasPrefix(p, st.open[n-1].prefix); n = len(st.open) {
		d := st.open[n-1]
		st.open = st.open[:n-1]
		st.r.walked[d.key] = true
		if d.gave.removed.empty() && len(d.gave.erased) == 0 && len(d.gave.removed.Records) == 0 {
			continue
		}
		g := d.gave
		st.r.gave[d.key] = &g
		if n > 1 {
			st.open[n-2].gave.add(&g)
		}
	}
}

// removed counts what an item removed, for the snapshot and the folders
// holding it.
func (st *rewriteState) removed(o *folderOutcome) {
	st.out.removed.add(o.removed)
	for _, h := range o.erased {
		st.erased.Insert(h)
	}
	st.out.paths = append(st.out.paths, o.paths...)
	if n := len(st.open); n > 0 {
		st.open[n-1].gave.add(o)
	}
}

// hold reports whether a hold keeps the records an item holds, and
// counts them.
func (e *eraser) hold(st *rewriteState, rel string, fnd formats.Findings) bool {
	i := held(e.opts.Rules.Holds, rel, fnd.Format, st.sn.Time, st.now)
	if i < 0 {
		return false
	}
	h := st.holds[i]
	if h == nil {
		hd := e.opts.Rules.Holds[i]
		h = &HeldRecords{Hold: hd.Name, Basis: hd.Basis, Until: hd.Until(st.sn.Time)}
		st.holds[i] = h
	}
	h.Files++
	h.Records += max(fnd.Removed, 1)
	return true
}

// rewriteNode decides what becomes of one node of the snapshot st
// rewrites.
func (e *eraser) rewriteNode(st *rewriteState, p string, node *repository.Node) (*repository.Node, error) {
	ctx, f := st.ctx, st.f
	st.leave(p)
	d, fnd, err := f.Decide(ctx, p, node)
	if err != nil {
		return nil, err
	}
	switch d {
	case formats.Keep:
		if node.Type == repository.NodeDir && node.Subtree != nil {
			k := folderKey{tree: *node.Subtree, path: p}
			if st.r.walked[k] {
				// The TreeRewriter reuses what it made of the folder.
				if g := st.r.gave[k]; g != nil {
					st.removed(g)
				}
			} else {
				st.open = append(st.open, openFolder{key: k, prefix: p + "/"})
			}
		}
		return node, nil
	case formats.Drop:
		if e.hold(st, f.rel(p), fnd) {
			return node, nil
		}
		o := &folderOutcome{removed: Removal{Records: map[formats.Format]int{fnd.Format: max(fnd.Removed, 1)}}}
		if err := e.collectErased(ctx, node, o); err != nil {
			return nil, err
		}
		st.removed(o)
		return nil, nil
	}
	fo, err := e.redactFile(ctx, f, p, node, st.save)
	if err != nil {
		return nil, err
	}
	fnd = fo.fnd
	if !fnd.Dropped && fnd.Removed == 0 {
		return node, nil
	}
	if e.hold(st, f.rel(p), fnd) {
		return node, nil
	}
	o := &folderOutcome{removed: Removal{Records: map[formats.Format]int{fnd.Format: fnd.Removed}}}
	if fnd.Dropped {
		if err := e.collectErased(ctx, node, o); err != nil {
			return nil, err
		}
		st.removed(o)
		return nil, nil
	}
	n := *node
	n.Content, n.Size = fo.content, fo.size
	repository.MarkRewritten(&n)
	if fo.data != nil {
		e.index(p, &n, fo.data)
		fo.data = nil
	}
	kept := repository.IDSet{}
	for _, id := range n.Content {
		kept.Insert(id)
	}
	for _, id := range node.Content {
		if !kept.Has(id) {
			o.erased = append(o.erased, repository.BlobHandle{ID: id, Type: repository.DataBlob})
		}
	}
	o.removed.FilesRedacted++
	o.removed.Bytes += int64(node.Size) - int64(n.Size)
	o.paths = append(o.paths, p)
	st.removed(o)
	return &n, nil
}

// fileOutcome is what redacting one file's content gave.
type fileOutcome struct {
	fnd     formats.Findings
	content repository.IDs // the redacted content, when records were removed
	size    uint64
	// data is the redacted content until Indexed has seen it.
	data []byte
}

// redactFile redacts a file's content and, with save, stores the result.
// Outcomes are remembered by path and content: the same file in the
// next snapshot costs nothing.
func (e *eraser) redactFile(ctx context.Context, f *Filter, p string, node *repository.Node, save bool) (*fileOutcome, error) {
	key := contentKey(p, node.Content)
	if fo, ok := e.files[key]; ok {
		return fo, nil
	}
	rc, fnd, err := f.FilterContent(ctx, p, node, func() (io.ReadCloser, error) {
		return newContentReader(ctx, e.repo, node), nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", e.opts.Redactor.MaskPath(p), err)
	}
	fo := &fileOutcome{fnd: fnd}
	if rc != nil {
		defer rc.Close()
	}
	if !fnd.Dropped && fnd.Removed > 0 {
		if save {
			if err := e.saveRedacted(ctx, fo, rc, node, p); err != nil {
				return nil, err
			}
		} else {
			n, err := io.Copy(io.Discard, rc)
			if err != nil {
				return nil, fmt.Errorf("redacting %s: %w", e.opts.Redactor.MaskPath(p), err)
			}
			fo.size = uint64(n)
		}
	}
	e.files[key] = fo
	return fo, nil
}

// saveRedacted chunks and saves the redacted content rc into fo. Content
// the redactor holds whole is taken as it is, for the chunker and for
// Indexed alike: a copy of a file the size of MaxSize is what made an
// erasure need more memory than the file itself.
func (e *eraser) saveRedacted(ctx context.Context, fo *fileOutcome, rc io.Reader, node *repository.Node, p string) error {
	pol := e.repo.Config().ChunkerPolynomial
	if e.chunker == nil {
		e.chunker = chunker.New(nil, pol)
	}
	in := rc
	var keep *bytes.Buffer
	var held []byte
	indexed := e.opts.Indexed != nil && node.Size <= uint64(e.opts.IndexLimit)
	if h, ok := rc.(interface{ Bytes() []byte }); ok {
		held = h.Bytes()
		in = bytes.NewReader(held)
	} else if indexed {
		keep = &bytes.Buffer{}
		in = io.TeeReader(rc, keep)
	}
	if redactedHook != nil {
		data, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("redacting %s: %w", e.opts.Redactor.MaskPath(p), err)
		}
		held, keep = redactedHook(node.Name, data), nil
		in = bytes.NewReader(held)
	}
	if u, ok := rc.(interface{ Unchanged() int }); ok && redactedHook == nil {
		// The old content's chunks before the first byte the redaction
		// changed are the new content's too: content-defined chunking
		// starts afresh at every chunk's end.
		skip := e.unchangedChunks(fo, node, u.Unchanged())
		in = bytes.NewReader(held[skip:])
	}
	// Most chunks are near the average size: Next grows the buffer for a
	// larger one, and the largest is kept for the next file.
	if e.chunkBuf == nil {
		e.chunkBuf = make([]byte, 0, 2*chunker.MinSize)
	}
	e.chunker.Reset(in, pol)
	for {
		c, err := e.chunker.Next(e.chunkBuf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("redacting %s: %w", e.opts.Redactor.MaskPath(p), err)
		}
		if cap(c.Data) > cap(e.chunkBuf) {
			e.chunkBuf = c.Data
		}
		id, _, _, err := e.repo.SaveBlob(ctx, repository.DataBlob, c.Data, repository.ID{}, false)
		if err != nil {
			return fmt.Errorf("saving the redacted %s: %w", e.opts.Redactor.MaskPath(p), err)
		}
		fo.content = append(fo.content, id)
		fo.size += uint64(c.Length)
	}
	switch {
	case !indexed:
	case held != nil && int64(len(held)) <= e.opts.IndexLimit:
		fo.data = held
	case keep != nil && int64(keep.Len()) <= e.opts.IndexLimit:
		fo.data = keep.Bytes()
	}
	return nil
}

// unchangedChunks takes into fo the chunks of node's content that lie
// wholly in its first unchanged bytes, and returns their length.
func (e *eraser) unchangedChunks(fo *fileOutcome, node *repository.Node, unchanged int) int {
	off := 0
	for _, id := range node.Content {
		pbs := e.repo.LookupAll(repository.BlobHandle{ID: id, Type: repository.DataBlob})
		if len(pbs) == 0 {
			break
		}
		n := int(pbs[0].DataLength())
		if off+n > unchanged {
			break
		}
		fo.content = append(fo.content, id)
		fo.size += uint64(n)
		off += n
	}
	return off
}

// redactedHook, set by tests only, replaces the redacted content of the
// file named name before it is saved: a redactor that leaves a record
// behind, which verification must catch.
var redactedHook func(name string, data []byte) []byte

// contentKey names a file by path and content.
func contentKey(p string, content repository.IDs) repository.ID {
	h := sha256.New()
	h.Write([]byte(p))
	h.Write([]byte{0})
	for _, id := range content {
		h.Write(id[:])
	}
	var k repository.ID
	h.Sum(k[:0])
	return k
}

// collectErased adds a dropped item's blobs to o: a file's content, a
// folder's trees and everything below it.
func (e *eraser) collectErased(ctx context.Context, node *repository.Node, o *folderOutcome) error {
	r := &o.removed
	if node.Type != repository.NodeDir {
		for _, id := range node.Content {
			o.erased = append(o.erased, repository.BlobHandle{ID: id, Type: repository.DataBlob})
		}
		r.FilesDropped++
		r.Bytes += int64(node.Size)
		return nil
	}
	r.DirsDropped++
	if node.Subtree == nil {
		return nil
	}
	o.erased = append(o.erased, repository.BlobHandle{ID: *node.Subtree, Type: repository.TreeBlob})
	return repository.Walk(ctx, e.trees, *node.Subtree, func(_ repository.ID, _ string, n *repository.Node, err error) error {
		if err != nil {
			return err
		}
		if n.Type == repository.NodeDir && n.Subtree != nil {
			o.erased = append(o.erased, repository.BlobHandle{ID: *n.Subtree, Type: repository.TreeBlob})
		}
		for _, id := range n.Content {
			o.erased = append(o.erased, repository.BlobHandle{ID: id, Type: repository.DataBlob})
		}
		if n.Type == repository.NodeFile {
			r.FilesDropped++
			r.Bytes += int64(n.Size)
		}
		return nil
	})
}

// noSave is a repository that saves nothing, for finding out what a
// rewrite would change.
type noSave struct{ repository.BlobLoader }

func (noSave) SaveBlob(_ context.Context, _ repository.BlobType, data []byte, id repository.ID, _ bool) (repository.ID, bool, int, error) {
	if id.IsNull() {
		id = repository.Hash(data)
	}
	return id, false, 0, nil
}

// prune runs the erasure-grade prune: every pack holding an erased blob is
// rewritten without it (or deleted), whatever MaxUnused says.
func (e *eraser) prune(ctx context.Context) error {
	if e.j.lastInRun(StepPrune) != nil {
		return nil
	}
	e.event(StepPrune, repository.ID{}, 0, 1)
	opts := e.opts.Prune
	opts.RepackBlobs = repository.BlobSet{}
	for h := range e.erasedBlobs() {
		opts.RepackBlobs.Insert(h)
	}
	stale, err := e.staleBlobs(ctx)
	if err != nil {
		return fmt.Errorf("pruning after the rewrite: %w", err)
	}
	var extra []repository.BlobHandle
	for h := range stale {
		if !opts.RepackBlobs.Has(h) {
			opts.RepackBlobs.Insert(h)
			extra = append(extra, h)
		}
	}
	// staleBlobs found what the snapshots use; Prune need not walk them
	// again.
	opts.Used, opts.UsedFor = e.used, e.usedFor
	st, err := e.repo.Prune(ctx, opts)
	if err != nil {
		return fmt.Errorf("pruning after the rewrite: %w", err)
	}
	e.event(StepPrune, repository.ID{}, 1, 1)
	return e.append(ctx, Step{Kind: StepPrune, Prune: &PruneStep{Stats: st, Stale: extra}})
}

// staleBlobs returns the blobs no snapshot references that may hold the
// subject: left by snapshots forgotten but not yet pruned, or by an
// interrupted backup. Forgetting a snapshot erases nothing, so the
// erasure-grade prune takes these too. Every unreferenced tree is stale
// (trees hold names); an unreferenced data blob is left to the normal
// threshold only when every unreferenced file node holding it is ruled out
// by its name and the subject index, and path rules, which need a node's
// full path, are not in use.
func (e *eraser) staleBlobs(ctx context.Context) (repository.BlobSet, error) {
	snaps, damaged, err := e.repo.LoadAllSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	if len(damaged) > 0 {
		return nil, fmt.Errorf("%d snapshots cannot be loaded (first: %v); repair them first (lethe repair snapshots)", len(damaged), damaged[0])
	}
	used, err := e.usedBlobs(ctx, snaps)
	if err != nil {
		return nil, err
	}
	stale := repository.BlobSet{}
	data := repository.BlobSet{}
	var trees repository.IDs
	e.repo.EachBlob(func(pb repository.PackedBlob) bool {
		switch {
		case used.Has(pb.BlobHandle) || stale.Has(pb.BlobHandle) || data.Has(pb.BlobHandle):
		case pb.Type == repository.TreeBlob:
			stale.Insert(pb.BlobHandle)
			trees = append(trees, pb.ID)
		default:
			data.Insert(pb.BlobHandle)
		}
		return true
	})
	if len(data) == 0 {
		return stale, nil
	}
	if e.opts.Screen == nil || len(e.opts.Rules.PathRules) > 0 {
		for h := range data {
			stale.Insert(h)
		}
		return stale, nil
	}
	clean, held := repository.BlobSet{}, repository.BlobSet{}
	for _, id := range trees {
		buf, err := e.repo.LoadBlob(ctx, repository.TreeBlob, id, nil)
		if err != nil {
			continue // its files are unknown, so their blobs stay stale
		}
		t, err := repository.DecodeTree(buf)
		if err != nil {
			continue
		}
		for _, n := range t.Nodes {
			if n.Type != repository.NodeFile {
				continue
			}
			_, named := e.opts.Redactor.DecidePath(n.Name, false)
			to := clean
			if named || e.opts.Screen.MayHold(n) {
				to = held
			}
			for _, c := range n.Content {
				to.Insert(repository.BlobHandle{ID: c, Type: repository.DataBlob})
			}
		}
	}
	for h := range data {
		if held.Has(h) || !clean.Has(h) {
			stale.Insert(h)
		}
	}
	return stale, nil
}

// usedBlobs returns the blobs snaps reference. The set found for the
// same snapshots earlier in the run is reused: under the exclusive lock
// nothing else changes them, a snapshot's ID is the hash of its content,
// and the blobs it references stay what they are whatever a prune does.
func (e *eraser) usedBlobs(ctx context.Context, snaps []*repository.Snapshot) (repository.BlobSet, error) {
	ids := repository.SortedIDs(snaps)
	if e.used != nil && slices.Equal(ids, e.usedFor) {
		return e.used, nil
	}
	used, err := e.trees.UsedBlobs(ctx, snaps)
	if err != nil {
		return nil, err
	}
	e.used, e.usedFor = used, ids
	return used, nil
}

// erasedBlobs is the union of the blobs every rewrite left unreferenced
// and the stale blobs the prunes took, over every run: what an earlier
// run erased must still be gone.
func (e *eraser) erasedBlobs() repository.BlobSet {
	out := repository.BlobSet{}
	for _, s := range e.j.Steps {
		switch {
		case s.Kind == StepRewritten && s.Snapshot != nil:
			for _, h := range s.Snapshot.Erased {
				out.Insert(h)
			}
		case s.Kind == StepPrune && s.Prune != nil:
			for _, h := range s.Prune.Stale {
				out.Insert(h)
			}
		}
	}
	return out
}

// expire finds the snapshots holding the subject without changing them
// and journals when the last of them ages out.
func (e *eraser) expire(ctx context.Context) (*Result, error) {
	planned := e.j.lastInRun(StepPlan).Plan.Snapshots
	st := &ExpireStep{}
	var latest time.Time
	for i, old := range planned {
		e.event(StepExpire, old, i, len(planned))
		sn, err := e.repo.LoadSnapshot(ctx, old)
		if err != nil {
			if isNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("loading snapshot %s: %w", old.Str(), err)
		}
		res, err := e.rewriteSnapshot(ctx, sn, false)
		if err != nil {
			return nil, err
		}
		if res.sn == nil {
			continue
		}
		st.Affected = append(st.Affected, old)
		if sn.Time.After(latest) {
			latest = sn.Time
		}
	}
	if latest.IsZero() {
		latest = e.now().Add(-e.opts.Window)
	}
	st.Until = latest.Add(e.opts.Window).UTC()
	if e.j.lastInRun(StepExpire) == nil {
		if err := e.append(ctx, Step{Kind: StepExpire, Expire: st}); err != nil {
			return nil, err
		}
	}
	v := &Verification{Kind: VerifyNone, OK: true, Time: e.now(), Note: "snapshots stay sealed; every restore reapplies the erasure"}
	return e.finish(ctx, v, &st.Until)
}

// finish journals the result.
func (e *eraser) finish(ctx context.Context, v *Verification, expires *time.Time) (*Result, error) {
	run := e.j.run()
	plan := run[0].Plan
	res := &Result{Tombstone: e.opts.Tombstone, Mode: e.opts.Mode, Started: run[0].Time, Completed: e.now(), Verify: v, ExpiresAt: expires, Rerun: plan.Rerun}
	if p := e.j.lastInRun(StepPrune); p != nil {
		stats := p.Prune.Stats
		res.Prune = &stats
	}
	held := map[string]*HeldRecords{}
	var order []string
	for _, s := range run {
		if s.Kind != StepRewritten && s.Kind != StepUnaffected {
			continue
		}
		st := s.Snapshot
		res.Snapshots = append(res.Snapshots, SnapshotOutcome{Old: st.Old, New: st.New, Time: st.Time, Gone: st.Gone, Removed: st.Removed, Held: st.Held})
		res.Removed.add(st.Removed)
		for _, h := range st.Held {
			k := h.Hold + "\x00" + h.Basis
			if held[k] == nil {
				held[k] = &HeldRecords{Hold: h.Hold, Basis: h.Basis}
				order = append(order, k)
			}
			held[k].Files += h.Files
			held[k].Records += h.Records
			if h.Until.After(held[k].Until) {
				held[k].Until = h.Until
			}
		}
	}
	for _, k := range order {
		res.Held = append(res.Held, *held[k])
	}
	res.HeldUntil = res.firstHoldEnd()
	for _, h := range res.HeldSnapshots() {
		end := h.Time.Add(e.opts.Window)
		if h.Last.Before(end) {
			end = h.Last
		}
		if end = end.UTC(); res.HeldCopiesEnd == nil || end.After(*res.HeldCopiesEnd) {
			res.HeldCopiesEnd = &end
		}
	}
	if ex := e.j.lastInRun(StepExpire); ex != nil {
		res.FoundNowhere = len(ex.Expire.Affected) == 0 && len(res.Held) == 0
	} else {
		// A run again after a hold found what the first run held.
		res.FoundNowhere = plan.Rerun == 0 && res.Removed.empty() && len(res.Held) == 0
	}
	if err := e.append(ctx, Step{Kind: StepDone, Done: res}); err != nil {
		return nil, err
	}
	return res, nil
}
