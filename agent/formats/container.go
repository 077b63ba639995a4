package formats

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"strings"
)

// scanGzip scans the decompressed content by its own format; a hit is the
// whole file.
func scanGzip(name string, data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	from := len(x.refs)
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, parseErr("gzip: %v", err)
	}
	defer zr.Close()
	inner := strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".GZ")
	if strings.HasSuffix(strings.ToLower(name), ".tgz") {
		inner = strings.TrimSuffix(name, name[len(name)-4:]) + ".tar"
	}
	k, err := x.scanMember(inner, zr, opts, depth)
	if err != nil {
		return nil, parseErr("gzip: %v", err)
	}
	return wholeResult(FormatGzip, data, x, k, from), nil
}

// scanMember scans one decompressed member: by its format when it fits in
// memory, else streamed as raw bytes.
func (x *extractor) scanMember(name string, r io.Reader, opts *Options, depth int) (kindSet, error) {
	limit := opts.maxSize()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return x.scanRaw(buf.Bytes()), err
	}
	if n > limit {
		// Too big to parse: scan what was read and stream the rest.
		k := x.scanRaw(buf.Bytes())
		kk, err := x.scanStream(r)
		return k | kk, err
	}
	b := buf.Bytes()
	if depth+1 >= maxDepth {
		return x.scanRaw(b), nil
	}
	if isMarkupName(name) {
		return x.scanMarkup(b), nil
	}
	res := scanWith(name, b, x, opts, depth+1)
	var k kindSet
	for _, rec := range res.Records {
		for _, kk := range rec.Kinds {
			k |= x.bit(kk)
		}
	}
	return k, nil
}

// isMarkupName reports XML members of office files (document.xml,
// sharedStrings.xml, content.xml, relationships).
func isMarkupName(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".xml", ".rels", ".html", ".htm", ".xhtml":
		return true
	}
	return false
}

// scanZip scans every member of a zip archive (docx, xlsx, odt, ...); a hit
// is the whole file.
func scanZip(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	from := len(x.refs)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, parseErr("zip: %v", err)
	}
	var k kindSet
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		k |= x.scanNameKinds(f.Name)
		rc, err := f.Open()
		if err != nil {
			return nil, parseErr("zip member %s: %v", fileIndex(zr, f), err)
		}
		kk, err := x.scanMember(f.Name, rc, opts, depth)
		rc.Close()
		k |= kk
		if err != nil {
			return nil, parseErr("zip member %s: %v", fileIndex(zr, f), err)
		}
	}
	return wholeResult(FormatZip, data, x, k, from), nil
}

// fileIndex names a member by position: member names may hold identifiers.
func fileIndex(zr *zip.Reader, f *zip.File) string {
	for i, g := range zr.File {
		if g == f {
			return fmt.Sprint(i)
		}
	}
	return "?"
}
