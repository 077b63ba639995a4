package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"lethe/backends"
)

// DefaultMaxUnused is restic's default --max-unused: partly used packs are
// repacked until at most 5% of the remaining pack data is unused.
const DefaultMaxUnused = 0.05

// PruneOptions tune Prune.
type PruneOptions struct {
	// MaxUnused is the tolerated share of unused data in kept packs
	// (0: DefaultMaxUnused; negative: none, repack every partly used pack).
	MaxUnused float64
	// RepackAllUnused rewrites every pack that holds an unreferenced blob,
	// whatever MaxUnused says: after it no pack holds unreferenced data.
	RepackAllUnused bool
	// RepackPacks are rewritten (their used blobs copied) in any case.
	RepackPacks IDSet
	// RepackBlobs: every pack holding one of these blobs is rewritten.
	RepackBlobs BlobSet
	// DryRun computes the plan and stats without changing anything.
	DryRun bool
	// Progress, if set, is called after each repacked pack.
	Progress func(done, total int)
	// Used, if set, is what UsedBlobs found for the snapshots whose IDs
	// are UsedFor, sorted: Prune takes it instead of walking their trees
	// again when those are the repository's snapshots.
	Used    BlobSet
	UsedFor IDs
}

// PruneStats describes what Prune did (or would do).
type PruneStats struct {
	UsedBlobs, UnusedBlobs, RepackedBlobs   int
	UsedBytes, UnusedBytes, RemovedBytes    int64
	PacksKept, PacksRepacked, PacksRemoved  int
	PacksUnindexed, NewPacks, NewIndexFiles int
	RemovedIndexFiles                       int
	// UnindexedBytes is the size of the packs no index lists (left by
	// an interrupted backup); they are deleted and RemovedBytes counts
	// them too.
	UnindexedBytes int64
	// RemovedPacks lists every pack file deleted (repacked, unused and
	// unindexed ones), e.g. for purging caches.
	RemovedPacks IDs
}

// SortedIDs returns the IDs of snaps in byte order.
func SortedIDs(snaps []*Snapshot) IDs {
	ids := make(IDs, len(snaps))
	for i, sn := range snaps {
		ids[i] = sn.ID
	}
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// UsedBlobs walks the trees of snaps and returns every tree and data blob
// they reference. A tree that cannot be loaded is an error.
func (r *Repository) UsedBlobs(ctx context.Context, snaps []*Snapshot) (BlobSet, error) {
	return usedBlobs(ctx, r, snaps)
}

// UsedBlobs is Repository.UsedBlobs through the cache.
func (c *TreeCache) UsedBlobs(ctx context.Context, snaps []*Snapshot) (BlobSet, error) {
	return usedBlobs(ctx, c, snaps)
}

func usedBlobs(ctx context.Context, r BlobLoader, snaps []*Snapshot) (BlobSet, error) {
	used := BlobSet{}
	visit := func(_ ID, _ string, n *Node, err error) error {
		if err != nil {
			return err
		}
		for _, c := range n.Content {
			used.Insert(BlobHandle{ID: c, Type: DataBlob})
		}
		if n.Type == NodeDir && n.Subtree != nil {
			h := BlobHandle{ID: *n.Subtree, Type: TreeBlob}
			if used.Has(h) {
				return ErrSkipDir
			}
			used.Insert(h)
		}
		return nil
	}
	for _, sn := range snaps {
		if sn.Tree == nil {
			return nil, fmt.Errorf("snapshot %s has no tree", sn.ID.Str())
		}
		h := BlobHandle{ID: *sn.Tree, Type: TreeBlob}
		if used.Has(h) {
			continue
		}
		used.Insert(h)
		if err := Walk(ctx, r, *sn.Tree, visit); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", sn.ID.Str(), err)
		}
	}
	return used, nil
}

type prunePack struct {
	id                     ID
	blobs                  []PackedBlob
	used                   []bool
	usedBytes, unusedBytes int64
	nUsed                  int
}

// Prune removes data no snapshot references: unused packs are deleted,
// partly used packs are repacked according to opts, and a new index
// replaces all index files. The order is restic's, so a crash at any
// point loses nothing: new packs, then the new index, then deleting old
// index files, then deleting packs. It takes an exclusive lock unless the
// handle already holds one, and stops if it loses that lock.
func (r *Repository) Prune(ctx context.Context, opts PruneOptions) (st PruneStats, err error) {
	ctx, unlock, err := r.lockExclusive(ctx)
	if err != nil {
		return st, err
	}
	defer func() { err = unlock(err) }()
	if err := r.Flush(ctx); err != nil {
		return st, err
	}
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	// A pack listed only in a damaged index file and whose header is
	// damaged too would look unreferenced and be deleted.
	if bad := r.DamagedIndexFiles(); len(bad) > 0 {
		return st, fmt.Errorf("refusing to prune: %d index files cannot be loaded (%v); repair the index first", len(bad), bad)
	}
	// A snapshot that cannot be loaded stops prune, as in restic: its
	// data would otherwise be deleted while it might still be repaired.
	snaps, damaged, err := r.LoadAllSnapshots(ctx)
	if err != nil {
		return st, err
	}
	if len(damaged) > 0 {
		errs := make([]error, len(damaged))
		for i, e := range damaged {
			errs[i] = e
		}
		return st, fmt.Errorf("refusing to prune: %w", errors.Join(errs...))
	}
	used := opts.Used
	if used == nil || !slices.Equal(SortedIDs(snaps), opts.UsedFor) {
		if used, err = r.UsedBlobs(ctx, snaps); err != nil {
			return st, fmt.Errorf("finding used blobs: %w", err)
		}
	}
	existing := map[ID]int64{}
	if err := r.List(ctx, backends.PackFile, func(id ID, size int64) error {
		existing[id] = size
		return nil
	}); err != nil {
		return st, fmt.Errorf("listing packs: %w", err)
	}

	// Claim one existing copy of every used blob; other copies count as
	// unused.
	contents := r.idx.packContents()
	ids := make(IDs, 0, len(contents))
	for id := range contents {
		if _, ok := existing[id]; ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	claimed := BlobSet{}
	packs := make([]*prunePack, 0, len(ids))
	for _, id := range ids {
		p := &prunePack{id: id, blobs: contents[id], used: make([]bool, len(contents[id]))}
		for i, b := range p.blobs {
			if used.Has(b.BlobHandle) && !claimed.Has(b.BlobHandle) {
				claimed.Insert(b.BlobHandle)
				p.used[i] = true
				p.nUsed++
				p.usedBytes += int64(b.Length)
				st.UsedBlobs++
			} else {
				p.unusedBytes += int64(b.Length)
				st.UnusedBlobs++
			}
		}
		packs = append(packs, p)
	}
	var missing []string
	for h := range used {
		if !claimed.Has(h) {
			missing = append(missing, h.String())
			if len(missing) == 10 {
				break
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return st, fmt.Errorf("used blobs missing from the repository (e.g. %v); refusing to prune, run check", missing)
	}

	var keep, repack, remove []*prunePack
	var partial []*prunePack
	for _, p := range packs {
		st.UsedBytes += p.usedBytes
		st.UnusedBytes += p.unusedBytes
		forced := opts.RepackPacks.Has(p.id)
		for _, b := range p.blobs {
			if opts.RepackBlobs.Has(b.BlobHandle) {
				forced = true
			}
		}
		switch {
		case p.nUsed == 0:
			remove = append(remove, p)
		case forced || (opts.RepackAllUnused && p.nUsed < len(p.blobs)):
			repack = append(repack, p)
		case p.nUsed == len(p.blobs):
			keep = append(keep, p)
		default:
			partial = append(partial, p)
		}
	}
	maxUnused := opts.MaxUnused
	if maxUnused == 0 {
		maxUnused = DefaultMaxUnused
	}
	var unusedLeft, limit int64
	for _, p := range partial {
		unusedLeft += p.unusedBytes
	}
	if maxUnused > 0 && maxUnused < 1 {
		limit = int64(maxUnused / (1 - maxUnused) * float64(st.UsedBytes))
	} else if maxUnused >= 1 {
		limit = unusedLeft
	}
	// Repack the most wasteful packs first until the rest is tolerable.
	sort.SliceStable(partial, func(i, j int) bool {
		return float64(partial[i].unusedBytes)/float64(partial[i].unusedBytes+partial[i].usedBytes) >
			float64(partial[j].unusedBytes)/float64(partial[j].unusedBytes+partial[j].usedBytes)
	})
	for _, p := range partial {
		if unusedLeft > limit {
			repack = append(repack, p)
			unusedLeft -= p.unusedBytes
		} else {
			keep = append(keep, p)
		}
	}
	var unindexed IDs
	for id, size := range existing {
		if _, ok := contents[id]; !ok {
			unindexed = append(unindexed, id)
			st.UnindexedBytes += size
		}
	}
	sort.Slice(unindexed, func(i, j int) bool { return string(unindexed[i][:]) < string(unindexed[j][:]) })
	st.RemovedBytes += st.UnindexedBytes
	st.PacksKept, st.PacksRepacked, st.PacksRemoved, st.PacksUnindexed = len(keep), len(repack), len(remove), len(unindexed)
	for _, p := range repack {
		st.RepackedBlobs += p.nUsed
		st.RemovedBytes += p.unusedBytes
	}
	for _, p := range remove {
		st.RemovedBytes += p.unusedBytes
	}
	if opts.DryRun {
		return st, nil
	}

	// 1. Copy the used blobs of repacked packs into new packs.
	for i, p := range repack {
		if err := r.repack(ctx, p, existing[p.id]); err != nil {
			return st, err
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(repack))
		}
	}
	if err := r.flushPacks(ctx); err != nil {
		return st, err
	}
	// 2. Write the full new index, superseding every old index file.
	r.idx.mu.Lock()
	newPacks := r.idx.unsaved
	oldIndex := r.idx.files.Sorted()
	r.idx.mu.Unlock()
	st.NewPacks = len(newPacks)
	full := make([]indexPack, 0, len(keep)+len(newPacks))
	for _, p := range keep {
		full = append(full, toIndexPack(p.id, p.blobs))
	}
	full = append(full, newPacks...)
	newIndex, err := r.saveIndex(ctx, full, oldIndex)
	if err != nil {
		return st, err
	}
	st.NewIndexFiles = len(newIndex)
	r.idx.mu.Lock()
	r.idx.unsaved = r.idx.unsaved[len(newPacks):]
	r.idx.mu.Unlock()
	// 3. Delete the old index files, then the packs nothing refers to.
	var errs []error
	for _, id := range oldIndex {
		if err := r.RemoveUnpacked(ctx, backends.IndexFile, id); err != nil && !backends.IsNotExist(err) {
			errs = append(errs, err)
			continue
		}
		st.RemovedIndexFiles++
	}
	if len(errs) > 0 {
		// Packs stay until the old index files are gone.
		return st, errors.Join(errs...)
	}
	var obsolete IDs
	for _, p := range repack {
		obsolete = append(obsolete, p.id)
	}
	for _, p := range remove {
		obsolete = append(obsolete, p.id)
	}
	obsolete = append(obsolete, unindexed...)
	for _, id := range obsolete {
		if err := r.RemoveUnpacked(ctx, backends.PackFile, id); err != nil && !backends.IsNotExist(err) {
			errs = append(errs, err)
			continue
		}
		st.RemovedPacks = append(st.RemovedPacks, id)
	}
	if err := r.LoadIndex(ctx); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// repack copies the used blobs of a pack into new packs, verifying each.
func (r *Repository) repack(ctx context.Context, p *prunePack, size int64) error {
	h := backends.Handle{Type: backends.PackFile, Name: p.id.String()}
	buf, err := loadRange(ctx, r.be, h, size, 0)
	if err != nil {
		return fmt.Errorf("repacking pack %s: %w", p.id, err)
	}
	for i, b := range p.blobs {
		if !p.used[i] {
			continue
		}
		if uint64(b.Offset)+uint64(b.Length) > uint64(len(buf)) {
			return fmt.Errorf("repacking pack %s: blob %s lies beyond the pack's end", p.id, b.ID)
		}
		ct := buf[b.Offset : b.Offset+b.Length]
		// Decode a copy: decryption works in place and the raw bytes
		// are what gets copied.
		if _, err := r.decodeBlob(b, append([]byte(nil), ct...), nil); err != nil {
			return fmt.Errorf("repacking pack %s: %s blob %s: %w", p.id, b.Type, b.ID, err)
		}
		if err := r.saveRaw(ctx, b.BlobHandle, append([]byte(nil), ct...), b.UncompressedLength); err != nil {
			return fmt.Errorf("repacking pack %s: %w", p.id, err)
		}
	}
	return nil
}
