package repository

import (
	"context"
	"fmt"
	"os"
	"sync"

	"lethe/backends"
)

// SaveBlob stores a blob unless it is known (indexed or pending) and
// storeDuplicate is false. A zero id is computed from data. It returns the
// ID, whether the blob was known, and the stored size.
//
// Compression and encryption run in the caller's goroutine, so callers
// scale with the number of goroutines calling SaveBlob; the ciphertext is
// appended to the open pack's temporary file, and a full pack is uploaded
// in the background. At most min(be.Connections(), 3) packs are open or
// uploading at a time (plus one); when all are busy the caller waits,
// which bounds the temporary files and the uploads.
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

// addToPack appends a blob's stored bytes ct to the open pack of its type.
func (r *Repository) addToPack(ctx context.Context, h BlobHandle, ct []byte, ulen uint) error {
	for {
		r.packMu.Lock()
		p := r.packers[h.Type]
		if p == nil {
			r.packMu.Unlock()
			// Others may use the new pack, or fill it, before this
			// caller looks again.
			if err := r.openPacker(ctx, h.Type); err != nil {
				return err
			}
			continue
		}
		if err := p.add(h, ct, ulen); err != nil {
			delete(r.packers, h.Type)
			r.packMu.Unlock()
			r.dropPacker(p)
			return err
		}
		full := uint(p.size) >= r.opts.PackSize
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

// openPacker opens a pack of type t unless one is open, waiting while all
// packs are busy. One caller per type waits at a time: a waiter that took
// the slot of a pack another caller of its type has opened meanwhile
// would wait for it forever.
func (r *Repository) openPacker(ctx context.Context, t BlobType) error {
	mu := &r.openMu[t]
	mu.Lock()
	defer mu.Unlock()
	r.packMu.Lock()
	open := r.packers[t] != nil
	r.packMu.Unlock()
	if open {
		return nil
	}
	select {
	case r.packSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	p, err := newPacker(r.opts.TempDir)
	if err != nil {
		<-r.packSlots
		return err
	}
	r.packMu.Lock()
	r.packers[t] = p
	r.packMu.Unlock()
	return nil
}

// dropPacker discards a pack and frees its slot.
func (r *Repository) dropPacker(p *packer) {
	p.discard()
	<-r.packSlots
}

// uploadPack finishes p and uploads it in the background; the number of
// pack slots bounds the uploads in flight. Errors surface through
// uploadError.
func (r *Repository) uploadPack(ctx context.Context, p *packer) {
	r.uploadWG.Add(1)
	go func() {
		defer r.uploadWG.Done()
		defer r.dropPacker(p)
		id, size, err := p.finish(r.key)
		if err != nil {
			r.setUploadError(fmt.Errorf("finishing pack: %w", err))
			return
		}
		if err := r.savePack(ctx, backends.Handle{Type: backends.PackFile, Name: id.String()}, p.f, size); err != nil {
			r.setUploadError(fmt.Errorf("saving pack %s: %w", id, err))
			return
		}
		r.idx.addNewPack(toIndexPack(id, p.blobs))
	}()
}

// savePack stores a pack from its temporary file: straight from the file
// where the backend can, otherwise mapped into memory for the upload.
func (r *Repository) savePack(ctx context.Context, h backends.Handle, f *os.File, size int64) error {
	if fs, ok := r.be.(backends.FileSaver); ok {
		return fs.SaveFile(ctx, h, f, size)
	}
	data, release, err := mapSpool(f, size)
	if err != nil {
		return err
	}
	defer release()
	return r.be.Save(ctx, h, data)
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
			defer r.dropPacker(p)
		}
		delete(r.packers, t)
	}
	r.packMu.Unlock()
	for _, p := range open {
		r.uploadPack(ctx, p)
	}
	r.uploadWG.Wait()
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
