package repository

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
)

// damageKinds are the ways a file in the repository gets damaged.
var damageKinds = map[string]func(t *testing.T, path string){
	"corrupt": func(t *testing.T, path string) {
		buf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		buf[len(buf)/2] ^= 0x01
		writeFile(t, path, buf)
	},
	"empty": func(t *testing.T, path string) { writeFile(t, path, nil) },
	"truncated": func(t *testing.T, path string) {
		buf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, buf[:len(buf)/2])
	},
}

func writeFile(t *testing.T, path string, buf []byte) {
	t.Helper()
	// Repository files are read-only.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// objectPath is where the local backend keeps an object.
func objectPath(dir string, t backends.FileType, id ID) string {
	s := id.String()
	switch t {
	case backends.PackFile:
		return filepath.Join(dir, "data", s[:2], s)
	case backends.SnapshotFile:
		return filepath.Join(dir, "snapshots", s)
	case backends.IndexFile:
		return filepath.Join(dir, "index", s)
	case backends.LockFile:
		return filepath.Join(dir, "locks", s)
	}
	panic("objectPath: " + string(t))
}

// warnings collects what a handle reports through Options.Warn.
type warnings struct {
	mu   sync.Mutex
	errs []error
}

func (w *warnings) add(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var l []string
	for _, e := range w.errs {
		l = append(l, e.Error())
	}
	return strings.Join(l, "\n")
}

func openWarnRepo(t *testing.T, dir string) (*Repository, *warnings) {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	r, err := Open(context.Background(), be, restictest.Password, Options{KDF: testKDF, Warn: w.add})
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// threeSnapshots writes three snapshots, a day apart, of different files.
func threeSnapshots(t *testing.T, r *Repository) []*Snapshot {
	t.Helper()
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var snaps []*Snapshot
	for i := range 3 {
		chunks := [][]byte{randomData(uint64(10*i+1), 3000, false), randomData(uint64(10*i+2), 5000, true)}
		snaps = append(snaps, fileSnapshot(t, r, "f", chunks, base.Add(time.Duration(i)*24*time.Hour), "host"))
	}
	return snaps
}

func TestDamagedSnapshotSkipped(t *testing.T) {
	for kind, damage := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			r, dir := newTestRepo(t, Options{})
			snaps := threeSnapshots(t, r)
			bad := snaps[2] // the latest
			damage(t, objectPath(dir, backends.SnapshotFile, bad.ID))

			r, w := openWarnRepo(t, dir)
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := r.Snapshots(ctx)
			if err != nil {
				t.Fatalf("Snapshots: %v", err)
			}
			if len(got) != 2 || got[0].ID != snaps[0].ID || got[1].ID != snaps[1].ID {
				t.Fatalf("Snapshots returned %v, want the two undamaged ones", got)
			}
			if !strings.Contains(w.String(), bad.ID.Str()) {
				t.Errorf("warnings %q do not name the damaged snapshot %s", w, bad.ID.Str())
			}
			latest, err := r.FindSnapshot(ctx, "latest")
			if err != nil || latest.ID != snaps[1].ID {
				t.Errorf("latest = %v, %v; want %s", latest, err, snaps[1].ID.Str())
			}
			_, err = r.FindSnapshot(ctx, bad.ID.Str())
			var le *SnapshotLoadError
			if !errors.As(err, &le) || le.ID != bad.ID {
				t.Errorf("FindSnapshot of the damaged one: %v, want a SnapshotLoadError naming it", err)
			}
			// Prune must not delete the data of a snapshot it cannot read.
			if _, err := r.Prune(ctx, PruneOptions{}); err == nil || !strings.Contains(err.Error(), bad.ID.Str()) {
				t.Errorf("Prune: %v, want a refusal naming %s", err, bad.ID.Str())
			}
			res, err := r.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "snapshot "+bad.ID.String()) {
				t.Errorf("Check errors %v, want one naming snapshot %s", res.Errors, bad.ID.Str())
			}
		})
	}
}
