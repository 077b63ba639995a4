package subjects

import (
	"context"
	"path"
	"runtime"
	"sync"
	"sync/atomic"

	"lethe/agent/formats"
	"lethe/agent/repository"
)

// Recorder indexes the files a backup reads and stores: it is the
// archiver's ContentIndexer. Contents the index already has are not
// scanned again.
type Recorder struct {
	ctx context.Context
	ix  *Indexer
	idx *Index
	w   *Writer

	scanned atomic.Uint64
	mu      sync.Mutex
	err     error
}

// NewRecorder returns a recorder adding entries to idx and storing them
// to st. ctx is the backup's; batches are saved under it.
func NewRecorder(ctx context.Context, st Store, ix *Indexer, idx *Index) *Recorder {
	return &Recorder{ctx: ctx, ix: ix, idx: idx, w: NewWriter(st, idx)}
}

// MaxSize is the indexer's.
func (r *Recorder) MaxSize() int64 { return r.ix.MaxSize() }

// Index scans the content of a stored file and queues its entry. A failure
// to save a batch is kept for Close: without the entries, later restores
// scan those files, which is slower but correct.
func (r *Recorder) Index(_ string, node *repository.Node, data []byte) {
	if r.idx.Has(r.ix.Key(node.Name, node.Content)) {
		return
	}
	r.add(r.ix.Entry(node.Name, node.Content, data))
}

// add queues the entry of a content scanned.
func (r *Recorder) add(e *Entry) {
	r.scanned.Add(1)
	if err := r.w.Add(r.ctx, e); err != nil {
		r.fail(err)
	}
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Close saves the entries still queued and returns the first error met.
func (r *Recorder) Close(ctx context.Context) error {
	if err := r.w.Flush(ctx); err != nil {
		r.fail(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Scanned returns the number of contents scanned; Saved the number of
// entries stored.
func (r *Recorder) Scanned() uint64 { return r.scanned.Load() }
func (r *Recorder) Saved() int      { return r.w.Saved() }

// ContentStream indexes one file's content as it is read (see
// formats.KeysStream), so that a large line-oriented file is not held
// whole for its entry.
type ContentStream struct {
	r   *Recorder
	scs []*formats.Scanner
	ks  *formats.KeysStream
}

// Stream returns a stream for the content of the file called name,
// scanned by as many scanners at once as there are cores.
func (r *Recorder) Stream(name string) *ContentStream {
	scs := make([]*formats.Scanner, runtime.GOMAXPROCS(0))
	for i := range scs {
		scs[i] = r.ix.pool.Get().(*formats.Scanner)
	}
	return &ContentStream{r: r, scs: scs, ks: formats.NewKeysStream(scs, path.Base(name), tagKey)}
}

// Write takes the next bytes; false declines the content, taking none:
// it is not line-oriented, and goes to Index whole, Taken's bytes first.
func (s *ContentStream) Write(p []byte) bool { return s.ks.Write(p) }

// Taken returns the bytes written before the stream declined, and ends
// it.
func (s *ContentStream) Taken() []byte {
	b := s.ks.Take()
	s.release()
	return b
}

// Done queues the entry of the content read, stored as node's content.
// A content the stream could not read as lines after all (a quote far
// into a CSV file) gets none: restores scan it, which is slower but
// correct.
func (s *ContentStream) Done(node *repository.Node) {
	defer s.release()
	if s.r.idx.Has(s.r.ix.Key(node.Name, node.Content)) {
		s.ks.Abort()
		return
	}
	res := s.ks.Result()
	if res == nil {
		return
	}
	s.r.add(s.r.ix.entryOfTags(node.Name, node.Content, res, res.RecordKeys, res.Flagged > 0))
}

// Abort ends a stream whose content was not read to its end.
func (s *ContentStream) Abort() {
	s.ks.Abort()
	s.release()
}

func (s *ContentStream) release() {
	for _, sc := range s.scs {
		s.r.ix.pool.Put(sc)
	}
	s.scs = nil
}
