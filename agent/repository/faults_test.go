package repository

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
)

// faultyBackend fails chosen operations.
type faultyBackend struct {
	backends.Backend
	failSave   backends.FileType
	failRemove backends.FileType
}

var errInjected = errors.New("injected fault")

func (f *faultyBackend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if h.Type == f.failSave {
		return errInjected
	}
	return f.Backend.Save(ctx, h, data)
}

func (f *faultyBackend) Remove(ctx context.Context, h backends.Handle) error {
	if h.Type == f.failRemove {
		return errInjected
	}
	return f.Backend.Remove(ctx, h)
}

// TestPruneInterrupted: when deleting old index files fails, prune stops
// before deleting any pack, and the repository stays consistent for both
// lethe and restic; a later prune finishes the job.
func TestPruneInterrupted(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{PackSize: 16 << 10})
	for i := 0; i < 4; i++ {
		fileSnapshot(t, r, "f", [][]byte{randomData(uint64(i), 20000, false), randomData(99, 5000, false)}, time.Unix(int64(1000+i), 0), "h")
	}
	if _, err := r.Forget(ctx, ExpirePolicy{Last: 1}, DefaultGroupBy, false); err != nil {
		t.Fatal(err)
	}
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fb := &faultyBackend{Backend: be, failRemove: backends.IndexFile}
	rf, err := Open(ctx, fb, restictest.Password, Options{PackSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rf.Prune(ctx, PruneOptions{RepackAllUnused: true}); !errors.Is(err, errInjected) {
		t.Fatalf("prune with failing index removal: %v", err)
	}
	// The failed prune released its lock.
	r2 := openTestRepo(t, dir)
	res, err := r2.Check(ctx, CheckOptions{ReadData: true})
	if err != nil || !res.OK() {
		t.Fatalf("check after interrupted prune: %v %v", err, res.Errors)
	}
	restictest.Check(t, dir)
	st, err := r2.Prune(ctx, PruneOptions{RepackAllUnused: true})
	if err != nil {
		t.Fatal(err)
	}
	// The superseded index is ignored, so the packs only it listed are
	// now unindexed leftovers.
	if st.PacksRemoved+st.PacksRepacked+st.PacksUnindexed == 0 {
		t.Fatalf("second prune found nothing to remove: %+v", st)
	}
	restictest.Check(t, dir)
}

// TestUploadFailure: a failing pack upload surfaces from Flush, naming
// the pack, and no index refers to it.
func TestUploadFailure(t *testing.T) {
	ctx := context.Background()
	_, dir := newTestRepo(t, Options{})
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, &faultyBackend{Backend: be, failSave: backends.PackFile}, restictest.Password, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.SaveBlob(ctx, DataBlob, []byte("data"), ID{}, false); err != nil {
		t.Fatal(err)
	}
	err = r.Flush(ctx)
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "saving pack") {
		t.Fatalf("Flush: %v", err)
	}
	if _, _, _, err := r.SaveBlob(ctx, DataBlob, []byte("more"), ID{}, false); err == nil {
		t.Fatal("SaveBlob after a failed upload succeeded")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "index", "*"))
	if len(files) != 0 {
		t.Fatalf("index written for a failed pack: %v", files)
	}
}
