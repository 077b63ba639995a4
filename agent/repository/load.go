package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"lethe/backends"
)

// ctPool recycles ciphertext buffers of LoadBlob.
var ctPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// LoadBlob loads a blob, decrypts and decompresses it and verifies its
// hash. buf is reused when large enough. When a copy fails, the next
// indexed copy is tried; the error names the blob and the pack.
func (r *Repository) LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error) {
	h := BlobHandle{ID: id, Type: t}
	locs := r.idx.lookupAll(h)
	if len(locs) == 0 {
		return nil, fmt.Errorf("loading %s blob %s: not in index", t, id)
	}
	var errs []error
	for _, pb := range locs {
		out, err := r.loadPacked(ctx, pb, buf)
		if err == nil {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("loading %s blob %s from pack %s: %w", t, id, pb.PackID, err))
	}
	return nil, errors.Join(errs...)
}

func (r *Repository) loadPacked(ctx context.Context, pb PackedBlob, buf []byte) ([]byte, error) {
	cp := ctPool.Get().(*[]byte)
	defer ctPool.Put(cp)
	ct := *cp
	if uint(cap(ct)) < pb.Length {
		ct = make([]byte, pb.Length)
		*cp = ct
	}
	ct = ct[:pb.Length]
	h := backends.Handle{Type: backends.PackFile, Name: pb.PackID.String()}
	err := r.be.Load(ctx, h, int(pb.Length), int64(pb.Offset), func(rd io.Reader) error {
		_, err := io.ReadFull(rd, ct)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.decodeBlob(pb, ct, buf)
}

// decodeBlob decrypts (in place), decompresses and verifies a blob's
// stored bytes, returning the plaintext in buf when it fits.
func (r *Repository) decodeBlob(pb PackedBlob, ct []byte, buf []byte) ([]byte, error) {
	if pb.UncompressedLength == 0 {
		plain, err := r.key.Open(buf[:0], ct)
		if err != nil {
			return nil, err
		}
		if Hash(plain) != pb.ID {
			return nil, errors.New("content does not match the blob ID")
		}
		return plain, nil
	}
	plain, err := r.key.Open(ct[ivSize:ivSize], ct)
	if err != nil {
		return nil, err
	}
	if uint(cap(buf)) < pb.UncompressedLength {
		buf = make([]byte, 0, pb.UncompressedLength)
	}
	out, err := r.dec.DecodeAll(plain, buf[:0])
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if uint(len(out)) != pb.UncompressedLength {
		return nil, fmt.Errorf("decompressed to %d bytes, index says %d", len(out), pb.UncompressedLength)
	}
	if Hash(out) != pb.ID {
		return nil, errors.New("content does not match the blob ID")
	}
	return out, nil
}
