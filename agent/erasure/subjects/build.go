package subjects

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"lethe/agent/repository"
)

// BuildStats say what a full scan did.
type BuildStats struct {
	// Files and Bytes are the contents without a trusted entry found in
	// the snapshots, each counted once; Indexed of them got one now.
	Files, Indexed int
	Bytes          uint64
	// TooLarge counts contents over the indexer's MaxSize, which get no
	// entry (restores and erasures always scan them).
	TooLarge int
}

// BuildProgress is told, from several goroutines, how far a full scan
// is: contents done of total, and their bytes.
type BuildProgress func(done, total int, bytes, totalBytes uint64)

// Build completes the index by a full scan: it loads and scans every file
// content of the snapshots that has no trusted entry, and saves the
// entries in batches as it goes, so that a build that is stopped resumes
// where it was (a content already indexed is not read again).
func Build(ctx context.Context, st Store, bl repository.BlobLoader, snaps []*repository.Snapshot, ix *Indexer, idx *Index, progress BuildProgress) (BuildStats, error) {
	var stats BuildStats
	todo, err := missing(ctx, bl, snaps, idx)
	if err != nil {
		return stats, err
	}
	var total uint64
	for _, n := range todo {
		total += n.Size
	}
	stats.Files, stats.Bytes = len(todo), total

	w := NewWriter(st, idx)
	var (
		mu         sync.Mutex
		done       int
		doneBytes  uint64
		indexed    int
		tooLarge   int
		work       = make(chan *repository.Node)
		g, gctx    = errgroup.WithContext(ctx)
		numWorkers = 2
	)
	g.Go(func() error {
		defer close(work)
		for _, n := range todo {
			select {
			case work <- n:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for i := 0; i < numWorkers; i++ {
		g.Go(func() error {
			var buf []byte
			for n := range work {
				e, err := entryOf(gctx, bl, ix, n, &buf)
				if err != nil {
					return err
				}
				if e != nil {
					if err := w.Add(gctx, e); err != nil {
						return err
					}
				}
				mu.Lock()
				done++
				doneBytes += n.Size
				if e != nil {
					indexed++
				} else {
					tooLarge++
				}
				d, db := done, doneBytes
				mu.Unlock()
				if progress != nil {
					progress(d, len(todo), db, total)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	// What was scanned is saved also when the build stops early.
	if ferr := w.Flush(context.WithoutCancel(ctx)); err == nil {
		err = ferr
	}
	stats.Indexed, stats.TooLarge = indexed, tooLarge
	return stats, err
}

// entryOf loads a file's content and scans it; nil when it is too large.
func entryOf(ctx context.Context, bl repository.BlobLoader, ix *Indexer, n *repository.Node, buf *[]byte) (*Entry, error) {
	if int64(n.Size) > ix.MaxSize() {
		return nil, nil
	}
	data, err := LoadContent(ctx, bl, n, (*buf)[:0], ix.MaxSize())
	if err != nil {
		return nil, err
	}
	*buf = data
	return ix.Entry(n.Name, n.Content, data), nil
}

// LoadContent appends a file node's content to buf; content over limit
// bytes is an error.
func LoadContent(ctx context.Context, bl repository.BlobLoader, n *repository.Node, buf []byte, limit int64) ([]byte, error) {
	var blob []byte
	for _, id := range n.Content {
		var err error
		blob, err = bl.LoadBlob(ctx, repository.DataBlob, id, blob)
		if err != nil {
			return nil, fmt.Errorf("loading content of a file: %w", err)
		}
		if int64(len(buf)+len(blob)) > limit {
			return nil, fmt.Errorf("loading content of a file: larger than %d bytes", limit)
		}
		buf = append(buf, blob...)
	}
	return buf, nil
}

// missing walks the snapshots and returns one node per content that has no
// trusted entry. Trees shared by snapshots are walked once.
func missing(ctx context.Context, bl repository.BlobLoader, snaps []*repository.Snapshot, idx *Index) ([]*repository.Node, error) {
	seenTree := make(map[repository.ID]bool)
	seen := make(map[ContentKey]bool)
	var out []*repository.Node
	for _, sn := range snaps {
		if sn.Tree == nil || seenTree[*sn.Tree] {
			continue
		}
		seenTree[*sn.Tree] = true
		err := repository.Walk(ctx, bl, *sn.Tree, func(_ repository.ID, _ string, n *repository.Node, err error) error {
			if err != nil {
				return fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
			}
			switch n.Type {
			case repository.NodeDir:
				if n.Subtree != nil {
					if seenTree[*n.Subtree] {
						return repository.ErrSkipDir
					}
					seenTree[*n.Subtree] = true
				}
			case repository.NodeFile:
				if len(n.Content) == 0 {
					return nil
				}
				k := idx.Key(n)
				if !seen[k] && !idx.Has(k) {
					seen[k] = true
					out = append(out, n)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking the snapshots: %w", err)
		}
	}
	return out, nil
}
