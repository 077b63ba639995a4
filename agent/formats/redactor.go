package formats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// Redactor removes the records of subjects from content of any source: a
// file on disk, a file being backed up, a file restored from a snapshot.
// The backup, restore and rewrite seams ask DecidePath about every item
// and pass the content of the items they keep through Redact. It is safe
// for concurrent use if its Matcher is.
type Redactor struct {
	m        Matcher
	opts     *Options
	scanners sync.Pool // *Scanner: each caches verdicts and keeps scratch buffers
	versions *Versions
}

// KeepVersions makes the redactor scan each file it reads whole after
// the last version of it that v keeps: for reading every version of
// files, as an erasure's rewrite does. Call it before the redactor is
// used; v must serve this redactor alone.
func (r *Redactor) KeepVersions(v *Versions) { r.versions = v }

// NewRedactor returns a redactor for m; opts may be nil.
func NewRedactor(m Matcher, opts *Options) *Redactor {
	r := &Redactor{m: m, opts: opts}
	r.scanners.New = func() any { return NewScanner(m, opts) }
	return r
}

func (r *Redactor) scanner() *Scanner   { return r.scanners.Get().(*Scanner) }
func (r *Redactor) release(sc *Scanner) { r.scanners.Put(sc) }

// ErrContentChanged is returned by the reader Redact hands out for content
// larger than Options.MaxSize when the content, read a second time to be
// passed on, holds an identifier the first reading did not find: it
// changed in between. What the reader returned before is part of the
// changed content and must be discarded.
var ErrContentChanged = errors.New("content changed while it was redacted: it now holds a subject's identifier")

// DecidePath reports whether an item is wholly a subject's by its own name
// (the last element of rel) or by a path rule (Options.PathRules). rel is
// slash-separated and relative to the root being scanned, backed up or
// restored; an item below a folder a rule gives to a subject is the
// subject's too. A name or a rule gives a file and a directory alike.
// When true, the findings have Format FormatName or FormatPath, Dropped,
// Records and Removed 1, and the refs and kinds found.
func (r *Redactor) DecidePath(rel string, isDir bool) (Findings, bool) {
	rel = strings.Trim(rel, "/")
	return r.decide(rel, path.Base(rel))
}

// decide is DecidePath with the item's name given: the root of a walk has
// one, but its rel is empty.
func (r *Redactor) decide(rel, name string) (Findings, bool) {
	f := Findings{Records: 1, Removed: 1, Dropped: true}
	if rel != "" && rel != "." && r.opts != nil {
		for _, rule := range r.opts.PathRules {
			if _, kind, ref, ok := rule.Match(rel, r.m); ok {
				f.Format = FormatPath
				f.Refs = append(f.Refs, ref)
				f.Kinds = append(f.Kinds, kind)
				break
			}
		}
	}
	if name != "" && name != "." && name != "/" {
		sc := r.scanner()
		rec := sc.matchName(name)
		r.release(sc)
		if len(rec.Kinds) > 0 {
			if f.Format == "" {
				f.Format = FormatName
			}
			f.Refs = append(f.Refs, rec.Refs...)
			f.Kinds = append(f.Kinds, rec.Kinds...)
		}
	}
	if f.Format == "" {
		return Findings{}, false
	}
	f.Refs = sortUnique(f.Refs)
	f.Kinds = sortUnique(f.Kinds)
	return f, true
}

// Redact reads content through open and returns the content to keep, with
// every record of a subject removed, and what was found. name is the
// item's path or name, used to detect the format by its extension or
// Maildir folder; Redact looks at content only (ask DecidePath about the
// name). Content of at most Options.MaxSize bytes is read whole and parsed
// by its format. Larger content is streamed through the fallback scanner:
// a hit drops it whole, and otherwise open is called again and that stream
// is returned, so nothing large is held in memory; it is checked as it is
// read and fails with ErrContentChanged if it no longer matches what was
// scanned. Content without hits comes back byte-identical. The reader is
// nil when nothing is kept (Findings.Dropped); the caller closes it
// otherwise; for content read whole it is a *HeldReader. Errors name what
// failed, never content, and mask path components that carry an
// identifier (see MaskPath).
func (r *Redactor) Redact(ctx context.Context, name string, open func() (io.ReadCloser, error)) (io.ReadCloser, Findings, error) {
	sc := r.scanner()
	c, err := r.read(ctx, sc, name, open)
	if err != nil {
		r.release(sc)
		return nil, Findings{}, err
	}
	f := c.findings()
	if !c.streamed {
		r.release(sc)
		same := unchangedPrefix(c.data, c.res, c.res.Records)
		// c.data is this call's own: cut in place rather than copy.
		out, gone := redactInPlace(c.data, c.res, c.res.Records)
		if f.Dropped = gone; gone {
			return nil, f, nil
		}
		return &HeldReader{Reader: bytes.NewReader(out), data: out, same: same}, f, nil
	}
	if f.Removed > 0 {
		r.release(sc)
		f.Dropped = true
		return nil, f, nil
	}
	rc, err := open()
	if err != nil {
		r.release(sc)
		return nil, Findings{}, fmt.Errorf("opening content again: %w", r.maskErr(err))
	}
	return &checkedReader{ctx: ctx, r: r, sc: sc, rc: rc, w: newWindow(rc)}, f, nil
}

// HeldReader is the reader Redact returns for content it read whole.
// Bytes gives the same content without a copy, for a caller that needs
// it whole as well as streamed (the rewrite chunks it and indexes it).
type HeldReader struct {
	*bytes.Reader
	data []byte
	same int
}

// Bytes returns all of the content, whatever was read; the caller must
// not modify it.
func (h *HeldReader) Bytes() []byte { return h.data }

// Unchanged returns how many bytes at the start of the content are as
// they were read: the redaction changed nothing before them.
func (h *HeldReader) Unchanged() int { return h.same }

// Close does nothing: the content is only memory.
func (h *HeldReader) Close() error { return nil }

// RedactBytes is Redact for content the caller holds: it returns data
// without the subjects' records (data itself when nothing was found, nil
// with Findings.Dropped when nothing is kept) and the findings. Content larger than
// Options.MaxSize is scanned by the fallback, as Redact does.
func (r *Redactor) RedactBytes(name string, data []byte) ([]byte, Findings) {
	sc := r.scanner()
	defer r.release(sc)
	c := content{data: data}
	if int64(len(data)) > r.opts.maxSize() {
		// Exactly what Redact finds in a stream of the same bytes (which
		// cannot fail to be read).
		s, _ := scanStreamed(sc, bytes.NewReader(data))
		c.res = s.res
	} else {
		c.res = sc.Scan(name, data)
	}
	f := c.findings()
	out, gone := RedactBytes(data, c.res, c.res.Records)
	f.Dropped = gone
	return out, f
}

// content is one item's content as read and scanned.
type content struct {
	res *Result
	// data is the content when it was read whole; streamed is set when
	// it was too large and only scanned.
	data     []byte
	streamed bool
	size     int64
}

func (c *content) findings() Findings {
	return Findings{
		Format:   c.res.Format,
		Records:  c.res.NumRecords,
		Removed:  len(c.res.Records),
		Refs:     c.res.Refs(),
		Kinds:    c.res.Kinds(),
		Fallback: c.res.Fallback,
		Tried:    c.res.Tried,
	}
}

// statter is implemented by readers that know their size (an *os.File).
type statter interface {
	Stat() (fs.FileInfo, error)
}

// read opens and scans one item's content: whole, by its format, when it
// has at most MaxSize bytes, else streamed through the fallback. Redact
// and Scan share it.
func (r *Redactor) read(ctx context.Context, sc *Scanner, name string, open func() (io.ReadCloser, error)) (content, error) {
	rc, err := open()
	if err != nil {
		return content{}, fmt.Errorf("opening content: %w", r.maskErr(err))
	}
	defer rc.Close()
	limit := r.opts.maxSize()
	in := ctxReader{ctx: ctx, r: rc}
	var buf bytes.Buffer
	if st, ok := rc.(statter); ok {
		if info, err := st.Stat(); err == nil && info.Mode().IsRegular() {
			if info.Size() > limit {
				return r.stream(sc, in)
			}
			buf.Grow(int(info.Size()) + bytes.MinRead)
		}
	}
	n, err := buf.ReadFrom(io.LimitReader(in, limit+1))
	if err != nil {
		return content{}, fmt.Errorf("reading content: %w", r.maskErr(err))
	}
	if n > limit {
		// It grew, or its size was not known: scan what was read and
		// the rest as one stream.
		return r.stream(sc, io.MultiReader(&buf, in))
	}
	data := buf.Bytes()
	return content{res: r.versions.Scan(sc, name, data), data: data, size: n}, nil
}

// stream scans content too large to parse with the fallback scanner.
func (r *Redactor) stream(sc *Scanner, in io.Reader) (content, error) {
	c, err := scanStreamed(sc, in)
	if err != nil {
		return content{}, fmt.Errorf("reading content: %w", r.maskErr(err))
	}
	return c, nil
}

func scanStreamed(sc *Scanner, in io.Reader) (content, error) {
	cr := &countingReader{r: in}
	rec, err := sc.scanStream(cr)
	res := &Result{Format: FormatFallback, NumRecords: 1, Whole: true}
	if len(rec.Kinds) > 0 {
		rec.Length = cr.n
		res.Records = []Record{rec}
	}
	return content{res: res, streamed: true, size: cr.n}, err
}

// ctxReader stops reading when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// checkedReader passes on large content that was scanned without hits,
// scanning it again window by window before it hands bytes out. It holds
// back the end of each window until the next one is scanned, so that an
// identifier that appeared in between fails the read before any byte of it
// is passed on.
type checkedReader struct {
	ctx     context.Context
	r       *Redactor
	sc      *Scanner // held until Close
	rc      io.ReadCloser
	w       *window
	pending []byte
	err     error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *checkedReader) fill() {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return
	}
	win, err := c.w.next()
	c.sc.x.startRefs(0)
	if c.sc.x.scanRaw(win) != 0 {
		c.err = ErrContentChanged
		return
	}
	switch {
	case err == nil:
		// The next window starts with what is held back.
		c.pending = win[:len(win)-min(streamOverlap, len(win))]
	case err == io.EOF:
		c.pending, c.err = win, io.EOF
	default:
		c.err = fmt.Errorf("reading content again: %w", c.r.maskErr(err))
	}
}

func (c *checkedReader) Close() error {
	if c.sc != nil {
		c.r.release(c.sc)
		c.sc = nil
	}
	return c.rc.Close()
}

// pathMask replaces a path component that carries an identifier.
const pathMask = "[redacted]"

// MaskPath returns p with every slash-separated component that carries an
// identifier the matcher knows (as MatchName finds them, or as a name or
// a path rule's kind) replaced by a mask that reveals nothing of it, so
// that an error or log line never names a subject. Other components stay
// as they are.
func (r *Redactor) MaskPath(p string) string {
	if r.m == nil || p == "" {
		return p
	}
	parts := strings.Split(p, "/")
	masked := false
	sc := r.scanner()
	for i, c := range parts {
		if c != "" && r.carriesIdentifier(sc, c) {
			parts[i] = pathMask
			masked = true
		}
	}
	r.release(sc)
	if !masked {
		return p
	}
	return strings.Join(parts, "/")
}

// carriesIdentifier reports whether one path component holds an
// identifier: in its text, or as a whole (with or without its extension)
// as a name or the value of a path rule's placeholder.
func (r *Redactor) carriesIdentifier(sc *Scanner, c string) bool {
	if len(sc.matchName(c).Kinds) > 0 {
		return true
	}
	kinds := []Kind{KindName}
	if r.opts != nil {
		for _, rule := range r.opts.PathRules {
			kinds = append(kinds, rule.kind())
		}
	}
	stem := strings.TrimSuffix(c, path.Ext(c))
	for _, k := range kinds {
		if _, ok := r.m.Lookup(k, c); ok {
			return true
		}
		if _, ok := r.m.Lookup(k, stem); stem != c && ok {
			return true
		}
	}
	return false
}

// maskErr returns err with MaskPath applied to its message: errors from
// opening and reading name paths. The masked error still matches what err
// matches with errors.Is.
func (r *Redactor) maskErr(err error) error {
	msg := err.Error()
	if m := r.MaskPath(msg); m != msg {
		return &maskedError{msg: m, err: err}
	}
	return err
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }

// Is lets errors.Is see the original error; there is no Unwrap, which
// would hand out the unmasked message.
func (e *maskedError) Is(target error) bool { return errors.Is(e.err, target) }
