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
// handed to a background upload; at most min(be.Connections(), 3) packs
// are open or uploading at a time (plus one), and when all are busy the
// caller waits, which bounds memory.
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
	// Encrypting straight into the pack saves a buffer and a copy; it
	// runs under the packer lock but takes a fraction of compression's time.
	n := len(payload) + overhead
	if err := r.addToPack(ctx, h, n, ulen, func(dst []byte) []byte { return r.key.Seal(dst, payload) }); err != nil {
		r.idx.unreserve(h)
		return ID{}, false, 0, err
	}
	return id, false, n, nil
}

// saveRaw adds an already encrypted blob (from another pack) to a new
// pack; prune uses it to copy blobs without re-encrypting them.
func (r *Repository) saveRaw(ctx context.Context, h BlobHandle, ct []byte, ulen uint) error {
	r.idx.reserve(h, true)
	return r.addToPack(ctx, h, len(ct), ulen, func(dst []byte) []byte { return append(dst, ct...) })
}

// addToPack appends a blob of n stored bytes, written by appendCT, to the
// open pack of its type.
func (r *Repository) addToPack(ctx context.Context, h BlobHandle, n int, ulen uint, appendCT func([]byte) []byte) error {
	for {
		r.packMu.Lock()
		p := r.packers[h.Type]
		if p == nil {
			// Waiting for a buffer must not block the other blob type.
			r.packMu.Unlock()
			buf, err := r.bufs.get(ctx)
			if err != nil {
				return err
			}
			r.packMu.Lock()
			if r.packers[h.Type] != nil {
				// Another caller opened a pack meanwhile.
				r.packMu.Unlock()
				r.bufs.put(buf)
				continue
			}
			p = &packer{buf: buf, pooled: buf}
			r.packers[h.Type] = p
		}
		if len(p.blobs) > 0 && !p.fits(n) {
			// Finish the pack early rather than grow its buffer.
			delete(r.packers, h.Type)
			r.packMu.Unlock()
			r.uploadPack(ctx, p)
			continue
		}
		p.add(h, n, ulen, appendCT)
		full := uint(len(p.buf)) >= r.opts.PackSize
		if full {
			delete(r.packers, h.Type)
		}
		r.packMu.Unlock()
		if full {
			r.uploadPack(ctx, p)
		}
		return nil
	}
}

// uploadPack finishes p and uploads it in the background; the number of
// pack buffers bounds the uploads in flight. Errors surface through
// uploadError.
func (r *Repository) uploadPack(ctx context.Context, p *packer) {
	buf, id := p.finish(r.key)
	r.uploadWG.Add(1)
	go func() {
		defer r.uploadWG.Done()
		h := backends.Handle{Type: backends.PackFile, Name: id.String()}
		err := r.be.Save(ctx, h, buf)
		r.bufs.put(p.pooled)
		if err != nil {
			r.setUploadError(fmt.Errorf("saving pack %s: %w", id, err))
			return
		}
		r.idx.addNewPack(toIndexPack(id, p.blobs))
	}()
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
		} else {
			r.bufs.put(p.pooled)
		}
		delete(r.packers, t)
	}
	r.packMu.Unlock()
	for _, p := range open {
		r.uploadPack(ctx, p)
	}
	r.uploadWG.Wait()
	r.bufs.trim()
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
