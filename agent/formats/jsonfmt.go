package formats

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanJSONL scans JSON Lines: a non-blank line is a record.
func scanJSONL(data []byte, x *extractor) (*Result, error) {
	b := newBuilder(FormatJSONL, data, x)
	jsonLines(b, bomLen(data))
	return b.done(), nil
}

// jsonLines adds the JSON Lines records from p on.
func jsonLines(b *builder, p int) {
	var buf []byte
	for data := b.data; p < len(data); {
		e := lineEnd(data, p)
		line := data[p:e]
		if len(bytes.TrimSpace(line)) > 0 {
			buf = unescapeJSON(buf[:0], line)
			b.add(p, e, b.x.scan(buf))
		}
		p = e
	}
}

// scanJSON scans a JSON document: the elements of a top-level array are
// records; any other document is one record.
func scanJSON(data []byte, x *extractor) (*Result, error) {
	// A byte order mark is not part of the document (nor of any record).
	body := bytes.TrimPrefix(data, utf8BOM)
	if !validJSON(body) {
		return nil, parseErr("invalid JSON")
	}
	t := bytes.TrimLeft(body, " \t\r\n")
	if len(t) == 0 || t[0] != '[' {
		from := len(x.refs)
		return wholeResult(FormatJSON, data, x, x.scan(unescapeJSON(nil, data)), from), nil
	}
	// The document is valid JSON, so element boundaries can be found by
	// skipping strings and counting brackets.
	b := newBuilder(FormatJSON, data, x)
	var buf []byte
	var items []span
	i := len(data) - len(t) + 1
	for {
		i = skipJSONSpace(data, i)
		if i >= len(data) || data[i] == ']' {
			break
		}
		s := i
		i = skipJSONValue(data, i)
		items = append(items, span{s, i})
		buf = unescapeJSON(buf[:0], data[s:i])
		b.add(s, i, x.scan(buf))
		i = skipJSONSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i++
		}
	}
	res := b.done()
	if !res.Whole && len(items) > 0 {
		// Removing every element leaves an empty array.
		res.lists = []list{{stmt: span{items[0].s, items[len(items)-1].e}, items: items}}
	}
	return res, nil
}

// unescapeJSON appends src with JSON string escapes decoded (outside strings
// too: it only feeds identifier extraction).
func unescapeJSON(dst, src []byte) []byte {
	i := bytes.IndexByte(src, '\\')
	if i < 0 {
		return append(dst, src...)
	}
	dst = append(dst, src[:i]...)
	for ; i < len(src); i++ {
		c := src[i]
		if c != '\\' || i+1 >= len(src) {
			dst = append(dst, c)
			continue
		}
		i++
		switch src[i] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b', 'f':
			dst = append(dst, ' ')
		case 'u':
			r, n := jsonRune(src[i+1:])
			if n == 0 {
				dst = append(dst, '\\', 'u')
				continue
			}
			dst = utf8.AppendRune(dst, r)
			i += n
		default:
			dst = append(dst, src[i])
		}
	}
	return dst
}

// jsonRune decodes XXXX after \u (and a following \uXXXX low surrogate).
func jsonRune(s []byte) (rune, int) {
	if len(s) < 4 {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(s[:4]), 16, 16)
	if err != nil {
		return 0, 0
	}
	r := rune(v)
	if utf16.IsSurrogate(r) && len(s) >= 10 && s[4] == '\\' && s[5] == 'u' {
		if v2, err := strconv.ParseUint(string(s[6:10]), 16, 16); err == nil {
			if d := utf16.DecodeRune(r, rune(v2)); d != utf8.RuneError {
				return d, 10
			}
		}
	}
	return r, 4
}

func skipJSONSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n') {
		i++
	}
	return i
}

// skipJSONValue returns the end of the valid JSON value starting at d[i].
func skipJSONValue(d []byte, i int) int {
	depth := 0
	for i < len(d) {
		switch c := d[i]; c {
		case '"':
			i++
			for i < len(d) && d[i] != '"' {
				if d[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i
			}
			depth--
			i++
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return i
			}
			i++
		default:
			i++
		}
		if depth == 0 && i > 0 && (d[i-1] == '"' || d[i-1] == '}' || d[i-1] == ']') {
			return i
		}
	}
	return i
}
