package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"lethe/agent/formats"
	"lethe/agent/repository"
)

// Kinds of verification.
const (
	// VerifyIndex checks the files the rewrite changed (after a resumed
	// run, every file of the rewritten snapshots) and that no erased blob
	// is still stored. A changed file whose new content has a subject
	// index entry that rules the subject out is proven clean by that
	// entry, built from the bytes stored; any other is rescanned.
	VerifyIndex = "index"
	// VerifyDeep scans every file of every snapshot.
	VerifyDeep = "deep"
	// VerifyNone: expire mode changes no snapshot.
	VerifyNone = "none"
)

// Verification is what verifying an erasure found.
type Verification struct {
	Kind             string    `json:"kind"`
	Time             time.Time `json:"time"`
	SnapshotsChecked int       `json:"snapshots_checked"`
	FilesChecked     int       `json:"files_checked"`
	// FilesByEntry counts the files of FilesChecked that the subject
	// index entry of their new content proved clean; the others were read
	// and scanned again.
	FilesByEntry int `json:"files_by_entry,omitempty"`
	BlobsChecked int `json:"blobs_checked"`
	// Problems counts files still holding the subject and erased blobs
	// still stored; OK is set when there are none.
	Problems int    `json:"problems"`
	OK       bool   `json:"ok"`
	Note     string `json:"note,omitempty"`
}

// verify checks the rewritten repository and journals the result.
func (e *eraser) verify(ctx context.Context) (*Verification, error) {
	if v := e.j.lastInRun(StepVerify); v != nil && v.Verify.OK && (v.Verify.Kind == VerifyDeep || !e.opts.Rules.Deep) {
		return v.Verify, nil
	}
	e.event(StepVerify, repository.ID{}, 0, 1)
	v := &Verification{Kind: VerifyIndex}
	if e.opts.Rules.Deep {
		v.Kind = VerifyDeep
	}
	snaps, damaged, err := e.repo.LoadAllSnapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying the erasure: %w", err)
	}
	if len(damaged) > 0 {
		return nil, fmt.Errorf("verifying the erasure: %d snapshots cannot be loaded", len(damaged))
	}
	newIDs := repository.IDSet{}
	done, _ := e.j.snapshotSteps()
	for _, st := range done {
		if st.New != nil {
			newIDs.Insert(*st.New)
		}
	}
	var notes []string
	for _, sn := range snaps {
		if !e.opts.Rules.Deep && !newIDs.Has(sn.ID) {
			continue
		}
		var only map[string]bool
		if paths, ok := e.rewritten[sn.ID]; ok && !e.opts.Rules.Deep {
			only = map[string]bool{}
			for _, p := range paths {
				only[p] = true
			}
		}
		if notes, err = e.verifyInto(ctx, v, notes, sn, only); err != nil {
			return nil, err
		}
	}
	used, err := e.usedBlobs(ctx, snaps)
	if err != nil {
		return nil, fmt.Errorf("verifying the erasure: %w", err)
	}
	stored := 0
	for h := range e.erasedBlobs() {
		v.BlobsChecked++
		if !used.Has(h) && len(e.repo.LookupAll(h)) > 0 {
			stored++
		}
	}
	if stored > 0 {
		v.Problems += stored
		notes = append(notes, fmt.Sprintf("%d erased blobs still stored", stored))
	}
	v.finish(notes, e.now())
	if err := e.append(ctx, Step{Kind: StepVerify, Verify: v}); err != nil {
		return nil, err
	}
	e.event(StepVerify, repository.ID{}, 1, 1)
	return v, nil
}

// verifyInto verifies sn (see verifySnapshot) into v and returns notes
// with its problems added.
func (e *eraser) verifyInto(ctx context.Context, v *Verification, notes []string, sn *repository.Snapshot, only map[string]bool) ([]string, error) {
	files, byEntry, bad, err := e.verifySnapshot(ctx, sn, only)
	if err != nil {
		return notes, err
	}
	v.SnapshotsChecked++
	v.FilesChecked += files
	v.FilesByEntry += byEntry
	v.Problems += len(bad)
	for _, p := range bad {
		notes = append(notes, fmt.Sprintf("snapshot %s: %s", sn.ID.Str(), p))
	}
	return notes, nil
}

// finish sets v's verdict, its note (the first five problems, sorted) and
// its time.
func (v *Verification) finish(notes []string, now time.Time) {
	v.OK = v.Problems == 0
	if len(notes) > 0 {
		sort.Strings(notes)
		if len(notes) > 5 {
			notes = append(notes[:5], fmt.Sprintf("and %d more", len(notes)-5))
		}
		v.Note = fmt.Sprint(notes)
	}
	v.Time = now
}

// verifySnapshot checks sn's files (only those in only, when set, besides
// the names every item is checked by) and returns how many it checked,
// how many of those their index entry proved clean, and the masked paths
// of those still holding the subject outside a hold.
//
// With only set (the files this run rewrote), a file whose new content
// the screen rules out is not read again: the screen's entry for it was
// built from the very bytes stored (Options.Indexed), by the index's
// scanners with every candidate, and holds none of the subject's tags,
// which proves the subject absent as the index proves it when planning.
// An entry that may hold the subject (a record left behind, or a false
// positive) and a content without an entry are rescanned in full.
// Without only every file is rescanned.
func (e *eraser) verifySnapshot(ctx context.Context, sn *repository.Snapshot, only map[string]bool) (int, int, []string, error) {
	if sn.Tree == nil {
		return 0, 0, nil, nil
	}
	// The filter asks no screen: every rewritten file is looked at, and
	// the screen is asked below about its new content.
	f := NewFilter(e.opts.Redactor, sn.Paths, nil)
	now := e.now()
	files, byEntry := 0, 0
	var bad []string
	// With only set, a folder whose walk found nothing (no item dropped
	// by its name, no content read) is found clean again wherever the
	// same tree is at the same path under the same snapshot paths: what
	// was decided in it depends on nothing else. Such a folder met again,
	// in this snapshot or a later one, is not walked again unless a file
	// this run rewrote is below it. open are the folders being walked.
	type openDir struct {
		key   cleanTree
		found bool
	}
	var open []openDir
	roots := fmt.Sprintf("%q", sn.Paths)
	if e.clean == nil {
		e.clean = map[cleanTree]bool{}
	}
	leave := func(p string) {
		for n := len(open); n > 0 && !strings.HasPrefix(p, open[n-1].key.path+"/"); n = len(open) {
			d := open[n-1]
			open = open[:n-1]
			switch {
			case !d.found:
				e.clean[d.key] = true
			case n > 1:
				open[n-2].found = true
			}
		}
	}
	found := func() {
		if len(open) > 0 {
			open[len(open)-1].found = true
		}
	}
	rewrittenBelow := func(dir string) bool {
		for q := range only {
			if strings.HasPrefix(q, dir+"/") {
				return true
			}
		}
		return false
	}
	err := repository.Walk(ctx, e.trees, *sn.Tree, func(_ repository.ID, p string, node *repository.Node, err error) error {
		if err != nil {
			return err
		}
		leave(p)
		d, fnd, err := f.Decide(ctx, p, node)
		if err != nil {
			return err
		}
		switch d {
		case formats.Keep:
			if only != nil && node.Type == repository.NodeDir && node.Subtree != nil {
				k := cleanTree{roots: roots, id: *node.Subtree, path: p}
				if e.clean[k] && !rewrittenBelow(p) {
					return repository.ErrSkipDir
				}
				open = append(open, openDir{key: k})
			}
			return nil
		case formats.Drop:
			found()
			if held(e.opts.Rules.Holds, f.rel(p), fnd.Format, sn.Time, now) < 0 {
				bad = append(bad, e.opts.Redactor.MaskPath(p))
			}
			if node.Type == repository.NodeDir {
				return repository.ErrSkipDir
			}
			return nil
		}
		if only != nil && !only[p] {
			return nil
		}
		found()
		files++
		if only != nil && e.opts.Screen != nil && !e.opts.Screen.MayHold(node) {
			byEntry++
			return nil
		}
		rc, fnd, err := f.FilterContent(ctx, p, node, func() (io.ReadCloser, error) {
			return newContentReader(ctx, e.repo, node), nil
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", e.opts.Redactor.MaskPath(p), err)
		}
		if rc != nil {
			rc.Close()
		}
		if (fnd.Removed > 0 || fnd.Dropped) && held(e.opts.Rules.Holds, f.rel(p), fnd.Format, sn.Time, now) < 0 {
			bad = append(bad, e.opts.Redactor.MaskPath(p))
		}
		return nil
	})
	if err != nil {
		return 0, 0, nil, fmt.Errorf("verifying snapshot %s: %w", sn.ID.Str(), err)
	}
	leave("")
	return files, byEntry, bad, nil
}

// cleanTree names a folder verification found clean: its tree, its path
// and the snapshot paths path rules were applied under.
type cleanTree struct {
	roots string
	id    repository.ID
	path  string
}

// contentReader reads a file's content blob by blob. It tells its size
// by Stat, as a file does: the redactor then reads content it parses in
// one buffer of that size instead of growing one as it reads.
type contentReader struct {
	ctx  context.Context
	repo repository.BlobLoader
	ids  repository.IDs
	size int64
	buf  []byte
	cur  *bytes.Reader
}

func newContentReader(ctx context.Context, repo repository.BlobLoader, node *repository.Node) *contentReader {
	return &contentReader{ctx: ctx, repo: repo, ids: node.Content, size: int64(node.Size)}
}

// Stat reports the content's size as the node gives it.
func (c *contentReader) Stat() (fs.FileInfo, error) { return contentInfo{c.size}, nil }

// contentInfo is a regular file of a known size.
type contentInfo struct{ size int64 }

func (i contentInfo) Name() string       { return "" }
func (i contentInfo) Size() int64        { return i.size }
func (i contentInfo) Mode() fs.FileMode  { return 0 }
func (i contentInfo) ModTime() time.Time { return time.Time{} }
func (i contentInfo) IsDir() bool        { return false }
func (i contentInfo) Sys() any           { return nil }

func (c *contentReader) Read(p []byte) (int, error) {
	for c.cur == nil || c.cur.Len() == 0 {
		if len(c.ids) == 0 {
			return 0, io.EOF
		}
		var err error
		c.buf, err = c.repo.LoadBlob(c.ctx, repository.DataBlob, c.ids[0], c.buf[:0])
		if err != nil {
			return 0, fmt.Errorf("loading blob %s: %w", c.ids[0].Str(), err)
		}
		c.ids = c.ids[1:]
		c.cur = bytes.NewReader(c.buf)
	}
	return c.cur.Read(p)
}

func (c *contentReader) Close() error { return nil }

func sortHandles(hs []repository.BlobHandle) {
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].Type != hs[j].Type {
			return hs[i].Type < hs[j].Type
		}
		return bytes.Compare(hs[i].ID[:], hs[j].ID[:]) < 0
	})
}

// VerifyAll scans every file of every snapshot with red, whose matcher
// holds the erasures to verify together (those complete in the
// repository), and counts what still holds one of their subjects outside
// holds: one pass for all of them, where each erasure's own deep verify
// is a pass per erasure. Nothing is journaled. repo needs only a shared
// lock and its index loaded.
func VerifyAll(ctx context.Context, repo Repo, red PathMasker, holds []Hold, now func() time.Time) (*Verification, error) {
	e := newEraser(repo, Options{Redactor: red, Rules: Rules{Holds: holds, Deep: true}, Now: now}, nil)
	snaps, damaged, err := repo.LoadAllSnapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("verifying the erasures: %w", err)
	}
	if len(damaged) > 0 {
		return nil, fmt.Errorf("verifying the erasures: %d snapshots cannot be loaded", len(damaged))
	}
	v := &Verification{Kind: VerifyDeep}
	var notes []string
	for _, sn := range snaps {
		if notes, err = e.verifyInto(ctx, v, notes, sn, nil); err != nil {
			return nil, err
		}
	}
	v.finish(notes, e.now())
	return v, nil
}
