package repository

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"os"

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

// packer collects encrypted blobs of one type into a pack, spooled to a
// temporary file: a pack waiting to fill or to upload costs page cache,
// not the process's memory. The file holds ciphertext only, is readable
// by the owner only, and is unlinked as soon as it is created, so nothing
// of it stays behind, also after a crash.
type packer struct {
	f     *os.File
	hash  hash.Hash // SHA-256 of what f holds: the pack's ID
	size  int64     // bytes written to f
	blobs []PackedBlob
	// hdr is the size of the pack's header and its length field.
	hdr int
}

// newPacker returns a packer spooling to a new file in dir (empty: the
// system's temporary directory).
func newPacker(dir string) (*packer, error) {
	f, err := os.CreateTemp(dir, "lethe-pack-")
	if err != nil {
		return nil, fmt.Errorf("creating temporary pack file: %w", err)
	}
	if err := unlinkSpool(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("creating temporary pack file: %w", err)
	}
	return &packer{f: f, hash: sha256.New()}, nil
}

// add appends a blob of stored bytes ct.
func (p *packer) add(h BlobHandle, ct []byte, ulen uint) error {
	if p.hdr == 0 {
		p.hdr = overhead + 4
	}
	if err := p.write(ct); err != nil {
		return err
	}
	if ulen != 0 {
		p.hdr += compressedEntrySize
	} else {
		p.hdr += entrySize
	}
	p.blobs = append(p.blobs, PackedBlob{BlobHandle: h, Offset: uint(p.size), Length: uint(len(ct)), UncompressedLength: ulen})
	p.size += int64(len(ct))
	return nil
}

func (p *packer) write(b []byte) error {
	if _, err := p.f.Write(b); err != nil {
		return fmt.Errorf("writing temporary pack file: %w", err)
	}
	p.hash.Write(b)
	return nil
}

// finish appends the encrypted header and its length and returns the
// pack's ID and size.
func (p *packer) finish(key *cryptoKey) (ID, int64, error) {
	hdr := key.Seal(nil, encodeHeader(p.blobs))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(hdr)))
	if err := p.write(hdr); err != nil {
		return ID{}, 0, err
	}
	p.size += int64(len(hdr))
	var id ID
	p.hash.Sum(id[:0])
	for i := range p.blobs {
		p.blobs[i].PackID = id
	}
	return id, p.size, nil
}

// discard drops the pack's file.
func (p *packer) discard() { closeSpool(p.f) }

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
