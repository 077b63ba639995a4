package repository

import (
	"hash/maphash"
	"math/bits"
)

// blobTable maps blob handles to locations with open addressing and
// linear probing. A slot is 48 bytes and the table is sized to the number
// of blobs rather than to a power of two, which keeps a repository of
// millions of blobs at roughly 60 bytes per blob (a Go map needs up to
// twice that). The hash is seeded per table, so crafted blob IDs cannot
// force long probe sequences.
type blobTable struct {
	seed  maphash.Seed
	slots []tableSlot
	n     int
}

type tableSlot struct {
	id ID
	// packType is the pack number plus one (0: empty slot) in the low 30
	// bits and the blob type in the top two.
	packType       uint32
	offset, length uint32
	ulength        uint32
}

const maxLoad = 0.8

func newBlobTable(hint int) *blobTable {
	t := &blobTable{seed: maphash.MakeSeed()}
	t.slots = make([]tableSlot, max(16, int(float64(hint)/maxLoad)+1))
	return t
}

func (t *blobTable) pos(h BlobHandle) int {
	v := maphash.Bytes(t.seed, h.ID[:]) ^ uint64(h.Type)*0x9e3779b97f4a7c15
	// Map the hash onto [0, len) without a modulo (Lemire's reduction).
	hi, _ := bits.Mul64(v, uint64(len(t.slots)))
	return int(hi)
}

func (s *tableSlot) handle() BlobHandle {
	return BlobHandle{ID: s.id, Type: BlobType(s.packType >> 30)}
}

func (s *tableSlot) entry() indexEntry {
	return indexEntry{pack: s.packType&(1<<30-1) - 1, offset: s.offset, length: s.length, ulength: s.ulength}
}

func (t *blobTable) get(h BlobHandle) (indexEntry, bool) {
	i := t.pos(h)
	for {
		s := &t.slots[i]
		if s.packType == 0 {
			return indexEntry{}, false
		}
		if s.id == h.ID && BlobType(s.packType>>30) == h.Type {
			return s.entry(), true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// put inserts or replaces h's entry.
func (t *blobTable) put(h BlobHandle, e indexEntry) {
	if e.pack >= 1<<30-1 {
		panic("too many packs for the index")
	}
	if float64(t.n+1) > maxLoad*float64(len(t.slots)) {
		t.grow()
	}
	i := t.pos(h)
	for {
		s := &t.slots[i]
		if s.packType == 0 {
			t.n++
			break
		}
		if s.id == h.ID && BlobType(s.packType>>30) == h.Type {
			break
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = tableSlot{id: h.ID, packType: uint32(h.Type)<<30 | (e.pack + 1), offset: e.offset, length: e.length, ulength: e.ulength}
}

func (t *blobTable) grow() {
	old := t.slots
	t.slots = make([]tableSlot, len(old)+len(old)/2+16)
	t.n = 0
	for i := range old {
		if old[i].packType != 0 {
			t.put(old[i].handle(), old[i].entry())
		}
	}
}

func (t *blobTable) len() int { return t.n }

// each calls fn for every entry until fn returns false.
func (t *blobTable) each(fn func(BlobHandle, indexEntry) bool) {
	for i := range t.slots {
		if t.slots[i].packType != 0 {
			if !fn(t.slots[i].handle(), t.slots[i].entry()) {
				return
			}
		}
	}
}
