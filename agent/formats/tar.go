package formats

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
)

// gzipped is the decompressed form of a compressed tar archive, whose
// records are ranges of plain: redaction cuts them there and compresses
// the result again with the original gzip header.
type gzipped struct {
	header gzip.Header
	plain  []byte
}

// scanTar scans a tar archive: a member, from its first header block (a
// PAX or GNU long-name header before it included) to the end of its
// padded content, is a record. Its content is scanned by its own format,
// the elements of its name as file names. Cutting whole members leaves a
// valid archive in which every other block is unchanged.
func scanTar(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	b := newBuilder(FormatTar, data, x)
	br := bytes.NewReader(data)
	tr := tar.NewReader(br)
	start := 0
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The error may quote a header field: say only which member.
			return nil, parseErr("tar member %d: invalid header", n)
		}
		dataStart := len(data) - br.Len()
		var k kindSet
		k |= x.scan(data[start:dataStart]) // PAX records, link names
		for _, el := range strings.Split(hdr.Name, "/") {
			if el != "" {
				k |= x.scanNameKinds(el)
			}
		}
		if hdr.Linkname != "" {
			k |= x.scanNameKinds(hdr.Linkname)
		}
		var end int
		switch {
		case hdr.Typeflag == tar.TypeReg && !isSparse(hdr):
			// The content is stored as it is, right after the header.
			if hdr.Size < 0 || hdr.Size > int64(len(data)-dataStart) {
				return nil, parseErr("tar member %d: truncated", n)
			}
			end = dataStart + int(hdr.Size)
			if content := data[dataStart:end]; int64(len(content)) > opts.maxSize() {
				k |= x.scanRaw(content)
			} else if len(content) > 0 {
				k |= x.scanContent(hdr.Name, content, opts, depth)
			}
		case isHeaderOnly(hdr.Typeflag):
			end = dataStart
		default:
			// Sparse files and unknown kinds: read through the reader,
			// which says where their blocks end.
			kk, err := x.scanMember(hdr.Name, tr, opts, depth)
			if err != nil {
				return nil, parseErr("tar member %d: truncated", n)
			}
			k |= kk
			end = len(data) - br.Len()
		}
		// The reader skips the rest of the content and its padding.
		end = min(len(data), (end+511)/512*512)
		b.add(start, end, k)
		start = end
	}
	return b.done(), nil
}

// isHeaderOnly reports the member kinds that have no content, whatever
// their size field says (as archive/tar reads them).
func isHeaderOnly(flag byte) bool {
	switch flag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return true
	}
	return false
}

// isSparse reports a PAX sparse file, whose stored content is not its
// content.
func isSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// redact cuts recs from the decompressed archive and compresses it again.
func (g *gzipped) redact(res *Result, recs []Record) []byte {
	plain, _ := cutRecords(g.plain, res, recs)
	var out bytes.Buffer
	// Writing to memory does not fail, nor does a valid level.
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Header = g.header
	zw.Write(plain)
	zw.Close()
	return out.Bytes()
}
