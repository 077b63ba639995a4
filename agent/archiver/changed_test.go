package archiver_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository/restictest"
)

// appendTo adds data to the file at path, keeping its inode.
func appendTo(t *testing.T, path, data string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Error(err)
		return
	}
	if _, err := f.WriteString(data); err != nil {
		t.Error(err)
	}
	f.Close()
}

// TestChangedFiles checks the steps of reading a file against changes in
// place, which keep the inode: a file rewritten between listing and
// opening (what a file system reusing a deleted file's inode looks like)
// is stored as it is when opened, with that state's metadata; one written
// to while it is read is read again and stored as it is then; one written
// to on every read is stored as read the second time.
func TestChangedFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"kept", "rewritten", "once", "always"} {
		archivertest.WriteFile(t, filepath.Join(src, n), []byte(n), 0o644, time.Now())
	}
	repo, repoDir := archivertest.NewRepo(t)
	reported := map[string]error{}
	var mu sync.Mutex
	a := archiver.New(repo, archiver.Options{FileWorkers: 1, Error: func(p string, err error) error {
		mu.Lock()
		reported[filepath.Base(p)] = err
		mu.Unlock()
		return nil
	}})
	reads := map[string]int{}
	archiver.SetReadHooks(a, func(p string) {
		if filepath.Base(p) == "rewritten" {
			// Same inode, new content: only size and times tell.
			if err := os.WriteFile(p, []byte("a different file"), 0o644); err != nil {
				t.Error(err)
			}
		}
	}, func(p string) {
		mu.Lock()
		reads[filepath.Base(p)]++
		n := reads[filepath.Base(p)]
		mu.Unlock()
		switch {
		case filepath.Base(p) == "once" && n == 1, filepath.Base(p) == "always":
			appendTo(t, p, " and more")
		}
	})
	sn, stats, err := a.Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors != 0 || len(reported) != 0 {
		t.Errorf("stats %+v, reported %v", stats, reported)
	}
	if reads["once"] != 2 || reads["always"] != 2 || reads["kept"] != 1 {
		t.Errorf("reads %v, want once and always read twice, kept once", reads)
	}
	restictest.Check(t, repoDir)
	for name, want := range map[string]string{"kept": "kept", "rewritten": "a different file", "once": "once and more", "always": "always and more"} {
		if got := restictest.Run(t, repoDir, "dump", sn.ID.String(), filepath.Join(src, name)); got != want {
			t.Errorf("restic dump of %s: %q, want %q", name, got, want)
		}
	}
}

// TestChangedFilteredFile: a file whose content goes through the filter
// and that is written to while the filter reads it is reported, whether
// the filter closed it already or not.
func TestChangedFilteredFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"stable.txt", "growing.txt"} {
		archivertest.WriteFile(t, filepath.Join(src, n), []byte(n+"\n"), 0o644, time.Now())
	}
	repo, _ := archivertest.NewRepo(t)
	reported := map[string]error{}
	var mu sync.Mutex
	a := archiver.New(repo, archiver.Options{Filter: &markerFilter{}, Error: func(p string, err error) error {
		mu.Lock()
		reported[filepath.Base(p)] = err
		mu.Unlock()
		return nil
	}})
	archiver.SetReadHooks(a, nil, func(p string) {
		if filepath.Base(p) == "growing.txt" {
			appendTo(t, p, "another line\n")
		}
	})
	sn, stats, err := a.Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Errors != 1 || len(reported) != 1 || reported["growing.txt"] == nil ||
		!strings.Contains(reported["growing.txt"].Error(), "changed while it was read") {
		t.Errorf("stats %+v, reported %v", stats, reported)
	}
	if sn == nil {
		t.Fatal("no snapshot")
	}
}
