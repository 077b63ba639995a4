package repository

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"lethe/backends"
)

// Pack header entries: type byte, stored length (uint32 LE),
// [uncompressed length (uint32 LE) for compressed types], blob ID.
const (
	entrySize           = 1 + 4 + IDSize
	compressedEntrySize = 1 + 4 + 4 + IDSize

	packTypeData           = 0
	packTypeTree           = 1
	packTypeCompressedData = 2
	packTypeCompressedTree = 3

	// maxHeaderSize bounds what ListPack accepts, against hostile packs.
	maxHeaderSize = 16 << 20
)

// headerSize is the size of the encrypted header plus its length field.
func headerSize(blobs []PackedBlob) int {
	n := overhead + 4
	for _, b := range blobs {
		if b.UncompressedLength != 0 {
			n += compressedEntrySize
		} else {
			n += entrySize
		}
	}
	return n
}

// PackSize is the size of the pack file holding exactly blobs.
func PackSize(blobs []PackedBlob) int64 {
	n := int64(headerSize(blobs))
	for _, b := range blobs {
		n += int64(b.Length)
	}
	return n
}

func encodeHeader(blobs []PackedBlob) []byte {
	buf := make([]byte, 0, headerSize(blobs))
	for _, b := range blobs {
		var t byte
		switch {
		case b.Type == DataBlob && b.UncompressedLength == 0:
			t = packTypeData
		case b.Type == TreeBlob && b.UncompressedLength == 0:
			t = packTypeTree
		case b.Type == DataBlob:
			t = packTypeCompressedData
		default:
			t = packTypeCompressedTree
		}
		buf = append(buf, t)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(b.Length))
		if b.UncompressedLength != 0 {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(b.UncompressedLength))
		}
		buf = append(buf, b.ID[:]...)
	}
	return buf
}

// parseHeader decodes a decrypted pack header. dataSize is the size of the
// pack before the header; the blobs must exactly fill it.
func parseHeader(plain []byte, packID ID, dataSize int64) ([]PackedBlob, error) {
	var blobs []PackedBlob
	var off uint64
	for len(plain) > 0 {
		b := PackedBlob{PackID: packID, Offset: uint(off)}
		typ := plain[0]
		need := entrySize
		if typ == packTypeCompressedData || typ == packTypeCompressedTree {
			need = compressedEntrySize
		} else if typ != packTypeData && typ != packTypeTree {
			return nil, fmt.Errorf("pack %s: invalid blob type %d in header entry %d", packID.Str(), typ, len(blobs))
		}
		if len(plain) < need {
			return nil, fmt.Errorf("pack %s: truncated header entry %d", packID.Str(), len(blobs))
		}
		b.Length = uint(binary.LittleEndian.Uint32(plain[1:5]))
		rest := plain[5:]
		if need == compressedEntrySize {
			b.UncompressedLength = uint(binary.LittleEndian.Uint32(rest[:4]))
			rest = rest[4:]
		}
		copy(b.ID[:], rest[:IDSize])
		b.Type = DataBlob
		if typ == packTypeTree || typ == packTypeCompressedTree {
			b.Type = TreeBlob
		}
		if b.Length < overhead {
			return nil, fmt.Errorf("pack %s: blob %s too short", packID.Str(), b.ID.Str())
		}
		off += uint64(b.Length)
		if off > uint64(dataSize) {
			return nil, fmt.Errorf("pack %s: header lists more data than the pack holds", packID.Str())
		}
		blobs = append(blobs, b)
		plain = plain[need:]
	}
	if off != uint64(dataSize) {
		return nil, fmt.Errorf("pack %s: header covers %d of %d data bytes", packID.Str(), off, dataSize)
	}
	return blobs, nil
}

// packer collects encrypted blobs of one type into a pack.
type packer struct {
	buf []byte
	// pooled is the buffer from packBufs that buf starts in; buf moves to
	// the heap only for a blob larger than a whole buffer.
	pooled []byte
	blobs  []PackedBlob
	// hdr is the size of the pack's header and its length field.
	hdr int
}

// fits reports whether a blob of n stored bytes still fits into the
// pack's buffer together with the grown header.
func (p *packer) fits(n int) bool {
	return len(p.buf)+n+p.hdr+compressedEntrySize <= cap(p.pooled)
}

func (p *packer) add(h BlobHandle, n int, ulen uint, appendCT func([]byte) []byte) {
	if p.hdr == 0 {
		p.hdr = overhead + 4
	}
	if ulen != 0 {
		p.hdr += compressedEntrySize
	} else {
		p.hdr += entrySize
	}
	p.blobs = append(p.blobs, PackedBlob{BlobHandle: h, Offset: uint(len(p.buf)), Length: uint(n), UncompressedLength: ulen})
	p.buf = appendCT(p.buf)
}

// finish appends the encrypted header and its length and returns the
// pack's bytes and ID.
func (p *packer) finish(key *cryptoKey) ([]byte, ID) {
	hdr := key.Seal(nil, encodeHeader(p.blobs))
	p.buf = append(p.buf, hdr...)
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(hdr)))
	id := Hash(p.buf)
	for i := range p.blobs {
		p.blobs[i].PackID = id
	}
	return p.buf, id
}

// ListPack reads a pack's header (from its end) and returns its blobs.
// size is the pack file's size.
func (r *Repository) ListPack(ctx context.Context, id ID, size int64) ([]PackedBlob, error) {
	h := backends.Handle{Type: backends.PackFile, Name: id.String()}
	if size < overhead+4 {
		return nil, fmt.Errorf("pack %s: too small (%d bytes)", id, size)
	}
	// Read a tail that usually holds the whole header in one request.
	tail := min(size, int64(64<<10))
	buf, err := loadRange(ctx, r.be, h, tail, size-tail)
	if err != nil {
		return nil, fmt.Errorf("reading header of pack %s: %w", id, err)
	}
	if hl := int64(binary.LittleEndian.Uint32(buf[len(buf)-4:])); hl+4 > tail && hl+4 <= size && hl <= maxHeaderSize {
		if buf, err = loadRange(ctx, r.be, h, hl+4, size-hl-4); err != nil {
			return nil, fmt.Errorf("reading header of pack %s: %w", id, err)
		}
	}
	return r.parsePackTail(id, buf, size)
}

// parsePackTail decodes the header from the last len(tail) bytes of a
// pack of the given size.
func (r *Repository) parsePackTail(id ID, tail []byte, size int64) ([]PackedBlob, error) {
	hl := int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))
	if hl < overhead || hl > maxHeaderSize || hl+4 > size {
		return nil, fmt.Errorf("pack %s: invalid header length %d", id, hl)
	}
	if hl+4 > int64(len(tail)) {
		return nil, fmt.Errorf("pack %s: header larger than the part read", id)
	}
	enc := tail[int64(len(tail))-4-hl : len(tail)-4]
	plain, err := r.key.Open(nil, enc)
	if err != nil {
		return nil, fmt.Errorf("pack %s: decrypting header: %w", id, err)
	}
	return parseHeader(plain, id, size-hl-4)
}

func loadRange(ctx context.Context, be backends.Backend, h backends.Handle, length, offset int64) ([]byte, error) {
	buf := make([]byte, length)
	err := be.Load(ctx, h, int(length), offset, func(rd io.Reader) error {
		_, err := io.ReadFull(rd, buf)
		return err
	})
	return buf, err
}
