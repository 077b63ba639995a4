package repository

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"lethe/backends"
)

// RepairIndexOptions tune RepairIndex.
type RepairIndexOptions struct {
	// ReadAllPacks reads the header of every pack instead of trusting
	// the index files that load (restic's --read-all-packs).
	ReadAllPacks bool
}

// RepairIndexStats say what RepairIndex did.
type RepairIndexStats struct {
	// PacksRead is the number of pack headers read; PacksIndexed the
	// number of packs in the new index.
	PacksRead, PacksIndexed int
	// MissingPacks were listed in an index file but do not exist; their
	// entries are dropped.
	MissingPacks IDs
	// UnreadablePacks have a header that cannot be read; they are left
	// in place, out of the index, and their errors are in PackErrors.
	UnreadablePacks IDs
	PackErrors      []error
	// IndexFilesRemoved counts the old index files replaced, damaged
	// ones included.
	IndexFilesRemoved int
}

// RepairIndex writes a new index of every pack, as restic's repair index
// does: the entries of the index files that load are kept for packs that
// exist with the size those entries imply, and every other pack's blobs
// are read from its header. The new index supersedes all old index
// files, which are then removed. It takes an exclusive lock unless the
// handle already holds one.
func (r *Repository) RepairIndex(ctx context.Context, opts RepairIndexOptions) (st RepairIndexStats, err error) {
	ctx, unlock, err := r.lockExclusive(ctx)
	if err != nil {
		return st, err
	}
	defer func() { err = unlock(err) }()
	if err := r.Flush(ctx); err != nil {
		return st, err
	}
	// Warnings about damaged index files come from LoadIndex; the
	// header reading it does for them is repeated below, into the new
	// index.
	if err := r.LoadIndex(ctx); err != nil {
		return st, err
	}
	r.idx.mu.RLock()
	old := append(r.idx.files.Sorted(), r.idx.damaged.Sorted()...)
	recovered := r.idx.recovered
	r.idx.mu.RUnlock()
	existing := map[ID]int64{}
	if err := r.List(ctx, backends.PackFile, func(id ID, size int64) error {
		existing[id] = size
		return nil
	}); err != nil {
		return st, fmt.Errorf("listing packs: %w", err)
	}
	fresh := newIndex()
	if !opts.ReadAllPacks {
		contents := r.idx.packContents()
		for _, id := range sortedKeys(contents) {
			size, ok := existing[id]
			switch {
			case recovered.Has(id):
				// Read from its header by LoadIndex; read again below.
			case !ok:
				st.MissingPacks = append(st.MissingPacks, id)
			case PackSize(contents[id]) == size:
				fresh.addLocked(toIndexPack(id, contents[id]))
			}
			// A pack of another size is read below.
		}
	}
	added, bad, err := r.indexUnlistedPacks(ctx, fresh)
	if err != nil {
		return st, err
	}
	st.PacksRead = len(added) + len(bad)
	st.PackErrors = bad
	indexed := IDSet{}
	for id := range fresh.packIdx {
		indexed.Insert(id)
	}
	for _, id := range added {
		indexed.Insert(id)
	}
	for id := range existing {
		if !indexed.Has(id) {
			st.UnreadablePacks = append(st.UnreadablePacks, id)
		}
	}
	sort.Slice(st.UnreadablePacks, func(i, j int) bool { return st.UnreadablePacks[i].String() < st.UnreadablePacks[j].String() })

	contents := fresh.packContents()
	full := make([]indexPack, 0, len(contents))
	for _, id := range sortedKeys(contents) {
		full = append(full, toIndexPack(id, contents[id]))
	}
	st.PacksIndexed = len(full)
	if _, err := r.saveIndex(ctx, full, old); err != nil {
		return st, err
	}
	var errs []error
	for _, id := range old {
		if err := r.RemoveUnpacked(ctx, backends.IndexFile, id); err != nil && !backends.IsNotExist(err) {
			errs = append(errs, err)
			continue
		}
		st.IndexFilesRemoved++
	}
	if err := r.LoadIndex(ctx); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// RepairSnapshotsOptions tune RepairSnapshots.
type RepairSnapshotsOptions struct {
	// Forget removes each repaired snapshot's damaged original (restic's
	// --forget); otherwise it stays beside its repaired version.
	Forget bool
	// Report, if set, is told of each change, by snapshot.
	Report func(sn *Snapshot, change string)
}

// RepairSnapshotsResult says what RepairSnapshots did.
type RepairSnapshotsResult struct {
	// Repaired maps each changed snapshot's ID to its repaired version;
	// a snapshot with nothing left maps to nil and is removed.
	Repaired map[ID]*Snapshot
	// Unloadable lists snapshot files that cannot be loaded; they are
	// left alone (forget them by ID to remove them).
	Unloadable []*SnapshotLoadError
}

// RepairedTag is the tag restic adds to a repaired snapshot.
const RepairedTag = "repaired"

// RepairSnapshots rewrites every snapshot whose trees reference missing
// data, as restic's repair snapshots does: a file loses the data blobs
// that are not in the index (and its size is corrected), a directory
// whose tree cannot be loaded becomes empty, and a snapshot whose root
// cannot be loaded is removed. A repaired snapshot keeps the original's
// time, host, paths and tags, gets the tag "repaired" and points to the
// original in Original. The index must be loaded. It takes an exclusive
// lock unless the handle already holds one.
func (r *Repository) RepairSnapshots(ctx context.Context, opts RepairSnapshotsOptions) (res RepairSnapshotsResult, err error) {
	res.Repaired = map[ID]*Snapshot{}
	ctx, unlock, err := r.lockExclusive(ctx)
	if err != nil {
		return res, err
	}
	defer func() { err = unlock(err) }()
	snaps, damaged, err := r.LoadAllSnapshots(ctx)
	if err != nil {
		return res, err
	}
	res.Unloadable = damaged
	var cur *Snapshot
	report := func(format string, args ...any) {
		if opts.Report != nil {
			opts.Report(cur, fmt.Sprintf(format, args...))
		}
	}
	var emptyTree *ID
	rw := NewTreeRewriter(r, func(path string, n *Node) (*Node, error) {
		if n.Type != NodeFile {
			return n, nil
		}
		content := IDs{} // an empty list, not none: the node is a file
		var size uint64
		missing := false
		for _, c := range n.Content {
			pb, ok := r.LookupBlob(BlobHandle{ID: c, Type: DataBlob})
			if !ok {
				missing = true
				continue
			}
			content = append(content, c)
			size += uint64(pb.DataLength())
		}
		if missing {
			report("file %q: removed missing content", path)
		} else if size != n.Size {
			report("file %q: fixed incorrect size", path)
		}
		n.Content, n.Size = content, size
		return n, nil
	})
	rw.FailedTree = func(path string, _ ID, _ error) (ID, error) {
		if path == "/" {
			report("dir %q: not readable", path)
			return ID{}, nil
		}
		report("dir %q: replaced with empty directory", path)
		if emptyTree == nil {
			id, err := r.SaveTree(ctx, &Tree{})
			if err != nil {
				return ID{}, err
			}
			emptyTree = &id
		}
		return *emptyTree, nil
	}
	for _, sn := range snaps {
		cur = sn
		n, changed, err := rw.RewriteSnapshot(ctx, sn)
		if err != nil {
			return res, err
		}
		if !changed {
			continue
		}
		if n.Tree.IsNull() {
			res.Repaired[sn.ID] = nil
			if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
				return res, fmt.Errorf("removing empty snapshot %s: %w", sn.ID.Str(), err)
			}
			continue
		}
		if !n.HasTag(RepairedTag) {
			n.Tags = append(n.Tags, RepairedTag)
		}
		res.Repaired[sn.ID] = n
		// The new trees must be stored before a snapshot refers to them.
		if err := r.Flush(ctx); err != nil {
			return res, err
		}
		if _, err := r.SaveSnapshot(ctx, n); err != nil {
			return res, fmt.Errorf("saving the repair of snapshot %s: %w", sn.ID.Str(), err)
		}
		if opts.Forget {
			if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
				return res, fmt.Errorf("forgetting snapshot %s: %w", sn.ID.Str(), err)
			}
		}
	}
	return res, nil
}

// RepairPacksStats say what RepairPacks did.
type RepairPacksStats struct {
	// Salvaged counts the blobs copied into new packs; Lost those that
	// could not be read and have no intact copy elsewhere.
	Salvaged, Lost int
	// LostBlobs lists the lost blobs.
	LostBlobs []BlobHandle
}

// RepairPacks salvages the readable blobs of the damaged packs ids, as
// restic's repair packs does: each blob that decodes and has no copy in
// another pack is copied into a new pack, the new index (superseding all
// old index files) no longer lists the damaged packs, and they are
// removed. Snapshots that referenced a lost blob are then repaired with
// RepairSnapshots. It takes an exclusive lock unless the handle already
// holds one.
func (r *Repository) RepairPacks(ctx context.Context, ids IDs) (st RepairPacksStats, err error) {
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
	if bad := r.DamagedIndexFiles(); len(bad) > 0 {
		return st, fmt.Errorf("%d index files cannot be loaded (%v); repair the index first", len(bad), bad)
	}
	sizes := map[ID]int64{}
	if err := r.List(ctx, backends.PackFile, func(id ID, size int64) error {
		sizes[id] = size
		return nil
	}); err != nil {
		return st, fmt.Errorf("listing packs: %w", err)
	}
	drop := IDSet{}
	for _, id := range ids {
		drop.Insert(id)
	}
	contents := r.idx.packContents()
	// A blob with a copy in a pack that stays needs no salvage.
	elsewhere := BlobSet{}
	for id, blobs := range contents {
		if drop.Has(id) {
			continue
		}
		for _, b := range blobs {
			elsewhere.Insert(b.BlobHandle)
		}
	}
	for _, id := range ids {
		blobs := contents[id]
		if size, ok := sizes[id]; ok && len(blobs) == 0 {
			// Not indexed: the header is all there is to go by.
			if blobs, err = r.ListPack(ctx, id, size); err != nil {
				return st, fmt.Errorf("salvaging pack %s: it is not in the index and %w", id, err)
			}
		}
		var buf []byte
		if size, ok := sizes[id]; ok {
			h := backends.Handle{Type: backends.PackFile, Name: id.String()}
			if buf, err = loadRange(ctx, r.be, h, size, 0); err != nil {
				return st, fmt.Errorf("salvaging pack %s: %w", id, err)
			}
		}
		for _, b := range blobs {
			if elsewhere.Has(b.BlobHandle) {
				continue
			}
			var ct []byte
			if uint64(b.Offset)+uint64(b.Length) <= uint64(len(buf)) {
				ct = buf[b.Offset : b.Offset+b.Length]
			}
			// Decode a copy: decryption works in place and the raw
			// bytes are what gets copied.
			if ct == nil {
				st.Lost++
				st.LostBlobs = append(st.LostBlobs, b.BlobHandle)
				continue
			}
			if _, err := r.decodeBlob(b, append([]byte(nil), ct...), nil); err != nil {
				st.Lost++
				st.LostBlobs = append(st.LostBlobs, b.BlobHandle)
				continue
			}
			if err := r.saveRaw(ctx, b.BlobHandle, append([]byte(nil), ct...), b.UncompressedLength); err != nil {
				return st, fmt.Errorf("salvaging pack %s: %w", id, err)
			}
			elsewhere.Insert(b.BlobHandle)
			st.Salvaged++
		}
	}
	if err := r.flushPacks(ctx); err != nil {
		return st, err
	}
	// The new index: every pack but the damaged ones, and the new packs.
	r.idx.mu.Lock()
	newPacks := r.idx.unsaved
	old := r.idx.files.Sorted()
	r.idx.mu.Unlock()
	full := make([]indexPack, 0, len(contents)+len(newPacks))
	for _, id := range sortedKeys(contents) {
		if !drop.Has(id) {
			full = append(full, toIndexPack(id, contents[id]))
		}
	}
	full = append(full, newPacks...)
	if _, err := r.saveIndex(ctx, full, old); err != nil {
		return st, err
	}
	r.idx.mu.Lock()
	r.idx.unsaved = r.idx.unsaved[len(newPacks):]
	r.idx.mu.Unlock()
	var errs []error
	for _, id := range old {
		if err := r.RemoveUnpacked(ctx, backends.IndexFile, id); err != nil && !backends.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The damaged packs stay until no index file lists them.
		return st, errors.Join(errs...)
	}
	for _, id := range ids {
		if err := r.RemoveUnpacked(ctx, backends.PackFile, id); err != nil && !backends.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	if err := r.LoadIndex(ctx); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}
