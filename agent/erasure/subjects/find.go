package subjects

import (
	"context"
	"fmt"

	"lethe/agent/repository"
	"lethe/tombstones"
)

// Occurrence is a file of a snapshot whose entry may hold a subject.
type Occurrence struct {
	Snapshot *repository.Snapshot
	Path     string // in the snapshot, not masked
	Node     *repository.Node
	Entry    *Entry
	// Records is the most records one of the subject's identifiers
	// occurs in: a lower bound of the subject's records in the file (0
	// when only the plain-phones mark says it may hold the subject).
	Records uint32
}

// FindStats count what a Find walked.
type FindStats struct {
	Snapshots, Files int
	// NotIndexed counts the files (each content once) without a trusted
	// entry: they may hold the subject, and only a scan can tell.
	NotIndexed int
}

// Find walks the snapshots and calls fn for every file whose entry may
// hold the subject of p. visit, when set, is called for every node first
// with its path; returning true skips the node (and a directory's
// subtree): the caller's name and path-rule hits.
func Find(ctx context.Context, bl repository.BlobLoader, snaps []*repository.Snapshot, idx *Index, p tombstones.Probe,
	visit func(sn *repository.Snapshot, path string, n *repository.Node) bool, fn func(Occurrence) error) (FindStats, error) {
	var st FindStats
	unindexed := make(map[ContentKey]bool)
	for _, sn := range snaps {
		if sn.Tree == nil {
			continue
		}
		st.Snapshots++
		err := repository.Walk(ctx, bl, *sn.Tree, func(_ repository.ID, path string, n *repository.Node, err error) error {
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
			}
			if visit != nil && visit(sn, path, n) {
				return repository.ErrSkipDir
			}
			if n.Type != repository.NodeFile || len(n.Content) == 0 {
				return nil
			}
			st.Files++
			k := idx.Key(n)
			e, ok := idx.lookup(k)
			if !ok {
				unindexed[k] = true
				return nil
			}
			recs, may := e.Match(p)
			if !may {
				return nil
			}
			return fn(Occurrence{Snapshot: sn, Path: path, Node: n, Entry: e, Records: recs})
		})
		if err != nil {
			return st, fmt.Errorf("walking the snapshots: %w", err)
		}
	}
	st.NotIndexed = len(unindexed)
	return st, nil
}
