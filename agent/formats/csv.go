package formats

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"path/filepath"
	"strings"
)

// scanCSV scans CSV and TSV: the header row is kept, a row is a record.
// Values in the configured name columns are matched as names.
func scanCSV(name string, data []byte, x *extractor, opts *Options) (*Result, error) {
	body := bytes.TrimPrefix(data, utf8BOM)
	bom := len(data) - len(body)
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = csvDelimiter(name, body)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	b := newBuilder(FormatCSV, data, x)
	header, err := r.Read()
	if err == io.EOF {
		return b.done(), nil
	}
	if err != nil {
		return nil, csvErr(err)
	}
	var nameCols []int
	if opts != nil && x.want&bitName != 0 {
		for i, h := range header {
			for _, c := range opts.NameColumns {
				if strings.EqualFold(strings.TrimSpace(h), c) {
					nameCols = append(nameCols, i)
				}
			}
		}
	}
	prev := int(r.InputOffset())
	var buf, nb []byte
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		s, e := prev, int(r.InputOffset())
		prev = e
		// encoding/csv skips empty lines; they belong to no record.
		for s < e && (body[s] == '\n' || body[s] == '\r') {
			s++
		}
		raw := body[s:e]
		var k kindSet
		if bytes.Contains(raw, []byte(`""`)) {
			// Doubled quotes could split an identifier: scan the decoded
			// fields, one per line.
			buf = buf[:0]
			for _, f := range row {
				buf = append(buf, f...)
				buf = append(buf, '\n')
			}
			k = x.scan(buf)
		} else {
			k = x.scan(raw)
		}
		for _, c := range nameCols {
			if c < len(row) {
				nb = append(nb[:0], row[c]...)
				k |= x.name(nb)
			}
		}
		b.add(bom+s, bom+e, k)
	}
	return b.done(), nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return parseErr("line %d column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return parseErr("%v", err)
}

// csvDelimiter picks tab for .tsv, else what the header line holds most of
// among tab, semicolon (Swedish spreadsheet exports) and comma.
func csvDelimiter(name string, body []byte) rune {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tsv", ".tab":
		return '\t'
	}
	if d := sniffDelimiter(head(body)); d != 0 {
		return rune(d)
	}
	line := body
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		line = body[:i]
	}
	best, n := ',', 0
	for _, d := range []rune{'\t', ';', ','} {
		if c := bytes.Count(line, []byte(string(d))); c > n {
			best, n = d, c
		}
	}
	return best
}
