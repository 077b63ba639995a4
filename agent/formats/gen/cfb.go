package gen

import (
	"encoding/binary"
	"slices"
	"strings"
	"unicode/utf16"
)

// Stream is one stream of a compound file, by its path of storage names.
type Stream struct {
	Path []string
	Data []byte
}

// Compound file constants (MS-CFB), version 3 with 512-byte sectors.
const (
	cfbSector     = 512
	cfbMini       = 64
	cfbMiniCutoff = 4096
	cfbEnd        = 0xFFFFFFFE
	cfbFree       = 0xFFFFFFFF
	cfbFATSect    = 0xFFFFFFFD
	cfbNoStream   = 0xFFFFFFFF
)

// cfbEntry is a directory entry being built.
type cfbEntry struct {
	name        string
	typ         byte // 1 storage, 2 stream, 5 root
	children    []int
	left, right uint32
	child       uint32
	start       uint32
	size        uint64
	data        []byte
}

// CompoundFile writes a compound file (the container of Outlook .msg and
// old Office files) holding the streams, with the storages their paths
// name. Streams under 4096 bytes go to the mini stream, as the format
// requires.
func CompoundFile(streams []Stream) []byte {
	ents := []*cfbEntry{{name: "Root Entry", typ: 5}}
	storage := map[string]int{"": 0}
	for _, s := range streams {
		parent := 0
		for i := range s.Path[:len(s.Path)-1] {
			key := strings.Join(s.Path[:i+1], "/")
			id, ok := storage[key]
			if !ok {
				id = len(ents)
				ents = append(ents, &cfbEntry{name: s.Path[i], typ: 1})
				ents[parent].children = append(ents[parent].children, id)
				storage[key] = id
			}
			parent = id
		}
		id := len(ents)
		ents = append(ents, &cfbEntry{name: s.Path[len(s.Path)-1], typ: 2, data: s.Data, size: uint64(len(s.Data))})
		ents[parent].children = append(ents[parent].children, id)
	}
	for _, e := range ents {
		e.left, e.right, e.child = cfbNoStream, cfbNoStream, cfbNoStream
	}
	for _, e := range ents {
		kids := slices.Clone(e.children)
		slices.SortFunc(kids, func(a, b int) int { return cfbCompare(ents[a].name, ents[b].name) })
		e.child = cfbTree(ents, kids)
	}

	var sectors [][]byte // content of sectors 0..n-1
	var fat []uint32
	chain := func(b []byte) uint32 {
		if len(b) == 0 {
			return cfbEnd
		}
		first := uint32(len(sectors))
		for off := 0; off < len(b); off += cfbSector {
			sec := make([]byte, cfbSector)
			copy(sec, b[off:])
			sectors = append(sectors, sec)
			fat = append(fat, uint32(len(sectors)))
		}
		fat[len(fat)-1] = cfbEnd
		return first
	}
	// Small streams into the mini stream, big ones into sectors.
	var mini []byte
	var miniFAT []uint32
	for _, e := range ents {
		switch {
		case e.typ != 2 || len(e.data) == 0:
			e.start = cfbEnd
			if e.typ == 1 {
				e.start = 0
			}
		case len(e.data) < cfbMiniCutoff:
			e.start = uint32(len(mini) / cfbMini)
			n := (len(e.data) + cfbMini - 1) / cfbMini
			for i := 1; i < n; i++ {
				miniFAT = append(miniFAT, e.start+uint32(i))
			}
			miniFAT = append(miniFAT, cfbEnd)
			mini = append(mini, e.data...)
			mini = append(mini, make([]byte, n*cfbMini-len(e.data))...)
		default:
			e.start = chain(e.data)
		}
	}
	ents[0].start = chain(mini)
	ents[0].size = uint64(len(mini))
	miniFATStart, miniFATSectors := uint32(cfbEnd), 0
	if len(miniFAT) > 0 {
		b := make([]byte, 0, len(miniFAT)*4)
		for _, v := range miniFAT {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		for len(b)%cfbSector != 0 {
			b = binary.LittleEndian.AppendUint32(b, cfbFree)
		}
		miniFATSectors = len(b) / cfbSector
		miniFATStart = chain(b)
	}
	dir := make([]byte, 0, (len(ents)+3)/4*4*128)
	for _, e := range ents {
		dir = append(dir, cfbDirEntry(e)...)
	}
	for len(dir)%cfbSector != 0 {
		dir = append(dir, cfbDirEntry(&cfbEntry{left: cfbNoStream, right: cfbNoStream, child: cfbNoStream})...)
	}
	dirStart := chain(dir)
	// The FAT covers every sector, its own too.
	nFAT := 1
	for (len(sectors)+nFAT)*4 > nFAT*cfbSector {
		nFAT++
	}
	fatStart := uint32(len(sectors))
	for i := 0; i < nFAT; i++ {
		fat = append(fat, cfbFATSect)
	}
	fb := make([]byte, 0, nFAT*cfbSector)
	for _, v := range fat {
		fb = binary.LittleEndian.AppendUint32(fb, v)
	}
	for len(fb) < nFAT*cfbSector {
		fb = binary.LittleEndian.AppendUint32(fb, cfbFree)
	}
	for i := 0; i < nFAT; i++ {
		sectors = append(sectors, fb[i*cfbSector:(i+1)*cfbSector])
	}

	h := make([]byte, cfbSector)
	copy(h, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
	le := binary.LittleEndian
	le.PutUint16(h[24:], 0x003E)
	le.PutUint16(h[26:], 3)
	le.PutUint16(h[28:], 0xFFFE)
	le.PutUint16(h[30:], 9)
	le.PutUint16(h[32:], 6)
	le.PutUint32(h[44:], uint32(nFAT))
	le.PutUint32(h[48:], dirStart)
	le.PutUint32(h[56:], cfbMiniCutoff)
	le.PutUint32(h[60:], miniFATStart)
	le.PutUint32(h[64:], uint32(miniFATSectors))
	le.PutUint32(h[68:], cfbEnd)
	for i := 0; i < 109; i++ {
		v := uint32(cfbFree)
		if i < nFAT {
			v = fatStart + uint32(i)
		}
		le.PutUint32(h[76+4*i:], v)
	}
	out := h
	for _, s := range sectors {
		out = append(out, s...)
	}
	return out
}

// cfbTree links the sorted entries kids as a balanced binary tree through
// their sibling fields and returns its root.
func cfbTree(ents []*cfbEntry, kids []int) uint32 {
	if len(kids) == 0 {
		return cfbNoStream
	}
	m := len(kids) / 2
	e := ents[kids[m]]
	e.left = cfbTree(ents, kids[:m])
	e.right = cfbTree(ents, kids[m+1:])
	return uint32(kids[m])
}

// cfbCompare orders directory entry names as the format does: shorter
// first, then by upper case.
func cfbCompare(a, b string) int {
	ua, ub := utf16.Encode([]rune(strings.ToUpper(a))), utf16.Encode([]rune(strings.ToUpper(b)))
	if len(ua) != len(ub) {
		return len(ua) - len(ub)
	}
	return slices.Compare(ua, ub)
}

func cfbDirEntry(e *cfbEntry) []byte {
	b := make([]byte, 128)
	le := binary.LittleEndian
	if e.name != "" {
		u := utf16.Encode([]rune(e.name))
		for i, c := range u {
			le.PutUint16(b[2*i:], c)
		}
		le.PutUint16(b[64:], uint16(2*len(u)+2))
		b[67] = 1 // black
	}
	b[66] = e.typ
	le.PutUint32(b[68:], e.left)
	le.PutUint32(b[72:], e.right)
	le.PutUint32(b[76:], e.child)
	le.PutUint32(b[116:], e.start)
	le.PutUint64(b[120:], e.size)
	return b
}
