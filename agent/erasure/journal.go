package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"lethe/agent/repository"
	"lethe/backends"
	"lethe/tombstones"
)

// JournalPrefix is where erasure journals live below lethe/: one
// write-once object per step, lethe/erasures/<tombstone>/<seq>-<kind>,
// encrypted like every lethe object. Objects are never rewritten, so the
// journal works the same on S3 and on local disk, and a crash leaves at
// worst a step that is done but not yet recorded; resuming finds such
// steps by looking at the repository (see Run).
const JournalPrefix = "erasures/"

// Step kinds, in the order an erasure writes them.
const (
	StepPlan       = "plan"       // the snapshots to examine
	StepRewritten  = "rewritten"  // a snapshot's replacement is saved
	StepRemoved    = "removed"    // the replaced snapshot is removed
	StepUnaffected = "unaffected" // a snapshot holds nothing of the subject, or is gone
	StepPrune      = "prune"      // the erasure-grade prune is done
	StepVerify     = "verify"     // the verification and its result
	StepExpire     = "expire"     // expire mode: when the last copy ages out
	StepDone       = "done"       // the erasure is complete in this repository
)

// Step is one journal record. It holds IDs, counts and dates, never an
// identifier or a path.
type Step struct {
	Seq       int       `json:"seq"`
	Kind      string    `json:"kind"`
	Tombstone string    `json:"tombstone"`
	Time      time.Time `json:"time"`

	Plan     *PlanStep     `json:"plan,omitempty"`
	Snapshot *SnapshotStep `json:"snapshot,omitempty"`
	Prune    *PruneStep    `json:"prune,omitempty"`
	Verify   *Verification `json:"verify,omitempty"`
	Expire   *ExpireStep   `json:"expire,omitempty"`
	Done     *Result       `json:"done,omitempty"`
}

// PlanStep lists the snapshots an erasure examines: every snapshot of the
// repository when it started.
type PlanStep struct {
	Mode      string         `json:"mode"`
	Snapshots repository.IDs `json:"snapshots"`
	// Rerun counts the runs before this one: a complete erasure runs
	// again when a hold ends or held snapshots are forgotten (see
	// Journal.RerunDue). Each run is a plan and the steps after it.
	Rerun int `json:"rerun,omitempty"`
	// Rules are what decided which records are the subject's; a resumed
	// erasure uses the same.
	Rules Rules `json:"rules"`
}

// Rules are the settings that decide which records are a subject's and
// which are held. They hold no identifier.
type Rules struct {
	// Region is the phone region of numbers without a country code.
	Region string `json:"region,omitempty"`
	// Kinds are custom identifier kinds as NAME=REGEXP.
	Kinds       []string `json:"kinds,omitempty"`
	NameColumns []string `json:"name_columns,omitempty"`
	PathRules   []string `json:"path_rules,omitempty"`
	Holds       []Hold   `json:"holds,omitempty"`
	Deep        bool     `json:"deep,omitempty"`
}

// Rules returns the rules the erasure was planned with, or false when it
// has not been planned.
func (j *Journal) Rules() (Rules, bool) {
	if p := j.last(StepPlan); p != nil {
		return p.Plan.Rules, true
	}
	return Rules{}, false
}

// SnapshotStep is what happened to one snapshot.
type SnapshotStep struct {
	Old repository.ID `json:"old"`
	// New is the replacement (StepRewritten).
	New *repository.ID `json:"new,omitempty"`
	// Gone is set for a planned snapshot that no longer existed when its
	// turn came (removed by forget in between).
	Gone    bool          `json:"gone,omitempty"`
	Time    time.Time     `json:"time"`
	Removed Removal       `json:"removed"`
	Held    []HeldRecords `json:"held,omitempty"`
	// Erased are the blobs the rewrite left unreferenced: the old content
	// of redacted and dropped files, everything below dropped folders and
	// the replaced trees. The erasure-grade prune removes every pack copy
	// of them.
	Erased []repository.BlobHandle `json:"erased,omitempty"`
}

// PruneStep is the result of the erasure-grade prune.
type PruneStep struct {
	Stats repository.PruneStats `json:"stats"`
	// Stale are the blobs, beyond those the rewrite left behind, that no
	// snapshot referenced and the prune took because they may hold the
	// subject (see staleBlobs); verification checks they are gone.
	Stale []repository.BlobHandle `json:"stale,omitempty"`
}

// ExpireStep is expire mode's outcome: the snapshots holding the subject
// stay sealed until Until.
type ExpireStep struct {
	Affected repository.IDs `json:"affected"`
	Until    time.Time      `json:"until"`
}

// Journal is the journal of one erasure in one repository.
type Journal struct {
	Tombstone string
	Steps     []Step
}

// journalStore is what the journal needs of a repository.
type journalStore interface {
	SaveLethe(ctx context.Context, name string, data []byte) error
	LoadLethe(ctx context.Context, name string) ([]byte, error)
	ListLethe(ctx context.Context, prefix string, fn func(name string) error) error
}

func journalDir(tombstone string) string { return JournalPrefix + tombstone + "/" }

func stepName(tombstone string, seq int, kind string) string {
	return fmt.Sprintf("%s%06d-%s", journalDir(tombstone), seq, kind)
}

// LoadJournal reads the journal of tombstone's erasure from a repository;
// an erasure not started there has an empty journal.
func LoadJournal(ctx context.Context, st journalStore, tombstone string) (*Journal, error) {
	if !tombstones.ValidID(tombstone) {
		return nil, fmt.Errorf("loading erasure journal: invalid tombstone id %q", tombstone)
	}
	dir := journalDir(tombstone)
	var names []string
	err := st.ListLethe(ctx, dir, func(name string) error {
		if !strings.HasPrefix(name, dir) {
			name = dir + name
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing erasure journal %s: %w", tombstone, err)
	}
	sort.Strings(names)
	j := &Journal{Tombstone: tombstone}
	for _, name := range names {
		data, err := st.LoadLethe(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("loading erasure journal: %w", err)
		}
		var s Step
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", name, err)
		}
		if stepName(tombstone, s.Seq, s.Kind) != name || s.Tombstone != tombstone {
			return nil, fmt.Errorf("decoding %s: object is step %d %q of %s", name, s.Seq, s.Kind, s.Tombstone)
		}
		j.Steps = append(j.Steps, s)
	}
	for i, s := range j.Steps {
		if s.Seq != i {
			return nil, fmt.Errorf("erasure journal %s: step %d missing", tombstone, i)
		}
	}
	return j, nil
}

// ListJournals returns the tombstones that have a journal in a repository.
func ListJournals(ctx context.Context, st journalStore) ([]string, error) {
	seen := map[string]bool{}
	err := st.ListLethe(ctx, JournalPrefix, func(name string) error {
		rest := strings.TrimPrefix(name, JournalPrefix)
		if i := strings.IndexByte(rest, '/'); i > 0 && tombstones.ValidID(rest[:i]) {
			seen[rest[:i]] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing erasure journals: %w", err)
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// append writes the next step. A step already there with the same content
// (a retry after an error whose write had in fact landed) is success.
func (j *Journal) append(ctx context.Context, st journalStore, mirror func(Step) error, s Step) error {
	s.Seq = len(j.Steps)
	s.Tombstone = j.Tombstone
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	name := stepName(j.Tombstone, s.Seq, s.Kind)
	if err := st.SaveLethe(ctx, name, data); err != nil {
		old, lerr := st.LoadLethe(ctx, name)
		if lerr != nil || !bytes.Equal(old, data) {
			return fmt.Errorf("writing erasure journal step %d (%s): %w", s.Seq, s.Kind, err)
		}
	}
	j.Steps = append(j.Steps, s)
	if mirror != nil {
		if err := mirror(s); err != nil {
			return fmt.Errorf("copying erasure journal step %d to the state directory: %w", s.Seq, err)
		}
	}
	return nil
}

// last returns the last step of kind, or nil.
func (j *Journal) last(kind string) *Step {
	for i := len(j.Steps) - 1; i >= 0; i-- {
		if j.Steps[i].Kind == kind {
			return &j.Steps[i]
		}
	}
	return nil
}

// runStart is the index of the current run's plan: the last plan (0
// when there is none).
func (j *Journal) runStart() int {
	for i := len(j.Steps) - 1; i >= 0; i-- {
		if j.Steps[i].Kind == StepPlan {
			return i
		}
	}
	return 0
}

// run returns the steps of the current run.
func (j *Journal) run() []Step { return j.Steps[j.runStart():] }

// lastInRun returns the current run's last step of kind, or nil.
func (j *Journal) lastInRun(kind string) *Step {
	start := j.runStart()
	for i := len(j.Steps) - 1; i >= start; i-- {
		if j.Steps[i].Kind == kind {
			return &j.Steps[i]
		}
	}
	return nil
}

// Result returns the outcome of the last finished run, or nil.
func (j *Journal) Result() *Result {
	if d := j.last(StepDone); d != nil {
		return d.Done
	}
	return nil
}

// HeldSnapshot is a snapshot a finished run left holding held records.
type HeldSnapshot struct {
	ID repository.ID
	// Time is the snapshot's time.
	Time time.Time
	// Until is when the first of its holds ends, Last when the last does.
	Until, Last time.Time
}

// HeldSnapshots returns the snapshots the last finished run left holding
// held records (none in expire mode, which changes no snapshot).
func (r *Result) HeldSnapshots() []HeldSnapshot {
	if r == nil || r.Mode == ModeExpire {
		return nil
	}
	var out []HeldSnapshot
	for _, s := range r.Snapshots {
		if len(s.Held) == 0 || s.Gone {
			continue
		}
		h := HeldSnapshot{ID: s.Old, Time: s.Time}
		if s.New != nil {
			h.ID = *s.New
		}
		for _, hr := range s.Held {
			if h.Until.IsZero() || hr.Until.Before(h.Until) {
				h.Until = hr.Until
			}
			if hr.Until.After(h.Last) {
				h.Last = hr.Until
			}
		}
		out = append(out, h)
	}
	return out
}

// firstHoldEnd is when the first hold ends of the snapshots left holding
// held records, or nil.
func (r *Result) firstHoldEnd() *time.Time {
	var first *time.Time
	for _, h := range r.HeldSnapshots() {
		if first == nil || h.Until.Before(*first) {
			u := h.Until
			first = &u
		}
	}
	return first
}

// RerunDue reports whether the complete erasure must run again at now,
// given the snapshots present in the repository: a hold has ended for a
// snapshot still holding held records (they must be removed now), or
// such a snapshot is gone (forgotten, or replaced by another erasure's
// rewrite), and the blobs of its held records must go with an
// erasure-grade prune rather than wait for the normal prune's threshold.
func (j *Journal) RerunDue(now time.Time, present repository.IDSet) bool {
	if !j.Complete() {
		return false
	}
	for _, h := range j.Result().HeldSnapshots() {
		if !now.Before(h.Until) || !present.Has(h.ID) {
			return true
		}
	}
	return false
}

// snapshotSteps returns, per old snapshot ID, the current run's
// rewritten or unaffected step, and the set of old snapshots it recorded
// as removed.
func (j *Journal) snapshotSteps() (map[repository.ID]*SnapshotStep, repository.IDSet) {
	done := map[repository.ID]*SnapshotStep{}
	removed := repository.IDSet{}
	run := j.run()
	for i := range run {
		s := &run[i]
		switch s.Kind {
		case StepRewritten, StepUnaffected:
			done[s.Snapshot.Old] = s.Snapshot
		case StepRemoved:
			removed.Insert(s.Snapshot.Old)
		}
	}
	return done, removed
}

// State is where an erasure stands in one repository, as `lethe erasures
// list` shows it.
type State string

// States, in order.
const (
	StatePending   State = "pending"
	StateRewriting State = "rewriting"
	StatePruning   State = "pruning"
	StateVerifying State = "verifying"
	StateVerified  State = "verified"
	StateExpiring  State = "expiring"
	StateFailed    State = "failed"
)

// Status summarises a journal.
type Status struct {
	State State `json:"state"`
	// Until is when the last copy ages out (StateExpiring).
	Until *time.Time `json:"until,omitempty"`
	// Result is the outcome of a finished erasure.
	Result *Result `json:"result,omitempty"`
	// HeldUntil is, for a finished erasure whose snapshots still hold
	// held records, when the first of those holds ends; Due is set once
	// it has, until the erasure has run again.
	HeldUntil *time.Time `json:"held_until,omitempty"`
	Due       bool       `json:"due,omitempty"`
}

// Status returns where the journal's erasure stands at now.
func (j *Journal) Status(now time.Time) Status {
	if d := j.lastInRun(StepDone); d != nil {
		st := Status{State: StateVerified, Result: d.Done}
		if d.Done != nil && d.Done.ExpiresAt != nil {
			st.Until = d.Done.ExpiresAt
			if now.Before(*d.Done.ExpiresAt) {
				st.State = StateExpiring
			}
		}
		// From the snapshots, not Result.HeldUntil: journals written
		// before it was recorded say the same.
		if u := d.Done.firstHoldEnd(); u != nil {
			st.HeldUntil = u
			st.Due = !now.Before(*u)
		}
		return st
	}
	switch {
	case len(j.Steps) == 0:
		return Status{State: StatePending}
	case j.lastInRun(StepVerify) != nil:
		return Status{State: StateFailed}
	case j.lastInRun(StepPrune) != nil:
		return Status{State: StateVerifying}
	}
	if p := j.lastInRun(StepPlan); p != nil {
		planned := len(p.Plan.Snapshots)
		done, _ := j.snapshotSteps()
		if len(done) >= planned {
			return Status{State: StatePruning}
		}
	}
	return Status{State: StateRewriting}
}

// Complete reports whether the erasure is finished in this repository:
// its last run is done. One that runs again after a hold ended is not
// complete until that run is done.
func (j *Journal) Complete() bool { return j.lastInRun(StepDone) != nil }

// FileMirror returns a journal mirror that appends each step as a JSON
// line to path (created 0600 with its directory), for the state
// directory's copy of the journal.
func FileMirror(path string) func(Step) error {
	return func(s Step) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		data, err := json.Marshal(s)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := f.Write(append(data, '\n')); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
}

// isNotExist reports whether err says an object is missing.
func isNotExist(err error) bool { return backends.IsNotExist(err) || errors.Is(err, os.ErrNotExist) }
