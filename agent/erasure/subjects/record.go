package subjects

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"lethe/agent/repository"
)

// Recorder indexes the files a backup reads and stores: it is the
// archiver's ContentIndexer. It scans in goroutines of its own, so that
// the backup's file workers go on reading and chunking meanwhile.
// Contents the index already has are not scanned again.
type Recorder struct {
	ctx context.Context
	ix  *Indexer
	idx *Index
	w   *Writer

	work chan job
	wg   sync.WaitGroup
	// inflight bounds the bytes queued or being scanned.
	inflight chan struct{}

	scanned atomic.Uint64
	mu      sync.Mutex
	err     error
	closed  bool
}

type job struct {
	node  *repository.Node
	data  []byte
	units int
}

// inflightUnit and inflightUnits bound the memory of the queue: what is
// queued is held in units of 1 MiB, at most 512 MiB (or one file larger
// than that, alone).
const (
	inflightUnit  = 1 << 20
	inflightUnits = 512
)

// NewRecorder returns a recorder adding entries to idx and storing them
// to st. ctx is the backup's; batches are saved under it. Close must be
// called to save the last entries and stop its goroutines.
func NewRecorder(ctx context.Context, st Store, ix *Indexer, idx *Index) *Recorder {
	r := &Recorder{ctx: ctx, ix: ix, idx: idx, w: NewWriter(st, idx),
		work: make(chan job), inflight: make(chan struct{}, inflightUnits)}
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		r.wg.Add(1)
		go r.worker()
	}
	return r
}

// MaxSize is the indexer's.
func (r *Recorder) MaxSize() int64 { return r.ix.MaxSize() }

// Index queues the content of a stored file for scanning; it keeps data.
// A failure to save a batch is kept for Close: without the entries, later
// restores scan those files, which is slower but correct.
func (r *Recorder) Index(_ string, node *repository.Node, data []byte) {
	if r.idx.Has(r.ix.Key(node.Name, node.Content)) {
		return
	}
	units := min(inflightUnits, 1+len(data)/inflightUnit)
	for i := 0; i < units; i++ {
		select {
		case r.inflight <- struct{}{}:
		case <-r.ctx.Done():
			r.release(i)
			return
		}
	}
	n := *node
	n.Content = append(repository.IDs(nil), node.Content...)
	select {
	case r.work <- job{node: &n, data: data, units: units}:
	case <-r.ctx.Done():
		r.release(units)
	}
}

func (r *Recorder) release(units int) {
	for i := 0; i < units; i++ {
		<-r.inflight
	}
}

func (r *Recorder) worker() {
	defer r.wg.Done()
	for j := range r.work {
		if r.ctx.Err() == nil && !r.idx.Has(r.ix.Key(j.node.Name, j.node.Content)) {
			r.scanned.Add(1)
			if err := r.w.Add(r.ctx, r.ix.Entry(j.node.Name, j.node.Content, j.data)); err != nil {
				r.fail(err)
			}
		}
		r.release(j.units)
	}
}

func (r *Recorder) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// Close waits for the scans queued, saves the entries still queued and
// returns the first error met. Index must not be called after it.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.work)
	}
	r.mu.Unlock()
	r.wg.Wait()
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
