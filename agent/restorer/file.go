package restorer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"lethe/agent/repository"

	"golang.org/x/sys/unix"
)

// fileJob is a file to write into dir; the job holds a reference on dir
// until fileDone.
type fileJob struct {
	node     *repository.Node
	path     string
	dir      *dirHandle
	filtered bool     // written with the content the filter returns
	first    *linkSrc // set on the first name of a hard-linked inode
	linkTo   *linkSrc // set on later names: link instead of writing
}

type inodeKey struct {
	dev, ino uint64
	filtered bool
}

// linkSrc is the first restored name of a hard-linked inode. Later names
// wait in waiters until it is done, then link to it (ok) or, if it
// failed, get their content written themselves.
type linkSrc struct {
	dirComps []string // its directory below the target
	name     string
	node     *repository.Node
	// sum is the SHA-256 of a filtered first name's written content,
	// set before done.
	sum [sha256.Size]byte

	mu      sync.Mutex
	done    bool
	ok      bool
	waiters []fileJob
}

// sameContent reports whether two nodes may share an inode; a crafted
// tree must not make a name restore with another name's content.
func sameContent(a, b *repository.Node) bool {
	if a.Size != b.Size || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if a.Content[i] != b.Content[i] {
			return false
		}
	}
	return true
}

// queueLink restores a later name of a hard-linked inode now if its first
// name is done, or once it is.
func (s *state) queueLink(job fileJob) {
	src := job.linkTo
	src.mu.Lock()
	if !src.done {
		src.waiters = append(src.waiters, job)
		src.mu.Unlock()
		return
	}
	ok := src.ok
	src.mu.Unlock()
	s.restoreLink(job, ok)
}

// resolveLinks marks the first name of an inode done and restores the
// names waiting for it.
func (s *state) resolveLinks(src *linkSrc, ok bool) {
	src.mu.Lock()
	src.done, src.ok = true, ok
	waiters := src.waiters
	src.waiters = nil
	src.mu.Unlock()
	for _, job := range waiters {
		s.restoreLink(job, ok)
	}
}

func (s *state) restoreLink(job fileJob, ok bool) {
	if s.ctx.Err() != nil {
		job.dir.release(s)
		return
	}
	if job.filtered {
		// What the filter returns may depend on the name (a format told
		// by the extension, a path rule), so each name is filtered; it
		// becomes a link only if its content is the first name's.
		if !ok {
			job.linkTo = nil
		}
		s.fileDone(job, s.writeFile(job))
		return
	}
	if !ok {
		// The first name failed: write this one's content itself.
		s.fileDone(job, s.writeFile(job))
		return
	}
	err := s.link(job)
	if err == nil {
		s.nBytes.Add(job.node.Size)
		if p := s.r.opts.Progress; p != nil {
			p.Bytes(job.node.Size)
		}
	}
	s.fileDone(job, err)
}

// link makes job's name a hard link to its first name.
func (s *state) link(job fileJob) error {
	src := job.linkTo
	// The first name's directory may be finished and closed by now;
	// reopen it from the target without following symlinks.
	srcfd, err := unix.Dup(s.rootfd)
	if err != nil {
		return err
	}
	defer func() { unix.Close(srcfd) }()
	for _, c := range src.dirComps {
		fd, err := unix.Openat(srcfd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening directory of hard link source: %w", err)
		}
		unix.Close(srcfd)
		srcfd = fd
	}
	tmp := tempName(job.node.Name)
	if err := unix.Linkat(srcfd, src.name, job.dir.fd, tmp, 0); err != nil {
		return fmt.Errorf("creating hard link: %w", err)
	}
	if err := unix.Renameat(job.dir.fd, tmp, job.dir.fd, job.node.Name); err != nil {
		unix.Unlinkat(job.dir.fd, tmp, 0)
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// errLeftOut ends the job of a file the filter left out.
var errLeftOut = errors.New("left out by the erasure filter")

// fileDone ends a file job: it reports an error or counts the file,
// settles hard links waiting for it and releases its directory.
func (s *state) fileDone(job fileJob, err error) {
	switch {
	case errors.Is(err, errLeftOut):
	case err != nil:
		s.report(job.path, err)
	default:
		s.nFiles.Add(1)
		if p := s.r.opts.Progress; p != nil {
			p.Done(s.mask(job.path))
		}
	}
	if job.first != nil {
		s.resolveLinks(job.first, err == nil)
	}
	job.dir.release(s)
}

// tempName returns a fresh hidden name in the same directory as name.
func tempName(name string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if len(name) > 100 {
		name = name[:100]
	}
	return ".lethe-restore-" + hex.EncodeToString(b[:]) + "-" + name
}

// createTemp creates the file a node's content is written to before it
// is renamed into place.
func createTemp(dirfd int, name string) (*os.File, string, error) {
	tmp := tempName(name)
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("creating file: %w", err)
	}
	// Not named after the node: errors name the item only by the
	// reported path, which may be masked.
	return os.NewFile(uintptr(fd), "restored file"), tmp, nil
}

// finishFile restores the metadata of a completely written temporary file,
// closes it and renames it into place; on error it removes it. A partly
// written file is thus never visible under its real name.
func (s *state) finishFile(f *os.File, dirfd int, tmp string, n *repository.Node) (err error) {
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	if s.root {
		if err := f.Chown(int(n.UID), int(n.GID)); err != nil {
			return fmt.Errorf("restoring owner: %w", err)
		}
	}
	setXattrs(int(f.Fd()), n)
	if err := unix.Fchmod(int(f.Fd()), unixMode(n.Mode)); err != nil {
		return fmt.Errorf("restoring mode: %w", err)
	}
	if err := unix.UtimesNanoAt(dirfd, tmp, times(n), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("restoring times: %w", err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("closing file: %w", cerr)
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, n.Name); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}

// restoreFile is a file worker's job: a file the filter rewrites.
func (s *state) restoreFile(job fileJob) {
	if s.ctx.Err() != nil {
		s.fileDone(job, context.Cause(s.ctx))
		return
	}
	s.fileDone(job, s.writeFile(job))
}

// writeFile writes one file's content in order, loading its blobs one by
// one, and puts it in place: the content the filter returns for a
// filtered file, else the node's.
func (s *state) writeFile(job fileJob) error {
	if job.filtered {
		return s.writeFiltered(job)
	}
	n := job.node
	f, tmp, err := createTemp(job.dir.fd, n.Name)
	if err != nil {
		return err
	}
	if err := s.writeContent(f, job); err != nil {
		f.Close()
		unix.Unlinkat(job.dir.fd, tmp, 0)
		return err
	}
	return s.finishFile(f, job.dir.fd, tmp, n)
}

type blobResult struct {
	buf *[]byte
	err error
}

// blobs loads a file's blobs in order, BlobWindow of them ahead, and hands
// each to fn. Buffers go back to the pool after fn.
func (s *state) blobs(ctx context.Context, content repository.IDs, fn func([]byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := make(chan chan blobResult, s.r.opts.BlobWindow)
	go func() {
		defer close(pending)
		for _, id := range content {
			ch := make(chan blobResult, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			go func(id repository.ID) {
				bufp, _ := s.bufs.Get().(*[]byte)
				if bufp == nil {
					bufp = new([]byte)
				}
				data, err := s.r.repo.LoadBlob(ctx, repository.DataBlob, id, (*bufp)[:0])
				if err != nil {
					err = fmt.Errorf("loading data blob %s: %w", id.Str(), err)
				}
				*bufp = data
				ch <- blobResult{buf: bufp, err: err}
			}(id)
		}
	}()
	var firstErr error
	for ch := range pending {
		res := <-ch
		if firstErr == nil {
			firstErr = res.err
			if firstErr == nil {
				firstErr = fn(*res.buf)
			}
			if firstErr != nil {
				cancel()
			}
		}
		s.bufs.Put(res.buf)
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(s.ctx)
	}
	return firstErr
}

func (s *state) writeContent(f *os.File, job fileJob) error {
	var off int64
	err := s.blobs(s.ctx, job.node.Content, func(data []byte) error {
		if uint64(off)+uint64(len(data)) > job.node.Size {
			return fmt.Errorf("content is larger than the recorded size %d", job.node.Size)
		}
		if !(s.r.opts.Sparse && allZero(data)) {
			if _, err := f.WriteAt(data, off); err != nil {
				return fmt.Errorf("writing file: %w", err)
			}
		}
		off += int64(len(data))
		s.nBytes.Add(uint64(len(data)))
		if p := s.r.opts.Progress; p != nil {
			p.Bytes(uint64(len(data)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if uint64(off) != job.node.Size {
		return fmt.Errorf("content has %d bytes, the recorded size is %d", off, job.node.Size)
	}
	return s.setSparseSize(f, off)
}

// setSparseSize gives a sparse file its size: trailing holes are not
// written.
func (s *state) setSparseSize(f *os.File, size int64) error {
	if !s.r.opts.Sparse {
		return nil
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("setting file size: %w", err)
	}
	return nil
}

// writeFiltered writes the content the filter returns for a file and
// puts it in place, or leaves the file out if the filter returns none.
// A later name of a hard-linked inode whose content comes out equal to
// the first name's is linked to it instead.
func (s *state) writeFiltered(job fileJob) error {
	n := job.node
	var streams contentStreams
	defer streams.closeAll()
	open := func() (io.ReadCloser, error) {
		return streams.open(func() *contentStream { return s.openContent(n) })
	}
	rc, found, err := s.r.opts.Filter.FilterContent(s.ctx, job.path, n, open)
	if err != nil {
		return fmt.Errorf("filtering content: %w", err)
	}
	if rc == nil {
		s.dropped(job.path, n, found)
		return errLeftOut
	}
	f, tmp, err := createTemp(job.dir.fd, n.Name)
	if err != nil {
		rc.Close()
		return err
	}
	var w io.Writer = f
	h := sha256.New()
	hashed := job.first != nil || job.linkTo != nil
	if hashed {
		w = io.MultiWriter(f, h)
	}
	written, err := io.Copy(w, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.Close()
		unix.Unlinkat(job.dir.fd, tmp, 0)
		return fmt.Errorf("writing filtered content: %w", err)
	}
	var sum [sha256.Size]byte
	if hashed {
		h.Sum(sum[:0])
	}
	if job.linkTo != nil && sum == job.linkTo.sum {
		f.Close()
		unix.Unlinkat(job.dir.fd, tmp, 0)
		err = s.link(job)
	} else {
		err = s.finishFile(f, job.dir.fd, tmp, n)
	}
	if err != nil {
		return err
	}
	if job.first != nil {
		job.first.sum = sum
	}
	if found.Removed > 0 {
		s.nRedacted.Add(1)
	}
	s.found(job.path, found)
	s.nBytes.Add(uint64(written))
	if p := s.r.opts.Progress; p != nil {
		p.Bytes(uint64(written))
	}
	return nil
}

// openContent streams a node's content from the repository, loading its
// blobs in order (each verified by the repository) and checking the
// total size at the end.
func (s *state) openContent(n *repository.Node) *contentStream {
	pr, pw := io.Pipe()
	cs := &contentStream{pr: pr, done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		var total uint64
		err := s.blobs(s.ctx, n.Content, func(data []byte) error {
			total += uint64(len(data))
			if total > n.Size {
				return fmt.Errorf("content is larger than the recorded size %d", n.Size)
			}
			_, err := pw.Write(data)
			return err
		})
		if err == nil && total != n.Size {
			err = fmt.Errorf("content has %d bytes, the recorded size is %d", total, n.Size)
		}
		pw.CloseWithError(err)
	}()
	return cs
}

// contentStream is a file's content as open hands it to the filter.
type contentStream struct {
	pr   *io.PipeReader
	done chan struct{} // closed when the loading goroutine is gone
	once sync.Once
}

var errStreamClosed = errors.New("content stream closed")

func (c *contentStream) Read(p []byte) (int, error) { return c.pr.Read(p) }

// Close stops the loading and waits for it, so that no goroutine
// outlives the file's restore.
func (c *contentStream) Close() error {
	c.once.Do(func() {
		c.pr.CloseWithError(errStreamClosed)
		<-c.done
	})
	return nil
}

// contentStreams are the streams opened for one file.
type contentStreams struct {
	mu     sync.Mutex
	closed bool
	list   []*contentStream
}

// open starts a stream unless the file's restore is over.
func (cs *contentStreams) open(start func() *contentStream) (io.ReadCloser, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return nil, errStreamClosed
	}
	c := start()
	cs.list = append(cs.list, c)
	return c, nil
}

func (cs *contentStreams) closeAll() {
	cs.mu.Lock()
	cs.closed = true
	list := cs.list
	cs.list = nil
	cs.mu.Unlock()
	for _, c := range list {
		c.Close()
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
