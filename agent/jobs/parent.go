package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"lethe/agent/repository"
)

// SnapshotFinder is what choosing a parent needs of a repository;
// *repository.Repository is one.
type SnapshotFinder interface {
	Snapshots(ctx context.Context) ([]*repository.Snapshot, error)
	FindSnapshot(ctx context.Context, s string) (*repository.Snapshot, error)
}

// FindParent chooses the parent snapshot of a backup of targets on host
// at time ts, by restic's rule: the latest snapshot of the same host and
// the same set of paths that is not newer than ts. It returns nil when
// there is none. named overrides the rule with a snapshot ID or unique
// prefix; "latest" is the rule itself, but finding no snapshot is then an
// error, as it is for an ID.
func FindParent(ctx context.Context, repo SnapshotFinder, named, host string, targets []string, ts time.Time) (*repository.Snapshot, error) {
	if named != "" && named != "latest" {
		return repo.FindSnapshot(ctx, named)
	}
	want, err := pathSet(targets)
	if err != nil {
		return nil, err
	}
	snaps, err := repo.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var best *repository.Snapshot
	for _, sn := range snaps {
		if sn.Hostname != host || sn.Time.After(ts) {
			continue
		}
		if have, err := pathSet(sn.Paths); err != nil || !slices.Equal(have, want) {
			continue
		}
		if best == nil || sn.Time.After(best.Time) {
			best = sn
		}
	}
	if best == nil && named == "latest" {
		return nil, fmt.Errorf("latest snapshot of host %q and paths %v: %w", host, want, repository.ErrSnapshotNotFound)
	}
	return best, nil
}

// pathSet returns paths made absolute and clean, sorted and without
// duplicates, as the archiver stores them in a snapshot.
func pathSet(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("resolving path %s: %w", p, err)
		}
		out = append(out, abs)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
