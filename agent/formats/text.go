package formats

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanText scans plain text and logs: a line is a record. UTF-16 with a
// byte order mark is decoded, and read by its format when it has one.
func scanText(name string, data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return scanUTF16(name, data, x, opts, depth)
	}
	b := newBuilder(FormatText, data, x)
	textLines(b, bomLen(data))
	return b.done(), nil
}

// textLines adds the lines of text from p on as records.
func textLines(b *builder, p int) {
	for data := b.data; p < len(data); {
		e := lineEnd(data, p)
		b.add(p, e, b.x.scan(data[p:e]))
		p = e
	}
}

// scanUTF16Text splits UTF-16 text at U+000A code units.
func scanUTF16Text(data []byte, x *extractor) *Result {
	bigEndian := data[0] == 0xFE
	b := newBuilder(FormatText, data, x)
	var buf []byte
	p := 2 // the byte order mark is not part of a record
	for p < len(data) {
		e := p
		for ; e+1 < len(data); e += 2 {
			if bigEndian && data[e] == 0 && data[e+1] == '\n' || !bigEndian && data[e] == '\n' && data[e+1] == 0 {
				e += 2
				break
			}
		}
		if e+1 >= len(data) {
			e = len(data)
		}
		buf = decodeUTF16(buf[:0], data[p:e], bigEndian)
		b.add(p, e, x.scan(buf))
		p = e
	}
	return b.done()
}

// decodeUTF16 appends the UTF-8 form of UTF-16 bytes to dst.
func decodeUTF16(dst, src []byte, bigEndian bool) []byte {
	var u [2]uint16
	for i := 0; i+1 < len(src); i += 2 {
		var c uint16
		if bigEndian {
			c = uint16(src[i])<<8 | uint16(src[i+1])
		} else {
			c = uint16(src[i]) | uint16(src[i+1])<<8
		}
		if c < utf8.RuneSelf {
			dst = append(dst, byte(c))
			continue
		}
		r := rune(c)
		if utf16.IsSurrogate(r) && i+3 < len(src) {
			if bigEndian {
				u[1] = uint16(src[i+2])<<8 | uint16(src[i+3])
			} else {
				u[1] = uint16(src[i+2]) | uint16(src[i+3])<<8
			}
			u[0] = c
			if dr := utf16.DecodeRune(rune(u[0]), rune(u[1])); dr != utf8.RuneError {
				r = dr
				i += 2
			}
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// scanFallback scans bytes of unknown format as UTF-8 and as UTF-16 (both
// byte orders); a hit makes the whole file the record.
func scanFallback(data []byte, x *extractor) *Result {
	from := len(x.refs)
	k := x.scanRaw(data)
	if isMarkup(head(data)) {
		k |= x.scanMarkup(data)
	}
	return wholeResult(FormatFallback, data, x, k, from)
}

// scanRaw scans raw bytes as text, and as UTF-16 when zero bytes suggest it.
// Large inputs are scanned in overlapping windows, as a stream is, so
// that the UTF-16 decoding needs no more than a window's room.
func (x *extractor) scanRaw(data []byte) kindSet {
	defer x.dropU16()
	if len(data) <= streamChunk+streamOverlap {
		return x.scanRawWindow(data)
	}
	if need := (streamChunk+streamOverlap)/2*3 + 4; cap(x.u16) < need {
		x.u16 = make([]byte, 0, need) // room for every window
	}
	var k kindSet
	for off := 0; off < len(data); off += streamChunk {
		k |= x.scanRawWindow(data[max(0, off-streamOverlap):min(len(data), off+streamChunk)])
	}
	return k
}

// dropU16 lets go of a large UTF-16 buffer, once a file is scanned; a
// small one is kept for the next file.
func (x *extractor) dropU16() {
	if cap(x.u16) > 1<<20 {
		x.u16 = nil
	}
}

func (x *extractor) scanRawWindow(data []byte) kindSet {
	k := x.scan(data)
	if bytes.IndexByte(data, 0) >= 0 {
		// Little endian at offset 0 and 1 covers both byte orders for the
		// ASCII characters identifiers are made of, at either alignment.
		// Room for the worst case (three UTF-8 bytes per code unit), so
		// decoding never grows the buffer.
		if need := len(data)/2*3 + 4; cap(x.u16) < need {
			x.u16 = make([]byte, 0, need)
		}
		// Text-like data (many zero bytes, as UTF-16 text and zero
		// padding have) is decoded whole: finding its triggers one by
		// one would cost more.
		whole := x.noStretches || bytes.Count(data, []byte{0}) > len(data)/16
		k |= x.scanUTF16LE(data, 0, whole)
		if len(data) > 1 {
			k |= x.scanUTF16LE(data, 1, whole)
		}
	}
	return k
}

// scanUTF16LE scans data[off:] decoded as UTF-16LE: whole, or, since
// most of binary data would decode to text without a candidate, only the
// stretches around triggers (see utf16Regions).
func (x *extractor) scanUTF16LE(data []byte, off int, whole bool) kindSet {
	if whole {
		return x.scan(decodeUTF16(x.u16[:0], data[off:], false))
	}
	var k kindSet
	x.u16Regions = utf16Regions(x.u16Regions[:0], data, off, x.u16Prefixes)
	for _, r := range x.u16Regions {
		k |= x.scan(decodeUTF16(x.u16[:0], data[r[0]:r[1]], false))
	}
	return k
}

// utf16Breaker marks the breakers: code units that no candidate holds and
// that no scanner looks across. They are ASCII characters outside the
// classes addresses and numbers are made of, in no separator ("&nbsp;",
// "&#160;"), and not '@' (an address glued to another '@' is not one). So
// the scanners find the same candidates in the stretches between breakers,
// each with its breakers, as in the whole text.
var utf16Breaker = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = class[c] == 0 && !strings.ContainsRune("&#;@", rune(c))
	}
	return t
}()

// maxDigitGap bounds the code units from one digit of a number to the
// next: three separators of up to six characters ("&nbsp;"), each
// percent-encoded in three units, then the digit in three.
const maxDigitGap = 3*6*3 + 3

// utf16Regions appends to dst the byte ranges of data, from off on, whose
// UTF-16LE decoding may hold a candidate: the breaker-bounded stretches
// that hold a trigger, merged. Every candidate holds a trigger in its
// stretch: an address holds '@' or its escape "%40"; a number holds two
// digits (a digit or '%' each, as escapes begin) at most maxDigitGap units
// apart; a custom kind's match begins with its literal prefix, whose
// first byte is one of prefixes, or with an escape.
func utf16Regions(dst [][2]int, data []byte, off int, prefixes []byte) [][2]int {
	n := (len(data) - off) / 2 // code units
	breaker := func(u int) bool {
		i := off + 2*u
		return data[i+1] == 0 && data[i] < utf8.RuneSelf && utf16Breaker[data[i]]
	}
	end := 0 // units before end are in dst's last range
	add := func(u int) {
		if u < end && len(dst) > 0 {
			return
		}
		s := u
		for s > end && !breaker(s) {
			s--
		}
		e := u + 1
		for e < n && !breaker(e) {
			e++
		}
		e = min(e+1, n) // with the breaker
		if len(dst) > 0 && s <= end {
			dst[len(dst)-1][1] = off + 2*e
		} else {
			dst = append(dst, [2]int{off + 2*s, off + 2*e})
		}
		end = e
	}
	lastDigit := -maxDigitGap - 1
	// The units with a zero high byte are found by their zero bytes.
	for p := off + 1; p < off+2*n; {
		z := bytes.IndexByte(data[p:off+2*n], 0)
		if z < 0 {
			break
		}
		z += p
		p = z + 1
		if (z-off)%2 != 1 {
			continue // a low byte: its unit is at the other alignment
		}
		u, c := (z-off)/2, data[z-1]
		switch {
		case '0' <= c && c <= '9' || c == '%':
			if u-lastDigit <= maxDigitGap {
				add(lastDigit)
				add(u)
			}
			lastDigit = u
		case c == '@' || bytes.IndexByte(prefixes, c) >= 0:
			add(u)
		}
	}
	return dst
}

// streamChunk and streamOverlap size the streaming fallback: identifiers are
// far shorter than the overlap, so none is missed at a chunk border.
const (
	streamChunk   = 4 << 20
	streamOverlap = 512
)

func (x *extractor) scanStream(r io.Reader) (kindSet, error) {
	defer x.dropU16()
	if need := (streamChunk+streamOverlap)/2*3 + 4; cap(x.u16) < need {
		x.u16 = make([]byte, 0, need) // room for every window
	}
	var k kindSet
	w := newWindow(r)
	for {
		win, err := w.next()
		k |= x.scanRawWindow(win)
		if err == io.EOF {
			return k, nil
		}
		if err != nil {
			return k, err
		}
	}
}

// window reads a stream in chunks of up to streamChunk bytes and hands out
// each chunk after up to streamOverlap bytes of the one before, so that
// scanning the windows sees every identifier that crosses a chunk border.
type window struct {
	r   io.Reader
	buf []byte
	end int // end of the previous window in buf
	err error
}

func newWindow(r io.Reader) *window {
	return &window{r: r, buf: make([]byte, streamOverlap+streamChunk)}
}

// next returns the next window, valid until the following call: the last
// min(streamOverlap, len(previous window)) bytes of the previous window,
// then what was read. At the end of the stream err is io.EOF, with the last
// window (which may hold no new bytes); a read error is returned as it is,
// with what was read before it.
func (w *window) next() (win []byte, err error) {
	if w.err != nil {
		return nil, w.err
	}
	keep := min(streamOverlap, w.end)
	copy(w.buf, w.buf[w.end-keep:w.end])
	n, err := io.ReadFull(w.r, w.buf[keep:])
	w.end = keep + n
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	w.err = err
	return w.buf[:w.end], err
}

// bomLen is the length of a UTF-8 byte order mark at the start of data: it
// is never part of a record, so that removing the first one keeps it.
func bomLen(data []byte) int {
	if bytes.HasPrefix(data, utf8BOM) {
		return len(utf8BOM)
	}
	return 0
}

// lineEnd returns the end of the line that starts at p: just past its
// newline, or the end of data for a last line without one.
func lineEnd(data []byte, p int) int {
	if e := bytes.IndexByte(data[p:], '\n'); e >= 0 {
		return p + e + 1
	}
	return len(data)
}
