package subjects

import (
	"context"
	"sync"
	"sync/atomic"

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
	r.scanned.Add(1)
	if err := r.w.Add(r.ctx, r.ix.Entry(node.Name, node.Content, data)); err != nil {
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
