package restorer

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"lethe/agent/repository"

	"golang.org/x/sys/unix"
)

// File content is restored pack by pack, as restic does: the walker
// creates each file under a temporary name and adds its blobs to a batch;
// a batch groups the blobs by pack, and pack workers load each pack's
// needed blobs with as few ranged requests as possible and write every
// blob to all places in all files of the batch that need it. The last
// blob written to a file puts the file in place.
//
// Memory stays bounded: a batch holds at most maxBatchBlobs blob
// locations, at most maxPendingFiles files are open at a time, and a pack
// worker holds about two blobs.
const (
	maxPendingFiles = 512
	maxBatchFiles   = maxPendingFiles / 2
	maxBatchBlobs   = 4096
)

// contentFile is a file whose content is being written pack-wise.
type contentFile struct {
	job  fileJob
	size int64
	// left counts the blob writes still to come.
	left atomic.Int64

	mu sync.Mutex
	// f is created by the first blob write, so that pack workers rather
	// than the walker alone pay for creating files.
	f   *os.File
	tmp string
	err error
}

func (cf *contentFile) setErr(err error) {
	cf.mu.Lock()
	if cf.err == nil {
		cf.err = err
	}
	cf.mu.Unlock()
}

func (cf *contentFile) failed() error {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.err
}

// file returns the temporary file, creating it on first use; nil after
// an error.
func (cf *contentFile) file() *os.File {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.f == nil && cf.err == nil {
		cf.f, cf.tmp, cf.err = createTemp(cf.job.dir.fd, cf.job.node.Name)
	}
	if cf.err != nil {
		return nil
	}
	return cf.f
}

// discard removes the temporary file, if it was created.
func (cf *contentFile) discard() {
	if cf.f != nil {
		cf.f.Close()
		unix.Unlinkat(cf.job.dir.fd, cf.tmp, 0)
		cf.f = nil
	}
}

// blobTarget is a place in a file for a blob.
type blobTarget struct {
	file *contentFile
	off  int64
}

// packJob is the blobs one batch needs from one pack, with their places.
type packJob struct {
	id      repository.ID
	blobs   []repository.PackedBlob
	targets [][]blobTarget
	pos     map[repository.BlobHandle]int
}

// batch is what the walker collects before handing it to pack workers.
type batch struct {
	packs        map[repository.ID]*packJob
	order        []*packJob
	files, blobs int
}

func (b *batch) add(loc repository.PackedBlob, t blobTarget) {
	if b.packs == nil {
		b.packs = map[repository.ID]*packJob{}
	}
	pj := b.packs[loc.PackID]
	if pj == nil {
		pj = &packJob{id: loc.PackID, pos: map[repository.BlobHandle]int{}}
		b.packs[loc.PackID] = pj
		b.order = append(b.order, pj)
	}
	i, ok := pj.pos[loc.BlobHandle]
	if !ok {
		i = len(pj.blobs)
		pj.pos[loc.BlobHandle] = i
		pj.blobs = append(pj.blobs, loc)
		pj.targets = append(pj.targets, nil)
	}
	pj.targets[i] = append(pj.targets[i], t)
	b.blobs++
}

// queueContent creates job's file and adds its blobs to the walker's
// batch. Errors of the item are reported through fileDone; the returned
// error aborts the walk.
func (s *state) queueContent(job fileJob) error {
	n := job.node
	locs := make([]repository.PackedBlob, len(n.Content))
	var size uint64
	for i, id := range n.Content {
		loc, ok := s.r.repo.LookupBlob(repository.BlobHandle{ID: id, Type: repository.DataBlob})
		if !ok {
			s.fileDone(job, fmt.Errorf("loading data blob %s: not in index", id.Str()))
			return nil
		}
		locs[i] = loc
		size += uint64(loc.DataLength())
	}
	if size != n.Size {
		s.fileDone(job, fmt.Errorf("content has %d bytes, the recorded size is %d", size, n.Size))
		return nil
	}

	// Bound the open files; hand the batch over first so that the files
	// in it can finish.
	select {
	case s.slots <- struct{}{}:
	default:
		if err := s.flushBatch(); err != nil {
			s.fileDone(job, err)
			return err
		}
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			s.fileDone(job, context.Cause(s.ctx))
			return context.Cause(s.ctx)
		}
	}
	cf := &contentFile{job: job, size: int64(size)}
	if len(locs) == 0 {
		s.finishContent(cf)
		return nil
	}
	cf.left.Store(int64(len(locs)))
	s.pendMu.Lock()
	s.pending[cf] = struct{}{}
	s.pendMu.Unlock()

	var off int64
	for _, loc := range locs {
		s.batch.add(loc, blobTarget{file: cf, off: off})
		off += int64(loc.DataLength())
		if s.batch.blobs >= maxBatchBlobs {
			if err := s.flushBatch(); err != nil {
				return err
			}
		}
	}
	s.batch.files++
	if s.batch.files >= maxBatchFiles {
		return s.flushBatch()
	}
	return nil
}

// flushBatch hands the walker's batch to the pack workers.
func (s *state) flushBatch() error {
	b := s.batch
	s.batch = batch{}
	for _, pj := range b.order {
		select {
		case s.packs <- pj:
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		}
	}
	return nil
}

// restorePack loads the blobs of one pack job and writes them.
func (s *state) restorePack(pj *packJob) {
	if s.ctx.Err() != nil {
		return
	}
	_ = s.r.repo.LoadBlobsFromPack(s.ctx, pj.id, pj.blobs, func(pb repository.PackedBlob, data []byte, err error) error {
		targets := pj.targets[pj.pos[pb.BlobHandle]]
		if err != nil {
			// Another copy of the blob may be intact.
			var lerr error
			if data, lerr = s.r.repo.LoadBlob(s.ctx, repository.DataBlob, pb.ID, nil); lerr != nil {
				if s.ctx.Err() != nil {
					return s.ctx.Err()
				}
				for _, t := range targets {
					t.file.setErr(lerr)
					s.blobWritten(t.file)
				}
				return nil
			}
		}
		for _, t := range targets {
			s.writeBlob(t, data)
		}
		return nil
	})
	// An error here means the restore is aborted; the files left
	// unfinished are cleaned up at its end.
}

func (s *state) writeBlob(t blobTarget, data []byte) {
	cf := t.file
	if f := cf.file(); f != nil && !(s.r.opts.Sparse && allZero(data)) {
		if _, err := f.WriteAt(data, t.off); err != nil {
			cf.setErr(fmt.Errorf("writing file: %w", err))
		}
	}
	s.nBytes.Add(uint64(len(data)))
	if p := s.r.opts.Progress; p != nil {
		p.Bytes(uint64(len(data)))
	}
	s.blobWritten(cf)
}

func (s *state) blobWritten(cf *contentFile) {
	if cf.left.Add(-1) == 0 {
		s.pendMu.Lock()
		delete(s.pending, cf)
		s.pendMu.Unlock()
		s.finishContent(cf)
	}
}

// finishContent puts a completely written file in place.
func (s *state) finishContent(cf *contentFile) {
	<-s.slots
	f := cf.file() // an empty file is created only now
	err := cf.failed()
	if err == nil {
		err = s.setSparseSize(f, cf.size)
	}
	if err == nil {
		err = s.finishFile(f, cf.job.dir.fd, cf.tmp, cf.job.node)
	} else {
		cf.discard()
	}
	s.fileDone(cf.job, err)
}

// cleanupPending removes what an aborted restore left unfinished.
func (s *state) cleanupPending() {
	s.pendMu.Lock()
	defer s.pendMu.Unlock()
	for cf := range s.pending {
		cf.discard()
		cf.job.dir.release(s)
		delete(s.pending, cf)
	}
	for _, src := range s.links {
		src.mu.Lock()
		waiters := src.waiters
		src.waiters = nil
		src.mu.Unlock()
		for _, job := range waiters {
			job.dir.release(s)
		}
	}
}
