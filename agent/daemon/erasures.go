package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/tombstones"
)

// Eraser executes an erasure in one repository: it rewrites or expires
// the snapshots holding the subject's records, as the tombstone's mode
// says. The daemon calls it only once the tombstone is in the
// repository, never beside another job on the same repository, and
// again (with backoff) until it returns nil; Erase must therefore resume
// or redo safely. The Eraser takes the repository's lock itself. It
// returns the outcome, or nil when it has none to tell.
type Eraser interface {
	Erase(ctx context.Context, repo Repository, tombstoneID string) (*erasure.Result, error)
}

// Rerunner is an Eraser that knows which erasures complete in a
// repository are due to run again at now: a hold ended while its
// snapshots are kept, or held snapshots were forgotten and their blobs
// must go with an erasure-grade prune. The daemon asks at start and after
// every backup and forget, and runs those with Erase. Engine is one.
type Rerunner interface {
	Eraser
	DueAgain(ctx context.Context, repo Repository, now time.Time) ([]string, error)
}

// ErrNotReady is returned for an erasure request before the subject key
// has been reconciled with the repositories.
var ErrNotReady = errors.New("the agent has not yet synced its tombstones with the repositories")

// ErasureStatus is an erasure request as the API reports it: no
// identifier, only their masked forms.
type ErasureStatus struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	Deadline  time.Time `json:"deadline"`
	Reason    string    `json:"reason"`
	Reference string    `json:"reference,omitempty"`
	Mode      string    `json:"mode"`
	Masked    []string  `json:"identifiers"`
	// State is "pending", "complete" (in every repository) or "revoked".
	State string `json:"state"`
	// Overdue and AtRisk say where a pending erasure stands against its
	// deadline.
	Overdue bool `json:"overdue"`
	AtRisk  bool `json:"at_risk"`
	// Repositories is the progress in each configured repository.
	Repositories []RepoProgress `json:"repositories"`
}

// RepoProgress is an erasure's progress in one repository.
type RepoProgress struct {
	Repository string    `json:"repository"`
	State      string    `json:"state"`
	Updated    time.Time `json:"updated,omitzero"`
	// Note says more of a complete erasure: verified, or until when
	// records are held (it runs again then).
	Note string `json:"note,omitempty"`
}

// ErasureCounts sum up the erasures against their deadlines.
type ErasureCounts struct {
	Pending int `json:"pending"`
	AtRisk  int `json:"at_risk"`
	Overdue int `json:"overdue"`
	// OldestPendingSeconds is the age of the oldest pending erasure.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
}

// ErasureRequest is an erasure request as the API takes it.
type ErasureRequest struct {
	Identifiers []tombstones.Identifier
	Reason      string
	Reference   string
	Mode        string
}

// FileErasure records an erasure request in the state directory (fsynced)
// and queues its execution in every repository; the tombstone reaches
// each repository before anything else is done there. It returns the
// tombstone's status.
func (d *Daemon) FileErasure(ctx context.Context, req ErasureRequest) (ErasureStatus, error) {
	d.mu.Lock()
	ok := d.keyOK
	d.mu.Unlock()
	if !ok {
		return ErasureStatus{}, ErrNotReady
	}
	n, err := d.cfg.Identifiers.Normalizer()
	if err != nil {
		return ErasureStatus{}, err
	}
	// The state directory only: the repositories get the tombstone from
	// the erase job, under the job's lock, so a busy repository does not
	// hold up the request.
	svc := &tombstones.Service{State: d.state, Normalizer: n, Now: d.clock.Now}
	t, err := svc.Record(ctx, tombstones.Request{
		Identifiers: req.Identifiers,
		Reason:      req.Reason,
		Reference:   req.Reference,
		Mode:        tombstones.Mode(req.Mode),
	})
	if err != nil {
		return ErasureStatus{}, err
	}
	attrs := []any{"erasure", t.ID, "identifiers", len(t.Entries), "mode", string(t.Mode)}
	if p, ok := PeerFrom(ctx); ok {
		attrs = append(attrs, "via", "api", "uid", p.UID, "pid", p.PID)
	}
	d.log.Info("erasure request recorded", attrs...)
	for i := range d.repos {
		d.queues[i].add(&task{kind: KindErase, repo: i, tombstone: t.ID})
	}
	d.updateErasureMetrics()
	return d.erasureStatus(t, d.clock.Now()), nil
}

// Erasures returns every erasure request, oldest first.
func (d *Daemon) Erasures() ([]ErasureStatus, error) {
	set, err := d.state.Load()
	if err != nil {
		return nil, err
	}
	now := d.clock.Now()
	var out []ErasureStatus
	for _, t := range set.Tombstones() {
		out = append(out, d.erasureStatus(t, now))
	}
	return out, nil
}

// Erasure returns one erasure request; ok is false when there is none
// with that id.
func (d *Daemon) Erasure(id string) (ErasureStatus, bool, error) {
	set, err := d.state.Load()
	if err != nil {
		return ErasureStatus{}, false, err
	}
	t, ok := set.Get(id)
	if !ok {
		return ErasureStatus{}, false, nil
	}
	return d.erasureStatus(t, d.clock.Now()), true, nil
}

// erasureStatus is t's status at now.
func (d *Daemon) erasureStatus(t tombstones.Tombstone, now time.Time) ErasureStatus {
	s := ErasureStatus{
		ID:        t.ID,
		Created:   t.Created,
		Deadline:  d.cfg.Deadline.After(t.Created),
		Reason:    t.Reason,
		Reference: t.Reference,
		Mode:      string(t.Mode),
		Masked:    t.Masked(),
		State:     "complete",
	}
	for _, r := range d.repos {
		p := RepoProgress{Repository: r.Name, State: string(tombstones.ProgressPending)}
		if pr, ok := t.Progress[r.Name]; ok {
			p.State, p.Updated, p.Note = string(pr.State), pr.Updated, pr.Note
		}
		if p.State != string(tombstones.ProgressComplete) {
			s.State = "pending"
		}
		s.Repositories = append(s.Repositories, p)
	}
	if t.Revoked() {
		s.State = "revoked"
	}
	if s.State == "pending" {
		s.Overdue = now.After(s.Deadline)
		s.AtRisk = !s.Overdue && s.Deadline.Sub(now) < d.atRisk
	}
	return s
}

// pendingIn reports whether t still has to be carried out in repo.
func pendingIn(t tombstones.Tombstone, repo string) bool {
	if t.Revoked() {
		return false
	}
	p, ok := t.Progress[repo]
	return !ok || p.State != tombstones.ProgressComplete
}

// queueReruns queues, in repository i, the erasures due to run again
// there; it runs as a job of the repository's queue (kindRecheck).
func (d *Daemon) queueReruns(ctx context.Context, i int, log *slog.Logger) error {
	rr, ok := d.eraser.(Rerunner)
	if !ok {
		return nil
	}
	ids, err := rr.DueAgain(ctx, d.repos[i], d.clock.Now())
	if err != nil {
		return fmt.Errorf("finding the erasures due to run again: %w", err)
	}
	for _, id := range ids {
		if d.queues[i].add(&task{kind: KindErase, repo: i, tombstone: id, rerun: true}) {
			log.Info("erasure due to run again: a hold ended, or held snapshots are gone", "erasure", id)
		}
	}
	return nil
}

// queueErasures queues every erasure not complete in a repository, and a
// check in each for erasures due to run again.
func (d *Daemon) queueErasures() {
	set, err := d.state.Load()
	if err != nil {
		d.log.Error("reading the tombstone log failed", "error", err)
		return
	}
	for _, t := range set.Tombstones() {
		for i, r := range d.repos {
			if pendingIn(t, r.Name) {
				d.queues[i].add(&task{kind: KindErase, repo: i, tombstone: t.ID})
			}
		}
	}
	for i := range d.repos {
		d.recheck(i)
	}
	d.updateErasureMetrics()
}

// erase runs one erasure in one repository: the tombstones first, then
// the eraser, then the progress record.
func (d *Daemon) erase(ctx context.Context, t *task, log *slog.Logger) error {
	r := d.repos[t.repo]
	set, err := d.state.Load()
	if err != nil {
		return err
	}
	ts, ok := set.Get(t.tombstone)
	if !ok {
		return fmt.Errorf("tombstone %s is not in the state directory", t.tombstone)
	}
	if ts.Revoked() || (!t.rerun && !pendingIn(ts, r.Name)) {
		return nil
	}
	if err := d.jobs.SyncTombstones(ctx, []Repository{r}); err != nil {
		return fmt.Errorf("writing the tombstone to the repository: %w", err)
	}
	if d.eraser == nil {
		// Nothing more can be done here; the erasure stays pending and is
		// queued again at the next start.
		log.Info("tombstone written to the repository; the erasure stays pending: no erasure engine")
		return nil
	}
	// No "running" record: the progress log keeps the latest record per
	// repository by time, and a run is short next to a clock's grain.
	res, err := d.eraser.Erase(ctx, r, ts.ID)
	if err != nil {
		if ctx.Err() == nil {
			d.recordProgress(ts.ID, r.Name, tombstones.ProgressFailed, "")
		}
		d.updateErasureMetrics()
		return err
	}
	note := ""
	if res != nil {
		note = jobs.ProgressNote(res)
	}
	d.recordProgress(ts.ID, r.Name, tombstones.ProgressComplete, note)
	d.updateErasureMetrics()
	return nil
}

func (d *Daemon) recordProgress(id, repo string, st tombstones.ProgressState, note string) {
	if err := d.state.RecordProgress(tombstones.Progress{Tombstone: id, Repository: repo, State: st, Updated: d.clock.Now().UTC(), Note: note}); err != nil {
		d.log.Error("recording erasure progress failed", "erasure", id, "repository", repo, "error", err)
	}
}

// erasureCounts sums up the pending erasures at now.
func (d *Daemon) erasureCounts(now time.Time) (ErasureCounts, error) {
	all, err := d.Erasures()
	if err != nil {
		return ErasureCounts{}, err
	}
	var c ErasureCounts
	var pending []time.Time
	for _, s := range all {
		if s.State != "pending" {
			continue
		}
		c.Pending++
		if s.Overdue {
			c.Overdue++
		}
		if s.AtRisk {
			c.AtRisk++
		}
		pending = append(pending, s.Created)
	}
	if len(pending) > 0 {
		sort.Slice(pending, func(i, j int) bool { return pending[i].Before(pending[j]) })
		c.OldestPendingSeconds = now.Sub(pending[0]).Seconds()
	}
	return c, nil
}

// updateErasureMetrics sets the erasure gauges.
func (d *Daemon) updateErasureMetrics() {
	c, err := d.erasureCounts(d.clock.Now())
	if err != nil {
		d.log.Error("reading the tombstone log failed", "error", err)
		return
	}
	d.metrics.erasures(c)
}

// recheck queues in repository i a check for erasures due to run again,
// when the eraser can tell.
func (d *Daemon) recheck(i int) {
	if _, ok := d.eraser.(Rerunner); ok {
		d.queues[i].add(&task{kind: kindRecheck, repo: i})
	}
}
