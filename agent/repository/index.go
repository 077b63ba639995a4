package repository

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"lethe/backends"

	"golang.org/x/sync/errgroup"
)

// IndexMaxBlobs is the number of blobs after which a new index file is
// started, as restic does for compressed (v2) repositories.
const IndexMaxBlobs = 150000

// indexEntry is a compact blob location; the pack is an index into
// index.packs, which keeps the table small for millions of blobs.
type indexEntry struct {
	pack           uint32
	offset, length uint32
	ulength        uint32
}

// index is the in-memory index of all blobs the repository knows.
type index struct {
	mu      sync.RWMutex
	packs   []ID
	packIdx map[ID]uint32
	blobs   *blobTable
	// dups holds further copies of blobs stored in more than one pack.
	dups map[BlobHandle][]indexEntry
	// files are the index files the entries were loaded from.
	files IDSet
	// damaged are the index files that could not be loaded; recovered
	// are the packs then indexed from their headers.
	damaged, recovered IDSet
	// unsaved lists packs written but not yet in an index file.
	unsaved []indexPack
	// pending holds blobs in open or uploading packs.
	pending BlobSet
	// broken holds copies of blobs that failed to load with damage (not
	// a transient error): a blob whose every copy is broken is stored
	// again, and broken copies are tried last.
	broken map[PackedBlob]struct{}
}

func newIndex() *index { return newIndexSized(0) }

// newIndexSized preallocates for n blobs: a table grown on the way ends
// up to half larger than one sized up front, and growing copies it.
func newIndexSized(n int) *index {
	return &index{
		packIdx:   map[ID]uint32{},
		blobs:     newBlobTable(n),
		dups:      map[BlobHandle][]indexEntry{},
		files:     IDSet{},
		damaged:   IDSet{},
		recovered: IDSet{},
		pending:   BlobSet{},
		broken:    map[PackedBlob]struct{}{},
	}
}

func (x *index) packNum(id ID) uint32 {
	n, ok := x.packIdx[id]
	if !ok {
		n = uint32(len(x.packs))
		x.packs = append(x.packs, id)
		x.packIdx[id] = n
	}
	return n
}

// addLocked adds a pack's blobs; an identical entry is not added twice.
func (x *index) addLocked(p indexPack) {
	n := x.packNum(ID(p.ID))
	for _, b := range p.Blobs {
		h := BlobHandle{ID: ID(b.ID), Type: b.Type}
		e := indexEntry{pack: n, offset: uint32(b.Offset), length: uint32(b.Length), ulength: uint32(b.UncompressedLength)}
		old, ok := x.blobs.get(h)
		if !ok {
			x.blobs.put(h, e)
			continue
		}
		if old == e {
			continue
		}
		dup := false
		for _, d := range x.dups[h] {
			if d == e {
				dup = true
				break
			}
		}
		if !dup {
			x.dups[h] = append(x.dups[h], e)
		}
	}
}

func (x *index) packed(h BlobHandle, e indexEntry) PackedBlob {
	return PackedBlob{BlobHandle: h, PackID: x.packs[e.pack], Offset: uint(e.offset), Length: uint(e.length), UncompressedLength: uint(e.ulength)}
}

func (x *index) lookup(h BlobHandle) (PackedBlob, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.blobs.get(h)
	if !ok {
		return PackedBlob{}, false
	}
	return x.packed(h, e), true
}

func (x *index) lookupAll(h BlobHandle) []PackedBlob {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.blobs.get(h)
	if !ok {
		return nil
	}
	l := []PackedBlob{x.packed(h, e)}
	for _, d := range x.dups[h] {
		l = append(l, x.packed(h, d))
	}
	if len(x.broken) > 0 {
		slices.SortStableFunc(l, func(a, b PackedBlob) int {
			_, ab := x.broken[a]
			_, bb := x.broken[b]
			switch {
			case ab == bb:
				return 0
			case bb:
				return -1
			}
			return 1
		})
	}
	return l
}

// markBroken records that a copy of a blob is damaged.
func (x *index) markBroken(pb PackedBlob) {
	x.mu.Lock()
	x.broken[pb] = struct{}{}
	x.mu.Unlock()
}

// allBrokenLocked reports whether h is indexed and every copy of it is
// known damaged.
func (x *index) allBrokenLocked(h BlobHandle) bool {
	if len(x.broken) == 0 {
		return false
	}
	e, ok := x.blobs.get(h)
	if !ok {
		return false
	}
	if _, b := x.broken[x.packed(h, e)]; !b {
		return false
	}
	for _, d := range x.dups[h] {
		if _, b := x.broken[x.packed(h, d)]; !b {
			return false
		}
	}
	return true
}

// reserve marks h as being saved. It reports false when h is already
// indexed (in a copy not known damaged) or pending, so two concurrent
// saves store a blob only once.
func (x *index) reserve(h BlobHandle, force bool) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !force {
		if _, ok := x.blobs.get(h); ok && !x.allBrokenLocked(h) {
			return false
		}
		if x.pending.Has(h) {
			return false
		}
	}
	x.pending.Insert(h)
	return true
}

func (x *index) unreserve(h BlobHandle) {
	x.mu.Lock()
	delete(x.pending, h)
	x.mu.Unlock()
}

// addNewPack records an uploaded pack whose index entry is not yet saved.
func (x *index) addNewPack(p indexPack) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.addLocked(p)
	x.unsaved = append(x.unsaved, p)
	for _, b := range p.Blobs {
		delete(x.pending, BlobHandle{ID: ID(b.ID), Type: b.Type})
	}
}

// packContents returns the blobs of every pack, sorted by offset.
func (x *index) packContents() map[ID][]PackedBlob {
	x.mu.RLock()
	defer x.mu.RUnlock()
	m := make(map[ID][]PackedBlob, len(x.packs))
	add := func(h BlobHandle, e indexEntry) {
		pb := x.packed(h, e)
		m[pb.PackID] = append(m[pb.PackID], pb)
	}
	x.blobs.each(func(h BlobHandle, e indexEntry) bool {
		add(h, e)
		for _, d := range x.dups[h] {
			add(h, d)
		}
		return true
	})
	for _, l := range m {
		sort.Slice(l, func(i, j int) bool { return l[i].Offset < l[j].Offset })
	}
	return m
}

// Index file JSON, restic's format.
type indexJSON struct {
	Supersedes IDs         `json:"supersedes,omitempty"`
	Packs      []indexPack `json:"packs"`
}

type indexPack struct {
	ID    jsonID      `json:"id"`
	Blobs []indexBlob `json:"blobs"`
}

type indexBlob struct {
	ID                 jsonID   `json:"id"`
	Type               BlobType `json:"type"`
	Offset             uint     `json:"offset"`
	Length             uint     `json:"length"`
	UncompressedLength uint     `json:"uncompressed_length,omitempty"`
}

// jsonID is an ID with a fast JSON decoder: index files hold millions
// of IDs and the generic path dominates loading time.
type jsonID ID

func (id jsonID) MarshalJSON() ([]byte, error) { return ID(id).MarshalJSON() }

func (id *jsonID) UnmarshalJSON(b []byte) error {
	if len(b) == 2+2*IDSize && b[0] == '"' && b[len(b)-1] == '"' {
		if _, err := hex.Decode(id[:], b[1:len(b)-1]); err == nil {
			return nil
		}
	}
	return (*ID)(id).UnmarshalJSON(b)
}

// decodeIndex parses an index file in the current format or restic's old
// one (a bare array of packs, which cannot supersede anything).
func decodeIndex(buf []byte) (*indexJSON, error) {
	trimmed := bytes.TrimLeft(buf, " \t\r\n")
	if !isJSONStart(trimmed) {
		return nil, fmt.Errorf("index is not JSON")
	}
	idx := &indexJSON{}
	if trimmed[0] == '[' {
		if err := json.Unmarshal(buf, &idx.Packs); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(buf, idx); err != nil {
		return nil, err
	}
	for _, p := range idx.Packs {
		for _, b := range p.Blobs {
			if b.Type != DataBlob && b.Type != TreeBlob {
				return nil, fmt.Errorf("pack %s: invalid blob type", ID(p.ID).Str())
			}
			if b.Length < overhead || b.Offset > 1<<32-1 || b.Length > 1<<32-1 || b.UncompressedLength > 1<<32-1 {
				return nil, fmt.Errorf("pack %s: blob %s has an invalid location", ID(p.ID).Str(), ID(b.ID).Str())
			}
		}
	}
	return idx, nil
}

func toIndexPack(id ID, blobs []PackedBlob) indexPack {
	p := indexPack{ID: jsonID(id), Blobs: make([]indexBlob, 0, len(blobs))}
	for _, b := range blobs {
		p.Blobs = append(p.Blobs, indexBlob{ID: jsonID(b.ID), Type: b.Type, Offset: b.Offset, Length: b.Length, UncompressedLength: b.UncompressedLength})
	}
	return p
}

// LoadIndex reads every index file into memory, replacing what was
// loaded before (blobs written by this handle are kept). An index file
// that cannot be loaded is reported to Options.Warn and skipped; then the
// packs no loaded index file lists are found by reading their headers,
// as restic's repair index does, so their blobs stay readable. Those
// packs are known to this handle only until the index is repaired.
func (r *Repository) LoadIndex(ctx context.Context) error {
	var ids IDs
	if err := r.List(ctx, backends.IndexFile, func(id ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return fmt.Errorf("listing index files: %w", err)
	}
	files := make([]*indexJSON, len(ids))
	errs := make([]error, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.be.Connections()))
	for i, id := range ids {
		g.Go(func() error {
			files[i], errs[i] = r.loadIndexFile(gctx, id)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	damaged := IDSet{}
	n := 0
	for i, f := range files {
		if errs[i] != nil {
			if !backends.IsNotExist(errs[i]) { // else removed since listing
				r.warn(errs[i])
				damaged.Insert(ids[i])
			}
			continue
		}
		for _, p := range f.Packs {
			n += len(p.Blobs)
		}
	}
	// A superseded index file is left over from an interrupted prune; its
	// successor holds everything still valid.
	superseded := IDSet{}
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, id := range f.Supersedes {
			superseded.Insert(id)
		}
	}
	fresh := newIndexSized(n + r.idx.blobs.len()/8)
	for i, f := range files {
		if f == nil {
			continue
		}
		fresh.files.Insert(ids[i])
		if superseded.Has(ids[i]) {
			continue
		}
		for _, p := range f.Packs {
			fresh.addLocked(p)
		}
	}
	fresh.damaged = damaged
	if len(damaged) > 0 {
		added, bad, err := r.indexUnlistedPacks(ctx, fresh)
		if err != nil {
			return err
		}
		for _, id := range added {
			fresh.recovered.Insert(id)
		}
		for _, e := range bad {
			r.warn(e)
		}
	}
	r.idx.mu.Lock()
	defer r.idx.mu.Unlock()
	for _, p := range r.idx.unsaved {
		fresh.addLocked(p)
	}
	fresh.unsaved = r.idx.unsaved
	fresh.pending = r.idx.pending
	fresh.broken = r.idx.broken
	r.idx.packs, r.idx.packIdx, r.idx.blobs, r.idx.dups, r.idx.files = fresh.packs, fresh.packIdx, fresh.blobs, fresh.dups, fresh.files
	r.idx.damaged, r.idx.recovered = fresh.damaged, fresh.recovered
	return nil
}

// DamagedIndexFiles returns the index files the last LoadIndex could not
// load.
func (r *Repository) DamagedIndexFiles() IDs {
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	return r.idx.damaged.Sorted()
}

// indexUnlistedPacks adds to idx, which is not yet shared, the blobs of
// every pack that idx does not list, read from the packs' headers. It
// returns the IDs of the packs added and an error per header that cannot
// be read; err is for failures of listing or of ctx.
func (r *Repository) indexUnlistedPacks(ctx context.Context, idx *index) (added IDs, bad []error, err error) {
	listed := IDSet{}
	idx.blobs.each(func(_ BlobHandle, e indexEntry) bool {
		listed.Insert(idx.packs[e.pack])
		return true
	})
	for _, l := range idx.dups {
		for _, e := range l {
			listed.Insert(idx.packs[e.pack])
		}
	}
	type unlisted struct {
		id    ID
		size  int64
		blobs []PackedBlob
		err   error
	}
	var packs []*unlisted
	if err := r.List(ctx, backends.PackFile, func(id ID, size int64) error {
		if !listed.Has(id) {
			packs = append(packs, &unlisted{id: id, size: size})
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("listing packs: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, r.be.Connections()))
	for _, p := range packs {
		g.Go(func() error {
			p.blobs, p.err = r.ListPack(gctx, p.id, p.size)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	for _, p := range packs {
		if p.err != nil {
			bad = append(bad, fmt.Errorf("pack %s is in no readable index and its header cannot be read: %w", p.id, p.err))
			continue
		}
		idx.addLocked(toIndexPack(p.id, p.blobs))
		added = append(added, p.id)
	}
	return added, bad, nil
}

func (r *Repository) loadIndexFile(ctx context.Context, id ID) (*indexJSON, error) {
	buf, err := r.LoadUnpacked(ctx, backends.IndexFile, id)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", id.Str(), err)
	}
	x, err := decodeIndex(buf)
	if err != nil {
		return nil, fmt.Errorf("decoding index %s: %w", id.Str(), err)
	}
	return x, nil
}

// IndexFiles returns the IDs of the loaded index files.
func (r *Repository) IndexFiles() IDs {
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	return r.idx.files.Sorted()
}

// saveIndex writes packs as index files of at most IndexMaxBlobs blobs;
// supersedes goes into the first one.
func (r *Repository) saveIndex(ctx context.Context, packs []indexPack, supersedes IDs) (IDs, error) {
	var saved IDs
	cur := &indexJSON{Supersedes: supersedes, Packs: []indexPack{}}
	n := 0
	flush := func() error {
		buf, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		id, err := r.SaveUnpacked(ctx, backends.IndexFile, buf)
		if err != nil {
			return fmt.Errorf("saving index: %w", err)
		}
		saved = append(saved, id)
		cur = &indexJSON{Packs: []indexPack{}}
		n = 0
		return nil
	}
	for _, p := range packs {
		if n > 0 && n+len(p.Blobs) > IndexMaxBlobs {
			if err := flush(); err != nil {
				return saved, err
			}
		}
		cur.Packs = append(cur.Packs, p)
		n += len(p.Blobs)
	}
	if n > 0 || len(supersedes) > 0 {
		if err := flush(); err != nil {
			return saved, err
		}
	}
	return saved, nil
}

// LookupBlob returns one location of a blob.
func (r *Repository) LookupBlob(h BlobHandle) (PackedBlob, bool) { return r.idx.lookup(h) }

// LookupAll returns every indexed location of a blob.
func (r *Repository) LookupAll(h BlobHandle) []PackedBlob { return r.idx.lookupAll(h) }

// HasBlob reports whether the blob is indexed or waiting in an open pack.
func (r *Repository) HasBlob(h BlobHandle) bool {
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	_, ok := r.idx.blobs.get(h)
	return ok || r.idx.pending.Has(h)
}

// EachBlob calls fn for every indexed blob location until fn returns
// false. fn must not call back into the repository's index.
func (r *Repository) EachBlob(fn func(PackedBlob) bool) {
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	r.idx.blobs.each(func(h BlobHandle, e indexEntry) bool {
		if !fn(r.idx.packed(h, e)) {
			return false
		}
		for _, d := range r.idx.dups[h] {
			if !fn(r.idx.packed(h, d)) {
				return false
			}
		}
		return true
	})
}

// IndexedBlobs returns the number of distinct blobs in the index.
func (r *Repository) IndexedBlobs() int {
	r.idx.mu.RLock()
	defer r.idx.mu.RUnlock()
	return r.idx.blobs.len()
}
