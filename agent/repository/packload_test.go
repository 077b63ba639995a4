package repository

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/backends"
)

// savePackBlobs stores blobs of mixed sizes and compressibility in one
// pack and returns them by ID with their locations.
func savePackBlobs(t *testing.T, r *Repository) (map[ID][]byte, []PackedBlob) {
	t.Helper()
	ctx := context.Background()
	data := map[ID][]byte{}
	for i := 0; i < 40; i++ {
		size := []int{0, 100, 40 << 10, 300 << 10, 700 << 10}[i%5]
		b := randomData(uint64(i), size, i%3 == 0)
		b = append(b, byte(i)) // unique, also the empty ones
		id, _, _, err := r.SaveBlob(ctx, DataBlob, b, ID{}, false)
		if err != nil {
			t.Fatal(err)
		}
		data[id] = b
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var locs []PackedBlob
	for id := range data {
		pb, ok := r.LookupBlob(BlobHandle{ID: id, Type: DataBlob})
		if !ok {
			t.Fatalf("blob %s not indexed", id.Str())
		}
		locs = append(locs, pb)
	}
	for _, l := range locs[1:] {
		if l.PackID != locs[0].PackID {
			t.Fatal("blobs ended up in more than one pack")
		}
	}
	return data, locs
}

type delivery struct {
	pb  PackedBlob
	ok  bool
	err error
}

func loadAll(t *testing.T, r *Repository, want []PackedBlob, data map[ID][]byte) []delivery {
	t.Helper()
	var got []delivery
	err := r.LoadBlobsFromPack(context.Background(), want[0].PackID, want, func(pb PackedBlob, plain []byte, err error) error {
		got = append(got, delivery{pb: pb, ok: err == nil && bytes.Equal(plain, data[pb.ID]), err: err})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d blobs delivered, want %d", len(got), len(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i].pb.Offset < got[i-1].pb.Offset {
			t.Fatal("blobs not delivered in pack order")
		}
	}
	return got
}

// TestLoadBlobsFromPack loads a subset of a pack's blobs, with gaps and a
// blob asked for twice, and checks every plaintext.
func TestLoadBlobsFromPack(t *testing.T) {
	r, _ := newTestRepo(t, Options{PackSize: 32 << 20})
	data, locs := savePackBlobs(t, r)
	var want []PackedBlob
	for i, l := range locs {
		if i%4 != 3 { // leave gaps
			want = append(want, l)
		}
	}
	want = append(want, want[2])
	for _, d := range loadAll(t, r, want, data) {
		if !d.ok {
			t.Errorf("blob %s: wrong content or error %v", d.pb.ID.Str(), d.err)
		}
	}

	// The callback's error stops loading and is returned.
	stop := errors.New("stop")
	n := 0
	err := r.LoadBlobsFromPack(context.Background(), want[0].PackID, want, func(PackedBlob, []byte, error) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("callback error: %v after %d calls", err, n)
	}
}

// TestLoadBlobsFromPackDamage checks that a damaged blob fails alone and a
// missing pack fails every blob, each error naming blob and pack.
func TestLoadBlobsFromPackDamage(t *testing.T) {
	r, dir := newTestRepo(t, Options{PackSize: 32 << 20})
	data, locs := savePackBlobs(t, r)
	packID := locs[0].PackID
	bad := locs[7]
	path := filepath.Join(dir, "data", packID.String()[:2], packID.String())
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	buf[bad.Offset+bad.Length/2] ^= 1
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range loadAll(t, r, locs, data) {
		switch {
		case d.pb.ID == bad.ID && (d.err == nil || !strings.Contains(d.err.Error(), packID.String())):
			t.Errorf("damaged blob: %v", d.err)
		case d.pb.ID != bad.ID && !d.ok:
			t.Errorf("blob %s: %v", d.pb.ID.Str(), d.err)
		}
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, d := range loadAll(t, r, locs, data) {
		if d.err == nil || !backends.IsNotExist(d.err) {
			t.Errorf("blob %s of a missing pack: %v", d.pb.ID.Str(), d.err)
		}
	}
}

// flakyBackend breaks every first read of a range halfway and then calls
// the callback again from the start, as a retrying backend may.
type flakyBackend struct {
	backends.Backend
	calls int
}

func (b *flakyBackend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	return b.Backend.Load(ctx, h, length, offset, func(rd io.Reader) error {
		buf, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		b.calls++
		if err := fn(io.MultiReader(bytes.NewReader(buf[:len(buf)/2]), errReader{})); err == nil {
			return errors.New("read past a broken stream")
		}
		return fn(bytes.NewReader(buf))
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// TestLoadBlobsFromPackRetry checks that a backend calling back twice
// for one request delivers every blob once.
func TestLoadBlobsFromPackRetry(t *testing.T) {
	r, _ := newTestRepo(t, Options{PackSize: 32 << 20})
	data, locs := savePackBlobs(t, r)
	fb := &flakyBackend{Backend: r.be}
	r.be = fb
	for _, d := range loadAll(t, r, locs, data) {
		if !d.ok {
			t.Errorf("blob %s: %v", d.pb.ID.Str(), d.err)
		}
	}
	if fb.calls < 2 {
		t.Errorf("%d requests; the test wants the blobs spread over several", fb.calls)
	}
}

// TestPackBuffers checks the bound on pack buffers and that blobs larger
// than a buffer, and packs finished early, still store correctly.
func TestPackBuffers(t *testing.T) {
	p := newPackBufs(1<<16, 2)
	ctx := context.Background()
	a, err1 := p.get(ctx)
	b, err2 := p.get(ctx)
	if err1 != nil || err2 != nil || cap(a) != 1<<16 {
		t.Fatal(err1, err2, cap(a))
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := p.get(tctx); err == nil {
		t.Fatal("a third buffer was handed out")
	}
	a = append(a, 1, 2, 3)
	p.put(a)
	c, err := p.get(ctx)
	if err != nil || len(c) != 0 || cap(c) != 1<<16 {
		t.Fatal("buffer not reused", err)
	}
	p.put(c)
	p.trim()
	p.put(b)
	p.close()
	if _, err := p.get(ctx); !errors.Is(err, errRepositoryClosed) {
		t.Errorf("get after close: %v", err)
	}

	// 4 KiB packs have buffers of 1 MiB and a little: a 3 MiB blob goes
	// to the heap, and small blobs after it start new packs early.
	r, dir := newTestRepo(t, Options{PackSize: 4 << 10})
	want := map[ID][]byte{}
	for i, size := range []int{3 << 20, 100, 900 << 10, 900 << 10, 10} {
		d := randomData(uint64(i), size, false)
		id, _, _, err := r.SaveBlob(ctx, DataBlob, d, ID{}, false)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = d
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = openTestRepo(t, dir)
	defer r.Close()
	for id, d := range want {
		got, err := r.LoadBlob(ctx, DataBlob, id, nil)
		if err != nil || !bytes.Equal(got, d) {
			t.Errorf("blob %s: %v", id.Str(), err)
		}
	}
	if res, err := r.Check(ctx, CheckOptions{ReadData: true}); err != nil || len(res.Errors) != 0 {
		t.Errorf("check: %v %v", err, res.Errors)
	}
}
