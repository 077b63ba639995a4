package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"lethe/backends"

	"golang.org/x/sync/errgroup"
)

// ErrSnapshotNotFound is wrapped by FindSnapshot's error for an unknown
// snapshot.
var ErrSnapshotNotFound = errors.New("no matching snapshot")

// LoadSnapshot loads a snapshot file and sets its ID. A file that exists
// but cannot be loaded gives a *SnapshotLoadError.
func (r *Repository) LoadSnapshot(ctx context.Context, id ID) (*Snapshot, error) {
	buf, err := r.LoadUnpacked(ctx, backends.SnapshotFile, id)
	if err != nil {
		if backends.IsNotExist(err) || ctx.Err() != nil {
			return nil, err
		}
		return nil, &SnapshotLoadError{ID: id, Err: err}
	}
	sn := &Snapshot{}
	if err := json.Unmarshal(buf, sn); err != nil {
		return nil, &SnapshotLoadError{ID: id, Err: fmt.Errorf("decoding: %w", err)}
	}
	if sn.Tree == nil {
		return nil, &SnapshotLoadError{ID: id, Err: errors.New("has no tree")}
	}
	sn.ID = id
	return sn, nil
}

// SaveSnapshot stores sn and sets sn.ID.
func (r *Repository) SaveSnapshot(ctx context.Context, sn *Snapshot) (ID, error) {
	if sn.Tree == nil {
		return ID{}, errors.New("saving snapshot: no tree")
	}
	buf, err := json.Marshal(sn)
	if err != nil {
		return ID{}, err
	}
	id, err := r.SaveUnpacked(ctx, backends.SnapshotFile, buf)
	if err != nil {
		return ID{}, err
	}
	sn.ID = id
	return id, nil
}

// SnapshotLoadError is the error of a snapshot file that exists but
// cannot be loaded (corrupt, empty, truncated or not a snapshot).
type SnapshotLoadError struct {
	ID  ID
	Err error
}

func (e *SnapshotLoadError) Error() string {
	return fmt.Sprintf("snapshot %s cannot be loaded: %v", e.ID.Str(), e.Err)
}
func (e *SnapshotLoadError) Unwrap() error { return e.Err }

// Snapshots loads every snapshot, sorted by time (oldest first). As in
// restic, a snapshot file that cannot be loaded is skipped and reported
// to Options.Warn as a *SnapshotLoadError, so one damaged file does not
// stop listing, "latest", parent selection or forget.
func (r *Repository) Snapshots(ctx context.Context) ([]*Snapshot, error) {
	snaps, damaged, err := r.LoadAllSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range damaged {
		r.warn(e)
	}
	return snaps, nil
}

// LoadAllSnapshots loads every snapshot file and returns, apart from the
// loaded ones sorted by time, the errors of those that cannot be loaded,
// for jobs that must not skip one (prune, erasure). err is for failures
// of listing or of ctx.
func (r *Repository) LoadAllSnapshots(ctx context.Context) (snaps []*Snapshot, damaged []*SnapshotLoadError, err error) {
	var ids IDs
	if err := r.List(ctx, backends.SnapshotFile, func(id ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("listing snapshots: %w", err)
	}
	all := make([]*Snapshot, len(ids))
	errs := make([]error, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.be.Connections()))
	for i, id := range ids {
		g.Go(func() error {
			all[i], errs[i] = r.LoadSnapshot(gctx, id)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for i, sn := range all {
		switch {
		case errs[i] == nil:
			snaps = append(snaps, sn)
		case backends.IsNotExist(errs[i]):
			// Removed since listing (a concurrent forget).
		default:
			var le *SnapshotLoadError
			if !errors.As(errs[i], &le) {
				le = &SnapshotLoadError{ID: ids[i], Err: errs[i]}
			}
			damaged = append(damaged, le)
		}
	}
	sortSnapshots(snaps)
	return snaps, damaged, nil
}

func sortSnapshots(snaps []*Snapshot) {
	sort.SliceStable(snaps, func(i, j int) bool {
		if !snaps[i].Time.Equal(snaps[j].Time) {
			return snaps[i].Time.Before(snaps[j].Time)
		}
		return snaps[i].ID.String() < snaps[j].ID.String()
	})
}

// FindSnapshot resolves a full ID, a unique ID prefix or "latest".
func (r *Repository) FindSnapshot(ctx context.Context, s string) (*Snapshot, error) {
	if s == "latest" {
		snaps, err := r.Snapshots(ctx)
		if err != nil {
			return nil, err
		}
		if len(snaps) == 0 {
			return nil, fmt.Errorf("finding latest snapshot: %w: the repository has no snapshots", ErrSnapshotNotFound)
		}
		return snaps[len(snaps)-1], nil
	}
	if len(s) == 2*IDSize {
		id, err := ParseID(s)
		if err != nil {
			return nil, err
		}
		sn, err := r.LoadSnapshot(ctx, id)
		if backends.IsNotExist(err) {
			return nil, fmt.Errorf("snapshot %s: %w", s, ErrSnapshotNotFound)
		}
		return sn, err
	}
	if s == "" || strings.Trim(strings.ToLower(s), "0123456789abcdef") != "" {
		return nil, fmt.Errorf("invalid snapshot ID %q: want hex digits or \"latest\"", s)
	}
	prefix := strings.ToLower(s)
	var matches IDs
	if err := r.List(ctx, backends.SnapshotFile, func(id ID, _ int64) error {
		if strings.HasPrefix(id.String(), prefix) {
			matches = append(matches, id)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("snapshot %s: %w", s, ErrSnapshotNotFound)
	case 1:
		return r.LoadSnapshot(ctx, matches[0])
	}
	return nil, fmt.Errorf("snapshot prefix %q is ambiguous: %d snapshots match", s, len(matches))
}
