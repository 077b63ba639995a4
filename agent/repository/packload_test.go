package repository

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lethe/agent/repository/restictest"
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

// memoryBackend stores from memory only (it hides FileSaver), with one
// connection: the least a backend may offer.
type memoryBackend struct {
	backends.Backend
	fail bool
}

func (b *memoryBackend) Connections() int { return 1 }

func (b *memoryBackend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if b.fail && h.Type == backends.PackFile {
		return errors.New("injected failure")
	}
	return b.Backend.Save(ctx, h, data)
}

// emptyDir fails the test if dir holds anything: pack spool files have
// no name.
func emptyDir(t *testing.T, dir, when string) {
	t.Helper()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("%s: temporary directory holds %v (%v)", when, ents, err)
	}
}

// TestPackSpool checks packs spooled to temporary files: blobs larger
// than a pack, packs over a backend that stores from memory with one
// connection and many writers (both blob types), an upload that fails;
// no temporary file is ever visible.
func TestPackSpool(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	r, dir := newTestRepo(t, Options{PackSize: 4 << 10, TempDir: tmp})
	want := map[ID][]byte{}
	for i, size := range []int{3 << 20, 100, 900 << 10, 900 << 10, 10} {
		d := randomData(uint64(i), size, false)
		id, _, _, err := r.SaveBlob(ctx, DataBlob, d, ID{}, false)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = d
		emptyDir(t, tmp, "while saving")
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// One connection gives two slots: writers of both types, more than
	// slots, must not wait for each other forever.
	mb := &memoryBackend{Backend: openTestRepo(t, dir).be}
	r, err := Open(ctx, mb, restictest.Password, Options{PackSize: 4 << 10, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				d := randomData(uint64(1000*w+i), 3000, i%2 == 0)
				typ := DataBlob
				if i%5 == 0 {
					typ = TreeBlob
				}
				id, _, _, err := r.SaveBlob(ctx, typ, d, ID{}, false)
				if err != nil {
					t.Error(err)
					return
				}
				if typ == DataBlob {
					mu.Lock()
					want[id] = d
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	emptyDir(t, tmp, "after close")

	r = openTestRepo(t, dir)
	for id, d := range want {
		got, err := r.LoadBlob(ctx, DataBlob, id, nil)
		if err != nil || !bytes.Equal(got, d) {
			t.Errorf("blob %s: %v", id.Str(), err)
		}
	}
	if res, err := r.Check(ctx, CheckOptions{ReadData: true}); err != nil || len(res.Errors) != 0 {
		t.Errorf("check: %v %v", err, res.Errors)
	}
	r.Close()

	// A failed upload fails the flush and leaves nothing behind.
	mb.fail = true
	r, err = Open(ctx, mb, restictest.Password, Options{PackSize: 4 << 10, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		r.SaveBlob(ctx, DataBlob, randomData(uint64(5000+i), 5000, false), ID{}, false)
	}
	if err := r.Flush(ctx); err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Errorf("flush after a failed upload: %v", err)
	}
	r.Close()
	emptyDir(t, tmp, "after a failed upload")
}
