package subjects

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"io/fs"
	"lethe/tombstones"
)

// memStore is an in-memory Store.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func newMemStore() *memStore { return &memStore{objects: make(map[string][]byte)} }

func (s *memStore) SaveLethe(_ context.Context, name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[name]; ok {
		return fmt.Errorf("%s exists", name)
	}
	s.objects[name] = append([]byte(nil), data...)
	return nil
}

func (s *memStore) LoadLethe(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (s *memStore) ListLethe(_ context.Context, prefix string, fn func(string) error) error {
	s.mu.Lock()
	var names []string
	for n := range s.objects {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// setup returns a normalizer with the data set's custom kind and a key.
func setup(t testing.TB, customKind, pattern string) (*tombstones.Normalizer, *tombstones.SubjectKey) {
	t.Helper()
	var custom []tombstones.CustomKind
	if customKind != "" {
		custom = append(custom, tombstones.CustomKind{Name: customKind, Pattern: regexp.MustCompile(pattern)})
	}
	n, err := tombstones.NewNormalizer("SE", custom)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	return n, key
}

// tombstoneOf makes an active tombstone of identifiers given as KIND=VALUE.
func tombstoneOf(t testing.TB, n *tombstones.Normalizer, key *tombstones.SubjectKey, id string, kv ...string) tombstones.Tombstone {
	t.Helper()
	var ids []tombstones.Identifier
	for _, s := range kv {
		i, err := n.ParseKindValue(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, i)
	}
	entries, err := tombstones.EntriesOf(n, key, ids)
	if err != nil {
		t.Fatal(err)
	}
	return tombstones.Tombstone{ID: id, KeyID: key.ID(), Entries: entries}
}

func matcherOf(t testing.TB, n *tombstones.Normalizer, key *tombstones.SubjectKey, tombs ...tombstones.Tombstone) *tombstones.Matcher {
	t.Helper()
	set := tombstones.NewSet()
	for _, tb := range tombs {
		if err := set.AddTombstone(tb); err != nil {
			t.Fatal(err)
		}
	}
	m, err := tombstones.NewMatcher(n, key, set)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
