package repository

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"lethe/backends"

	"golang.org/x/sync/errgroup"
)

// CheckOptions tune Check.
type CheckOptions struct {
	// ReadData reads every pack and verifies its hash, header and blobs.
	ReadData bool
	// Progress, if set, is called after each pack read with ReadData
	// (from one goroutine at a time).
	Progress func(done, total int)
	// MaskName, if set, gives the form of a file or directory name that
	// problems quote (a name can name an erased subject).
	MaskName func(string) string
}

// CheckError is one problem Check found, naming the object.
type CheckError struct {
	// Object is e.g. "pack 1a2b…", "index …", "snapshot …", "tree …".
	Object string
	Err    error
}

func (e *CheckError) Error() string { return e.Object + ": " + e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// CheckResult lists what Check found.
type CheckResult struct {
	// Errors are damage: data that is missing, corrupt or inconsistent.
	Errors []error
	// Warnings are harmless leftovers, such as packs no index refers to
	// (an interrupted backup); prune removes them.
	Warnings []error

	// What repairs the damage, as restic's check suggests it:
	// BrokenPacks are damaged packs (RepairPacks, then RepairSnapshots);
	// SuggestRepairIndex is set for index files that cannot be loaded,
	// packs they list that are missing and packs only found by their
	// headers; SuggestRepairSnapshots for trees that reference missing
	// data; UnloadableSnapshots cannot be repaired, only forgotten;
	// SuggestPrune for packs no index lists.
	BrokenPacks            IDs
	SuggestRepairIndex     bool
	SuggestRepairSnapshots bool
	UnloadableSnapshots    IDs
	SuggestPrune           bool
	// SuggestUnlock is set for damaged lock files (RemoveStaleLocks).
	SuggestUnlock bool
}

// OK reports whether no errors were found.
func (c *CheckResult) OK() bool { return len(c.Errors) == 0 }

// Check verifies the repository's structure: every index file decodes,
// every indexed pack exists with the size its index entries imply, every
// snapshot loads, every tree it references loads and every data blob of
// its files is indexed. With ReadData it also reads every pack. The
// error return is for failures that stop the check itself.
func (r *Repository) Check(ctx context.Context, opts CheckOptions) (*CheckResult, error) {
	res := &CheckResult{}
	fail := func(obj string, err error) { res.Errors = append(res.Errors, &CheckError{Object: obj, Err: err}) }

	// Index files, one by one so a bad one is named.
	var indexIDs IDs
	if err := r.List(ctx, backends.IndexFile, func(id ID, _ int64) error {
		indexIDs = append(indexIDs, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing index files: %w", err)
	}
	idx := newIndex()
	loaded := map[ID]*indexJSON{}
	superseded := IDSet{}
	for _, id := range indexIDs {
		x, err := r.loadIndexFile(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fail("index "+id.String(), err)
			idx.damaged.Insert(id)
			res.SuggestRepairIndex = true
			continue
		}
		idx.files.Insert(id)
		loaded[id] = x
		for _, s := range x.Supersedes {
			superseded.Insert(s)
		}
	}
	for id, x := range loaded {
		if superseded.Has(id) {
			res.Warnings = append(res.Warnings, &CheckError{Object: "index " + id.String(), Err: fmt.Errorf("superseded by a newer index file")})
			continue
		}
		for _, p := range x.Packs {
			idx.addLocked(p)
		}
	}
	// With an index file lost, the packs it listed are found from their
	// headers, so the snapshots' data is checked and not all reported
	// missing; those packs stay warnings until the index is repaired.
	recovered := IDSet{}
	if len(idx.damaged) > 0 {
		added, bad, err := r.indexUnlistedPacks(ctx, idx)
		if err != nil {
			return nil, err
		}
		for _, id := range added {
			recovered.Insert(id)
		}
		res.Errors = append(res.Errors, bad...)
	}
	r.idx.mu.Lock()
	r.idx.packs, r.idx.packIdx, r.idx.blobs, r.idx.dups, r.idx.files = idx.packs, idx.packIdx, idx.blobs, idx.dups, idx.files
	r.idx.damaged, r.idx.recovered = idx.damaged, recovered
	for _, p := range r.idx.unsaved {
		r.idx.addLocked(p)
	}
	r.idx.mu.Unlock()

	// Packs: indexed ones must exist with the right size.
	broken := IDSet{}
	existing := map[ID]int64{}
	if err := r.List(ctx, backends.PackFile, func(id ID, size int64) error {
		existing[id] = size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing packs: %w", err)
	}
	contents := r.idx.packContents()
	for _, id := range sortedKeys(contents) {
		size, ok := existing[id]
		if !ok {
			fail("pack "+id.String(), fmt.Errorf("referenced in index but missing"))
			res.SuggestRepairIndex = true
			continue
		}
		if want := PackSize(contents[id]); want != size {
			fail("pack "+id.String(), fmt.Errorf("size %d, index implies %d", size, want))
			broken.Insert(id)
		}
	}
	for _, id := range sortedKeys(existing) {
		if _, ok := contents[id]; !ok || recovered.Has(id) {
			res.Warnings = append(res.Warnings, &CheckError{Object: "pack " + id.String(), Err: fmt.Errorf("not referenced in any index")})
			if recovered.Has(id) || len(idx.damaged) > 0 {
				res.SuggestRepairIndex = true
			} else {
				res.SuggestPrune = true
			}
		}
	}

	// Lock files that are damaged are ignored by locking; name them.
	if err := r.List(ctx, backends.LockFile, func(id ID, _ int64) error {
		if _, err := r.loadLock(ctx, id); errors.Is(err, ErrDamaged) {
			res.Warnings = append(res.Warnings, &CheckError{Object: "lock " + id.String(), Err: fmt.Errorf("damaged, ignored by locking (unlock removes it): %w", err)})
			res.SuggestUnlock = true
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing locks: %w", err)
	}

	// Snapshots and the trees they reference.
	var snapIDs IDs
	if err := r.List(ctx, backends.SnapshotFile, func(id ID, _ int64) error {
		snapIDs = append(snapIDs, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing snapshots: %w", err)
	}
	seen := IDSet{}
	name := func(n *Node) string {
		if opts.MaskName != nil {
			return opts.MaskName(n.Name)
		}
		return n.Name
	}
	checkNode := func(parent ID, _ string, n *Node, err error) error {
		if err != nil {
			id := parent // the root
			if n != nil {
				id = *n.Subtree
			}
			fail("tree "+id.String(), err)
			return nil
		}
		switch n.Type {
		case NodeFile:
			if n.Content == nil {
				fail("tree "+parent.String(), fmt.Errorf("file %q has no content list", name(n)))
			}
			for i, c := range n.Content {
				if _, ok := r.idx.lookup(BlobHandle{ID: c, Type: DataBlob}); !ok {
					fail("tree "+parent.String(), fmt.Errorf("file %q: data blob %d (%s) not in index", name(n), i, c))
				}
			}
		case NodeDir:
			if n.Subtree == nil {
				fail("tree "+parent.String(), fmt.Errorf("directory %q has no subtree", name(n)))
				return nil
			}
			if seen.Has(*n.Subtree) {
				return ErrSkipDir
			}
			seen.Insert(*n.Subtree)
		}
		return nil
	}
	for _, sid := range snapIDs {
		sn, err := r.LoadSnapshot(ctx, sid)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fail("snapshot "+sid.String(), err)
			res.UnloadableSnapshots = append(res.UnloadableSnapshots, sid)
			continue
		}
		if sn.Tree == nil {
			fail("snapshot "+sid.String(), fmt.Errorf("has no tree"))
			continue
		}
		if seen.Has(*sn.Tree) {
			continue
		}
		seen.Insert(*sn.Tree)
		before := len(res.Errors)
		if err := Walk(ctx, r, *sn.Tree, checkNode); err != nil {
			return nil, err
		}
		if len(res.Errors) > before {
			res.SuggestRepairSnapshots = true
		}
	}

	if opts.ReadData {
		ids := sortedKeys(existing)
		var mu sync.Mutex
		done := 0
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(max(2, r.be.Connections()))
		for _, id := range ids {
			g.Go(func() error {
				errs := r.checkPack(gctx, id, existing[id], contents[id])
				if err := gctx.Err(); err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for _, err := range errs {
					fail("pack "+id.String(), err)
				}
				if len(errs) > 0 {
					broken.Insert(id)
				}
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(ids))
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		// Workers finish in any order; report problems in pack order.
		sort.SliceStable(res.Errors, func(i, j int) bool { return res.Errors[i].Error() < res.Errors[j].Error() })
	}
	res.BrokenPacks = broken.Sorted()
	if len(res.BrokenPacks) > 0 {
		res.SuggestRepairSnapshots = true
	}
	return res, nil
}

// checkPack reads a whole pack and verifies its hash, its header against
// the index and every blob.
func (r *Repository) checkPack(ctx context.Context, id ID, size int64, indexed []PackedBlob) []error {
	h := backends.Handle{Type: backends.PackFile, Name: id.String()}
	buf, err := loadRange(ctx, r.be, h, size, 0)
	if err != nil {
		return []error{err}
	}
	if Hash(buf) != id {
		return []error{fmt.Errorf("content does not match its ID (corrupt pack)")}
	}
	if len(buf) < overhead+4 {
		return []error{fmt.Errorf("too small (%d bytes)", len(buf))}
	}
	blobs, err := r.parsePackTail(id, buf, size)
	if err != nil {
		return []error{err}
	}
	var errs []error
	inHeader := map[PackedBlob]bool{}
	for _, b := range blobs {
		inHeader[b] = true
		// Decoding in place is fine: the pack's hash is checked already.
		if _, err := r.decodeBlobInPlace(b, buf[b.Offset:b.Offset+b.Length], nil); err != nil {
			errs = append(errs, fmt.Errorf("%s blob %s: %w", b.Type, b.ID, err))
		}
	}
	for _, b := range indexed {
		if !inHeader[b] {
			errs = append(errs, fmt.Errorf("index entry for %s blob %s at offset %d does not match the pack header", b.Type, b.ID, b.Offset))
		}
	}
	return errs
}

func sortedKeys[V any](m map[ID]V) IDs {
	l := make(IDs, 0, len(m))
	for id := range m {
		l = append(l, id)
	}
	sort.Slice(l, func(i, j int) bool { return string(l[i][:]) < string(l[j][:]) })
	return l
}
