package subjects

import (
	"context"
	"fmt"
	"sync"
)

// Batch limits: a batch is saved when it has this many entries or tags,
// so a killed full scan loses little and no batch grows without bound.
const (
	batchEntries = 4096
	batchTags    = 1 << 20
)

// Writer stores entries in batches and adds them to an index. It is safe
// for concurrent use.
type Writer struct {
	st  Store
	idx *Index

	mu      sync.Mutex
	pending []*Entry
	tags    int
	saved   int
}

// NewWriter returns a writer storing batches of idx's profile to st; the
// entries it stores go into idx too.
func NewWriter(st Store, idx *Index) *Writer {
	return &Writer{st: st, idx: idx}
}

// Add queues an entry, and saves a batch when enough are queued. An entry
// for a content the index already has is not stored again.
func (w *Writer) Add(ctx context.Context, e *Entry) error {
	if e == nil || w.idx.Has(e.Key) {
		return nil
	}
	w.idx.Add(e)
	w.mu.Lock()
	w.pending = append(w.pending, e)
	w.tags += e.Tags.Len()
	full := len(w.pending) >= batchEntries || w.tags >= batchTags
	var out []*Entry
	if full {
		out, w.pending, w.tags = w.pending, nil, 0
	}
	w.mu.Unlock()
	if full {
		return w.save(ctx, out)
	}
	return nil
}

// Flush saves what is queued.
func (w *Writer) Flush(ctx context.Context) error {
	w.mu.Lock()
	out := w.pending
	w.pending, w.tags = nil, 0
	w.mu.Unlock()
	return w.save(ctx, out)
}

// Saved returns the number of entries stored.
func (w *Writer) Saved() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.saved
}

func (w *Writer) save(ctx context.Context, entries []*Entry) error {
	if len(entries) == 0 {
		return nil
	}
	data := encodeBatch(w.idx.profile, entries)
	if err := w.st.SaveLethe(ctx, batchName(data), data); err != nil {
		// Queued again, a later Flush (under another context) saves them.
		w.mu.Lock()
		w.pending = append(entries, w.pending...)
		for _, e := range entries {
			w.tags += e.Tags.Len()
		}
		w.mu.Unlock()
		return fmt.Errorf("saving the subject index: %w", err)
	}
	w.mu.Lock()
	w.saved += len(entries)
	w.mu.Unlock()
	return nil
}
