package formats

import (
	"bytes"
)

// scanSQL scans plain SQL dumps: pg_dump COPY ... FROM stdin rows (a row is
// a record) and INSERT statements from pg_dump --inserts and mysqldump
// (each tuple of a multi-row INSERT is a record; removing tuples keeps the
// statement valid, removing all of them removes the statement). String
// escapes are decoded before matching.
func scanSQL(data []byte, x *extractor) (*Result, error) {
	mysql := bytes.Contains(head(data), []byte("-- MySQL dump")) || bytes.Contains(head(data), []byte("-- MariaDB dump")) ||
		bytes.Contains(head(data), []byte("/*!40101"))
	b := newBuilder(FormatSQL, data, x)
	var buf []byte
	inCopy := false
	lineNo := 0
	for p := bomLen(data); p < len(data); {
		lineNo++
		e := lineEnd(data, p)
		line := data[p:e]
		if inCopy {
			if t := bytes.TrimRight(line, "\r\n"); bytes.Equal(t, []byte(`\.`)) {
				inCopy = false
			} else {
				buf = unescapeCopy(buf[:0], line)
				b.add(p, e, x.scan(buf))
			}
			p = e
			continue
		}
		switch {
		case hasPrefixFold(line, "COPY ") && bytes.Contains(line, []byte("FROM stdin;")):
			inCopy = true
		case hasPrefixFold(line, "INSERT INTO ") || hasPrefixFold(line, "REPLACE INTO "):
			end, err := scanInsert(b, data, p, mysql, &buf)
			if err != nil {
				return nil, parseErr("line %d: %v", lineNo, err)
			}
			lineNo += bytes.Count(data[p:end], []byte("\n")) - 1
			e = end
		}
		p = e
	}
	if inCopy {
		return nil, parseErr("COPY data not terminated")
	}
	return b.done(), nil
}

// unescapeCopy decodes the text-format COPY escapes of one row.
func unescapeCopy(dst, line []byte) []byte {
	if bytes.IndexByte(line, '\\') < 0 {
		return append(dst, line...)
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '\\' || i+1 >= len(line) {
			dst = append(dst, c)
			continue
		}
		i++
		switch c = line[i]; c {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b', 'f', 'v':
			dst = append(dst, ' ')
		case 'N':
			dst = append(dst, ' ') // NULL
		case 'x':
			v, n := hexByte(line[i+1:])
			if n == 0 {
				dst = append(dst, 'x')
				continue
			}
			dst = append(dst, v)
			i += n
		default:
			if c >= '0' && c <= '7' {
				v, n := 0, 0
				for n < 3 && i+n < len(line) && line[i+n] >= '0' && line[i+n] <= '7' {
					v = v*8 + int(line[i+n]-'0')
					n++
				}
				dst = append(dst, byte(v))
				i += n - 1
				continue
			}
			dst = append(dst, c)
		}
	}
	return dst
}

func hexByte(s []byte) (byte, int) {
	v, n := byte(0), 0
	for n < 2 && n < len(s) {
		c := s[n]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return v, n
		}
		v = v<<4 | c
		n++
	}
	return v, n
}

// sqlErr is a parse failure inside an INSERT statement.
type sqlErr string

func (e sqlErr) Error() string { return string(e) }

// scanInsert parses the INSERT statement starting at data[p], adds its
// tuples as records and returns the end of the statement (after ';' and the
// line terminator).
func scanInsert(b *builder, data []byte, p int, mysql bool, buf *[]byte) (int, error) {
	// Find VALUES outside strings and quoted identifiers.
	i := p
	for {
		if i >= len(data) {
			return 0, sqlErr("INSERT without VALUES")
		}
		switch c := data[i]; {
		case c == '\'' || c == '"' || c == '`':
			j, err := skipQuoted(data, i, mysql)
			if err != nil {
				return 0, err
			}
			i = j
			continue
		case c == ';':
			return 0, sqlErr("INSERT without VALUES")
		case (c == 'V' || c == 'v') && hasPrefixFold(data[i:], "VALUES") && i > p && !isIdentByte(data[i-1]) &&
			(i+6 >= len(data) || !isIdentByte(data[i+6])):
			i += 6
		default:
			i++
			continue
		}
		break
	}
	var items []span
	first := b.res.NumRecords
	for {
		for i < len(data) && isSpace(data[i]) {
			i++
		}
		if i >= len(data) || data[i] != '(' {
			return 0, sqlErr("expected ( in VALUES")
		}
		s := i
		depth := 0
		*buf = (*buf)[:0]
		for {
			// Copy up to the next quote or parenthesis in one go.
			j := bytes.IndexAny(data[i:], sqlSpecial(mysql))
			if j < 0 {
				return 0, sqlErr("unterminated tuple")
			}
			*buf = append(*buf, data[i:i+j]...)
			i += j
			c := data[i]
			if c == '\'' || c == '"' {
				esc := mysql || i > 0 && (data[i-1] == 'E' || data[i-1] == 'e')
				j, err := skipQuoted(data, i, esc)
				if err != nil {
					return 0, err
				}
				*buf = append(*buf, ' ')
				*buf = unescapeSQLString(*buf, data[i+1:j-1], esc, c)
				*buf = append(*buf, ' ')
				i = j
				continue
			}
			*buf = append(*buf, c)
			i++
			if c == '(' {
				depth++
			} else if depth--; depth == 0 {
				break
			}
		}
		items = append(items, span{s, i})
		b.add(s, i, b.x.scan(*buf))
		for i < len(data) && isSpace(data[i]) {
			i++
		}
		if i >= len(data) {
			return 0, sqlErr("unterminated INSERT")
		}
		if data[i] == ',' {
			i++
			continue
		}
		if data[i] == ';' {
			i++
			break
		}
		// ON DUPLICATE KEY UPDATE ... or RETURNING ...: runs to ';'.
		for i < len(data) && data[i] != ';' {
			if data[i] == '\'' || data[i] == '"' || data[i] == '`' {
				j, err := skipQuoted(data, i, mysql)
				if err != nil {
					return 0, err
				}
				i = j
				continue
			}
			i++
		}
		if i >= len(data) {
			return 0, sqlErr("unterminated INSERT")
		}
		i++
		break
	}
	// The statement takes its line terminator with it.
	end := i
	for end < len(data) && (data[end] == ' ' || data[end] == '\t' || data[end] == '\r') {
		end++
	}
	if end < len(data) && data[end] == '\n' {
		end++
	} else {
		end = i
	}
	b.res.lists = append(b.res.lists, list{stmt: span{p, end}, items: items, first: first})
	// The builder must not scan the statement's tail as a gap: the
	// separators and "INSERT INTO t VALUES" hold no identifiers of records.
	b.prev = end
	return end, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// skipQuoted returns the index after the quoted string starting at data[i]
// ('...', "..." or `...`, the quote doubled to escape it, or backslash
// escapes when backslash is set).
func skipQuoted(data []byte, i int, backslash bool) (int, error) {
	q := data[i]
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			if backslash && q != '`' {
				j++
			}
		case q:
			if j+1 < len(data) && data[j+1] == q {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, sqlErr("unterminated string")
}

// unescapeSQLString appends the decoded content of a SQL string literal.
func unescapeSQLString(dst, s []byte, backslash bool, q byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && i+1 < len(s) && s[i+1] == q:
			i++
		case c == '\\' && backslash && i+1 < len(s):
			i++
			switch c = s[i]; c {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case '0', 'Z', 'b':
				c = ' '
			case 'x':
				if v, n := hexByte(s[i+1:]); n > 0 {
					c = v
					i += n
				}
			}
		}
		dst = append(dst, c)
	}
	return dst
}

// sqlSpecial is what ends a run of plain bytes inside a tuple: in MySQL
// double quotes delimit strings too, in PostgreSQL they quote identifiers
// (which cannot hold parentheses that matter here).
func sqlSpecial(mysql bool) string {
	if mysql {
		return "'\"()"
	}
	return "'()"
}
