package archiver_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository"
)

// startHook runs an action when the archiver starts on a file, chosen by
// the file's base name (masking leaves base names alone in these tests),
// and records the paths progress is told about.
type startHook struct {
	progress
	actions map[string]func()
	mu      sync.Mutex
	paths   []string
}

func (h *startHook) Start(p string) {
	h.record(p)
	if f := h.actions[filepath.Base(p)]; f != nil {
		f()
	}
}

func (h *startHook) Done(p string) { h.record(p) }

func (h *startHook) record(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paths = append(h.paths, p)
}

// failingRepo fails to store data blobs.
type failingRepo struct{ archiver.Repo }

var errStore = errors.New("storage failed")

func (f failingRepo) SaveBlob(ctx context.Context, t repository.BlobType, data []byte, id repository.ID, dup bool) (repository.ID, bool, int, error) {
	if t == repository.DataBlob {
		return repository.ID{}, false, 0, errStore
	}
	return f.Repo.SaveBlob(ctx, t, data, id, dup)
}

// TestErrorsNameMaskedPath checks that reported and returned errors name
// the item that failed, and only through Options.MaskPath: a directory
// named after a subject must not appear in clear text.
func TestErrorsNameMaskedPath(t *testing.T) {
	const subject = "anna.svensson@example.se"
	mask := func(p string) string { return strings.ReplaceAll(p, subject, "a***@example.se") }
	base := t.TempDir()
	dir := filepath.Join(base, "kunder", subject)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gone", "swapped", "kept", "dropped"} {
		archivertest.WriteFile(t, filepath.Join(dir, n), []byte(n), 0o644, time.Unix(1e9, 0))
	}
	// A target below a regular file.
	if err := os.MkdirAll(filepath.Join(base, "other"), 0o755); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(base, "other", subject)
	archivertest.WriteFile(t, notDir, []byte("a file"), 0o644, time.Unix(1e9, 0))

	hook := &startHook{actions: map[string]func(){
		"gone": func() { os.Remove(filepath.Join(dir, "gone")) },
		"swapped": func() {
			// Renamed over, so that the new file cannot reuse the inode.
			p := filepath.Join(dir, "swapped")
			os.WriteFile(p+".new", []byte("another file"), 0o644)
			os.Rename(p+".new", p)
		},
	}}
	var mu sync.Mutex
	reported := map[string]error{}
	var log foundLog
	opts := archiver.Options{
		FileWorkers: 1,
		Progress:    hook,
		MaskPath:    mask,
		Filter:      &markerFilter{erased: true, drop: map[string]bool{"dropped": true}},
		Found:       log.found,
		Error: func(p string, err error) error {
			mu.Lock()
			defer mu.Unlock()
			reported[p] = err
			return nil
		},
	}
	repo, _ := archivertest.NewRepo(t)
	_, stats := backup(t, repo, opts, archiver.SnapshotOptions{}, dir, filepath.Join(notDir, "below"))
	want := []string{mask(filepath.Join(dir, "gone")), mask(filepath.Join(dir, "swapped")), mask(notDir)}
	if stats.Errors != uint64(len(want)) || len(reported) != len(want) {
		t.Errorf("stats %+v, reported %v; want %q", stats, reported, want)
	}
	for _, p := range want {
		err := reported[p]
		if err == nil {
			t.Errorf("%s: not reported (reported: %v)", p, reported)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error for %s does not name it: %v", p, err)
		}
	}
	for p, err := range reported {
		if strings.Contains(p, subject) || strings.Contains(err.Error(), subject) {
			t.Errorf("subject in clear text: %s: %v", p, err)
		}
	}
	if !errors.Is(reported[want[0]], os.ErrNotExist) {
		t.Errorf("vanished file: %v, want ErrNotExist", reported[want[0]])
	}
	if _, ok := log.items[mask(filepath.Join(dir, "dropped"))]; !ok || len(log.items) != 1 {
		t.Errorf("Found told about %v, want only %s", log.items, mask(filepath.Join(dir, "dropped")))
	}
	if len(hook.paths) == 0 {
		t.Error("no progress reported")
	}
	for _, p := range hook.paths {
		if strings.Contains(p, subject) {
			t.Errorf("progress told about %s", p)
		}
	}

	// An error that aborts the backup names the file being stored.
	fresh, _ := archivertest.NewRepo(t)
	_, _, err := archiver.New(failingRepo{fresh}, archiver.Options{MaskPath: mask}).
		Snapshot(context.Background(), []string{filepath.Join(dir, "kept")}, archiver.SnapshotOptions{})
	if !errors.Is(err, errStore) || !strings.Contains(err.Error(), mask(filepath.Join(dir, "kept"))) || strings.Contains(err.Error(), subject) {
		t.Errorf("failed backup returned %v; want the storage error naming %s", err, mask(filepath.Join(dir, "kept")))
	}
}
