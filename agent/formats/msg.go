package formats

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/richardlehane/mscfb"
)

// scanMsg scans an Outlook message (.msg) or another compound file (old
// Office documents) stream by stream, its sector chains followed by
// mscfb: the MAPI property streams (__substg1.0_PPPPTTTT) as what their
// type says (UTF-16 or 8-bit strings, binary), the transport headers as a
// mail header block, the compressed RTF body decompressed, and
// attachments by their own format. The raw bytes are scanned too, as the
// fallback would, for what no stream holds any more. A hit is the whole
// file.
func scanMsg(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	from := len(x.refs)
	r, err := mscfb.New(bytes.NewReader(data))
	if err != nil {
		return nil, parseErr("compound file: %v", err)
	}
	type stream struct {
		dir  string // the storage it is in
		name string
		data []byte
	}
	// Streams of a valid file share no sectors: together they are no
	// larger than the file. A hostile one could claim more, with sector
	// chains that loop.
	budget := int64(len(data))
	var streams []stream
	attachName := make(map[string]string) // storage -> file name
	var k kindSet
	for i, f := range r.File {
		k |= x.scanNameKinds(f.Name)
		if f.FileInfo().IsDir() || f.Size <= 0 {
			continue
		}
		if budget -= f.Size; budget < 0 {
			return nil, parseErr("compound file: stream %d is larger than the file", i)
		}
		b := make([]byte, f.Size)
		if _, err := io.ReadFull(f, b); err != nil {
			return nil, parseErr("compound file: stream %d: %v", i, err)
		}
		s := stream{dir: strings.Join(f.Path, "/"), name: f.Name, data: b}
		if prop, typ, ok := mapiName(f.Name); ok && (prop == 0x3707 || prop == 0x3704) {
			if v := mapiString(typ, b); v != "" && (prop == 0x3707 || attachName[s.dir] == "") {
				attachName[s.dir] = v
			}
		}
		streams = append(streams, s)
	}
	for _, s := range streams {
		prop, typ, ok := mapiName(s.name)
		if !ok {
			k |= x.scanRaw(s.data)
			continue
		}
		switch typ {
		case 0x001F, 0x101F, 0x001E, 0x101E:
			v := []byte(mapiString(typ, s.data))
			k |= x.scan(v)
			switch prop {
			case 0x007D: // transport headers
				hk, _ := x.scanRawHeader(v)
				k |= hk
			case 0x3704, 0x3707: // attachment file names
				k |= x.scanNameKinds(string(v))
			}
		case 0x0102, 0x1102:
			switch prop {
			case 0x3701: // attachment data
				k |= x.scanContent(attachName[s.dir], s.data, opts, depth)
			case 0x1009: // compressed RTF body
				k |= x.scan(decompressRTF(s.data, opts.maxSize()))
				k |= x.scanRaw(s.data)
			case 0x1013: // HTML body
				k |= x.scanMarkup(s.data) | x.scanRaw(s.data)
			default:
				k |= x.scanRaw(s.data)
			}
		default:
			k |= x.scanRaw(s.data)
		}
	}
	k |= x.scanRaw(data)
	return wholeResult(FormatMsg, data, x, k, from), nil
}

// mapiName parses a property stream name, __substg1.0_PPPPTTTT (with a
// -NNNNNNNN suffix for one value of a multi-valued property).
func mapiName(name string) (prop, typ uint16, ok bool) {
	rest, found := strings.CutPrefix(name, "__substg1.0_")
	if !found || len(rest) < 8 {
		return 0, 0, false
	}
	p, err1 := strconv.ParseUint(rest[:4], 16, 16)
	t, err2 := strconv.ParseUint(rest[4:8], 16, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint16(p), uint16(t), true
}

// mapiString decodes a string property: UTF-16LE for the Unicode types,
// else 8-bit text as it is (identifiers are ASCII in any code page); a
// trailing NUL goes.
func mapiString(typ uint16, b []byte) string {
	if typ&0xFFF != 0x01F {
		s := string(b)
		return strings.TrimRight(s, "\x00")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	buf := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		buf = utf8.AppendRune(buf, r)
	}
	return string(buf)
}

// rtfPrebuf starts the dictionary of compressed RTF (MS-OXRTFCP 2.1.2.1).
const rtfPrebuf = "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"

// decompressRTF returns the RTF text of a PR_RTF_COMPRESSED stream, at
// most limit bytes; what does not decode is cut off (the raw bytes are
// scanned anyway).
func decompressRTF(b []byte, limit int64) []byte {
	if len(b) < 16 {
		return nil
	}
	raw := int64(binary.LittleEndian.Uint32(b[4:]))
	switch string(b[8:12]) {
	case "MELA": // stored uncompressed
		return b[16:min(len(b), 16+int(min(raw, limit)))]
	case "LZFu":
	default:
		return nil
	}
	var dict [4096]byte
	copy(dict[:], rtfPrebuf)
	w := len(rtfPrebuf)
	in := b[16:]
	out := make([]byte, 0, min(raw, limit, int64(len(in))*9))
	put := func(c byte) {
		out = append(out, c)
		dict[w%len(dict)] = c
		w++
	}
	for i := 0; i < len(in); {
		ctrl := in[i]
		i++
		for bit := 0; bit < 8; bit++ {
			if int64(len(out)) >= limit {
				return out
			}
			if ctrl&(1<<bit) == 0 {
				if i >= len(in) {
					return out
				}
				put(in[i])
				i++
				continue
			}
			if i+1 >= len(in) {
				return out
			}
			ref := int(in[i])<<8 | int(in[i+1])
			i += 2
			off, n := ref>>4, ref&0xF+2
			if off == w%len(dict) {
				return out // the end marker
			}
			for j := 0; j < n && int64(len(out)) < limit; j++ {
				put(dict[(off+j)%len(dict)])
			}
		}
	}
	return out
}
