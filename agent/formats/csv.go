package formats

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// scanCSV scans CSV and TSV: the header row is kept, a row is a record.
// Values in the configured name columns are matched as names.
func scanCSV(name string, data []byte, x *extractor, opts *Options) (*Result, error) {
	body := bytes.TrimPrefix(data, utf8BOM)
	bom := len(data) - len(body)
	comma := csvDelimiter(name, body)
	if comma < utf8.RuneSelf && plainCSV(body) {
		return csvRecords(data, bom, &plainRows{body: body, comma: byte(comma)}, x, opts)
	}
	return csvRecords(data, bom, newCSVReader(body, comma), x, opts)
}

func newCSVReader(body []byte, comma rune) csvReader {
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = comma
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return csvReader{r}
}

// csvRecords makes the records of data, whose rows after the byte order
// mark (bom bytes) rows reads.
func csvRecords(data []byte, bom int, rows csvRows, x *extractor, opts *Options) (*Result, error) {
	b := newBuilder(FormatCSV, data, x)
	header, prev, err := rows.next()
	if err == io.EOF {
		return b.done(), nil
	}
	if err != nil {
		return nil, csvErr(err)
	}
	nameCols := csvNameCols(header, x, opts)
	if len(nameCols) == 0 {
		rows.skipFields()
	}
	if err := addCSVRows(b, bom, rows, prev, nameCols); err != nil {
		return nil, err
	}
	return b.done(), nil
}

// csvNameCols returns the columns of header whose values are matched as
// names.
func csvNameCols(header []string, x *extractor, opts *Options) []int {
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
	return nameCols
}

// addCSVRows adds the rows that rows reads as records; prev is where
// the previous row ended, in the body after the byte order mark (bom
// bytes).
func addCSVRows(b *builder, bom int, rows csvRows, prev int, nameCols []int) error {
	x, body := b.x, b.data[bom:]
	var buf, nb []byte
	for {
		row, e, err := rows.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvErr(err)
		}
		s := prev
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
	return nil
}

// csvRows reads the rows of a CSV file: next returns a row's fields (valid
// until the next call) and the offset just past it. After skipFields, the
// fields may be left out.
type csvRows interface {
	next() (fields []string, end int, err error)
	skipFields()
}

type csvReader struct{ r *csv.Reader }

func (c csvReader) next() ([]string, int, error) {
	row, err := c.r.Read()
	return row, int(c.r.InputOffset()), err
}

func (c csvReader) skipFields() {}

// plainCSV reports whether body can be split as encoding/csv would
// without it: there is no quote, and every carriage return ends a line.
// Then a row is a line that is not empty, and its fields are what lies
// between delimiters.
func plainCSV(body []byte) bool {
	if bytes.IndexByte(body, '"') >= 0 {
		return false
	}
	for p := 0; ; {
		i := bytes.IndexByte(body[p:], '\r')
		if i < 0 {
			return true
		}
		p += i + 1
		if p >= len(body) || body[p] != '\n' {
			return false
		}
	}
}

// plainRows splits a plainCSV body into rows.
type plainRows struct {
	body     []byte
	comma    byte
	off      int
	fields   []string
	noFields bool
}

func (r *plainRows) skipFields() { r.noFields = true }

func (r *plainRows) next() ([]string, int, error) {
	for r.off < len(r.body) {
		line := r.body[r.off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		r.off += len(line)
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if r.noFields {
			return nil, r.off, nil
		}
		// One string a row, as encoding/csv makes, and its fields in it.
		r.fields = r.fields[:0]
		rest := string(line)
		for {
			i := strings.IndexByte(rest, r.comma)
			if i < 0 {
				break
			}
			r.fields = append(r.fields, rest[:i])
			rest = rest[i+1:]
		}
		r.fields = append(r.fields, rest)
		return r.fields, r.off, nil
	}
	return nil, r.off, io.EOF
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
