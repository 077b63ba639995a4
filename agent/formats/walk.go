package formats

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Hit is one matching record, as `lethe scan` prints it. It carries no
// identifier, except in Path when a file or folder is named after the
// subject: that path is where the operator must act.
type Hit struct {
	Path   string `json:"path"`
	Format Format `json:"format"`
	Record int    `json:"record"` // index among the file's records, from 0
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Kinds  []Kind `json:"kinds"`
}

// Scan walks files and directories and calls fn for every record that holds
// an identifier known to m. A file or directory whose name or path rule
// gives it to a subject is one hit (format "name" or "path"), and such a
// directory is not descended into. Files that fail their parser are
// scanned by the fallback and reported via opts.Report; unreadable files
// are reported too and do not stop the walk.
func Scan(ctx context.Context, paths []string, m Matcher, opts *Options, fn func(Hit)) error {
	w := walker{r: NewRedactor(m, opts), opts: opts}
	for _, root := range paths {
		err := w.walk(ctx, root, func(p, rel string, d fs.DirEntry, drop *Findings) error {
			if drop != nil {
				h := Hit{Path: p, Format: drop.Format, Kinds: drop.Kinds}
				if info, err := d.Info(); err == nil && !d.IsDir() && drop.Format == FormatName {
					h.Length = info.Size()
				}
				fn(h)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			sc := w.r.scanner()
			defer w.r.release(sc)
			c, err := w.r.read(ctx, sc, p, func() (io.ReadCloser, error) { return os.Open(p) })
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				w.report(p, "", err.Error())
				return nil
			}
			if c.res.Fallback != "" {
				w.report(p, c.res.Tried, c.res.Fallback)
			}
			for _, r := range c.res.Records {
				fn(Hit{Path: p, Format: c.res.Format, Record: r.Index, Offset: r.Offset, Length: r.Length, Kinds: r.Kinds})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// walker walks the trees of Scan and Redact; what to drop and how to read
// content is the Redactor's, as for backup and restore.
type walker struct {
	r    *Redactor
	opts *Options
}

func (w *walker) report(path string, f Format, reason string) {
	if w.opts != nil && w.opts.Report != nil {
		w.opts.Report(path, f, reason)
	}
}

// walk calls fn for root and everything below it in lexical order. drop
// is set for a file or directory given to a subject by its name or a path
// rule; such directories are not descended into.
func (w *walker) walk(ctx context.Context, root string, fn func(p, rel string, d fs.DirEntry, drop *Findings) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("scanning %s: %w", w.r.MaskPath(root), w.r.maskErr(err))
			}
			w.report(p, "", w.r.maskErr(err).Error())
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		if f, ok := w.r.decide(filepath.ToSlash(rel), d.Name()); ok {
			if err := fn(p, rel, d, &f); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(p, rel, d, nil)
	})
}

// Summary counts what Redact did, per format.
type Summary struct {
	Formats map[Format]*FormatSummary `json:"formats"`
}

// FormatSummary counts files and records of one format.
type FormatSummary struct {
	Files          int `json:"files"`           // files of this format seen
	Redacted       int `json:"redacted"`        // files written with records removed
	Removed        int `json:"removed"`         // files (or directories) not written at all
	RecordsRemoved int `json:"records_removed"` // records removed, whole files included
	Fallbacks      int `json:"fallbacks"`       // files whose parser failed
}

func (s *Summary) of(f Format) *FormatSummary {
	if s.Formats == nil {
		s.Formats = make(map[Format]*FormatSummary)
	}
	fs := s.Formats[f]
	if fs == nil {
		fs = &FormatSummary{}
		s.Formats[f] = fs
	}
	return fs
}

// SortedFormats returns the summary's formats in name order.
func (s *Summary) SortedFormats() []Format {
	var fs []Format
	for f := range s.Formats {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
	return fs
}

// Redact writes redacted copies of paths under outDir: a directory argument
// maps to outDir with the same relative paths, a file argument to
// outDir/<its name>. Files without matching records are copied unchanged;
// files that are wholly one record of a subject (a mail message, a
// container, a file named after the subject) and directories given to a
// subject are not written. The input is never changed. Content goes
// through a Redactor, as in backup and restore.
func Redact(ctx context.Context, paths []string, outDir string, m Matcher, opts *Options) (Summary, error) {
	var sum Summary
	w := walker{r: NewRedactor(m, opts), opts: opts}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return sum, w.pathErr("redacting into", outDir, err)
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return sum, w.pathErr("redacting", root, err)
		}
		base := outDir
		if !info.IsDir() {
			base = filepath.Join(outDir, filepath.Base(root))
		}
		err = w.walk(ctx, root, func(p, rel string, d fs.DirEntry, drop *Findings) error {
			dst := filepath.Join(base, rel)
			if abs, err := filepath.Abs(p); err == nil && (abs == absOut || isUnder(abs, absOut)) {
				if d.IsDir() {
					return filepath.SkipDir // never read our own output
				}
				return nil
			}
			if drop != nil {
				fs := sum.of(drop.Format)
				fs.Files++
				fs.Removed++
				fs.RecordsRemoved += drop.Removed
				return nil
			}
			switch {
			case d.IsDir():
				return w.mkdirLike(dst, p)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return w.pathErr("reading link", p, err)
				}
				if err := os.Symlink(target, dst); err != nil {
					return w.pathErr("writing link", dst, err)
				}
				return nil
			case !d.Type().IsRegular():
				return nil // devices, sockets, pipes
			}
			return w.redactFile(ctx, p, dst, &sum)
		})
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// pathErr is err from doing what to p, with identifiers in p masked.
func (w *walker) pathErr(what, p string, err error) error {
	return fmt.Errorf("%s %s: %w", what, w.r.MaskPath(p), w.r.maskErr(err))
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && len(rel) >= 2 && rel[:2] != ".."
}

func (w *walker) mkdirLike(dst, src string) error {
	mode := fs.FileMode(0o755)
	if info, err := os.Stat(src); err == nil {
		mode = info.Mode().Perm() | 0o700
	}
	if err := os.MkdirAll(dst, mode); err != nil {
		return w.pathErr("creating", dst, err)
	}
	return nil
}

func (w *walker) redactFile(ctx context.Context, p, dst string, sum *Summary) error {
	info, err := os.Stat(p)
	if err != nil {
		return w.pathErr("reading", p, err)
	}
	rc, f, err := w.r.Redact(ctx, p, func() (io.ReadCloser, error) { return os.Open(p) })
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.r.MaskPath(p), err)
	}
	fs := sum.of(f.Format)
	fs.Files++
	if f.Fallback != "" {
		fs.Fallbacks++
		w.report(p, f.Tried, f.Fallback)
	}
	fs.RecordsRemoved += f.Removed
	if f.Dropped {
		fs.Removed++
		return nil
	}
	defer rc.Close()
	if f.Removed > 0 {
		fs.Redacted++
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return w.pathErr("creating", filepath.Dir(dst), err)
	}
	return w.writeFile(dst, rc, info)
}

// writeFile writes the content r to dst with info's permissions and
// modification time.
func (w *walker) writeFile(dst string, r io.Reader, info fs.FileInfo) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return w.pathErr("writing", dst, err)
	}
	if _, err := io.Copy(out, r); err != nil {
		// Content that changed while it was read may hold a subject's
		// identifier: leave nothing of it behind.
		out.Close()
		os.Remove(dst)
		return w.pathErr("writing", dst, err)
	}
	if err := out.Close(); err != nil {
		return w.pathErr("writing", dst, err)
	}
	_ = os.Chtimes(dst, info.ModTime(), info.ModTime())
	return nil
}
