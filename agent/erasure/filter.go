// Package erasure carries out erasure requests in the backups: it reapplies
// the active tombstones to every backup and every restore through the
// seams of the archiver and the restorer.
package erasure

import (
	"context"
	"io"
	"path"
	"strings"

	"lethe/agent/formats"
	"lethe/agent/repository"
)

// Redactor is what a Filter needs of formats.Redactor.
type Redactor interface {
	DecidePath(rel string, isDir bool) (formats.Findings, bool)
	Redact(ctx context.Context, name string, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error)
}

// Screen tells cheaply whether a file's content can hold an erased subject
// at all (from what the backup recorded about it). A file it rules out
// keeps the fast path.
type Screen interface {
	MayHold(node *repository.Node) bool
}

// Filter removes erased subjects from what a backup stores or a restore
// writes: items wholly a subject's by their name or a path rule are
// dropped, files that may hold a subject are redacted record by record. It
// implements archiver.Filter and restorer.Filter and is safe for
// concurrent use when its Redactor and Screen are.
type Filter struct {
	red    Redactor
	roots  []string
	screen Screen
}

// NewFilter returns a filter over red. roots are the backup targets or the
// snapshot's paths: path rules apply to paths relative to them. screen may
// be nil, and then every file is redacted.
func NewFilter(red Redactor, roots []string, screen Screen) *Filter {
	return &Filter{red: red, roots: roots, screen: screen}
}

// Decide drops items named after a subject or given to one by a path rule
// and sends files that may hold a subject to FilterContent.
func (f *Filter) Decide(_ context.Context, p string, node *repository.Node) (formats.Decision, formats.Findings, error) {
	if fnd, drop := f.red.DecidePath(f.rel(p), node.Type == repository.NodeDir); drop {
		return formats.Drop, fnd, nil
	}
	if node.Type != repository.NodeFile || (f.screen != nil && !f.screen.MayHold(node)) {
		return formats.Keep, formats.Findings{}, nil
	}
	return formats.Filter, formats.Findings{}, nil
}

// FilterContent redacts a file's content.
func (f *Filter) FilterContent(ctx context.Context, _ string, node *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	return f.red.Redact(ctx, node.Name, open)
}

// rel returns p relative to the innermost root holding it; for a root
// itself, or a directory above the roots, only its name counts.
func (f *Filter) rel(p string) string {
	best := ""
	for _, r := range f.roots {
		if len(r) > len(best) && len(p) > len(r) && strings.HasPrefix(p, r) && (r == "/" || p[len(r)] == '/') {
			best = r
		}
	}
	if best == "" {
		return path.Base(p)
	}
	return strings.TrimPrefix(p[len(best):], "/")
}
