package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/config"
	"lethe/agent/erasure"
	"lethe/agent/erasure/subjects"
	"lethe/agent/formats"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// Kind is a kind of job.
type Kind string

// The kinds of job. Backup, forget, check and verify run on their
// schedules; erase runs for every pending erasure.
const (
	KindBackup Kind = "backup"
	KindForget Kind = "forget"
	KindCheck  Kind = "check"
	KindVerify Kind = "verify"
	KindErase  Kind = "erase"
	// kindRefresh reads the snapshots for the window: queued like a job
	// so that it never runs beside one on the same repository.
	kindRefresh Kind = "refresh"
	// kindRecheck finds the erasures due to run again (Rerunner) and
	// queues them.
	kindRecheck Kind = "recheck"
)

// Repository is a configured repository as the daemon's jobs see it.
type Repository struct {
	// Name is the configured name; it labels status and metrics.
	Name string
	Repo jobs.Repo
}

// BackupReport is what one backup of every source into one repository
// did.
type BackupReport struct {
	// Snapshots counts the snapshots saved, one per source.
	Snapshots int
	// BytesAdded is what the repository grew by (stored, compressed).
	BytesAdded uint64
	// Unreadable counts items left out because they could not be read.
	Unreadable uint64
	// KeptOut counts records of erased subjects kept out of the backup:
	// the live source still holds them.
	KeptOut uint64
}

// Jobs runs the jobs on one repository. The daemon never runs two of
// them on the same repository at once. RepoJobs runs them with the jobs
// package; tests wrap or replace it.
type Jobs interface {
	// Backup backs up every source, recording at as the snapshots' time.
	// The sources that can be backed up are, even when another fails.
	Backup(ctx context.Context, repo Repository, at time.Time) (BackupReport, error)
	// Forget forgets snapshots by the retention policy and prunes.
	Forget(ctx context.Context, repo Repository) error
	// Check checks the repository's structure, and with readData every
	// pack's content.
	Check(ctx context.Context, repo Repository, readData bool) error
	// VerifyErasures scans every snapshot for the subjects of the
	// erasures complete in the repository (a deep verification); it reads
	// nothing when there is none.
	VerifyErasures(ctx context.Context, repo Repository) (jobs.ErasureVerification, error)
	// Snapshots lists the repository's snapshots.
	Snapshots(ctx context.Context, repo Repository) ([]*repository.Snapshot, error)
	// SyncTombstones makes the state directory and the repositories hold
	// the same tombstones (and, with all repositories, agree on the
	// subject key).
	SyncTombstones(ctx context.Context, repos []Repository) error
}

// Repositories returns the configured repositories.
func Repositories(cfg *config.Config) []Repository {
	out := make([]Repository, len(cfg.Repositories))
	for i := range cfg.Repositories {
		out[i] = Repository{Name: cfg.Repositories[i].Name, Repo: cfg.Repositories[i].JobsRepo()}
	}
	return out
}

// RepoJobs runs the jobs with the jobs package, as the command line does.
type RepoJobs struct {
	Config *config.Config
	State  *tombstones.State
	// Clock times the waits for a locked repository; nil: SystemClock.
	Clock Clock
	// LockRetry is how long a job waits between tries to lock a
	// repository that another process holds (default 1m); after LockWait
	// (default 2h) it fails and is retried like any failed job.
	LockRetry, LockWait time.Duration
	// Host goes into snapshots; empty: this machine's host name.
	Host           string
	ProgramVersion string
	// Log receives the jobs' messages; nil: discarded.
	Log *slog.Logger
}

func (j *RepoJobs) clock() Clock {
	if j.Clock == nil {
		return SystemClock()
	}
	return j.Clock
}

func (j *RepoJobs) log() *slog.Logger {
	if j.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Log
}

// open opens and locks the repository, waiting while another process
// holds a conflicting lock.
func (j *RepoJobs) open(ctx context.Context, r Repository, mode jobs.LockMode, loadIndex bool) (*repository.Repository, context.Context, func() error, error) {
	retry, wait := j.LockRetry, j.LockWait
	if retry <= 0 {
		retry = time.Minute
	}
	if wait <= 0 {
		wait = 2 * time.Hour
	}
	c := j.clock()
	giveUp := c.Now().Add(wait)
	for {
		repo, jobCtx, release, err := jobs.OpenLocked(ctx, r.Repo, mode, loadIndex)
		if err == nil || !errors.Is(err, repository.ErrLocked) {
			return repo, jobCtx, release, err
		}
		if !c.Now().Before(giveUp) {
			return nil, nil, nil, fmt.Errorf("waited %s for the repository lock: %w", wait, err)
		}
		j.log().Info("repository is locked by another process, waiting", "repository", r.Name, "retry_in", retry.String())
		if !sleep(c, retry, ctx.Done()) {
			return nil, nil, nil, ctx.Err()
		}
	}
}

// Backup backs up every source into the repository under one shared
// lock, each source into its own snapshot, keeping the records of erased
// subjects out.
func (j *RepoJobs) Backup(ctx context.Context, r Repository, at time.Time) (BackupReport, error) {
	var rep BackupReport
	repo, ctx, release, err := j.open(ctx, r, jobs.Shared, true)
	if err != nil {
		return rep, err
	}
	defer release()
	er, err := j.erasures(ctx, r, repo)
	if err != nil {
		return rep, err
	}
	red := er.red
	var errs []error
	for i := range j.Config.Sources {
		src := &j.Config.Sources[i]
		var unreadable atomic.Uint64
		aopts := archiver.Options{
			// Which items could not be read is not logged: their paths
			// may name a person. They are counted, and `lethe backup` by
			// hand names them.
			Error: func(string, error) error { unreadable.Add(1); return nil },
		}
		roots := src.Paths
		if src.IsCommand() {
			roots = []string{"/" + src.Filename}
		}
		if red != nil {
			aopts.Filter = erasure.NewFilter(red, roots, er.idx.Screen(er.active))
			aopts.MaskPath = red.MaskPath
		}
		var res jobs.BackupResult
		if src.IsCommand() {
			res, err = jobs.BackupCommand(ctx, repo, jobs.CommandBackupOptions{
				Command:        archiver.Command{Args: src.Command},
				Filename:       src.Filename,
				Host:           j.Host,
				Time:           at,
				ProgramVersion: j.ProgramVersion,
				Archiver:       aopts,
			})
		} else {
			res, err = jobs.Backup(ctx, repo, jobs.BackupOptions{
				Subjects:       subjects.NewRecorder(ctx, repo, er.ix, er.idx),
				Targets:        src.Paths,
				Excludes:       src.Excludes,
				Host:           j.Host,
				Time:           at,
				ProgramVersion: j.ProgramVersion,
				Archiver:       aopts,
			})
		}
		rep.Unreadable += unreadable.Load()
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("source %s: %w", src.Name, err))
			continue
		}
		rep.Snapshots++
		rep.BytesAdded += res.Stats.DataAdded
		for _, n := range res.Stats.RecordsRemoved {
			rep.KeptOut += n
		}
		rep.KeptOut += res.Stats.FilesDropped + res.Stats.DirsDropped
		j.log().Info("source backed up", "repository", r.Name, "source", src.Name,
			"snapshot", res.Snapshot.ID.Str(), "bytes_added", res.Stats.DataAdded, "unreadable", unreadable.Load())
		if res.IndexErr != nil {
			j.log().Warn("the subject index of the backup was not saved; the next backup or lethe index adds it",
				"repository", r.Name, "source", src.Name, "error", res.IndexErr.Error())
		}
	}
	return rep, errors.Join(errs...)
}

// backupErasures is what a backup needs to keep erased subjects out and
// to index what it reads.
type backupErasures struct {
	red    *formats.Redactor // nil: no active tombstone
	active []tombstones.Tombstone
	ix     *subjects.Indexer
	idx    *subjects.Index
}

// erasures loads the repository's tombstones (merged with the state
// directory's) and its subject index. An index that cannot be loaded
// costs time (every file is scanned), not correctness.
func (j *RepoJobs) erasures(ctx context.Context, r Repository, repo *repository.Repository) (*backupErasures, error) {
	n, err := j.Config.Identifiers.Normalizer()
	if err != nil {
		return nil, err
	}
	svc := &tombstones.Service{State: j.State, Normalizer: n, Repos: []tombstones.Repo{{Name: r.Name, Store: repo}}}
	set, key, _, err := svc.Sync(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the erasures to keep out of the backup: %w", err)
	}
	fopts := j.Config.Identifiers.FormatOptions()
	be := &backupErasures{active: set.Active(), ix: subjects.NewIndexer(n, key, fopts)}
	if be.idx, err = subjects.Load(ctx, repo, be.ix); err != nil {
		j.log().Warn("subject index not loaded; every file is scanned", "repository", r.Name, "error", err.Error())
		be.idx = subjects.New(be.ix)
	}
	if len(be.active) == 0 {
		return be, nil
	}
	m, err := tombstones.NewMatcher(n, key, set)
	if err != nil {
		return nil, fmt.Errorf("loading the erasures to keep out of the backup: %w", err)
	}
	be.red = formats.NewRedactor(m, fopts)
	return be, nil
}

// Forget applies the retention policy and prunes, under an exclusive
// lock.
func (j *RepoJobs) Forget(ctx context.Context, r Repository) error {
	repo, ctx, release, err := j.open(ctx, r, jobs.Exclusive, false)
	if err != nil {
		return err
	}
	defer release()
	res, err := jobs.Forget(ctx, repo, j.Config.Retention.ForgetOptions())
	if err != nil {
		return err
	}
	j.log().Info("forget done", "repository", r.Name, "forgotten", len(res.Removed), "pruned", res.Pruned)
	return nil
}

// Check checks the repository under a shared lock.
func (j *RepoJobs) Check(ctx context.Context, r Repository, readData bool) error {
	repo, ctx, release, err := j.open(ctx, r, jobs.Shared, false)
	if err != nil {
		return err
	}
	defer release()
	res, err := repo.Check(ctx, repository.CheckOptions{ReadData: readData})
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("check found %d errors (run `lethe check` for them and what repairs them)", len(res.Errors))
	}
	return nil
}

// VerifyErasures verifies every erasure complete in the repository at
// once under a shared lock, with the config's identifier rules and holds.
func (j *RepoJobs) VerifyErasures(ctx context.Context, r Repository) (jobs.ErasureVerification, error) {
	repo, ctx, release, err := j.open(ctx, r, jobs.Shared, true)
	if err != nil {
		return jobs.ErasureVerification{}, err
	}
	defer release()
	e, err := jobs.NewEraser(ctx, repo, j.State.Dir())
	if err != nil {
		return jobs.ErasureVerification{}, err
	}
	return e.VerifyErasures(ctx, RulesOf(j.Config))
}

// Snapshots lists the snapshots without locking: listing takes nothing
// away, and a lock would only keep a prune waiting.
func (j *RepoJobs) Snapshots(ctx context.Context, r Repository) ([]*repository.Snapshot, error) {
	repo, ctx, release, err := j.open(ctx, r, jobs.NoLock, false)
	if err != nil {
		return nil, err
	}
	defer release()
	return repo.Snapshots(ctx)
}

// SyncTombstones syncs the tombstones of the state directory and the
// repositories, all locked (shared) at once so that the subject key is
// reconciled across all of them.
func (j *RepoJobs) SyncTombstones(ctx context.Context, repos []Repository) error {
	n, err := j.Config.Identifiers.Normalizer()
	if err != nil {
		return err
	}
	svc := &tombstones.Service{State: j.State, Normalizer: n}
	for _, r := range repos {
		repo, _, release, err := j.open(ctx, r, jobs.Shared, false)
		if err != nil {
			return fmt.Errorf("repository %s: %w", r.Name, err)
		}
		defer release()
		svc.Repos = append(svc.Repos, tombstones.Repo{Name: r.Name, Store: repo})
	}
	_, _, _, err = svc.Sync(ctx)
	return err
}
