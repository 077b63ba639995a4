package subjects

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"lethe/agent/repository"
	"lethe/tombstones"
)

// Prefix is where the index's batches live among lethe's objects.
const Prefix = "subjects/"

// Store is what the index needs of a repository; *repository.Repository
// implements it.
type Store interface {
	SaveLethe(ctx context.Context, name string, data []byte) error
	LoadLethe(ctx context.Context, name string) ([]byte, error)
	ListLethe(ctx context.Context, prefix string, fn func(name string) error) error
}

// Index is the union of a repository's batches built with one profile.
// It is safe for concurrent use.
type Index struct {
	key     *tombstones.SubjectKey
	profile string
	// legacy is the profile of the same indexer before entries held
	// quick tags: its entries hold fingerprint tags and are trusted too.
	legacy string

	mu      sync.RWMutex
	entries map[ContentKey]*Entry
	// Other counts entries built with another profile, which are not
	// trusted; Batches counts the batches loaded.
	other, batches int
}

// New returns an empty index for the indexer's profile.
func New(ix *Indexer) *Index {
	return &Index{key: ix.key, profile: ix.profile, legacy: ix.legacy, entries: make(map[ContentKey]*Entry)}
}

// Load reads every batch of the repository into an index for the
// indexer's profile. A batch that cannot be read or decoded is an error:
// leaving it out would only cost rescans, but it also hides damage that
// `lethe check` should name.
func Load(ctx context.Context, st Store, ix *Indexer) (*Index, error) {
	idx := New(ix)
	var names []string
	if err := st.ListLethe(ctx, Prefix, func(name string) error {
		names = append(names, name)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing the subject index: %w", err)
	}
	for _, name := range names {
		data, err := st.LoadLethe(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("loading the subject index: %w", err)
		}
		bt, err := decodeBatch(data)
		if err != nil {
			return nil, fmt.Errorf("loading the subject index: lethe/%s: %w", name, err)
		}
		idx.addBatch(bt)
	}
	return idx, nil
}

func (idx *Index) addBatch(bt *batch) {
	idx.mu.Lock()
	defer idx.mu.Unlock()
	idx.batches++
	if bt.profile != idx.profile && bt.profile != idx.legacy {
		idx.other += len(bt.entries)
		return
	}
	quick := bt.profile == idx.profile
	for _, e := range bt.entries {
		e.Quick = quick
		idx.entries[e.Key] = e
	}
}

// Add puts an entry into the index in memory (a Writer stores it).
func (idx *Index) Add(e *Entry) {
	idx.mu.Lock()
	idx.entries[e.Key] = e
	idx.mu.Unlock()
}

// Len returns the number of trusted entries.
func (idx *Index) Len() int {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return len(idx.entries)
}

// Other returns the number of entries loaded that another profile built.
func (idx *Index) Other() int {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return idx.other
}

// Key returns the content key of a file node.
func (idx *Index) Key(node *repository.Node) ContentKey {
	return contentKey(idx.key, node.Name, node.Content)
}

// Lookup returns the entry of a file node's content.
func (idx *Index) Lookup(node *repository.Node) (*Entry, bool) {
	return idx.lookup(idx.Key(node))
}

func (idx *Index) lookup(k ContentKey) (*Entry, bool) {
	idx.mu.RLock()
	e, ok := idx.entries[k]
	idx.mu.RUnlock()
	return e, ok
}

// Has reports whether a content key has a trusted entry.
func (idx *Index) Has(k ContentKey) bool {
	_, ok := idx.lookup(k)
	return ok
}

// MayHold reports whether a file node's content may hold the subject of
// p: true when the entry says so, when there is no trusted entry, and for
// a node without content IDs (a file the backup has not read yet, whose
// content is not known; empty files cost nothing to scan).
func (idx *Index) MayHold(node *repository.Node, p tombstones.Probe) bool {
	if len(node.Content) == 0 {
		return true
	}
	e, ok := idx.Lookup(node)
	if !ok {
		return true
	}
	_, may := e.Match(p)
	return may
}

// Screen is an erasure.Screen: it rules out the files whose entries hold
// none of the tombstones' subjects.
type Screen struct {
	idx   *Index
	probe tombstones.Probe
}

// Screen returns the screen for a set of tombstones (the active ones of a
// restore or a backup).
func (idx *Index) Screen(tombs []tombstones.Tombstone) *Screen {
	var p tombstones.Probe
	for _, t := range tombs {
		p.Merge(tombstones.ProbeOf(t.Entries))
	}
	return &Screen{idx: idx, probe: p}
}

// MayHold reports whether node's content may hold an erased subject.
func (s *Screen) MayHold(node *repository.Node) bool {
	if node.Type != repository.NodeFile {
		return true
	}
	return s.idx.MayHold(node, s.probe)
}

// batchName names a batch by its content, so saving the same batch twice
// is harmless.
func batchName(data []byte) string {
	sum := sha256.Sum256(data)
	return Prefix + hex.EncodeToString(sum[:])
}

// IsBatch reports whether a lethe object name is a batch of the index.
func IsBatch(name string) bool { return strings.HasPrefix(name, Prefix) }
