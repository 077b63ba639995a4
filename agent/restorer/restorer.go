// Package restorer restores a snapshot, or parts of it, to a directory.
//
// Everything is created relative to open directory descriptors with
// O_NOFOLLOW, so neither a crafted tree (a node named "../x") nor a
// symlink in the target directory can make the restore write outside the
// target. Files are written to a temporary name in their directory and
// renamed into place when complete; their content is verified (blob hashes
// by the repository, total size here).
//
// A Filter is the erasure seam: it decides for every item before its
// content is loaded whether the item is restored as it is (pack by pack,
// the fast path), left out, or restored with the content the filter
// returns (file by file). Such a file is written as the filter returns
// it; what the filter read of the original was verified as it was
// loaded.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/backends"

	"golang.org/x/sys/unix"
)

// Repo is what the restorer needs from a repository; *repository.Repository
// implements it. LoadBlob and LoadBlobsFromPack must verify blob hashes.
type Repo interface {
	LoadBlob(ctx context.Context, t repository.BlobType, id repository.ID, buf []byte) ([]byte, error)
	LookupBlob(h repository.BlobHandle) (repository.PackedBlob, bool)
	LoadBlobsFromPack(ctx context.Context, packID repository.ID, blobs []repository.PackedBlob, fn func(repository.PackedBlob, []byte, error) error) error
	Backend() backends.Backend
}

// ErrorFunc is told about an item that cannot be restored (path is its
// path in the snapshot, masked by Options.MaskPath if set; err does not
// repeat it). Returning nil skips the item and the restore goes on;
// returning an error aborts the restore.
type ErrorFunc func(path string, err error) error

// Filter is the erasure seam of a restore. Paths are snapshot paths.
// Errors of either method leave the item out and are reported through
// Options.Error; they must not hold an identifier of a subject.
type Filter interface {
	// Decide is called for every item the restore would create (those
	// selected, and directories on the way to an included path) before
	// any of its content is loaded, from one goroutine in tree order. It
	// must be cheap: Keep restores the item as it is (files by the fast
	// pack-by-pack path); Drop leaves it out (a directory with everything
	// below it, not descended into, so a folder named after a subject is
	// not created at all); Filter (files only) writes the content
	// FilterContent returns. The findings of a Drop, or of a Keep that is
	// a hit, go to Options.Found; for Filter, FilterContent's count.
	Decide(ctx context.Context, path string, node *repository.Node) (formats.Decision, formats.Findings, error)
	// FilterContent returns the content to write for a file Decide sent
	// to Filter; it may be called from several goroutines at once. open
	// streams the file's content from the repository (every blob
	// verified, the total size checked at the end) and may be called
	// more than once; its readers are closed by the restorer at the
	// latest when the returned reader is done. A nil reader leaves the
	// file out (the findings count as Dropped).
	FilterContent(ctx context.Context, path string, node *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error)
}

// Progress receives progress reports; methods are called from several
// goroutines.
type Progress interface {
	// Total reports the number of files and bytes selected for restore.
	Total(files, bytes uint64)
	// Bytes reports n more bytes of file content written.
	Bytes(n uint64)
	// Done is called when an item has been restored.
	Done(path string)
}

// Options tune a Restorer.
type Options struct {
	// Include restricts the restore to these snapshot paths and what is
	// below them (e.g. "/srv/data/invoices"). Components may be
	// path.Match patterns. Empty: everything.
	Include []string
	// Error decides about items that fail; nil aborts on the first one.
	Error ErrorFunc
	// Progress receives progress reports; nil for none.
	Progress Progress
	// Filter, when set, decides about every item and filters the content
	// of the files it asks for.
	Filter Filter
	// Found, when set, is told what the filter found in each item it
	// dropped or filtered, and in each kept item whose findings are a hit
	// (records held back from erasure, say). It is called from several
	// goroutines.
	Found func(path string, f formats.Findings)
	// MaskPath, when set, rewrites every path handed to Error, Found and
	// Progress, and the path in the error that aborts a restore without
	// an Error callback, so that a component naming an erased subject is
	// not shown.
	MaskPath func(string) string
	// Sparse leaves all-zero blocks of files as holes (not in files the
	// filter rewrote: they are written as the filter returns them).
	Sparse bool
	// PackWorkers is the number of packs loaded concurrently (default:
	// the backend's connections, at least 2).
	PackWorkers int
	// Files the filter rewrites are written one by one in content order:
	// FileWorkers is the number of them written concurrently (default
	// 4), BlobWindow the number of blobs of one file loaded ahead
	// (default 2).
	FileWorkers, BlobWindow int
}

// Stats count what was restored, and what the filter withheld (counts
// only: no path or identifier).
type Stats struct {
	Files, Dirs, Symlinks, Others uint64
	Bytes                         uint64
	// Errors counts items skipped because of an error.
	Errors uint64
	// FilesRedacted counts files restored with records removed.
	FilesRedacted uint64
	// FilesDropped, DirsDropped and OthersDropped count the items the
	// filter left out; a directory counts once, whatever was below it.
	FilesDropped, DirsDropped, OthersDropped uint64
	// RecordsRemoved sums the findings' Removed per format (an item left
	// out whole counts as one record); nil when nothing was removed.
	RecordsRemoved map[formats.Format]uint64
}

// Restorer restores one snapshot.
type Restorer struct {
	repo Repo
	sn   *repository.Snapshot
	opts Options
	incl [][]string
}

// New returns a restorer for sn.
func New(repo Repo, sn *repository.Snapshot, opts Options) *Restorer {
	if opts.FileWorkers <= 0 {
		opts.FileWorkers = 4
	}
	if opts.BlobWindow <= 0 {
		opts.BlobWindow = 2
	}
	if opts.PackWorkers <= 0 {
		opts.PackWorkers = max(2, repo.Backend().Connections())
	}
	r := &Restorer{repo: repo, sn: sn, opts: opts}
	for _, inc := range opts.Include {
		r.incl = append(r.incl, splitPath(path.Clean("/"+inc)))
	}
	return r
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// selects reports whether the item at comps is restored completely
// (selected) and whether something below it may be (descend).
func (r *Restorer) selects(comps []string) (selected, descend bool) {
	if len(r.incl) == 0 {
		return true, true
	}
	for _, inc := range r.incl {
		n := min(len(inc), len(comps))
		ok := true
		for i := 0; i < n; i++ {
			if m, err := path.Match(inc[i], comps[i]); err != nil || !m {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if len(comps) >= len(inc) {
			return true, true
		}
		descend = true
	}
	return false, descend
}

// checkName refuses node names that could leave their directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		// The name is in the reported path, which may be masked.
		return errors.New("refusing tree entry with an unsafe name")
	}
	return nil
}

// childPath is the snapshot path of entry name in directory dir. It is
// not cleaned, so that an unsafe name is reported as it is.
func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// state is one RestoreTo call.
type state struct {
	r      *Restorer
	ctx    context.Context
	cancel context.CancelCauseFunc
	root   bool                  // running as root: restore ownership
	files  chan fileJob          // filtered files, to the file workers
	packs  chan *packJob         // to the pack workers
	slots  chan struct{}         // one per file being written pack-wise
	batch  batch                 // only used by the walker goroutine
	links  map[inodeKey]*linkSrc // only used by the walker goroutine
	rootfd int
	wg     sync.WaitGroup
	bufs   sync.Pool

	pendMu  sync.Mutex
	pending map[*contentFile]struct{}

	nFiles, nDirs, nSymlinks, nOthers, nBytes, nErrs       atomic.Uint64
	nRedacted, nFilesDropped, nDirsDropped, nOthersDropped atomic.Uint64

	removedMu sync.Mutex
	removed   map[formats.Format]uint64
}

// RestoreTo restores the snapshot below target, creating it if needed.
// Items are placed at their snapshot path, as restic does: a snapshot of
// /srv/data restores to target/srv/data.
func (r *Restorer) RestoreTo(ctx context.Context, target string) (Stats, error) {
	if r.sn == nil || r.sn.Tree == nil {
		return Stats{}, fmt.Errorf("snapshot has no tree")
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return Stats{}, fmt.Errorf("creating target %s: %w", target, err)
	}
	fd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("opening target %s: %w", target, err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := &state{
		r:       r,
		ctx:     ctx,
		cancel:  cancel,
		root:    os.Geteuid() == 0,
		files:   make(chan fileJob, r.opts.FileWorkers),
		packs:   make(chan *packJob, r.opts.PackWorkers),
		slots:   make(chan struct{}, maxPendingFiles),
		links:   map[inodeKey]*linkSrc{},
		pending: map[*contentFile]struct{}{},
	}
	if p := r.opts.Progress; p != nil {
		files, bytes, err := r.count(ctx, *r.sn.Tree, nil)
		if err != nil {
			unix.Close(fd)
			return Stats{}, err
		}
		p.Total(files, bytes)
	}
	if r.opts.Filter != nil {
		for i := 0; i < r.opts.FileWorkers; i++ {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				for job := range s.files {
					s.restoreFile(job)
				}
			}()
		}
	}
	for i := 0; i < r.opts.PackWorkers; i++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for pj := range s.packs {
				s.restorePack(pj)
			}
		}()
	}

	s.rootfd = fd
	rootDir := &dirHandle{fd: fd, path: "/"}
	rootDir.refs.Store(1)
	walkErr := s.walk(*r.sn.Tree, nil, rootDir)
	if err := s.flushBatch(); err != nil && walkErr == nil {
		walkErr = err
	}
	rootDir.release(s)
	close(s.files)
	close(s.packs)
	s.wg.Wait()
	s.cleanupPending()

	st := Stats{
		Files: s.nFiles.Load(), Dirs: s.nDirs.Load(), Symlinks: s.nSymlinks.Load(), Others: s.nOthers.Load(),
		Bytes: s.nBytes.Load(), Errors: s.nErrs.Load(),
		FilesRedacted: s.nRedacted.Load(),
		FilesDropped:  s.nFilesDropped.Load(), DirsDropped: s.nDirsDropped.Load(), OthersDropped: s.nOthersDropped.Load(),
		RecordsRemoved: s.removed,
	}
	if ctx.Err() != nil {
		return st, context.Cause(ctx)
	}
	return st, walkErr
}

// loadTree loads and decodes a tree blob.
func (r *Restorer) loadTree(ctx context.Context, id repository.ID) (*repository.Tree, error) {
	buf, err := r.repo.LoadBlob(ctx, repository.TreeBlob, id, nil)
	if err != nil {
		return nil, fmt.Errorf("loading tree %s: %w", id.Str(), err)
	}
	t, err := repository.DecodeTree(buf)
	if err != nil {
		return nil, fmt.Errorf("decoding tree %s: %w", id.Str(), err)
	}
	return t, nil
}

// count sums the files and bytes selected below tree id, which is at
// comps. Entries the restore refuses for their names are not counted.
func (r *Restorer) count(ctx context.Context, id repository.ID, comps []string) (files, bytes uint64, err error) {
	err = repository.Walk(ctx, r.repo, id, func(_ repository.ID, p string, n *repository.Node, err error) error {
		if err != nil {
			tree := id
			if n != nil {
				tree = *n.Subtree
			}
			return fmt.Errorf("loading tree %s: %w", tree.Str(), err)
		}
		if checkName(n.Name) != nil {
			return repository.ErrSkipDir
		}
		// Names hold no "/" (checked above), so the path splits into them.
		c := append(comps[:len(comps):len(comps)], strings.Split(p[1:], "/")...)
		sel, desc := r.selects(c)
		switch {
		case n.Type == repository.NodeDir && !desc:
			return repository.ErrSkipDir
		case n.Type == repository.NodeFile && sel:
			files++
			bytes += n.Size
		}
		return nil
	})
	return files, bytes, err
}

// fail aborts the restore.
func (s *state) fail(err error) { s.cancel(err) }

// report hands a failed item to the error callback. It returns nil to go
// on without the item, or the error that aborts the restore. Once the
// restore is aborted nothing more is reported: what fails then fails
// because of the abort, which was reported with the item that caused it.
func (s *state) report(p string, err error) error {
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	s.nErrs.Add(1)
	if s.r.opts.Error == nil {
		err = fmt.Errorf("restoring %s: %w", s.mask(p), err)
		s.fail(err)
		return err
	}
	if cbErr := s.r.opts.Error(s.mask(p), err); cbErr != nil {
		s.fail(cbErr)
		return cbErr
	}
	return nil
}

// mask returns p as it may be shown outside the restorer.
func (s *state) mask(p string) string {
	if s.r.opts.MaskPath == nil {
		return p
	}
	return s.r.opts.MaskPath(p)
}

// decide asks the filter about an item and accounts for a Drop. A
// Filter decision is only allowed for files.
func (s *state) decide(p string, n *repository.Node) (formats.Decision, error) {
	if s.r.opts.Filter == nil {
		return formats.Keep, nil
	}
	d, f, err := s.r.opts.Filter.Decide(s.ctx, p, n)
	if err != nil {
		return 0, fmt.Errorf("deciding on erasures: %w", err)
	}
	switch {
	case d == formats.Keep:
		if f.Hit() && s.r.opts.Found != nil {
			// Nothing was withheld, so nothing is counted.
			s.r.opts.Found(s.mask(p), f)
		}
	case d == formats.Drop:
		s.dropped(p, n, f)
	case d == formats.Filter && n.Type == repository.NodeFile:
	default:
		return 0, fmt.Errorf("erasure filter decided %d for a %s", d, n.Type)
	}
	return d, nil
}

// dropped accounts for an item the filter left out.
func (s *state) dropped(p string, n *repository.Node, f formats.Findings) {
	switch n.Type {
	case repository.NodeDir:
		s.nDirsDropped.Add(1)
	case repository.NodeFile:
		s.nFilesDropped.Add(1)
	default:
		s.nOthersDropped.Add(1)
	}
	f.Dropped = true
	s.found(p, f)
}

// found counts the records the filter removed from an item it dropped or
// filtered and tells Options.Found.
func (s *state) found(p string, f formats.Findings) {
	if f.Removed > 0 {
		s.removedMu.Lock()
		if s.removed == nil {
			s.removed = map[formats.Format]uint64{}
		}
		s.removed[f.Format] += uint64(f.Removed)
		s.removedMu.Unlock()
	}
	if s.r.opts.Found != nil {
		s.r.opts.Found(s.mask(p), f)
	}
}

// dirHandle is an open directory in the target. Its metadata is restored
// when the last reference goes: the walker's, one per file being written
// in it and one per open subdirectory. Subdirectories hold a reference
// on their parent, so timestamps are set after everything inside.
type dirHandle struct {
	fd     int
	path   string   // snapshot path, for messages
	comps  []string // path below the target
	name   string
	node   *repository.Node // nil: not selected, metadata not restored
	parent *dirHandle
	refs   atomic.Int32
}

func (d *dirHandle) acquire() { d.refs.Add(1) }

func (d *dirHandle) release(s *state) {
	if d.refs.Add(-1) != 0 {
		return
	}
	if d.node != nil && s.ctx.Err() == nil {
		if err := s.dirMetadata(d); err != nil {
			s.report(d.path, err)
		}
	}
	unix.Close(d.fd)
	if d.parent != nil {
		d.parent.release(s)
	}
}

// walk restores what is selected in the tree id below dir. Items that
// fail are reported; it returns only the error that aborts the restore.
func (s *state) walk(id repository.ID, comps []string, dir *dirHandle) error {
	tree, err := s.r.loadTree(s.ctx, id)
	if err != nil {
		return s.report(dir.path, err)
	}
	for _, n := range tree.Nodes {
		if err := s.ctx.Err(); err != nil {
			return context.Cause(s.ctx)
		}
		p := childPath(dir.path, n.Name)
		if err := checkName(n.Name); err != nil {
			if err := s.report(p, err); err != nil {
				return err
			}
			continue
		}
		c := append(comps[:len(comps):len(comps)], n.Name)
		sel, desc := s.r.selects(c)
		if !sel && !(desc && n.Type == repository.NodeDir) {
			continue
		}
		d, err := s.decide(p, n)
		if err != nil {
			if err := s.report(p, err); err != nil {
				return err
			}
			continue
		}
		if d == formats.Drop {
			continue
		}
		if n.Type == repository.NodeDir {
			err = s.restoreDir(n, p, c, sel, dir)
		} else {
			err = s.restoreNode(n, p, d, dir)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restoreDir creates a directory and restores what is selected below it.
// Its metadata is restored only if it is selected itself.
func (s *state) restoreDir(n *repository.Node, p string, comps []string, selected bool, dir *dirHandle) error {
	if n.Subtree == nil {
		return s.report(p, errors.New("directory without subtree"))
	}
	// Created private; its mode is set after its contents.
	err := unix.Mkdirat(dir.fd, n.Name, 0o700)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return s.report(p, fmt.Errorf("creating directory: %w", err))
	}
	fd, err := unix.Openat(dir.fd, n.Name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return s.report(p, fmt.Errorf("opening directory (a non-directory or symlink is in the way?): %w", err))
	}
	sub := &dirHandle{fd: fd, path: p, comps: comps, name: n.Name, parent: dir}
	if selected {
		sub.node = n
		s.nDirs.Add(1)
	}
	sub.refs.Store(1)
	dir.acquire()
	err = s.walk(*n.Subtree, comps, sub)
	sub.release(s)
	return err
}

// restoreNode restores a non-directory item the filter did not drop. A
// failing item is reported; it returns only the error that aborts the
// restore.
func (s *state) restoreNode(n *repository.Node, p string, d formats.Decision, dir *dirHandle) error {
	if n.Type == repository.NodeFile {
		return s.restoreFileNode(n, p, d, dir)
	}
	var err error
	switch n.Type {
	case repository.NodeSymlink:
		if err = s.special(dir, n, func(tmp string) error { return unix.Symlinkat(n.LinkTarget, dir.fd, tmp) }); err == nil {
			s.nSymlinks.Add(1)
		}
	case repository.NodeFifo:
		if err = s.special(dir, n, func(tmp string) error { return unix.Mkfifoat(dir.fd, tmp, 0o600) }); err == nil {
			s.nOthers.Add(1)
		}
	case repository.NodeDev, repository.NodeCharDev:
		typ := uint32(unix.S_IFBLK)
		if n.Type == repository.NodeCharDev {
			typ = unix.S_IFCHR
		}
		if err = s.special(dir, n, func(tmp string) error { return unix.Mknodat(dir.fd, tmp, typ|0o600, int(n.Device)) }); err == nil {
			s.nOthers.Add(1)
		}
	case repository.NodeSocket:
		// Like restic: a socket cannot be restored meaningfully.
		return nil
	default:
		err = fmt.Errorf("unknown node type %q", n.Type)
	}
	if err != nil {
		return s.report(p, err)
	}
	if pr := s.r.opts.Progress; pr != nil {
		pr.Done(s.mask(p))
	}
	return nil
}

// restoreFileNode hands a file to the writer its decision asks for: kept
// files go pack by pack, filtered ones to the file workers, later names
// of a hard-linked inode wait for the first.
func (s *state) restoreFileNode(n *repository.Node, p string, d formats.Decision, dir *dirHandle) error {
	job := fileJob{node: n, path: p, dir: dir, filtered: d == formats.Filter}
	dir.acquire()
	if n.Links > 1 && n.Inode != 0 {
		// Hard links: the first name of an inode is written, the others
		// link to it (restic does the same). Kept and filtered names of
		// one inode are linked only among themselves: their content
		// differs.
		key := inodeKey{n.DeviceID, n.Inode, job.filtered}
		if first := s.links[key]; first != nil && sameContent(first.node, n) {
			job.linkTo = first
		} else if first == nil {
			job.first = &linkSrc{dirComps: dir.comps, name: n.Name, node: n}
			s.links[key] = job.first
		}
	}
	switch {
	case job.linkTo != nil:
		s.queueLink(job)
		return nil
	case !job.filtered:
		return s.queueContent(job)
	}
	select {
	case s.files <- job:
		return nil
	case <-s.ctx.Done():
		s.fileDone(job, context.Cause(s.ctx))
		return context.Cause(s.ctx)
	}
}

// special creates a non-regular, non-directory item under a temporary
// name, restores its metadata and renames it into place.
func (s *state) special(dir *dirHandle, n *repository.Node, create func(tmp string) error) error {
	tmp := tempName(n.Name)
	if err := create(tmp); err != nil {
		return fmt.Errorf("creating %s: %w", n.Type, err)
	}
	if err := s.metadataAt(dir.fd, tmp, n); err != nil {
		unix.Unlinkat(dir.fd, tmp, 0)
		return err
	}
	if err := unix.Renameat(dir.fd, tmp, dir.fd, n.Name); err != nil {
		unix.Unlinkat(dir.fd, tmp, 0)
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// unixMode converts a node's Go file mode to permission bits for chmod.
func unixMode(m os.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	return mode
}

func times(n *repository.Node) []unix.Timespec {
	atime := n.AccessTime
	if atime.IsZero() {
		atime = n.ModTime
	}
	return []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(n.ModTime.UnixNano())}
}

// metadataAt restores ownership, mode and times of a non-directory entry
// without following symlinks. chown comes first: it may clear setuid bits.
func (s *state) metadataAt(dirfd int, name string, n *repository.Node) error {
	if s.root {
		if err := unix.Fchownat(dirfd, name, int(n.UID), int(n.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("restoring owner: %w", err)
		}
	}
	if n.Type != repository.NodeSymlink {
		// Safe to follow: the entry was just created by us and is not a symlink.
		if err := unix.Fchmodat(dirfd, name, unixMode(n.Mode), 0); err != nil {
			return fmt.Errorf("restoring mode: %w", err)
		}
	}
	if err := unix.UtimesNanoAt(dirfd, name, times(n), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("restoring times: %w", err)
	}
	return nil
}

// dirMetadata restores a directory's metadata once its contents are done.
func (s *state) dirMetadata(d *dirHandle) error {
	n := d.node
	if s.root {
		if err := unix.Fchown(d.fd, int(n.UID), int(n.GID)); err != nil {
			return fmt.Errorf("restoring owner: %w", err)
		}
	}
	setXattrs(d.fd, n)
	if err := unix.Fchmod(d.fd, unixMode(n.Mode)); err != nil {
		return fmt.Errorf("restoring mode: %w", err)
	}
	if err := unix.UtimesNanoAt(d.parent.fd, d.name, times(n), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("restoring times: %w", err)
	}
	return nil
}

// setXattrs restores extended attributes on best effort, like restic
// (a target file system may not support them).
func setXattrs(fd int, n *repository.Node) {
	for _, a := range n.ExtendedAttributes {
		_ = unix.Fsetxattr(fd, a.Name, a.Value, 0)
	}
}
