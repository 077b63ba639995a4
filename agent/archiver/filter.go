package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"

	"lethe/agent/formats"
	"lethe/agent/repository"

	"github.com/restic/chunker"
)

// Filter is the erasure seam of a backup: it is asked about every item
// before its content is read, so that what it removes never enters the
// snapshot. Its methods are called from several goroutines. path is the
// item's location on disk, not masked; errors should not repeat it (the
// archiver names the item through Options.MaskPath). Neither method may
// modify node.
type Filter interface {
	// Decide is called for every item of the snapshot's tree (directory,
	// file, symlink, …) before its content is read, with its path on disk
	// and its node. For a file unchanged since the parent snapshot
	// node.Content holds the parent's content, otherwise it is nil. Drop
	// leaves the item out (a directory with everything below it, not
	// descended into); Filter (files only) sends the content through
	// FilterContent; Keep stores it as it is (an unchanged file reuses the
	// parent's content). The findings count only when the item is dropped.
	Decide(ctx context.Context, path string, node *repository.Node) (formats.Decision, formats.Findings, error)
	// FilterContent returns the content to store for a file Decide sent
	// to Filter (node is the one Decide saw); the archiver reads it to the
	// end and closes it, and an error reading or closing it counts as the
	// filter's. open opens the file and may be called more than once, as
	// the archiver would open it: it fails if the file was replaced since
	// it was listed, does not follow symlinks nor, where permitted, update
	// the access time; what is read counts in Stats, reading fails once
	// the backup is aborted, and errors do not name the file. Whatever
	// open opened is closed when the file is done. A nil reader, or
	// findings.Dropped, leaves the file out.
	FilterContent(ctx context.Context, path string, node *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error)
}

// decide asks the filter about an item. It returns whether the file's
// content is to be filtered, or errSkipped when the item is left out.
func (r *run) decide(path string, node *repository.Node) (bool, error) {
	d, f, err := r.a.opts.Filter.Decide(r.ctx, path, node)
	if err != nil {
		return false, r.filterFailed(path, "deciding on item", err)
	}
	switch d {
	case formats.Keep:
		return false, nil
	case formats.Filter:
		if node.Type != repository.NodeFile {
			return false, r.report(path, fmt.Errorf("filter asked to filter the content of a %s", node.Type))
		}
		return true, nil
	case formats.Drop:
		node.Content = nil
		r.dropped(path, node, f)
		if p := r.a.opts.Progress; p != nil && node.Type == repository.NodeFile {
			shown := r.a.show(path)
			p.Start(shown)
			p.Bytes(node.Size)
			p.Done(shown)
		}
		return false, errSkipped
	}
	return false, r.report(path, fmt.Errorf("filter returned unknown decision %d", d))
}

// filterFailed reports a failure of the filter for one item, unless the
// backup was aborted meanwhile (which may be why the filter failed).
func (r *run) filterFailed(path, what string, err error) error {
	if r.ctx.Err() != nil {
		return context.Cause(r.ctx)
	}
	return r.report(path, fmt.Errorf("%s: %w", what, err))
}

// dropped counts an item the filter left out and hands its findings on.
func (r *run) dropped(path string, node *repository.Node, f formats.Findings) {
	f.Dropped = true
	if node.Type == repository.NodeDir {
		r.c.dirsDropped.Add(1)
	} else {
		r.c.filesDropped.Add(1)
	}
	r.c.addRemoved(f)
	if r.a.opts.Found != nil {
		r.a.opts.Found(r.a.show(path), node, f)
	}
}

// saveFiltered stores the content the filter returns for a file.
func (r *run) saveFiltered(fj *fileJob, ch *chunker.Chunker) error {
	src := &source{r: r, fj: fj}
	defer src.closeAll()
	rc, found, err := r.a.opts.Filter.FilterContent(r.ctx, fj.path, fj.node, src.open)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return r.filterFailed(fj.path, "filtering content", err)
	}
	if rc == nil || found.Dropped {
		if rc != nil {
			rc.Close()
		}
		src.countRead()
		fj.node.Content = nil
		r.dropped(fj.path, fj.node, found)
		r.progressRest(fj, 0)
		return errSkipped
	}

	var in io.Reader = rc
	capt := r.newCapture(rc, fj.path, fj.fi.Size())
	defer capt.release()
	if capt != nil {
		in = capt
	}
	content, size, err := r.chunk(fj.path, in, ch, "reading filtered content")
	if cerr := rc.Close(); err == nil && cerr != nil {
		// The filter may only see at the end that it could not finish.
		err = r.filterFailed(fj.path, "filtering content", cerr)
	}
	if err != nil {
		return err
	}
	if h := r.a.hooks.afterRead; h != nil {
		h(fj.path)
	}
	if src.changed() {
		return r.report(fj.path, errors.New("file changed while it was read"))
	}
	src.countRead()
	node, err := r.a.nodeFromFileInfo(fj.path, fj.node.Name, src.info())
	if err != nil {
		return r.report(fj.path, err)
	}
	node.Size = size
	node.Content = content
	fj.node = node
	switch {
	case fj.unchanged && slices.Equal(content, fj.old.Content):
		r.c.filesUnmodified.Add(1)
	case fj.old != nil:
		r.c.filesChanged.Add(1)
	default:
		r.c.filesNew.Add(1)
	}
	if found.Removed > 0 {
		repository.MarkRewritten(node)
		r.c.filesRedacted.Add(1)
	}
	r.c.addRemoved(found)
	if r.a.opts.Found != nil {
		r.a.opts.Found(r.a.show(fj.path), node, found)
	}
	r.index(capt, fj.path, node)
	r.progressRest(fj, size)
	return nil
}

// progressRest reports the part of a filtered file's size on disk that
// the done bytes of filtered content did not cover, so that progress
// reaches the total the scan counted.
func (r *run) progressRest(fj *fileJob, done uint64) {
	if p := r.a.opts.Progress; p != nil && uint64(fj.fi.Size()) > done {
		p.Bytes(uint64(fj.fi.Size()) - done)
	}
}

// source opens a file for the filter with the guarantees of an unfiltered
// read (see openListed and readCounter).
type source struct {
	r  *run
	fj *fileJob

	mu     sync.Mutex
	files  []*os.File
	infos  []fs.FileInfo // of files, as opened
	fi     fs.FileInfo   // of the file opened last
	closed bool
}

func (s *source) open() (io.ReadCloser, error) {
	if err := s.r.ctx.Err(); err != nil {
		return nil, context.Cause(s.r.ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("file opened after its filtering ended")
	}
	f, fi, err := s.r.a.openListed(s.fj.path, s.fj.fi)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, f)
	s.infos = append(s.infos, fi)
	s.fi = fi
	return readCounter{f: f, r: s.r}, nil
}

// info returns the metadata of the file as last opened, or as listed if
// the filter never opened it.
func (s *source) info() fs.FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fi == nil {
		return s.fj.fi
	}
	return s.fi
}

// changed reports whether a file the filter opened changed since it was
// opened (see saveFile); the filtered content may then mix two versions.
func (s *source) changed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.files {
		fi, err := f.Stat()
		if err != nil && errors.Is(err, os.ErrClosed) {
			// Closed by the filter: check by path that it is the same.
			fi, err = os.Lstat(s.fj.path)
		}
		if err != nil || !sameState(fi, s.infos[i]) {
			return true
		}
	}
	return false
}

// countRead counts the file in Stats.FilesRead if the filter opened it.
func (s *source) countRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) > 0 {
		s.r.c.filesRead.Add(1)
	}
}

// closeAll closes what the filter opened; files it closed itself fail
// harmlessly with os.ErrClosed.
func (s *source) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		f.Close()
	}
	s.files = nil
	s.closed = true
}
