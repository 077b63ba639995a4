package repository

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"

	"lethe/backends"
)

func FuzzDecodeIndex(f *testing.F) {
	var pid ID
	pid[0] = 1
	good, _ := json.Marshal(&indexJSON{Packs: []indexPack{{ID: jsonID(pid), Blobs: []indexBlob{{ID: jsonID(pid), Type: DataBlob, Length: 40, UncompressedLength: 10}}}}})
	f.Add(good)
	f.Add([]byte(`[{"id":"` + pid.String() + `","blobs":[]}]`))
	f.Add([]byte(`{"supersedes":[],"packs":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, buf []byte) {
		x, err := decodeIndex(buf)
		if err != nil {
			return
		}
		idx := newIndex()
		for _, p := range x.Packs {
			idx.addLocked(p)
		}
		for _, p := range x.Packs {
			for _, b := range p.Blobs {
				if _, ok := idx.lookup(BlobHandle{ID: ID(b.ID), Type: b.Type}); !ok {
					t.Fatalf("blob %s from decoded index not found", ID(b.ID).Str())
				}
			}
		}
	})
}

// FuzzPackHeader feeds arbitrary plaintext headers (encrypted with a
// fixed key, so the parser is reached) and arbitrary pack tails.
func FuzzPackHeader(f *testing.F) {
	key, err := newCryptoKey(make([]byte, 32), make([]byte, 16), make([]byte, 16))
	if err != nil {
		f.Fatal(err)
	}
	var id ID
	f.Add(encodeHeader([]PackedBlob{{BlobHandle: BlobHandle{ID: id, Type: DataBlob}, Length: 40}}), int64(40), false)
	f.Add(encodeHeader([]PackedBlob{{BlobHandle: BlobHandle{ID: id, Type: TreeBlob}, Length: 50, UncompressedLength: 70}}), int64(50), false)
	f.Add([]byte{0, 1, 2, 3}, int64(10), true)
	f.Fuzz(func(t *testing.T, hdr []byte, dataSize int64, raw bool) {
		if dataSize < 0 || dataSize > 1<<20 {
			return
		}
		r := &Repository{key: key}
		var tail []byte
		if raw {
			tail = hdr
		} else {
			tail = make([]byte, dataSize)
			tail = key.Seal(tail, hdr)
			tail = binary.LittleEndian.AppendUint32(tail, uint32(len(tail)-int(dataSize)))
		}
		if len(tail) < 4 {
			return
		}
		blobs, err := r.parsePackTail(id, tail, int64(len(tail)))
		if err != nil {
			return
		}
		var end uint
		for _, b := range blobs {
			if b.Offset != end || b.Length < overhead {
				t.Fatalf("inconsistent entry %+v", b)
			}
			end += b.Length
		}
		if int64(end) != dataSize && !raw {
			t.Fatalf("blobs cover %d of %d bytes", end, dataSize)
		}
	})
}

func FuzzDecompressUnpacked(f *testing.F) {
	r, err := newRepository(nilBackend{}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	r.cfg.Version = 2
	f.Add(r.compressUnpacked([]byte(`{"a":1}`)))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte{2, 0x28, 0xb5, 0x2f, 0xfd})
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, buf []byte) {
		out, err := r.decompressUnpacked(buf)
		if err != nil {
			return
		}
		if len(buf) > 0 && buf[0] == 2 {
			// What decodes must encode back to the same plaintext.
			again, err := r.decompressUnpacked(r.compressUnpacked(out))
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("roundtrip failed: %v", err)
			}
		}
	})
}

// nilBackend is enough for a repository that never touches storage.
type nilBackend struct{ backends.Backend }

func (nilBackend) Connections() int { return 1 }
