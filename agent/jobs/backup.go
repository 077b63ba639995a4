package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/erasure/subjects"
	"lethe/agent/repository"
)

// BackupRepo is what a backup needs of a repository;
// *repository.Repository is one. Its index must be loaded, so that blobs
// already stored are not stored again.
type BackupRepo interface {
	archiver.Repo
	SnapshotFinder
}

// BackupOptions describe one backup.
type BackupOptions struct {
	// Targets are the files and directories to back up (see
	// BackupTargets).
	Targets []string
	// Host goes into the snapshot; empty: this machine's host name.
	Host string
	Tags []string
	// Excludes are patterns of paths to leave out.
	Excludes []string
	// Time is the snapshot's time; zero: now.
	Time time.Time
	// Parent names the parent snapshot (see FindParent); empty: the
	// latest one of the same host and paths.
	Parent string
	// NoParent reads every file instead of trusting a parent snapshot
	// (restic's --force).
	NoParent bool
	// ProgramVersion goes into the snapshot.
	ProgramVersion string
	// Archiver tunes the archiver and carries the progress and error
	// callbacks.
	Archiver archiver.Options
	// Subjects, when set, indexes the content of the files the backup
	// reads (the subject index); its last entries are saved once the
	// snapshot is.
	Subjects *subjects.Recorder
}

// BackupResult is what a backup did.
type BackupResult struct {
	// Snapshot is the new snapshot.
	Snapshot *repository.Snapshot
	// Parent is the snapshot unchanged files were taken from; nil for
	// none.
	Parent *repository.Snapshot
	// ParentErr is why the chosen parent was not used: its trees are
	// damaged. Every file was read instead.
	ParentErr error
	// Stats counts what was backed up. When Stats.Incomplete(), items
	// could not be read and the snapshot lacks them.
	Stats archiver.Stats
	// IndexErr is why entries of the subject index could not be saved;
	// the snapshot is complete, but restores scan the files they miss.
	IndexErr error
}

// BackupTargets makes targets absolute and checks that each exists, so a
// caller can refuse a mistyped path before it opens the repository.
func BackupTargets(targets []string) ([]string, error) {
	out := make([]string, 0, len(targets))
	for _, t := range targets {
		abs, err := pathSet([]string{t})
		if err != nil {
			return nil, fmt.Errorf("backup target %s: %w", t, err)
		}
		if _, err := os.Lstat(abs[0]); err != nil {
			return nil, fmt.Errorf("backup target: %w", err)
		}
		out = append(out, abs[0])
	}
	return out, nil
}

// Backup backs up the targets into a new snapshot. ctx must be the
// context of the repository's (shared) lock. Items that cannot be read go
// to opts.Archiver.Error and are left out; any other failure saves no
// snapshot.
func Backup(ctx context.Context, repo BackupRepo, opts BackupOptions) (BackupResult, error) {
	var res BackupResult
	targets, err := BackupTargets(opts.Targets)
	if err != nil {
		return res, err
	}
	if len(targets) == 0 {
		return res, fmt.Errorf("no backup targets given")
	}
	ts := opts.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	host := opts.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	if !opts.NoParent {
		if res.Parent, err = FindParent(ctx, repo, opts.Parent, host, targets, ts); err != nil {
			return res, err
		}
	}
	aopts := opts.Archiver
	if opts.Subjects != nil {
		aopts.Index = streamingRecorder{opts.Subjects}
	}
	arch := archiver.New(repo, aopts)
	snapshot := func(parent *repository.Snapshot) (*repository.Snapshot, archiver.Stats, error) {
		return arch.Snapshot(ctx, targets, archiver.SnapshotOptions{
			Time:           ts,
			Hostname:       host,
			Tags:           opts.Tags,
			Parent:         parent,
			Excludes:       opts.Excludes,
			ProgramVersion: opts.ProgramVersion,
		})
	}
	res.Snapshot, res.Stats, err = snapshot(res.Parent)
	if err != nil && res.Parent != nil && errors.Is(err, repository.ErrDamaged) {
		// A tree of the parent is damaged. Reading every file instead
		// stores that tree again (the repository now knows its stored
		// copy is damaged), so the new snapshot does not build on it.
		res.ParentErr = err
		res.Parent = nil
		res.Snapshot, res.Stats, err = snapshot(nil)
	}
	if err != nil {
		return res, fmt.Errorf("backup failed, no snapshot was saved: %w", err)
	}
	if opts.Subjects != nil {
		res.IndexErr = opts.Subjects.Close(ctx)
	}
	return res, nil
}

// streamingRecorder is the subject index's recorder as the archiver's
// StreamIndexer: a large file is indexed as it is read.
type streamingRecorder struct{ *subjects.Recorder }

func (r streamingRecorder) Stream(name string) archiver.IndexStream { return r.Recorder.Stream(name) }
