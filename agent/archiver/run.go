package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"lethe/agent/repository"

	"github.com/restic/chunker"
)

// run is the state of one Snapshot call.
type run struct {
	a        *Archiver
	ctx      context.Context
	cancel   context.CancelCauseFunc
	excludes []string
	c        counters

	fileCh chan *fileJob
	blobCh chan blobJob
	treeCh chan *dirJob

	// errMu makes the error callback see one item at a time: the walker
	// and the file workers report concurrently.
	errMu sync.Mutex
}

// fileJob is a file to read; done is closed when node is complete or err
// is set (errSkipped: left out).
type fileJob struct {
	path      string
	fi        fs.FileInfo
	node      *repository.Node
	old       *repository.Node // the parent snapshot's node, if any
	unchanged bool             // since the parent snapshot; read only to filter it
	filter    bool             // the content goes through Options.Filter
	done      chan struct{}
	err       error
}

// blobJob is a chunk of the file at path to store. buf goes back to the
// pool afterwards.
type blobJob struct {
	path string
	buf  *[]byte
	id   repository.ID
	wg   *sync.WaitGroup
	errp *error
	mu   *sync.Mutex
}

// dirJob is a directory whose tree is saved once its children are done.
// Jobs reach the tree saver in post-order, so subdirectories are always
// saved before their parent.
type dirJob struct {
	path    string
	node    *repository.Node // nil for the root
	entries []entry
	old     *repository.Node // the parent snapshot's node, if any
	done    chan struct{}
	id      repository.ID
	err     error
}

type entry struct {
	node *repository.Node // complete, or a dir whose subtree is set from dir
	file *fileJob
	dir  *dirJob
}

func newRun(ctx context.Context, a *Archiver, excludes []string) *run {
	ctx, cancel := context.WithCancelCause(ctx)
	return &run{
		a:        a,
		ctx:      ctx,
		cancel:   cancel,
		excludes: excludes,
		fileCh:   make(chan *fileJob, a.opts.FileWorkers),
		blobCh:   make(chan blobJob),
		treeCh:   make(chan *dirJob, 256),
	}
}

// fail aborts the backup with err (the first failure wins).
func (r *run) fail(err error) { r.cancel(err) }

// failure returns why the run was aborted, if it was.
func (r *run) failure() error {
	if r.ctx.Err() == nil {
		return nil
	}
	return context.Cause(r.ctx)
}

// report hands an unreadable item to the error callback, named by its
// (masked) path; err must not name it. It returns errSkipped to leave the
// item out, or the callback's error to abort.
func (r *run) report(path string, err error) error {
	r.c.errors.Add(1)
	if r.a.opts.Error != nil {
		shown := r.a.show(path)
		r.errMu.Lock()
		cbErr := r.a.opts.Error(shown, fmt.Errorf("%s: %w", shown, err))
		r.errMu.Unlock()
		if cbErr != nil {
			r.fail(cbErr)
			return cbErr
		}
	}
	return errSkipped
}

func (r *run) run(root *targetTree, parent *repository.Snapshot, parentTree *repository.Tree) (repository.ID, error) {
	var fileWG, blobWG sync.WaitGroup
	for i := 0; i < r.a.opts.FileWorkers; i++ {
		fileWG.Add(1)
		go func() {
			defer fileWG.Done()
			r.fileWorker()
		}()
	}
	for i := 0; i < r.a.opts.SaveWorkers; i++ {
		blobWG.Add(1)
		go func() {
			defer blobWG.Done()
			r.blobWorker()
		}()
	}
	treeDone := make(chan struct{})
	go func() {
		defer close(treeDone)
		r.treeSaver()
	}()

	var rootOld *repository.Node
	if parentTree != nil {
		rootOld = &repository.Node{Type: repository.NodeDir, Subtree: parent.Tree}
	}
	rootJob, walkErr := r.walkDir("/", nil, rootOld, parentTree, root)
	close(r.treeCh)
	close(r.fileCh)
	<-treeDone
	fileWG.Wait()
	close(r.blobCh)
	blobWG.Wait()

	if err := r.failure(); err != nil {
		return repository.ID{}, err
	}
	if errors.Is(walkErr, errSkipped) {
		return repository.ID{}, fmt.Errorf("reading the root of the backup failed")
	}
	if walkErr != nil {
		return repository.ID{}, walkErr
	}
	if rootJob.err != nil {
		return repository.ID{}, rootJob.err
	}
	return rootJob.id, nil
}

// walkDir lists a directory and queues its entries; sub limits the entries
// to the children of an inner target-tree node (nil: all entries). It
// returns the directory's job, queued to the tree saver after its
// children. An error return aborts the backup.
func (r *run) walkDir(path string, node, old *repository.Node, parent *repository.Tree, sub *targetTree) (*dirJob, error) {
	job := &dirJob{path: path, node: node, old: old, done: make(chan struct{})}

	var names []string
	if sub != nil && !sub.leaf {
		names = sub.names()
	} else {
		f, err := openNoatime(path)
		if err == nil {
			names, err = f.Readdirnames(-1)
			f.Close()
		}
		if err != nil {
			return nil, r.report(path, fmt.Errorf("reading directory: %w", bare(err)))
		}
		sort.Strings(names)
	}

	for _, name := range names {
		if err := r.ctx.Err(); err != nil {
			return nil, context.Cause(r.ctx)
		}
		var child *targetTree
		if sub != nil && !sub.leaf {
			child = sub.children[name]
		}
		e, err := r.walkEntry(filepath.Join(path, name), name, parent, child)
		if errors.Is(err, errSkipped) {
			continue
		}
		if err != nil {
			return nil, err
		}
		job.entries = append(job.entries, e)
	}

	select {
	case r.treeCh <- job:
	case <-r.ctx.Done():
		return nil, context.Cause(r.ctx)
	}
	return job, nil
}

// walkEntry builds the entry for one directory item; errSkipped leaves it
// out. child is the target-tree node when the item is on a target path.
func (r *run) walkEntry(path, name string, parent *repository.Tree, child *targetTree) (entry, error) {
	if child == nil && excluded(r.excludes, path) {
		return entry{}, errSkipped
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return entry{}, r.report(path, fmt.Errorf("reading metadata: %w", bare(err)))
	}
	node, err := r.a.nodeFromFileInfo(path, name, fi)
	if err != nil {
		return entry{}, r.report(path, err)
	}
	var old *repository.Node
	if parent != nil {
		old = parent.Find(name)
	}

	if child != nil && !child.leaf && node.Type != repository.NodeDir {
		return entry{}, r.report(path, errors.New("not a directory, but a backup target is below it"))
	}

	unchanged := false
	if node.Type == repository.NodeFile {
		r.c.totalFiles.Add(1)
		r.c.totalBytes.Add(node.Size)
		if !fileChanged(fi, old, r.a.opts.IgnoreInode, r.a.opts.IgnoreCtime) && r.allBlobsPresent(old.Content) {
			unchanged = true
			node.Content = append(repository.IDs{}, old.Content...)
		}
	}
	filter := false
	if r.a.opts.Filter != nil {
		if filter, err = r.decide(path, node); err != nil {
			return entry{}, err
		}
	}

	switch node.Type {
	case repository.NodeDir:
		var oldTree *repository.Tree
		if old != nil && old.Type == repository.NodeDir && old.Subtree != nil {
			oldTree, err = r.a.loadTree(r.ctx, *old.Subtree)
			if err != nil {
				return entry{}, fmt.Errorf("loading parent tree of %s: %w", r.a.show(path), err)
			}
		}
		dj, err := r.walkDir(path, node, old, oldTree, child)
		if err != nil {
			return entry{}, err
		}
		return entry{node: node, dir: dj}, nil

	case repository.NodeFile:
		if unchanged && !filter {
			r.c.filesUnmodified.Add(1)
			if p := r.a.opts.Progress; p != nil {
				shown := r.a.show(path)
				p.Start(shown)
				p.Bytes(node.Size)
				p.Done(shown)
			}
			return entry{node: node}, nil
		}
		fj := &fileJob{path: path, fi: fi, node: node, old: old, unchanged: unchanged, filter: filter, done: make(chan struct{})}
		select {
		case r.fileCh <- fj:
		case <-r.ctx.Done():
			return entry{}, context.Cause(r.ctx)
		}
		return entry{file: fj}, nil
	}
	return entry{node: node}, nil
}

func (r *run) allBlobsPresent(ids repository.IDs) bool {
	for _, id := range ids {
		if !r.a.repo.HasBlob(repository.BlobHandle{ID: id, Type: repository.DataBlob}) {
			return false
		}
	}
	return true
}

// treeSaver saves directory trees in post-order.
func (r *run) treeSaver() {
	for job := range r.treeCh {
		job.err = r.saveDir(job)
		close(job.done)
		if job.err != nil {
			r.fail(job.err)
		}
	}
}

func (r *run) saveDir(job *dirJob) error {
	tree := &repository.Tree{Nodes: make([]*repository.Node, 0, len(job.entries))}
	for _, e := range job.entries {
		switch {
		case e.file != nil:
			select {
			case <-e.file.done:
			case <-r.ctx.Done():
				return context.Cause(r.ctx)
			}
			if errors.Is(e.file.err, errSkipped) {
				continue
			}
			if e.file.err != nil {
				return e.file.err
			}
			tree.Nodes = append(tree.Nodes, e.file.node)
		case e.dir != nil:
			select {
			case <-e.dir.done:
			case <-r.ctx.Done():
				return context.Cause(r.ctx)
			}
			if e.dir.err != nil {
				return e.dir.err
			}
			id := e.dir.id
			e.node.Subtree = &id
			tree.Nodes = append(tree.Nodes, e.node)
		default:
			tree.Nodes = append(tree.Nodes, e.node)
		}
	}
	buf, err := repository.EncodeTree(&repository.Tree{Nodes: tree.Nodes})
	if err != nil {
		return fmt.Errorf("encoding tree of %s: %w", r.a.show(job.path), err)
	}
	id := repository.Hash(buf)
	if !r.a.repo.HasBlob(repository.BlobHandle{ID: id, Type: repository.TreeBlob}) {
		_, known, size, err := r.a.repo.SaveBlob(r.ctx, repository.TreeBlob, buf, id, false)
		if err != nil {
			return fmt.Errorf("saving tree of %s: %w", r.a.show(job.path), err)
		}
		if !known {
			r.c.treeBlobs.Add(1)
			r.c.dataAdded.Add(uint64(size))
		}
	}
	job.id = id

	switch {
	case job.old == nil || job.old.Type != repository.NodeDir || job.old.Subtree == nil:
		r.c.dirsNew.Add(1)
	case *job.old.Subtree == id:
		r.c.dirsUnmodified.Add(1)
	default:
		r.c.dirsChanged.Add(1)
	}
	if p := r.a.opts.Progress; p != nil && job.node != nil {
		p.Done(r.a.show(job.path))
	}
	return nil
}

// fileWorker reads, chunks and hashes files; new chunks go to the save
// workers.
func (r *run) fileWorker() {
	var ch *chunker.Chunker
	for fj := range r.fileCh {
		if r.ctx.Err() != nil {
			fj.err = context.Cause(r.ctx)
			close(fj.done)
			continue
		}
		if ch == nil {
			ch = chunker.New(nil, r.a.pol)
		}
		fj.err = r.saveFile(fj, ch)
		if fj.err != nil && !errors.Is(fj.err, errSkipped) {
			r.fail(fj.err)
		}
		close(fj.done)
	}
}

func (r *run) saveFile(fj *fileJob, ch *chunker.Chunker) error {
	if p := r.a.opts.Progress; p != nil {
		shown := r.a.show(fj.path)
		p.Start(shown)
		defer p.Done(shown)
	}
	if fj.filter {
		return r.saveFiltered(fj, ch)
	}
	f, fi, err := r.a.openListed(fj.path, fj.fi)
	if err != nil {
		return r.report(fj.path, err)
	}
	defer f.Close()
	r.c.filesRead.Add(1)
	var (
		content repository.IDs
		size    uint64
		capt    *capture
	)
	// A file written to while it is read would be stored as a mix of old
	// and new content under metadata that fits neither: read it again
	// once. One written to all the time (a busy log) is then stored as
	// read, as restic does, rather than left out of every backup.
	defer func() { capt.release() }()
	for attempt := 0; ; attempt++ {
		var src io.Reader = readCounter{f: f, r: r}
		capt.release()
		if capt = r.newCapture(src, fj.path, fi.Size()); capt != nil {
			src = capt
		}
		content, size, err = r.chunk(fj.path, src, ch, "reading file")
		if err != nil {
			return err
		}
		if h := r.a.hooks.afterRead; h != nil {
			h(fj.path)
		}
		after, err := f.Stat()
		if err != nil {
			return r.report(fj.path, fmt.Errorf("stat of open file: %w", bare(err)))
		}
		if sameState(fi, after) || attempt > 0 {
			break
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return r.report(fj.path, fmt.Errorf("rewinding file: %w", bare(err)))
		}
		fi = after
	}
	node, err := r.a.nodeFromFileInfo(fj.path, fj.node.Name, fi)
	if err != nil {
		return r.report(fj.path, err)
	}
	// The size read is the one stored (it is fi's, unless the file
	// changed without its metadata showing it).
	node.Size = size
	node.Content = content
	fj.node = node
	r.index(capt, fj.path, node)
	if fj.old != nil {
		r.c.filesChanged.Add(1)
	} else {
		r.c.filesNew.Add(1)
	}
	return nil
}

// openListed opens the file at path for reading if it is still the
// regular file that was listed, and returns its state when opened.
// Errors do not name the file.
//
// Device and inode alone do not tell a replaced file: a file system may
// give a deleted file's inode number to the next file created. Such a
// file is taken as the listed one changed in place: what is stored is
// the file's content with its metadata from after opening (fi), checked
// again after reading (see saveFile), never the listing's.
func (a *Archiver) openListed(path string, listed fs.FileInfo) (*os.File, fs.FileInfo, error) {
	if h := a.hooks.beforeOpen; h != nil {
		h(path)
	}
	f, err := openNoatime(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening file: %w", bare(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat of open file: %w", bare(err))
	}
	if !fi.Mode().IsRegular() || !os.SameFile(fi, listed) {
		f.Close()
		return nil, nil, errors.New("file changed type or was replaced during backup")
	}
	return f, fi, nil
}

// sameState reports whether a and b describe the same file in the same
// state: device, inode, change time, size and modification time. A write
// changes the change time, also one that keeps size and modification
// time (which a writer can set back).
func sameState(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino && sa.Size == sb.Size &&
		sa.Ctim == sb.Ctim && sa.Mtim == sb.Mtim
}

// chunk splits the content of the file at path into blobs and queues the
// new ones for saving; it returns their IDs and the content's size. A read
// error is reported as what failed; an error aborts the backup unless it
// is errSkipped.
func (r *run) chunk(path string, src io.Reader, ch *chunker.Chunker, what string) (repository.IDs, uint64, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		saveErr error
		size    uint64
		content = repository.IDs{}
	)
	ch.Reset(src, r.a.pol)
	for {
		bufp := r.a.bufs.Get().(*[]byte)
		c, err := ch.Next((*bufp)[:0])
		if err == io.EOF {
			r.a.putBuf(bufp)
			break
		}
		if err != nil {
			r.a.putBuf(bufp)
			wg.Wait()
			if r.ctx.Err() != nil {
				return nil, 0, context.Cause(r.ctx)
			}
			return nil, 0, r.report(path, fmt.Errorf("%s: %w", what, err))
		}
		*bufp = c.Data
		id := repository.Hash(c.Data)
		content = append(content, id)
		size += uint64(c.Length)
		if p := r.a.opts.Progress; p != nil {
			p.Bytes(uint64(c.Length))
		}
		if r.a.repo.HasBlob(repository.BlobHandle{ID: id, Type: repository.DataBlob}) {
			r.a.putBuf(bufp)
			continue
		}
		wg.Add(1)
		select {
		case r.blobCh <- blobJob{path: path, buf: bufp, id: id, wg: &wg, errp: &saveErr, mu: &mu}:
		case <-r.ctx.Done():
			wg.Done()
			r.a.putBuf(bufp)
			wg.Wait()
			return nil, 0, context.Cause(r.ctx)
		}
	}
	wg.Wait()
	if saveErr != nil {
		return nil, 0, saveErr
	}
	if err := r.ctx.Err(); err != nil {
		return nil, 0, context.Cause(r.ctx)
	}
	return content, size, nil
}

// readCounter counts bytes read from disk and stops reading when the
// backup is aborted. Its errors do not name the file.
type readCounter struct {
	f *os.File
	r *run
}

func (rc readCounter) Close() error { return rc.f.Close() }

func (rc readCounter) Read(p []byte) (int, error) {
	if err := rc.r.ctx.Err(); err != nil {
		return 0, context.Cause(rc.r.ctx)
	}
	n, err := rc.f.Read(p)
	rc.r.c.bytesRead.Add(uint64(n))
	if err != nil && err != io.EOF {
		err = bare(err)
	}
	return n, err
}

// blobWorker stores chunks; compression and encryption happen inside
// SaveBlob in this goroutine.
func (r *run) blobWorker() {
	for job := range r.blobCh {
		if r.ctx.Err() == nil {
			_, known, size, err := r.a.repo.SaveBlob(r.ctx, repository.DataBlob, *job.buf, job.id, false)
			if err != nil {
				err = fmt.Errorf("saving data blob %s of %s: %w", job.id.Str(), r.a.show(job.path), err)
				job.mu.Lock()
				if *job.errp == nil {
					*job.errp = err
				}
				job.mu.Unlock()
				r.fail(err)
			} else if !known {
				r.c.dataBlobs.Add(1)
				r.c.dataAdded.Add(uint64(size))
			}
		}
		r.a.putBuf(job.buf)
		job.wg.Done()
	}
}

// openNoatime opens a file for reading without following symlinks and,
// where permitted (owner or root), without updating its access time, so
// a backup does not change what it records next time.
func openNoatime(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NOATIME, 0)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	}
	return f, err
}
