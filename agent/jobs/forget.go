package jobs

import (
	"context"
	"errors"
	"fmt"

	"lethe/agent/repository"
	"lethe/backends"
)

// Pruner is what prune needs of a repository; *repository.Repository is
// one.
type Pruner interface {
	Prune(ctx context.Context, opts repository.PruneOptions) (repository.PruneStats, error)
}

// ForgetRepo is what forget needs of a repository;
// *repository.Repository is one.
type ForgetRepo interface {
	Pruner
	FindSnapshot(ctx context.Context, s string) (*repository.Snapshot, error)
	RemoveUnpacked(ctx context.Context, t backends.FileType, id repository.ID) error
	Forget(ctx context.Context, p repository.ExpirePolicy, by repository.GroupBy, dryRun bool) ([]repository.ForgetGroup, error)
}

// ForgetOptions say which snapshots to forget and whether to prune after.
// Exactly one of IDs and Policy is set.
type ForgetOptions struct {
	// IDs name snapshots to forget: IDs, unique prefixes or "latest".
	IDs []string
	// Policy says which snapshots of each group to keep; the others are
	// forgotten.
	Policy repository.ExpirePolicy
	// GroupBy groups snapshots for Policy; the zero value makes all
	// snapshots one group, repository.DefaultGroupBy is restic's default.
	GroupBy repository.GroupBy
	// DryRun decides what to forget and changes nothing. It does not
	// prune: what prune would free depends on the snapshots that are
	// still there.
	DryRun bool
	// Prune removes the data no snapshot references any more once a
	// snapshot was forgotten.
	Prune        bool
	PruneOptions repository.PruneOptions
	// Forgotten, if set, is told what was forgotten before prune starts,
	// so a caller can report it while prune runs.
	Forgotten func(ForgetResult)
}

// ForgetResult is what forget (and prune) did.
type ForgetResult struct {
	// Removed lists the snapshots forgotten (in a dry run: that would
	// be), in the order they were removed.
	Removed []*repository.Snapshot
	// Groups is the policy's decision per group; nil when IDs were given.
	Groups []repository.ForgetGroup
	// Pruned says prune ran; Prune is what it did.
	Pruned bool
	Prune  repository.PruneStats
}

// Forget forgets snapshots by ID or by policy and, if asked, prunes. ctx
// must be the context of the repository's exclusive lock. On an error the
// result holds what was decided before it; with a policy, the snapshots of
// the group being removed when it happened are listed but may not all be
// gone.
func Forget(ctx context.Context, repo ForgetRepo, opts ForgetOptions) (ForgetResult, error) {
	var res ForgetResult
	switch {
	case len(opts.IDs) > 0 && !opts.Policy.Empty():
		return res, errors.New("give either snapshot IDs or a keep policy, not both")
	case len(opts.IDs) == 0 && opts.Policy.Empty():
		return res, errors.New("nothing to forget: give snapshot IDs or a keep policy")
	}
	if len(opts.IDs) > 0 {
		if err := forgetIDs(ctx, repo, opts.IDs, opts.DryRun, &res); err != nil {
			return res, err
		}
	} else {
		groups, err := repo.Forget(ctx, opts.Policy, opts.GroupBy, opts.DryRun)
		res.Groups = groups
		for _, g := range groups {
			res.Removed = append(res.Removed, g.Remove...)
		}
		if err != nil {
			return res, err
		}
	}
	if opts.Forgotten != nil {
		opts.Forgotten(res)
	}
	if opts.DryRun || !opts.Prune || len(res.Removed) == 0 {
		return res, nil
	}
	st, err := Prune(ctx, repo, opts.PruneOptions)
	res.Prune = st
	if err != nil {
		return res, err
	}
	res.Pruned = true
	return res, nil
}

// forgetIDs resolves every name before it removes anything, so a mistyped
// one leaves all snapshots in place. A named snapshot that cannot be
// loaded is removed too and listed with only its ID set.
func forgetIDs(ctx context.Context, repo ForgetRepo, names []string, dryRun bool, res *ForgetResult) error {
	var snaps []*repository.Snapshot
	seen := repository.IDSet{}
	for _, s := range names {
		sn, err := repo.FindSnapshot(ctx, s)
		var damaged *repository.SnapshotLoadError
		if errors.As(err, &damaged) {
			// Named explicitly, a snapshot file that cannot be loaded
			// can still be forgotten: it is the way to remove one.
			sn, err = &repository.Snapshot{ID: damaged.ID}, nil
		}
		if err != nil {
			return err
		}
		if !seen.Has(sn.ID) {
			seen.Insert(sn.ID)
			snaps = append(snaps, sn)
		}
	}
	for _, sn := range snaps {
		if !dryRun {
			if err := repo.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
				return fmt.Errorf("removing snapshot %s: %w", sn.ID.Str(), err)
			}
		}
		res.Removed = append(res.Removed, sn)
	}
	return nil
}

// Prune removes data no snapshot references. ctx must be the context of
// the repository's exclusive lock.
func Prune(ctx context.Context, repo Pruner, opts repository.PruneOptions) (repository.PruneStats, error) {
	st, err := repo.Prune(ctx, opts)
	if err != nil {
		return st, fmt.Errorf("pruning: %w", err)
	}
	return st, nil
}
