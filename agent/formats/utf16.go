package formats

import (
	"slices"
	"unicode/utf16"
)

// scanUTF16 scans UTF-16 text with a byte order mark. Structured formats
// (JSON, JSON Lines, CSV, vCard, iCalendar, SQL: PowerShell's Out-File,
// Excel's "Unicode text", SQL Server scripts) are parsed in their UTF-8
// form and their records mapped back to the UTF-16 bytes; other text is
// split into lines.
func scanUTF16(name string, data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	bigEndian := data[0] == 0xFE
	body := data[2:]
	f := sniffHead(decodeUTF16(nil, head(body), bigEndian), len(body) > sniffLen)
	switch f {
	case FormatJSON, FormatJSONL, FormatVCard, FormatICal, FormatSQL:
	default:
		switch f = byExtension(name); f {
		case FormatCSV, FormatJSON, FormatJSONL, FormatVCard, FormatICal, FormatSQL:
		case FormatText:
			// Excel's "Unicode text" is tab-separated, named .txt.
			if sniffDelimiter(decodeUTF16(nil, head(body), bigEndian)) == '\t' {
				f = FormatCSV
				break
			}
			return scanUTF16Text(data, x), nil
		default:
			return scanUTF16Text(data, x), nil
		}
	}
	dec := decodeUTF16(make([]byte, 0, len(body)/2*3+4), body, bigEndian)
	from := len(x.refs)
	res, err := parseFormat(f, name, dec, x, opts, depth)
	if err != nil {
		// Not that format after all: its lines are still records.
		x.dropRefs(from)
		res := scanUTF16Text(data, x)
		res.Fallback, res.Tried = err.Error(), f
		return res, nil
	}
	remapUTF16(res, body, bigEndian, 2)
	return res, nil
}

// remapUTF16 turns the offsets of res, found in the UTF-8 form of the
// UTF-16 text body (which starts at base in the file), into file offsets.
func remapUTF16(res *Result, body []byte, bigEndian bool, base int) {
	var offs []int
	for _, r := range res.Records {
		offs = append(offs, int(r.Offset), int(r.Offset+r.Length))
	}
	for _, l := range res.lists {
		offs = append(offs, l.stmt.s, l.stmt.e)
		for _, it := range l.items {
			offs = append(offs, it.s, it.e)
		}
	}
	if len(offs) == 0 {
		return
	}
	offs = sortUnique(offs)
	to := make(map[int]int, len(offs))
	// Walk the code units as decodeUTF16 does, counting UTF-8 bytes.
	u8, k := 0, 0
	i := 0
	for ; i+1 < len(body) && k < len(offs); i += 2 {
		for k < len(offs) && offs[k] <= u8 {
			to[offs[k]] = base + i
			k++
		}
		c := unit(body, i, bigEndian)
		switch {
		case c < 0x80:
			u8++
		case c < 0x800:
			u8 += 2
		case utf16.IsSurrogate(rune(c)) && i+3 < len(body) &&
			utf16.DecodeRune(rune(c), rune(unit(body, i+2, bigEndian))) != 0xFFFD:
			u8 += 4
			i += 2
		default:
			u8 += 3
		}
	}
	for ; k < len(offs); k++ {
		to[offs[k]] = base + len(body) // at the end (or past an odd last byte)
	}
	for i := range res.Records {
		r := &res.Records[i]
		s, e := to[int(r.Offset)], to[int(r.Offset+r.Length)]
		r.Offset, r.Length = int64(s), int64(e-s)
	}
	for i := range res.lists {
		l := &res.lists[i]
		l.stmt = span{to[l.stmt.s], to[l.stmt.e]}
		l.items = slices.Clone(l.items)
		for j, it := range l.items {
			l.items[j] = span{to[it.s], to[it.e]}
		}
	}
}

func unit(b []byte, i int, bigEndian bool) uint16 {
	if bigEndian {
		return uint16(b[i])<<8 | uint16(b[i+1])
	}
	return uint16(b[i]) | uint16(b[i+1])<<8
}
