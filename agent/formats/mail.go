package formats

import (
	"bytes"
	"cmp"
	"fmt"
	"html"
	"io"
	"mime"
	"slices"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // also makes go-message decode all common charsets
)

// scanMail scans one RFC 5322 message (an .eml or a Maildir file): the
// message is the single record.
func scanMail(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	from := len(x.refs)
	k, err := x.scanMessage(data, opts, depth)
	if err != nil {
		return nil, err
	}
	return wholeResult(FormatMail, data, x, k, from), nil
}

// scanMbox scans an mbox (mboxo or mboxrd): a message, from its "From "
// line to the next, is a record.
func scanMbox(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	b := newBuilder(FormatMbox, data, x)
	starts := mboxStarts(data)
	if len(starts) == 0 {
		return nil, parseErr("no mbox From line")
	}
	for i, s := range starts {
		e := len(data)
		if i+1 < len(starts) {
			e = starts[i+1]
		}
		msg := data[s:e]
		if nl := bytes.IndexByte(msg, '\n'); nl >= 0 {
			msg = msg[nl+1:] // the From_ line
		} else {
			msg = nil
		}
		from := len(x.refs)
		k, err := x.scanMessage(msg, opts, depth)
		if err != nil {
			// One broken message must not hide the others: scan its bytes.
			x.dropRefs(from)
			k = x.scanRaw(msg)
		}
		b.add(s, e, k)
	}
	return b.done(), nil
}

// mboxStarts returns the offsets of the "From " lines that start messages.
func mboxStarts(data []byte) []int {
	var starts []int
	if bytes.HasPrefix(data, []byte("From ")) {
		starts = append(starts, 0)
	}
	for p := 0; ; {
		i := bytes.Index(data[p:], []byte("\nFrom "))
		if i < 0 {
			return starts
		}
		p += i + 1
		starts = append(starts, p)
	}
}

// scanMessage decodes a message's headers (encoded-words in any charset)
// and every part (transfer encodings, charsets, HTML) and scans them;
// attachments are scanned by their own format where known.
func (x *extractor) scanMessage(msg []byte, opts *Options, depth int) (kindSet, error) {
	hdr, body, ok := splitHeader(msg)
	if !ok {
		return 0, fmt.Errorf("%w: message header not terminated", ErrParse)
	}
	k, simple := x.scanRawHeader(hdr)
	if simple {
		// A single text part in UTF-8 or ASCII without transfer encoding:
		// its bytes are its text.
		return k | x.scan(body), nil
	}
	e, err := message.Read(bytes.NewReader(msg))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		// Library errors may quote the offending line: say only where.
		return 0, fmt.Errorf("%w: malformed message header", ErrParse)
	}
	limit := opts.maxSize()
	var buf bytes.Buffer
	walkErr := e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		if len(path) > maxMIMEDepth {
			// Each level reads all that is below it again: deeper
			// nesting costs more than linear time.
			return errMIMEDepth
		}
		if path != nil {
			k |= x.scanHeader(part.Header)
		}
		if part.MultipartReader() != nil {
			return nil // its parts come next
		}
		buf.Reset()
		if _, err := io.Copy(&buf, io.LimitReader(part.Body, limit)); err != nil {
			// A broken encoding: what was decoded is still scanned, and so
			// are the raw bytes of the message below.
			k |= x.scanRaw(buf.Bytes())
			return fmt.Errorf("%w: part %v body", ErrParse, path)
		}
		k |= x.scanPart(part, buf.Bytes(), opts, depth)
		return nil
	})
	if walkErr == errMIMEDepth {
		return 0, walkErr
	}
	if walkErr != nil {
		// Whatever the parts did not reveal, the raw message may.
		return k | x.scanRaw(msg), nil
	}
	return k, nil
}

// maxMIMEDepth bounds the nesting of multiparts read part by part; a
// message nested deeper is scanned as raw bytes (the fallback).
const maxMIMEDepth = 32

var errMIMEDepth = fmt.Errorf("%w: multiparts nested deeper than %d", ErrParse, maxMIMEDepth)

// splitHeader splits a message at the blank line after its header. A
// message that is all header (no body) is accepted.
func splitHeader(msg []byte) (hdr, body []byte, ok bool) {
	if len(msg) == 0 {
		return nil, nil, true
	}
	if msg[0] == '\n' {
		return nil, msg[1:], true
	}
	if len(msg) > 1 && msg[0] == '\r' && msg[1] == '\n' {
		return nil, msg[2:], true
	}
	for p := 0; p < len(msg); {
		i := bytes.IndexByte(msg[p:], '\n')
		if i < 0 {
			return msg, nil, true
		}
		p += i + 1
		if p < len(msg) && msg[p] == '\n' {
			return msg[:p], msg[p+1:], true
		}
		if p+1 < len(msg) && msg[p] == '\r' && msg[p+1] == '\n' {
			return msg[:p], msg[p+2:], true
		}
	}
	return msg, nil, true
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// scanRawHeader scans an unparsed header block: unfolded, with
// encoded-words decoded. simple reports a single-part message whose body
// bytes are UTF-8 or ASCII text as they stand.
func (x *extractor) scanRawHeader(hdr []byte) (k kindSet, simple bool) {
	simple = true
	for p := 0; p < len(hdr); {
		e := bytes.IndexByte(hdr[p:], '\n')
		if e < 0 {
			e = len(hdr)
		} else {
			e += p + 1
		}
		line := hdr[p:e]
		p = e
		inBuf := false // line is in x.hdr
		// Unfold: a line break before whitespace is not part of the value.
		for p < len(hdr) && (hdr[p] == ' ' || hdr[p] == '\t') {
			e := bytes.IndexByte(hdr[p:], '\n')
			if e < 0 {
				e = len(hdr)
			} else {
				e += p + 1
			}
			if !inBuf {
				x.hdr = append(x.hdr[:0], line...)
				inBuf = true
			}
			x.hdr = append(bytes.TrimRight(x.hdr, "\r\n"), hdr[p:e]...)
			line = x.hdr
			p = e
		}
		k |= x.scan(line)
		if len(line) > 8 && (line[0] == 'C' || line[0] == 'c') && (bytes.IndexByte(line, '*') >= 0 || bytes.Contains(line, []byte("name"))) {
			if name, value, ok := bytes.Cut(line, []byte(":")); ok && hasPrefixFold(name, "Content-") {
				k |= x.scanParams(value)
			}
		}
		if bytes.Contains(line, []byte("=?")) {
			if dec, err := wordDecoder.DecodeHeader(string(line)); err == nil {
				k |= x.scan([]byte(dec))
			}
		}
		if simple && len(line) > 8 && (line[0] == 'C' || line[0] == 'c') {
			name, value, _ := bytes.Cut(line, []byte(":"))
			switch {
			case bytes.EqualFold(name, []byte("Content-Type")):
				mt, params, err := mime.ParseMediaType(string(bytes.TrimSpace(value)))
				cs := strings.ToLower(params["charset"])
				simple = err == nil && mt == "text/plain" && (cs == "" || cs == "utf-8" || cs == "us-ascii")
			case bytes.EqualFold(name, []byte("Content-Transfer-Encoding")):
				switch strings.ToLower(string(bytes.TrimSpace(value))) {
				case "7bit", "8bit", "binary", "":
				default:
					simple = false
				}
			}
		}
	}
	return k, simple
}

// scanHeader scans every header field, encoded-words decoded.
func (x *extractor) scanHeader(h message.Header) kindSet {
	var k kindSet
	fields := h.Fields()
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		x.hdr = append(x.hdr[:0], v...)
		k |= x.scan(x.hdr)
		if raw := fields.Value(); v != raw {
			x.hdr = append(x.hdr[:0], raw...)
			k |= x.scan(x.hdr)
		}
		if raw := fields.Value(); hasPrefixFold([]byte(fields.Key()), "Content-") && (strings.IndexByte(raw, '*') >= 0 || strings.Contains(raw, "name")) {
			k |= x.scanParams([]byte(fields.Value()))
		}
	}
	return k
}

// scanParams scans the parameters of a MIME header value as file names,
// also those written in RFC 2231 form (filename*=UTF-8'sv'anna%40example.se,
// or continuations filename*0*=, filename*1*=), whose values only decoding
// and joining reveal: as the mime package decodes them, and joined as
// written for charsets it does not decode (the percent escapes are decoded
// by scan). A value is matched as a file name, without its extension.
func (x *extractor) scanParams(v []byte) kindSet {
	var k kindSet
	if _, params, err := mime.ParseMediaType(string(bytes.TrimSpace(v))); err == nil {
		for _, p := range params {
			k |= x.scanNameKinds(p)
		}
	}
	for _, p := range bytes.Split(joinContinuations(v), []byte("\n")) {
		if len(p) > 0 {
			k |= x.scanNameKinds(string(p))
		}
	}
	return k
}

// joinContinuations joins the pieces of continued parameters (name*0,
// name*1*, ...) in their order, one parameter a line, with the charset and
// language of an encoded first piece left off.
func joinContinuations(v []byte) []byte {
	type piece struct {
		n   int
		val string
	}
	pieces := make(map[string][]piece)
	var names []string
	for _, p := range splitParams(string(v)) {
		name, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		star := strings.IndexByte(name, '*')
		if star < 0 {
			continue
		}
		num := strings.TrimSuffix(name[star+1:], "*")
		n := 0
		for _, c := range num {
			if c < '0' || c > '9' || n > 1000 {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n < 0 {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if n == 0 && strings.HasSuffix(name, "*") {
			// charset'language'value
			if i := strings.IndexByte(val, '\''); i >= 0 {
				if j := strings.IndexByte(val[i+1:], '\''); j >= 0 {
					val = val[i+1+j+1:]
				}
			}
		}
		base := name[:star]
		if _, ok := pieces[base]; !ok {
			names = append(names, base)
		}
		pieces[base] = append(pieces[base], piece{n, val})
	}
	var out []byte
	for _, name := range names {
		ps := pieces[name]
		slices.SortStableFunc(ps, func(a, b piece) int { return cmp.Compare(a.n, b.n) })
		for _, p := range ps {
			out = append(out, p.val...)
		}
		out = append(out, '\n')
	}
	return out
}

// splitParams splits a header value at the semicolons outside quotes.
func splitParams(v string) []string {
	var ps []string
	quoted := false
	s := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ';':
			if !quoted {
				ps = append(ps, v[s:i])
				s = i + 1
			}
		}
	}
	return append(ps, v[s:])
}

// scanPart scans one decoded leaf part.
func (x *extractor) scanPart(part *message.Entity, body []byte, opts *Options, depth int) kindSet {
	mt, params, _ := part.Header.ContentType()
	disp, dparams, _ := part.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	switch {
	case mt == "message/rfc822" || mt == "message/global":
		if depth+1 >= maxDepth {
			return x.scanRaw(body) // forwarded too deep: read the bytes
		}
		from := len(x.refs)
		k, err := x.scanMessage(body, opts, depth+1)
		if err != nil {
			x.dropRefs(from)
			return x.scanRaw(body)
		}
		return k
	case mt == "text/html":
		return x.scanMarkup(body)
	case (mt == "text/plain" || mt == "") && disp != "attachment" && name == "":
		return x.scan(body)
	}
	if depth >= maxDepth {
		return x.scanRaw(body)
	}
	// An attachment: by its own format where known, else as bytes.
	f := Detect(name, body)
	if f == FormatText && mt != "" && !strings.HasPrefix(mt, "text/") {
		f = FormatFallback
	}
	if f == FormatMail && depth+1 >= maxDepth {
		return x.scanRaw(body)
	}
	from := len(x.refs)
	res, err := scanFormat(f, name, body, x, opts, depth+1)
	if err != nil {
		x.dropRefs(from)
		return x.scanRaw(body)
	}
	return res.recordKinds(x)
}

// scanMarkup scans HTML or XML twice: as text with tags stripped and
// entities decoded (an address split by markup or written as &#64;), and
// whole with entities decoded (addresses in attributes like href).
func (x *extractor) scanMarkup(b []byte) kindSet {
	k := x.scan(stripTags(nil, b))
	if bytes.IndexByte(b, '&') >= 0 {
		k |= x.scan([]byte(html.UnescapeString(string(b))))
	} else {
		k |= x.scan(b)
	}
	return k
}

// breakTags end a block of text: their tags become a line break so that
// numbers in neighbouring cells or paragraphs do not run together. Other
// tags vanish, joining text runs split by formatting (docx w:r runs).
var breakTags = map[string]bool{
	"p": true, "br": true, "div": true, "tr": true, "td": true, "th": true, "li": true,
	"table": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"title": true, "blockquote": true, "pre": true, "hr": true, "ul": true, "ol": true,
	"tab": true, "tc": true, "c": true, "row": true, "si": true, "is": true, "v": true,
	"table-cell": true, "table-row": true, "h": true, "line-break": true, "s": true, "cr": true,
}

// stripTags appends the text of markup b, entities decoded, to dst.
func stripTags(dst, b []byte) []byte {
	start := len(dst)
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			dst = append(dst, b[i:]...)
			break
		}
		dst = append(dst, b[i:i+lt]...)
		i += lt
		gt := bytes.IndexByte(b[i:], '>')
		if gt < 0 {
			dst = append(dst, b[i:]...)
			break
		}
		tag := b[i+1 : i+gt]
		i += gt + 1
		name := tag
		name = bytes.TrimLeft(name, "/")
		if j := bytes.IndexAny(name, " \t\r\n/"); j >= 0 {
			name = name[:j]
		}
		if j := bytes.IndexByte(name, ':'); j >= 0 {
			name = name[j+1:] // namespace prefix: w:p, text:p
		}
		if breakTags[strings.ToLower(string(name))] {
			dst = append(dst, '\n')
		}
	}
	if bytes.IndexByte(dst[start:], '&') >= 0 {
		text := html.UnescapeString(string(dst[start:]))
		dst = append(dst[:start], text...)
	}
	return dst
}
