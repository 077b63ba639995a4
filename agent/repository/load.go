package repository

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"lethe/backends"
)

// ctPool recycles the ciphertext buffers of LoadBlob and LoadBlobsFromPack.
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
		r.noteDamage(pb, err)
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
		if backends.IsNotExist(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, damaged{err}
		}
		return nil, err
	}
	out, err := r.decodeBlob(pb, ct, buf)
	if err != nil {
		return nil, damaged{err}
	}
	return out, nil
}

// ErrDamaged is matched (errors.Is) by the error of a blob whose stored
// copy is damaged: it does not decode, or its pack is missing or too
// short. A failure to read, such as a network error, does not match.
var ErrDamaged = errors.New("damaged")

// damaged marks an error as damage; see ErrDamaged.
type damaged struct{ err error }

func (e damaged) Error() string        { return e.err.Error() }
func (e damaged) Unwrap() error        { return e.err }
func (e damaged) Is(target error) bool { return target == ErrDamaged }

// noteDamage remembers a copy that failed to load with damage, so that
// the blob is stored again when saved (see index.reserve).
func (r *Repository) noteDamage(pb PackedBlob, err error) {
	var d damaged
	if errors.As(err, &d) {
		r.idx.markBroken(pb)
	}
}

// decodeBlob decrypts (in place), decompresses and verifies a blob's
// stored bytes, returning the plaintext in buf when it fits.
func (r *Repository) decodeBlob(pb PackedBlob, ct []byte, buf []byte) ([]byte, error) {
	return r.decode(pb, ct, buf, false)
}

// decodeBlobInPlace is decodeBlob, but an uncompressed blob's plaintext
// is returned in ct.
func (r *Repository) decodeBlobInPlace(pb PackedBlob, ct []byte, buf []byte) ([]byte, error) {
	return r.decode(pb, ct, buf, true)
}

func (r *Repository) decode(pb PackedBlob, ct []byte, buf []byte, inPlace bool) ([]byte, error) {
	if pb.UncompressedLength == 0 {
		dst := buf[:0]
		if inPlace {
			dst = ct[ivSize:ivSize]
		}
		plain, err := r.key.Open(dst, ct)
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

// Reads of LoadBlobsFromPack: blobs less than maxUnusedGap apart share a
// request (reading the gap costs less than another round trip), and a
// request covers at most maxRangeRead bytes unless one blob is larger,
// which bounds what a backend that buffers responses holds in memory.
const (
	maxUnusedGap = 1 << 20
	maxRangeRead = 2 << 20
)

// LoadBlobsFromPack loads blobs of pack packID, as many as possible per
// ranged request, and calls fn once per blob in the order of their
// offsets: with the verified plaintext, or with the error that blob gave
// (naming the blob and the pack; the caller may try another copy with
// LoadBlob). The plaintext is valid only during the call. It returns fn's
// first error, which stops the loading, or ctx's.
func (r *Repository) LoadBlobsFromPack(ctx context.Context, packID ID, blobs []PackedBlob, fn func(PackedBlob, []byte, error) error) error {
	sorted := slices.Clone(blobs)
	slices.SortStableFunc(sorted, func(a, b PackedBlob) int { return cmp.Compare(a.Offset, b.Offset) })
	h := backends.Handle{Type: backends.PackFile, Name: packID.String()}
	cp := ctPool.Get().(*[]byte)
	defer ctPool.Put(cp)
	pp := ctPool.Get().(*[]byte)
	defer ctPool.Put(pp)
	for len(sorted) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		start, end := sorted[0].Offset, sorted[0].Offset+sorted[0].Length
		n := 1
		for ; n < len(sorted); n++ {
			b := sorted[n]
			if b.Offset > end+maxUnusedGap || b.Offset+b.Length-start > maxRangeRead {
				break
			}
			end = max(end, b.Offset+b.Length)
		}
		run := sorted[:n]
		sorted = sorted[n:]
		if err := r.loadRun(ctx, h, run, start, end, cp, pp, fn); err != nil {
			return err
		}
	}
	return nil
}

// fnError marks an error of the caller's callback, which ends loading.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// loadRun reads the blobs of run, sorted by offset, which lie in the
// pack's bytes [start, end), in one request.
func (r *Repository) loadRun(ctx context.Context, h backends.Handle, run []PackedBlob, start, end uint, cp, pp *[]byte, fn func(PackedBlob, []byte, error) error) error {
	done := 0 // blobs handed to fn; a retrying backend may call back again
	var last struct {
		pb    PackedBlob
		plain []byte
		err   error
	}
	deliver := func(pb PackedBlob, plain []byte, err error) error {
		if err != nil {
			if ctx.Err() == nil {
				r.noteDamage(pb, err)
			}
			err = fmt.Errorf("loading %s blob %s from pack %s: %w", pb.Type, pb.ID, pb.PackID, err)
		}
		last.pb, last.plain, last.err = pb, plain, err
		done++
		if err := fn(pb, plain, err); err != nil {
			return fnError{err}
		}
		return nil
	}
	loadErr := r.be.Load(ctx, h, int(end-start), int64(start), func(rd io.Reader) error {
		br := bufio.NewReaderSize(rd, 64<<10)
		pos := start
		for i := 0; i < len(run); i++ {
			pb := run[i]
			if i < done {
				continue
			}
			if i > 0 && pb.Offset == run[i-1].Offset && pb.Length == run[i-1].Length && last.pb.Offset == pb.Offset {
				// The same blob asked for twice.
				if err := deliver(pb, last.plain, last.err); err != nil {
					return err
				}
				continue
			}
			if pb.Offset < pos {
				if err := deliver(pb, nil, errors.New("overlaps another blob in the index")); err != nil {
					return err
				}
				continue
			}
			if _, err := br.Discard(int(pb.Offset - pos)); err != nil {
				return err
			}
			ct := *cp
			if uint(cap(ct)) < pb.Length {
				ct = make([]byte, pb.Length)
				*cp = ct
			}
			ct = ct[:pb.Length]
			if _, err := io.ReadFull(br, ct); err != nil {
				return err
			}
			pos = pb.Offset + pb.Length
			plain, err := r.decodeBlobInPlace(pb, ct, (*pp)[:0])
			if err == nil && pb.UncompressedLength != 0 {
				*pp = plain
			}
			if err != nil {
				err = damaged{err}
			}
			if err := deliver(pb, plain, err); err != nil {
				return err
			}
		}
		return nil
	})
	var fe fnError
	if errors.As(loadErr, &fe) {
		return fe.err
	}
	if loadErr == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The request failed: every blob not yet handed over gets its error.
	if backends.IsNotExist(loadErr) || errors.Is(loadErr, io.ErrUnexpectedEOF) || errors.Is(loadErr, io.EOF) {
		loadErr = damaged{loadErr}
	}
	for _, pb := range run[done:] {
		if err := deliver(pb, nil, loadErr); err != nil {
			return err.(fnError).err
		}
	}
	return nil
}
