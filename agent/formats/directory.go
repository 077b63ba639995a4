package formats

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// scanDirectory scans vCard (RFC 6350, 2.1/3.0/4.0) and iCalendar (RFC
// 5545) files, which share the content-line syntax: a card is a record; a
// VEVENT, VTODO or VJOURNAL is a record; the calendar wrapper and VTIMEZONE
// stay. Lines are unfolded and parameter and value escapes decoded before
// matching; the FN (and N) of a card are matched as names.
func scanDirectory(f Format, data []byte, x *extractor) (*Result, error) {
	b := newBuilder(f, data, x)
	var (
		stack   []string // open components
		recName string   // component that is the current record
		recDep  int      // its depth in stack
		recS    = -1
		k       kindSet
		lineNo  int
	)
	var logical []byte
	for p := 0; p < len(data); {
		s := p
		logical, p = nextContentLine(logical[:0], data, p)
		lineNo++
		name, params, value := splitContentLine(logical)
		switch {
		case bytes.EqualFold(name, []byte("BEGIN")):
			comp := strings.ToUpper(strings.TrimSpace(string(value)))
			stack = append(stack, comp)
			if recS < 0 && isRecordComponent(f, comp) {
				recName, recDep, recS, k = comp, len(stack), s, 0
			}
			continue
		case bytes.EqualFold(name, []byte("END")):
			comp := strings.ToUpper(strings.TrimSpace(string(value)))
			if len(stack) == 0 || stack[len(stack)-1] != comp {
				return nil, parseErr("line %d: END without matching BEGIN", lineNo)
			}
			stack = stack[:len(stack)-1]
			if recS >= 0 && comp == recName && len(stack) == recDep-1 {
				b.add(recS, p, k)
				recS = -1
			}
			continue
		}
		if recS < 0 {
			continue // the builder scans text between records
		}
		k |= x.scanProperty(f, name, params, value)
	}
	if len(stack) > 0 {
		return nil, parseErr("%d components not closed", len(stack))
	}
	return b.done(), nil
}

func isRecordComponent(f Format, comp string) bool {
	if f == FormatVCard {
		return comp == "VCARD"
	}
	return comp == "VEVENT" || comp == "VTODO" || comp == "VJOURNAL"
}

// nextContentLine appends the unfolded content line starting at data[p] to
// dst and returns the start of the next one. Folding is CRLF or LF followed
// by a space or tab; vCard 2.1 quoted-printable values continue after a
// line ending in '='.
func nextContentLine(dst, data []byte, p int) ([]byte, int) {
	qp := false
	first := true
	folded := false // the current physical line continues a folded one
	for p < len(data) {
		e := bytes.IndexByte(data[p:], '\n')
		next := len(data)
		if e >= 0 {
			next = p + e + 1
			e = p + e
		} else {
			e = len(data)
		}
		line := data[p:e]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if first {
			first = false
			if c := bytes.IndexByte(line, ':'); c > 0 && containsFold(line[:c], "QUOTED-PRINTABLE") {
				qp = true
			}
		} else if folded && len(line) > 0 {
			line = line[1:] // drop the folding whitespace
		}
		p = next
		if qp && bytes.HasSuffix(line, []byte("=")) && p < len(data) {
			// Keep the soft break for the quoted-printable decoder.
			dst = append(dst, line...)
			dst = append(dst, '\r', '\n')
			folded = false
			continue
		}
		dst = append(dst, line...)
		if p < len(data) && (data[p] == ' ' || data[p] == '\t') {
			folded = true
			continue
		}
		break
	}
	return dst, p
}

// splitContentLine splits "NAME;PARAM=V;...:VALUE" (group prefixes like
// "item1." stay in the name). Quoted parameter values may hold ':' and ';'.
func splitContentLine(l []byte) (name, params, value []byte) {
	inQuote := false
	for i, c := range l {
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ':' && !inQuote:
			head := l[:i]
			value = l[i+1:]
			if j := bytes.IndexByte(head, ';'); j >= 0 {
				return head[:j], head[j+1:], value
			}
			return head, nil, value
		}
	}
	return l, nil, nil
}

// scanProperty decodes one property and scans its parameters and value.
func (x *extractor) scanProperty(f Format, name, params, value []byte) kindSet {
	if i := bytes.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // vCard group "item1.EMAIL"
	}
	// The decoded forms go to scratch buffers the extractor keeps: vCard
	// 2.1 files encode and label most properties.
	if bytes.IndexByte(value, '=') >= 0 && containsFold(params, "QUOTED-PRINTABLE") {
		x.prop[0] = decodeQP(x.prop[0][:0], value)
		value = x.prop[0]
	}
	if i := indexFold(params, "CHARSET="); i >= 0 && !isASCII(value) {
		label := params[i+len("CHARSET="):]
		if j := bytes.IndexAny(label, ";:,"); j >= 0 {
			label = label[:j]
		}
		label = bytes.Trim(label, `"`)
		switch {
		case bytes.EqualFold(label, []byte("utf-8")) && utf8.Valid(value):
			// Decoding would not change it.
		case bytes.EqualFold(label, []byte("iso-8859-1")) || bytes.EqualFold(label, []byte("latin1")):
			// Every byte is the code point of the same value.
			x.prop[1] = x.prop[1][:0]
			for _, c := range value {
				x.prop[1] = utf8.AppendRune(x.prop[1], rune(c))
			}
			value = x.prop[1]
		default:
			if r, err := charset.Reader(string(label), bytes.NewReader(value)); err == nil {
				if dec, err := io.ReadAll(r); err == nil {
					value = dec
				}
			}
		}
	}
	if bytes.IndexByte(value, '\\') >= 0 {
		x.prop[2] = unescapeText(x.prop[2][:0], value)
		value = x.prop[2]
	}
	k := x.scan(params) | x.scan(value)
	if f == FormatVCard {
		switch {
		case bytes.EqualFold(name, []byte("FN")):
			k |= x.name(value)
		case bytes.EqualFold(name, []byte("N")):
			// N:Family;Given;Additional;Prefix;Suffix
			family, rest, ok := bytes.Cut(value, []byte(";"))
			if ok {
				given, _, _ := bytes.Cut(rest, []byte(";"))
				x.prop[3] = append(append(append(x.prop[3][:0], given...), ' '), family...)
				k |= x.name(x.prop[3])
			}
		}
	}
	return k
}

// unescapeText appends v with \n \N \, \; \\ of vCard/iCalendar values
// decoded to out.
func unescapeText(out, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n', 'N':
				out = append(out, '\n')
			default:
				out = append(out, v[i])
			}
			continue
		}
		out = append(out, v[i])
	}
	return out
}

// indexFold returns the index of the ASCII string sub (upper case) in b,
// compared case-insensitively, or -1.
func indexFold(b []byte, sub string) int {
	if len(sub) == 0 || bytes.IndexByte(b, sub[0]) < 0 && bytes.IndexByte(b, sub[0]+'a'-'A') < 0 {
		return -1 // quick reject: the first letter is not there in either case
	}
	for i := 0; i+len(sub) <= len(b); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := b[i+j]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
}

func containsFold(b []byte, sub string) bool { return indexFold(b, sub) >= 0 }

// decodeQP appends the quoted-printable value src decoded to dst. It is
// lenient like mime/quotedprintable (a stray '=' stays) but does not
// allocate a reader per property, which vCard 2.1 files have on every line.
func decodeQP(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '=' {
			dst = append(dst, c)
			continue
		}
		switch {
		case i+2 < len(src) && src[i+1] == '\r' && src[i+2] == '\n':
			i += 2 // soft line break
		case i+1 < len(src) && src[i+1] == '\n':
			i++
		case i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]):
			v, _ := hexByte(src[i+1 : i+3])
			dst = append(dst, v)
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
