package formats

import (
	"bytes"
)

// scanSQL scans plain SQL dumps: pg_dump COPY ... FROM stdin rows (a row is
// a record) and INSERT and REPLACE statements from pg_dump --inserts,
// mysqldump and phpMyAdmin (each tuple of a multi-row INSERT is a record;
// removing tuples keeps the statement valid, removing all of them removes
// the statement). Any other statement, and an INSERT whose tuples cannot
// be read, is a record of its own, so that no statement makes the whole
// dump one record. String escapes are decoded before matching.
func scanSQL(data []byte, x *extractor) (*Result, error) {
	mysql := bytes.Contains(head(data), []byte("-- MySQL dump")) || bytes.Contains(head(data), []byte("-- MariaDB dump")) ||
		bytes.Contains(head(data), []byte("/*!40101")) || bytes.Contains(head(data), []byte("-- phpMyAdmin SQL Dump"))
	b := newBuilder(FormatSQL, data, x)
	var buf []byte
	delim := []byte(";")
	for p := bomLen(data); p < len(data); {
		p = skipSQLGap(data, p)
		if p >= len(data) {
			break
		}
		e := lineEnd(data, p)
		line := data[p:e]
		switch {
		case hasPrefixFold(line, "COPY ") && bytes.Contains(line, []byte("FROM stdin;")):
			// Rows follow, one a line, up to a line "\.".
			terminated := false
			for p = e; p < len(data) && !terminated; {
				e := lineEnd(data, p)
				if t := bytes.TrimRight(data[p:e], "\r\n"); bytes.Equal(t, []byte(`\.`)) {
					p, terminated = e, true
					continue
				}
				buf = unescapeCopy(buf[:0], data[p:e])
				b.add(p, e, x.scan(buf))
				p = e
			}
			if !terminated {
				return nil, parseErr("COPY data not terminated")
			}
			continue
		case mysql && hasPrefixFold(line, "DELIMITER "):
			if d := bytes.TrimSpace(line[len("DELIMITER "):]); len(d) > 0 {
				delim = append(delim[:0], d...)
			}
			p = e
			continue
		case bytes.Equal(delim, []byte(";")) && (hasPrefixFold(line, "INSERT ") || hasPrefixFold(line, "REPLACE ")):
			st := b.save()
			if end, err := scanInsert(b, data, p, mysql, &buf); err == nil {
				p = end
				continue
			}
			b.restore(st)
		}
		e, err := statementEnd(data, p, delim, mysql)
		if err != nil {
			return nil, parseErr("line %d: %v", 1+bytes.Count(data[:p], []byte("\n")), err)
		}
		stmt := data[p:e]
		k := x.scan(stmt)
		if bytes.IndexByte(stmt, '\\') >= 0 || bytes.Contains(stmt, []byte("''")) {
			buf = unescapeSQLString(buf[:0], stmt, mysql, '\'')
			k |= x.scan(buf)
		}
		b.add(p, e, k)
		p = e
	}
	return b.done(), nil
}

// skipSQLGap skips white space and comments between statements (not
// MySQL's /*! ... */, which are executed).
func skipSQLGap(data []byte, p int) int {
	for p < len(data) {
		switch c := data[p]; {
		case isSpace(c):
			p++
		case c == '-' && bytes.HasPrefix(data[p:], []byte("--")):
			p = lineEnd(data, p)
		case c == '/' && bytes.HasPrefix(data[p:], []byte("/*")) && !bytes.HasPrefix(data[p:], []byte("/*!")):
			e := bytes.Index(data[p+2:], []byte("*/"))
			if e < 0 {
				return len(data)
			}
			p += 2 + e + 2
		default:
			return p
		}
	}
	return p
}

// statementEnd returns the end of the statement starting at data[p]: past
// its delimiter outside strings, quoted names, comments and PostgreSQL
// dollar quotes, and its line terminator; the end of data for a statement
// that lacks its delimiter. A string, comment or dollar quote that does not
// end is an error: the dump is cut off.
func statementEnd(data []byte, p int, delim []byte, mysql bool) (int, error) {
	i := p
	for i < len(data) {
		switch c := data[i]; {
		case bytes.HasPrefix(data[i:], delim):
			return stmtTail(data, i+len(delim)), nil
		case c == '\'' || c == '"' || c == '`':
			j, err := skipQuoted(data, i, mysql || c == '\'' && i > 0 && (data[i-1] == 'E' || data[i-1] == 'e'))
			if err != nil {
				return 0, err
			}
			i = j
		case c == '-' && bytes.HasPrefix(data[i:], []byte("--")):
			i = lineEnd(data, i)
		case c == '/' && bytes.HasPrefix(data[i:], []byte("/*")):
			e := bytes.Index(data[i+2:], []byte("*/"))
			if e < 0 {
				return 0, sqlErr("unterminated comment")
			}
			i += 2 + e + 2
		case c == '$' && !mysql:
			// $tag$ ... $tag$
			j := i + 1
			for j < len(data) && isIdentByte(data[j]) {
				j++
			}
			if j >= len(data) || data[j] != '$' || j > i+1 && data[i+1] >= '0' && data[i+1] <= '9' {
				i++
				continue
			}
			tag := data[i : j+1]
			e := bytes.Index(data[j+1:], tag)
			if e < 0 {
				return 0, sqlErr("unterminated dollar quote")
			}
			i = j + 1 + e + len(tag)
		default:
			i++
		}
	}
	return len(data), nil
}

// stmtTail returns the end of a statement whose delimiter ends at i: with
// the rest of its line when that is only white space and the newline.
func stmtTail(data []byte, i int) int {
	end := i
	for end < len(data) && (data[end] == ' ' || data[end] == '\t' || data[end] == '\r') {
		end++
	}
	if end < len(data) && data[end] == '\n' {
		return end + 1
	}
	return i
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
		case (c == 'V' || c == 'v') && hasPrefixFold(data[i:], "VALUE") && i > p && !isIdentByte(data[i-1]) &&
			(i+5 >= len(data) || !isIdentByte(data[i+5])):
			i += 5 // MySQL takes VALUE for VALUES
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
	end := stmtTail(data, i)
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
