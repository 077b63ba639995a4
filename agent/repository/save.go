package repository

import (
	"context"
	"fmt"
	"sync"

	"lethe/backends"
)

// SaveBlob stores a blob unless it is known (indexed or pending) and
// storeDuplicate is false. A zero id is computed from data. It returns the
// ID, whether the blob was known, and the stored size.
//
// Compression and encryption run in the caller's goroutine, so callers
// scale with the number of goroutines calling SaveBlob; a full pack is
// handed to a background upload, at most be.Connections() at a time — when
// all are busy the caller waits, which bounds memory.
func (r *Repository) SaveBlob(ctx context.Context, t BlobType, data []byte, id ID, storeDuplicate bool) (ID, bool, int, error) {
	if t != DataBlob && t != TreeBlob {
		return ID{}, false, 0, fmt.Errorf("saving blob: invalid type %v", t)
	}
	if err := r.uploadError(); err != nil {
		return ID{}, false, 0, err
	}
	if id.IsNull() {
		id = Hash(data)
	}
	h := BlobHandle{ID: id, Type: t}
	if !r.idx.reserve(h, storeDuplicate) {
		return id, true, 0, nil
	}
	payload, ulen := data, uint(0)
	cbuf := blobBufs.Get().(*[]byte)
	defer blobBufs.Put(cbuf)
	if r.compressionOn() {
		c := r.enc.EncodeAll(data, (*cbuf)[:0])
		*cbuf = c
		// Incompressible data is stored as is: it decodes faster and v2
		// allows both forms.
		if len(c) < len(data) {
			payload, ulen = c, uint(len(data))
		}
	}
	ebuf := blobBufs.Get().(*[]byte)
	defer blobBufs.Put(ebuf)
	ct := r.key.Seal((*ebuf)[:0], payload)
	*ebuf = ct
	// addToPack copies ct, so the buffers go back to the pool.
	if err := r.addToPack(ctx, h, ct, ulen); err != nil {
		r.idx.unreserve(h)
		return ID{}, false, 0, err
	}
	return id, false, len(ct), nil
}

// saveRaw adds an already encrypted blob (from another pack) to a new
// pack; prune uses it to copy blobs without re-encrypting them.
func (r *Repository) saveRaw(ctx context.Context, h BlobHandle, ct []byte, ulen uint) error {
	r.idx.reserve(h, true)
	return r.addToPack(ctx, h, ct, ulen)
}

func (r *Repository) addToPack(ctx context.Context, h BlobHandle, ct []byte, ulen uint) error {
	r.packMu.Lock()
	p := r.packers[h.Type]
	if p == nil {
		p = &packer{buf: getPackBuf(int(r.opts.PackSize + r.opts.PackSize/8))}
		r.packers[h.Type] = p
	}
	p.add(h, ct, ulen)
	full := uint(len(p.buf)) >= r.opts.PackSize
	if full {
		delete(r.packers, h.Type)
	}
	r.packMu.Unlock()
	if !full {
		return nil
	}
	return r.uploadPack(ctx, p)
}

// uploadPack finishes p and starts its upload, waiting for a free slot.
func (r *Repository) uploadPack(ctx context.Context, p *packer) error {
	buf, id := p.finish(r.key)
	select {
	case r.uploadSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.uploadWG.Add(1)
	go func() {
		defer r.uploadWG.Done()
		defer func() { <-r.uploadSem }()
		h := backends.Handle{Type: backends.PackFile, Name: id.String()}
		err := r.be.Save(ctx, h, buf)
		putPackBuf(buf)
		if err != nil {
			r.setUploadError(fmt.Errorf("saving pack %s: %w", id, err))
			return
		}
		r.idx.addNewPack(toIndexPack(id, p.blobs))
	}()
	return nil
}

func (r *Repository) setUploadError(err error) {
	r.uploadMu.Lock()
	if r.uploadErr == nil {
		r.uploadErr = err
	}
	r.uploadMu.Unlock()
}

func (r *Repository) uploadError() error {
	r.uploadMu.Lock()
	defer r.uploadMu.Unlock()
	return r.uploadErr
}

// flushPacks writes all open packs and waits for every upload.
func (r *Repository) flushPacks(ctx context.Context) error {
	r.packMu.Lock()
	var open []*packer
	for t, p := range r.packers {
		if len(p.blobs) > 0 {
			open = append(open, p)
		}
		delete(r.packers, t)
	}
	r.packMu.Unlock()
	var err error
	for _, p := range open {
		if e := r.uploadPack(ctx, p); e != nil && err == nil {
			err = e
		}
	}
	r.uploadWG.Wait()
	if err != nil {
		return err
	}
	return r.uploadError()
}

// Flush writes the open packs, waits for all uploads and saves an index
// for the blobs written since the last Flush. It must not run
// concurrently with SaveBlob.
func (r *Repository) Flush(ctx context.Context) error {
	if err := r.flushPacks(ctx); err != nil {
		return err
	}
	r.idx.mu.Lock()
	packs := r.idx.unsaved
	r.idx.mu.Unlock()
	if len(packs) == 0 {
		return nil
	}
	ids, err := r.saveIndex(ctx, packs, nil)
	if err != nil {
		return err
	}
	r.idx.mu.Lock()
	r.idx.unsaved = r.idx.unsaved[len(packs):]
	for _, id := range ids {
		r.idx.files.Insert(id)
	}
	r.idx.mu.Unlock()
	return nil
}

// blobBufs recycles SaveBlob's compression and encryption buffers.
var blobBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// packBufs recycles pack buffers: allocating (and zeroing) 16 MiB per
// pack is a measurable share of SaveBlob's cost.
var packBufs sync.Pool

func getPackBuf(size int) []byte {
	if b, ok := packBufs.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

func putPackBuf(b []byte) {
	b = b[:0]
	packBufs.Put(&b)
}
