// Package backendtest is the one test suite every backend must pass.
//
// A backend's tests call Run with a function that returns a fresh, empty
// backend for each subtest.
package backendtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"lethe/backends"
)

// Options tune the suite for a backend.
type Options struct {
	// ManyObjects is how many objects the listing test stores; S3 lists
	// in pages of 1000, so more than that exercises pagination.
	// Default 1100.
	ManyObjects int
	// LargeObject is the size of the largest object saved (default
	// 1 MiB); S3 uses it to cross the multipart threshold.
	LargeObject int
}

// Run runs the suite. newBackend returns a new empty backend; it is
// closed at the end of each subtest.
func Run(t *testing.T, newBackend func(t *testing.T) backends.Backend) {
	RunWithOptions(t, newBackend, Options{})
}

// RunWithOptions is Run with options.
func RunWithOptions(t *testing.T, newBackend func(t *testing.T) backends.Backend, opts Options) {
	if opts.ManyObjects <= 0 {
		opts.ManyObjects = 1100
	}
	if opts.LargeObject <= 0 {
		opts.LargeObject = 1 << 20
	}
	s := &suite{newBackend: newBackend, opts: opts}
	tests := []struct {
		name string
		fn   func(*testing.T, backends.Backend)
	}{
		{"SaveLoad", s.saveLoad},
		{"LoadRanges", s.loadRanges},
		{"LoadRangeErrors", s.loadRangeErrors},
		{"LoadCallbackError", s.loadCallbackError},
		{"NotExist", s.notExist},
		{"Stat", s.stat},
		{"List", s.list},
		{"ListMany", s.listMany},
		{"Remove", s.remove},
		{"LetheNames", s.letheNames},
		{"InvalidHandles", s.invalidHandles},
		{"SaveExisting", s.saveExisting},
		{"ConcurrentSaves", s.concurrentSaves},
		{"ConcurrentSameName", s.concurrentSameName},
		{"Cancel", s.cancel},
		{"Connections", s.connections},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := newBackend(t)
			t.Cleanup(func() {
				if err := be.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, be)
		})
	}
}

type suite struct {
	newBackend func(t *testing.T) backends.Backend
	opts       Options
}

// name returns a random object name like a restic ID.
func name(rng *rand.Rand) string {
	var b [32]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return hex.EncodeToString(b[:])
}

func data(rng *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.UintN(256))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

func newRNG(t *testing.T) *rand.Rand {
	// Deterministic per test, different between tests.
	var seed uint64
	for _, c := range t.Name() {
		seed = seed*31 + uint64(c)
	}
	return rand.New(rand.NewPCG(seed, 1))
}

func save(t *testing.T, be backends.Backend, h backends.Handle, buf []byte) {
	t.Helper()
	if err := be.Save(context.Background(), h, buf); err != nil {
		t.Fatalf("Save %v: %v", h, err)
	}
}

func load(t *testing.T, be backends.Backend, h backends.Handle, length int, offset int64) []byte {
	t.Helper()
	var got []byte
	err := be.Load(context.Background(), h, length, offset, func(rd io.Reader) error {
		var err error
		got, err = io.ReadAll(rd)
		return err
	})
	if err != nil {
		t.Fatalf("Load %v %d+%d: %v", h, offset, length, err)
	}
	return got
}

func (s *suite) saveLoad(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	sizes := []int{0, 1, 4096, 100_000, s.opts.LargeObject}
	for _, typ := range backends.FileTypes {
		for _, n := range sizes {
			h := backends.Handle{Type: typ, Name: name(rng)}
			if typ == backends.ConfigFile {
				h.Name = ""
				if n > 0 && n != 4096 {
					continue // one config only
				}
				if n == 0 {
					continue
				}
			}
			buf := data(rng, n)
			save(t, be, h, buf)
			got := load(t, be, h, 0, 0)
			if !bytes.Equal(got, buf) {
				t.Fatalf("Load %v: got %d bytes, want the %d saved", h, len(got), len(buf))
			}
			all, err := backends.LoadAll(context.Background(), be, h)
			if err != nil || !bytes.Equal(all, buf) {
				t.Fatalf("LoadAll %v: %d bytes, %v", h, len(all), err)
			}
		}
	}
}

func (s *suite) loadRanges(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	buf := data(rng, 300_000)
	h := backends.Handle{Type: backends.PackFile, Name: name(rng)}
	save(t, be, h, buf)
	cases := []struct {
		length int
		offset int64
	}{
		{0, 0}, {1, 0}, {10, 0}, {0, 1}, {0, 299_999}, {1, 299_999}, {0, 300_000},
		{300_000, 0}, {100, 150_000}, {150_000, 150_000}, {299_999, 1},
	}
	for i := 0; i < 20; i++ {
		off := rng.IntN(len(buf))
		cases = append(cases, struct {
			length int
			offset int64
		}{rng.IntN(len(buf)-off) + 1, int64(off)})
	}
	for _, c := range cases {
		got := load(t, be, h, c.length, c.offset)
		end := len(buf)
		if c.length > 0 {
			end = int(c.offset) + c.length
		}
		if want := buf[c.offset:end]; !bytes.Equal(got, want) {
			t.Errorf("Load %d+%d: got %d bytes, want %d (content differs: %v)", c.offset, c.length, len(got), len(want), len(got) == len(want))
		}
	}
}

func (s *suite) loadRangeErrors(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	buf := data(rng, 1000)
	h := backends.Handle{Type: backends.PackFile, Name: name(rng)}
	save(t, be, h, buf)
	for _, c := range []struct {
		length int
		offset int64
	}{{0, 1001}, {1, 1000}, {1001, 0}, {10, 995}, {0, 5000}, {-1, 0}, {0, -1}} {
		called := false
		err := be.Load(context.Background(), h, c.length, c.offset, func(rd io.Reader) error {
			called = true
			_, err := io.ReadAll(rd)
			return err
		})
		if err == nil {
			t.Errorf("Load %d+%d of a 1000-byte object: no error (fn called: %v)", c.offset, c.length, called)
		}
		if backends.IsNotExist(err) {
			t.Errorf("Load %d+%d: error says the object does not exist: %v", c.offset, c.length, err)
		}
	}
}

func (s *suite) loadCallbackError(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	h := backends.Handle{Type: backends.IndexFile, Name: name(rng)}
	save(t, be, h, data(rng, 100))
	errFn := errors.New("callback failed")
	err := be.Load(context.Background(), h, 0, 0, func(io.Reader) error { return errFn })
	if !errors.Is(err, errFn) {
		t.Fatalf("Load: got %v, want the callback's error", err)
	}
}

func (s *suite) notExist(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	ctx := context.Background()
	for _, h := range []backends.Handle{
		{Type: backends.ConfigFile},
		{Type: backends.PackFile, Name: name(rng)},
		{Type: backends.SnapshotFile, Name: name(rng)},
		{Type: backends.LetheFile, Name: "tombstones/" + name(rng)},
	} {
		err := be.Load(ctx, h, 0, 0, func(io.Reader) error {
			t.Errorf("Load %v: fn called for a missing object", h)
			return nil
		})
		if !backends.IsNotExist(err) {
			t.Errorf("Load %v: got %v, want an error wrapping fs.ErrNotExist", h, err)
		}
		if err := be.Load(ctx, h, 10, 5, func(io.Reader) error { return nil }); !backends.IsNotExist(err) {
			t.Errorf("Load range %v: got %v, want an error wrapping fs.ErrNotExist", h, err)
		}
		if _, err := be.Stat(ctx, h); !backends.IsNotExist(err) {
			t.Errorf("Stat %v: got %v, want an error wrapping fs.ErrNotExist", h, err)
		}
		// Removing a missing object may succeed or say it does not
		// exist (plain S3 buckets cannot tell), nothing else.
		if err := be.Remove(ctx, h); err != nil && !backends.IsNotExist(err) {
			t.Errorf("Remove %v: got %v, want nil or an error wrapping fs.ErrNotExist", h, err)
		}
	}
	if err := be.List(ctx, backends.ConfigFile, func(fi backends.FileInfo) error {
		t.Errorf("List config: got %v in an empty backend", fi)
		return nil
	}); err != nil {
		t.Errorf("List config: %v", err)
	}
}

func (s *suite) stat(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	for _, n := range []int{0, 1, 12345} {
		h := backends.Handle{Type: backends.KeyFile, Name: name(rng)}
		save(t, be, h, data(rng, n))
		fi, err := be.Stat(context.Background(), h)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if fi.Size != int64(n) || fi.Name != h.Name {
			t.Errorf("Stat: got %+v, want name %s size %d", fi, h.Name, n)
		}
	}
}

func listAll(t *testing.T, be backends.Backend, typ backends.FileType) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := be.List(context.Background(), typ, func(fi backends.FileInfo) error {
		if _, dup := got[fi.Name]; dup {
			t.Errorf("List %s: %s listed twice", typ, fi.Name)
		}
		got[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List %s: %v", typ, err)
	}
	return got
}

func (s *suite) list(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	want := map[backends.FileType]map[string]int64{}
	for _, typ := range backends.FileTypes {
		want[typ] = map[string]int64{}
		n := 5
		if typ == backends.ConfigFile {
			n = 1
		}
		for i := 0; i < n; i++ {
			h := backends.Handle{Type: typ, Name: name(rng)}
			if typ == backends.ConfigFile {
				h.Name = ""
			}
			if typ == backends.LetheFile && i%2 == 0 {
				h.Name = "dir/" + h.Name
			}
			size := rng.IntN(2000)
			save(t, be, h, data(rng, size))
			nm := h.Name
			if typ == backends.ConfigFile {
				nm = "config"
			}
			want[typ][nm] = int64(size)
		}
	}
	for _, typ := range backends.FileTypes {
		got := listAll(t, be, typ)
		if !mapsEqual(got, want[typ]) {
			t.Errorf("List %s: got %v, want %v", typ, got, want[typ])
		}
	}
	// fn's error stops the listing and is returned.
	errStop := errors.New("stop")
	calls := 0
	err := be.List(context.Background(), backends.PackFile, func(backends.FileInfo) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("List with failing fn: got %v after %d calls, want the fn's error after 1", err, calls)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func (s *suite) listMany(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	n := s.opts.ManyObjects
	names := make([]string, n)
	for i := range names {
		names[i] = name(rng)
	}
	saveAll(t, be, backends.PackFile, names, func(i int) []byte { return []byte(fmt.Sprint(i)) })
	got := listAll(t, be, backends.PackFile)
	if len(got) != n {
		t.Fatalf("List data: got %d objects, want %d", len(got), n)
	}
	for i, nm := range names {
		if got[nm] != int64(len(fmt.Sprint(i))) {
			t.Fatalf("List data: %s has size %d, want %d", nm, got[nm], len(fmt.Sprint(i)))
		}
	}
}

// saveAll saves objects with Connections() workers.
func saveAll(t *testing.T, be backends.Backend, typ backends.FileType, names []string, content func(int) []byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	work := make(chan int)
	for w := 0; w < max(be.Connections(), 2); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				h := backends.Handle{Type: typ, Name: names[i]}
				if err := be.Save(context.Background(), h, content(i)); err != nil {
					errs <- fmt.Errorf("saving %v: %w", h, err)
				}
			}
		}()
	}
	for i := range names {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (s *suite) remove(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	ctx := context.Background()
	var keep, gone []backends.Handle
	for _, typ := range backends.FileTypes {
		if typ == backends.ConfigFile {
			continue
		}
		for i := 0; i < 4; i++ {
			h := backends.Handle{Type: typ, Name: name(rng)}
			save(t, be, h, data(rng, 100))
			if i%2 == 0 {
				gone = append(gone, h)
			} else {
				keep = append(keep, h)
			}
		}
	}
	cfg := backends.Handle{Type: backends.ConfigFile}
	save(t, be, cfg, []byte("config"))
	gone = append(gone, cfg)
	for _, h := range gone {
		if err := be.Remove(ctx, h); err != nil {
			t.Fatalf("Remove %v: %v", h, err)
		}
	}
	for _, h := range gone {
		if _, err := be.Stat(ctx, h); !backends.IsNotExist(err) {
			t.Errorf("Stat %v after Remove: got %v, want not-exist", h, err)
		}
		if _, err := backends.LoadAll(ctx, be, h); !backends.IsNotExist(err) {
			t.Errorf("Load %v after Remove: got %v, want not-exist", h, err)
		}
		// The name is free again.
		if err := be.Save(ctx, h, []byte("again")); err != nil {
			t.Errorf("Save %v after Remove: %v", h, err)
		}
		if got := load(t, be, h, 0, 0); string(got) != "again" {
			t.Errorf("Load %v after Remove and Save: %q", h, got)
		}
	}
	for _, h := range keep {
		if _, err := be.Stat(ctx, h); err != nil {
			t.Errorf("Stat %v (not removed): %v", h, err)
		}
	}
	for _, typ := range backends.FileTypes {
		got := listAll(t, be, typ)
		for _, h := range keep {
			if h.Type == typ {
				if _, ok := got[h.Name]; !ok {
					t.Errorf("List %s: kept %s missing", typ, h.Name)
				}
			}
		}
	}
}

func (s *suite) letheNames(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	names := []string{
		"keys/subject",
		"tombstones/" + name(rng),
		"subjects/ab/" + name(rng),
		"erasures/2026/01/journal-1",
		"top-level",
	}
	for i, n := range names {
		save(t, be, backends.Handle{Type: backends.LetheFile, Name: n}, []byte(fmt.Sprint(i)))
	}
	for i, n := range names {
		h := backends.Handle{Type: backends.LetheFile, Name: n}
		if got := load(t, be, h, 0, 0); string(got) != fmt.Sprint(i) {
			t.Errorf("Load %v: got %q", h, got)
		}
	}
	got := listAll(t, be, backends.LetheFile)
	var gotNames []string
	for n := range got {
		gotNames = append(gotNames, n)
	}
	sort.Strings(gotNames)
	want := slices.Clone(names)
	sort.Strings(want)
	if !slices.Equal(gotNames, want) {
		t.Errorf("List lethe: got %q, want %q", gotNames, want)
	}
	// LetheFile objects are not listed as any other type.
	for _, typ := range backends.FileTypes {
		if typ == backends.LetheFile {
			continue
		}
		if got := listAll(t, be, typ); len(got) != 0 {
			t.Errorf("List %s: got %v, want nothing", typ, got)
		}
	}
	h := backends.Handle{Type: backends.LetheFile, Name: names[2]}
	if err := be.Remove(context.Background(), h); err != nil {
		t.Fatalf("Remove %v: %v", h, err)
	}
	if _, ok := listAll(t, be, backends.LetheFile)[names[2]]; ok {
		t.Errorf("List lethe: %s listed after Remove", names[2])
	}
}

func (s *suite) invalidHandles(t *testing.T, be backends.Backend) {
	ctx := context.Background()
	for _, h := range []backends.Handle{
		{Type: backends.PackFile, Name: ""},
		{Type: backends.PackFile, Name: "a/b"},
		{Type: backends.KeyFile, Name: ".."},
		{Type: backends.LetheFile, Name: "../config"},
		{Type: backends.LetheFile, Name: "/abs"},
		{Type: backends.LetheFile, Name: "a//b"},
		{Type: "bogus", Name: "x"},
	} {
		if err := be.Save(ctx, h, []byte("x")); err == nil {
			t.Errorf("Save %+v: no error", h)
		}
		if err := be.Load(ctx, h, 0, 0, func(io.Reader) error { return nil }); err == nil {
			t.Errorf("Load %+v: no error", h)
		}
		if _, err := be.Stat(ctx, h); err == nil {
			t.Errorf("Stat %+v: no error", h)
		}
		if err := be.Remove(ctx, h); err == nil {
			t.Errorf("Remove %+v: no error", h)
		}
	}
	if _, err := backends.LoadAll(ctx, be, backends.Handle{Type: backends.ConfigFile}); !backends.IsNotExist(err) {
		t.Errorf("invalid handles left something behind: config: %v", err)
	}
}

func (s *suite) saveExisting(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	ctx := context.Background()
	for _, typ := range backends.FileTypes {
		h := backends.Handle{Type: typ, Name: name(rng)}
		if typ == backends.ConfigFile {
			h.Name = ""
		}
		if typ == backends.LetheFile {
			h.Name = "tombstones/" + h.Name
		}
		first := data(rng, 100)
		save(t, be, h, first)
		err := be.Save(ctx, h, data(rng, 200))
		if typ == backends.LockFile {
			// Lock refreshes may replace.
			if err != nil {
				t.Errorf("Save existing lock: %v", err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Save existing %v: no error", h)
		}
		if got := load(t, be, h, 0, 0); !bytes.Equal(got, first) {
			t.Errorf("Save existing %v replaced the object", h)
		}
	}
}

func (s *suite) concurrentSaves(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	const n = 40
	names := make([]string, n)
	contents := make([][]byte, n)
	for i := range names {
		names[i] = name(rng)
		contents[i] = data(rng, 1000+rng.IntN(50_000))
	}
	saveAll(t, be, backends.IndexFile, names, func(i int) []byte { return contents[i] })
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := backends.LoadAll(context.Background(), be, backends.Handle{Type: backends.IndexFile, Name: names[i]})
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, contents[i]) {
				errs <- fmt.Errorf("index/%s: content differs", names[i])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func (s *suite) concurrentSameName(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	h := backends.Handle{Type: backends.SnapshotFile, Name: name(rng)}
	const n = 8
	contents := make([][]byte, n)
	for i := range contents {
		contents[i] = data(rng, 5000)
	}
	var wg sync.WaitGroup
	ok := make([]bool, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = be.Save(context.Background(), h, contents[i]) == nil
		}()
	}
	wg.Wait()
	got := load(t, be, h, 0, 0)
	for i := range contents {
		if ok[i] && bytes.Equal(got, contents[i]) {
			return
		}
	}
	t.Errorf("concurrent saves of one name: the stored content is none of the successful writers' (successes: %v)", ok)
}

func (s *suite) cancel(t *testing.T, be backends.Backend) {
	rng := newRNG(t)
	h := backends.Handle{Type: backends.PackFile, Name: name(rng)}
	save(t, be, h, data(rng, 100))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	h2 := backends.Handle{Type: backends.PackFile, Name: name(rng)}
	if err := be.Save(ctx, h2, data(rng, 100)); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := be.Stat(context.Background(), h2); !backends.IsNotExist(err) {
		t.Errorf("Save with cancelled context stored the object (Stat: %v)", err)
	}
	err := be.Load(ctx, h, 0, 0, func(io.Reader) error {
		t.Error("Load with cancelled context called fn")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load with cancelled context: got %v, want context.Canceled", err)
	}
	err = be.List(ctx, backends.PackFile, func(backends.FileInfo) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with cancelled context: got %v, want context.Canceled", err)
	}
}

func (s *suite) connections(t *testing.T, be backends.Backend) {
	if n := be.Connections(); n < 1 {
		t.Errorf("Connections: %d, want at least 1", n)
	}
	if be.Location() == "" {
		t.Error("Location is empty")
	}
}
