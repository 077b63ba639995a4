package formats

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// scanGzip scans the decompressed content by its own format; a hit is the
// whole file, except in a compressed tar archive, whose members are its
// records (see scanTar).
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
	// A single-stream gzip file ends in its content's size (mod 2^32):
	// room for it saves growing the buffer.
	var hint int64
	if len(data) >= 4 {
		hint = int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
	}
	plain, over, err := readMember(zr, opts.maxSize(), hint)
	if err != nil {
		return nil, parseErr("gzip: %v", err)
	}
	var k kindSet
	if over {
		// Too big to parse: scan what was read and stream the rest,
		// holding no more than MaxSize of it.
		k, err = x.scanStream(io.MultiReader(bytes.NewReader(plain), zr))
		if err != nil {
			return nil, parseErr("gzip: %v", err)
		}
		return wholeResult(FormatGzip, data, x, k, from), nil
	}
	if depth+1 < maxDepth && Detect(inner, plain) == FormatTar {
		if res, err := scanTar(plain, x, opts, depth+1); err == nil {
			if !res.Whole {
				res.gzip = &gzipped{header: zr.Header, plain: plain}
				return res, nil
			}
			x.dropRefs(from)
		} else {
			x.dropRefs(from)
		}
	}
	k = x.scanContent(inner, plain, opts, depth)
	return wholeResult(FormatGzip, data, x, k, from), nil
}

// readMember reads a decompressed member into memory, up to limit bytes;
// over says there is more. hint is the size the member claims, used only
// to size the buffer.
func readMember(r io.Reader, limit, hint int64) (b []byte, over bool, err error) {
	b = make([]byte, 0, min(max(hint, 512), limit+1))
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > limit {
				return b, true, nil
			}
			// Grow, never past limit+1: peak memory stays near the limit.
			b = slices.Grow(b, int(min(int64(cap(b)), limit+1-int64(len(b)))))
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, int64(len(b)) > limit, nil
		}
		if err != nil {
			return b, false, err
		}
	}
}

// scanMember scans one decompressed member: by its format when it fits in
// memory, else streamed as raw bytes.
func (x *extractor) scanMember(name string, r io.Reader, opts *Options, depth int) (kindSet, error) {
	b, over, err := readMember(r, opts.maxSize(), 0)
	if err != nil {
		return x.scanRaw(b), err
	}
	if over {
		// Too big to parse: scan what was read and stream the rest.
		return x.scanStream(io.MultiReader(bytes.NewReader(b), r))
	}
	return x.scanContent(name, b, opts, depth), nil
}

// scanContent scans a member that fits in memory by its own format and
// returns the kinds found in it.
func (x *extractor) scanContent(name string, b []byte, opts *Options, depth int) kindSet {
	if depth+1 >= maxDepth {
		return x.scanRaw(b)
	}
	if isMarkupName(name) {
		return x.scanMarkup(b)
	}
	return scanWith(name, b, x, opts, depth+1).recordKinds(x)
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
