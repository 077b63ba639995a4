// Package restorer restores a snapshot, or parts of it, to a directory.
//
// Everything is created relative to open directory descriptors with
// O_NOFOLLOW, so neither a crafted tree (a node named "../x") nor a
// symlink in the target directory can make the restore write outside the
// target. Files are written to a temporary name in their directory and
// renamed into place when complete; their content is verified (blob hashes
// by the repository, total size here).
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
// path in the snapshot). Returning nil skips the item and the restore goes
// on; returning an error aborts the restore.
type ErrorFunc func(path string, err error) error

// ContentFilter may replace a file's content before it is written (the
// erasure filter of later issues). path is the file's path in the
// snapshot. Returning r itself keeps the content unchanged.
type ContentFilter interface {
	FilterContent(ctx context.Context, path string, node *repository.Node, r io.Reader) (io.Reader, error)
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
	// Filter, when set, may replace each file's content.
	Filter ContentFilter
	// Sparse leaves all-zero blocks of files as holes.
	Sparse bool
	// PackWorkers is the number of packs loaded concurrently (default:
	// the backend's connections, at least 2).
	PackWorkers int
	// With a Filter, files are written one by one in content order:
	// FileWorkers is the number of files written concurrently (default
	// 4), BlobWindow the number of blobs of one file loaded ahead
	// (default 2).
	FileWorkers, BlobWindow int
}

// Stats count what was restored.
type Stats struct {
	Files, Dirs, Symlinks, Others uint64
	Bytes                         uint64
	// Errors counts items skipped because of an error.
	Errors uint64
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
		return fmt.Errorf("refusing tree entry with unsafe name %q", name)
	}
	return nil
}

// state is one RestoreTo call.
type state struct {
	r      *Restorer
	ctx    context.Context
	cancel context.CancelCauseFunc
	root   bool                  // running as root: restore ownership
	files  chan fileJob          // with a Filter: to the file workers
	packs  chan *packJob         // to the pack workers
	slots  chan struct{}         // one per file being written pack-wise
	batch  batch                 // only used by the walker goroutine
	links  map[inodeKey]*linkSrc // only used by the walker goroutine
	rootfd int
	wg     sync.WaitGroup
	bufs   sync.Pool

	pendMu  sync.Mutex
	pending map[*contentFile]struct{}

	nFiles, nDirs, nSymlinks, nOthers, nBytes, nErrs atomic.Uint64
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
	}
	if ctx.Err() != nil {
		return st, context.Cause(ctx)
	}
	return st, walkErr
}

// loadTree loads and decodes a tree blob; treecodec reads restic's name
// quoting (see there).
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

// count sums the files and bytes selected below tree id.
func (r *Restorer) count(ctx context.Context, id repository.ID, comps []string) (files, bytes uint64, err error) {
	tree, err := r.loadTree(ctx, id)
	if err != nil {
		return 0, 0, err
	}
	for _, n := range tree.Nodes {
		c := append(comps[:len(comps):len(comps)], n.Name)
		sel, desc := r.selects(c)
		switch {
		case n.Type == repository.NodeDir && desc && n.Subtree != nil:
			f, b, err := r.count(ctx, *n.Subtree, c)
			if err != nil {
				return 0, 0, err
			}
			files, bytes = files+f, bytes+b
		case n.Type == repository.NodeFile && sel:
			files++
			bytes += n.Size
		}
	}
	return files, bytes, nil
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
		err = fmt.Errorf("restoring %s: %w", p, err)
		s.fail(err)
		return err
	}
	if cbErr := s.r.opts.Error(p, err); cbErr != nil {
		s.fail(cbErr)
		return cbErr
	}
	return nil
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

func (s *state) walk(id repository.ID, comps []string, dir *dirHandle) error {
	tree, err := s.r.loadTree(s.ctx, id)
	if err != nil {
		return fmt.Errorf("%s: %w", dir.path, err)
	}
	for _, n := range tree.Nodes {
		if err := s.ctx.Err(); err != nil {
			return context.Cause(s.ctx)
		}
		p := path.Join(dir.path, n.Name)
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
		if err := s.restoreNode(n, p, c, sel, dir); err != nil {
			if err := s.report(p, err); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *state) restoreNode(n *repository.Node, p string, comps []string, selected bool, dir *dirHandle) error {
	switch n.Type {
	case repository.NodeDir:
		if n.Subtree == nil {
			return fmt.Errorf("directory without subtree")
		}
		// Created private; its mode is set after its contents.
		err := unix.Mkdirat(dir.fd, n.Name, 0o700)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating directory: %w", err)
		}
		fd, err := unix.Openat(dir.fd, n.Name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening directory (a non-directory or symlink is in the way?): %w", err)
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

	case repository.NodeFile:
		job := fileJob{node: n, path: p, dir: dir}
		dir.acquire()
		if n.Links > 1 && n.Inode != 0 {
			// Hard links: the first name of an inode is written, the
			// others link to it (restic does the same).
			key := inodeKey{n.DeviceID, n.Inode}
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
		case s.r.opts.Filter == nil:
			return s.queueContent(job)
		}
		select {
		case s.files <- job:
			return nil
		case <-s.ctx.Done():
			s.fileDone(job, context.Cause(s.ctx))
			return context.Cause(s.ctx)
		}

	case repository.NodeSymlink:
		if err := s.special(dir, n, func(tmp string) error { return unix.Symlinkat(n.LinkTarget, dir.fd, tmp) }); err != nil {
			return err
		}
		s.nSymlinks.Add(1)
	case repository.NodeFifo:
		if err := s.special(dir, n, func(tmp string) error { return unix.Mkfifoat(dir.fd, tmp, 0o600) }); err != nil {
			return err
		}
		s.nOthers.Add(1)
	case repository.NodeDev, repository.NodeCharDev:
		typ := uint32(unix.S_IFBLK)
		if n.Type == repository.NodeCharDev {
			typ = unix.S_IFCHR
		}
		if err := s.special(dir, n, func(tmp string) error { return unix.Mknodat(dir.fd, tmp, typ|0o600, int(n.Device)) }); err != nil {
			return err
		}
		s.nOthers.Add(1)
	case repository.NodeSocket:
		// Like restic: a socket cannot be restored meaningfully.
		return nil
	default:
		return fmt.Errorf("unknown node type %q", n.Type)
	}
	if p2 := s.r.opts.Progress; p2 != nil {
		p2.Done(p)
	}
	return nil
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
