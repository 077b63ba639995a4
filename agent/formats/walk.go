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

// Hit is one matching record, as `lethe scan` prints it. It never carries
// the identifier itself.
type Hit struct {
	Path   string `json:"path"`
	Format Format `json:"format"`
	Record int    `json:"record"` // index among the file's records, from 0
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
	Kinds  []Kind `json:"kinds"`
}

// Scan walks files and directories and calls fn for every record that holds
// an identifier known to m. A directory whose name or path rule gives it to
// a subject is one hit (format "name" or "path") and is not descended into.
// Files that fail their parser are scanned by the fallback and reported via
// opts.Report; unreadable files are reported too and do not stop the walk.
func Scan(ctx context.Context, paths []string, m Matcher, opts *Options, fn func(Hit)) error {
	w := walker{m: m, opts: opts, sc: NewScanner(m, opts)}
	for _, root := range paths {
		err := w.walk(ctx, root, func(p, rel string, d fs.DirEntry, dirHit *Hit) error {
			if dirHit != nil {
				fn(*dirHit)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			hits, _, _, err := w.scanFile(p, nil)
			if err != nil {
				w.report(p, "", err.Error())
				return nil
			}
			for _, h := range hits {
				fn(h)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

type walker struct {
	m    Matcher
	opts *Options
	sc   *Scanner
}

func (w *walker) report(path string, f Format, reason string) {
	if w.opts != nil && w.opts.Report != nil {
		w.opts.Report(path, f, reason)
	}
}

// walk calls fn for root and everything below it in lexical order. dirHit
// is set for a file or directory given to a subject by its name or a path
// rule; such directories are not descended into.
func (w *walker) walk(ctx context.Context, root string, fn func(p, rel string, d fs.DirEntry, dirHit *Hit) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return fmt.Errorf("scanning %s: %w", root, err)
			}
			w.report(p, "", err.Error())
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		if h := w.nameHit(p, rel, d); h != nil {
			if err := fn(p, rel, d, h); err != nil {
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

// nameHit checks a path's own name and the path rules.
func (w *walker) nameHit(p, rel string, d fs.DirEntry) *Hit {
	if rel != "" && w.opts != nil {
		for _, r := range w.opts.PathRules {
			if folder, k, _, ok := r.Match(rel, w.m); ok && filepath.ToSlash(rel) == folder {
				return &Hit{Path: p, Format: FormatPath, Kinds: []Kind{k}}
			}
		}
	}
	if ks := w.sc.MatchName(d.Name()); len(ks) > 0 {
		h := &Hit{Path: p, Format: FormatName, Kinds: ks}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			h.Length = info.Size()
		}
		return h
	}
	return nil
}

// scanFile scans one regular file. data is the file's content when it was
// small enough to read whole (nil for streamed files).
func (w *walker) scanFile(p string, _ []byte) (hits []Hit, res *Result, data []byte, err error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, nil, err
	}
	if info.Size() > w.opts.maxSize() {
		rec, err := w.sc.scanStream(f)
		if err != nil {
			return nil, nil, nil, err
		}
		res = &Result{Format: FormatFallback, NumRecords: 1, Whole: true}
		if len(rec.Kinds) > 0 {
			rec.Length = info.Size()
			res.Records = []Record{rec}
		}
	} else {
		data, err = io.ReadAll(f)
		if err != nil {
			return nil, nil, nil, err
		}
		res = w.sc.Scan(p, data)
		if res.Fallback != "" {
			w.report(p, res.Tried, res.Fallback)
		}
	}
	for _, r := range res.Records {
		hits = append(hits, Hit{Path: p, Format: res.Format, Record: r.Index, Offset: r.Offset, Length: r.Length, Kinds: r.Kinds})
	}
	return hits, res, data, nil
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
// subject are not written. The input is never changed.
func Redact(ctx context.Context, paths []string, outDir string, m Matcher, opts *Options) (Summary, error) {
	var sum Summary
	w := walker{m: m, opts: opts, sc: NewScanner(m, opts)}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return sum, fmt.Errorf("redacting into %s: %w", outDir, err)
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return sum, fmt.Errorf("redacting %s: %w", root, err)
		}
		base := outDir
		if !info.IsDir() {
			base = filepath.Join(outDir, filepath.Base(root))
		}
		err = w.walk(ctx, root, func(p, rel string, d fs.DirEntry, hit *Hit) error {
			dst := filepath.Join(base, rel)
			if abs, err := filepath.Abs(p); err == nil && (abs == absOut || isUnder(abs, absOut)) {
				if d.IsDir() {
					return filepath.SkipDir // never read our own output
				}
				return nil
			}
			if hit != nil {
				fs := sum.of(hit.Format)
				fs.Files++
				fs.Removed++
				fs.RecordsRemoved++
				return nil
			}
			switch {
			case d.IsDir():
				return mkdirLike(dst, p)
			case d.Type()&fs.ModeSymlink != 0:
				target, err := os.Readlink(p)
				if err != nil {
					return fmt.Errorf("reading link %s: %w", p, err)
				}
				if err := os.Symlink(target, dst); err != nil {
					return fmt.Errorf("writing link %s: %w", dst, err)
				}
				return nil
			case !d.Type().IsRegular():
				return nil // devices, sockets, pipes
			}
			return w.redactFile(p, dst, &sum)
		})
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func isUnder(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && len(rel) >= 2 && rel[:2] != ".."
}

func mkdirLike(dst, src string) error {
	mode := fs.FileMode(0o755)
	if info, err := os.Stat(src); err == nil {
		mode = info.Mode().Perm() | 0o700
	}
	if err := os.MkdirAll(dst, mode); err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	return nil
}

func (w *walker) redactFile(p, dst string, sum *Summary) error {
	_, res, data, err := w.scanFile(p, nil)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	fs := sum.of(res.Format)
	fs.Files++
	if res.Fallback != "" {
		fs.Fallbacks++
	}
	info, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
	}
	if len(res.Records) == 0 {
		if data != nil {
			return writeFile(dst, data, info)
		}
		return copyFile(p, dst, info)
	}
	fs.RecordsRemoved += len(res.Records)
	if data == nil || res.Whole {
		fs.Removed++
		return nil
	}
	out, gone := RedactBytes(data, res, res.Records)
	if gone {
		fs.Removed++
		return nil
	}
	fs.Redacted++
	return writeFile(dst, out, info)
}

func writeFile(dst string, data []byte, info fs.FileInfo) error {
	if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	_ = os.Chtimes(dst, info.ModTime(), info.ModTime())
	return nil
}

func copyFile(src, dst string, info fs.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	_ = os.Chtimes(dst, info.ModTime(), info.ModTime())
	return nil
}
