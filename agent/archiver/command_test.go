package archiver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository/restictest"
	"lethe/agent/restorer"
)

// TestSnapshotCommand backs up a command's output as one file and checks
// that restic sees a clean repository and dumps the same bytes, and that
// the second run with the same output stores nothing new.
func TestSnapshotCommand(t *testing.T) {
	repo, dir := archivertest.NewRepo(t)
	var want bytes.Buffer
	if err := archivertest.Pattern(&want, 7, 3<<20); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(data, want.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cmd := archiver.Command{Args: []string{"cat", data}}
	ts := time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)
	sn, st, err := archiver.New(repo, archiver.Options{}).SnapshotCommand(ctx, cmd, "dump.sql", archiver.SnapshotOptions{Time: ts, Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sn.Paths) != 1 || sn.Paths[0] != "/dump.sql" {
		t.Fatalf("paths %v", sn.Paths)
	}
	if st.FilesNew != 1 || st.TotalBytes != uint64(want.Len()) || st.DataBlobs == 0 {
		t.Fatalf("stats %+v", st)
	}
	restictest.Check(t, dir)
	got := restictest.Run(t, dir, "dump", sn.ID.String(), "/dump.sql")
	if got != want.String() {
		t.Fatalf("restic dump: %d bytes, want %d identical", len(got), want.Len())
	}

	// lethe restores it too, with the stream file's mode.
	dst := restoreLethe(t, repo, sn, restorer.Options{})
	fi, err := os.Stat(filepath.Join(dst, "dump.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != archiver.StreamFileMode || fi.Size() != int64(want.Len()) {
		t.Fatalf("restored %v %d", fi.Mode(), fi.Size())
	}

	sn2, st2, err := archiver.New(repo, archiver.Options{}).SnapshotCommand(ctx, cmd, "dump.sql", archiver.SnapshotOptions{Time: ts.Add(24 * time.Hour), Hostname: "h", Parent: sn})
	if err != nil {
		t.Fatal(err)
	}
	if st2.FilesUnmodified != 1 || st2.DataBlobs != 0 || *sn2.Parent != sn.ID {
		t.Fatalf("second run: stats %+v", st2)
	}
}

// TestSnapshotCommandFails checks that a command exiting with an error
// saves no snapshot, whatever it wrote before, and that its error names
// the program but none of its arguments.
func TestSnapshotCommandFails(t *testing.T) {
	repo, dir := archivertest.NewRepo(t)
	var stderr bytes.Buffer
	cmd := archiver.Command{Args: []string{"sh", "-c", "echo half a dump; echo oops >&2; exit 3", "anna@example.se"}, Stderr: &stderr}
	_, _, err := archiver.New(repo, archiver.Options{}).SnapshotCommand(context.Background(), cmd, "dump.sql", archiver.SnapshotOptions{})
	if err == nil {
		t.Fatal("no error from a failing command")
	}
	if !strings.Contains(err.Error(), "command sh failed") || strings.Contains(err.Error(), "anna") {
		t.Fatalf("error %q", err)
	}
	if stderr.String() != "oops\n" {
		t.Fatalf("stderr %q", stderr.String())
	}
	snaps, err := repo.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 0 {
		t.Fatalf("%d snapshots saved", len(snaps))
	}
	restictest.Check(t, dir)

	// A program that does not exist fails before anything is read.
	cmd = archiver.Command{Args: []string{filepath.Join(t.TempDir(), "no-such-program")}}
	if _, _, err := archiver.New(repo, archiver.Options{}).SnapshotCommand(context.Background(), cmd, "dump.sql", archiver.SnapshotOptions{}); err == nil {
		t.Fatal("no error for a missing program")
	}
}

// TestSnapshotCommandCancel checks that cancelling the backup stops a
// command that would run for ever, and saves no snapshot.
func TestSnapshotCommandCancel(t *testing.T) {
	repo, _ := archivertest.NewRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := archiver.Command{Args: []string{"sh", "-c", "echo start; exec sleep 1000"}, StopTimeout: time.Second}
	done := make(chan error, 1)
	go func() {
		_, _, err := archiver.New(repo, archiver.Options{}).SnapshotCommand(ctx, cmd, "dump.sql", archiver.SnapshotOptions{})
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("no error after cancel")
	}
	snaps, err := repo.Snapshots(context.Background())
	if err != nil || len(snaps) != 0 {
		t.Fatalf("%d snapshots, %v", len(snaps), err)
	}
}

// TestSnapshotCommandFiltered checks that a command's output goes through
// the filter like a file's: the subject's lines never reach the
// repository, and the rest is stored byte for byte.
func TestSnapshotCommandFiltered(t *testing.T) {
	repo, dir := archivertest.NewRepo(t)
	data := filepath.Join(t.TempDir(), "dump.txt")
	content := "INSERT 1 Bo;\nINSERT 2 " + marker + ";\nINSERT 3 Cecilia;\n"
	if err := os.WriteFile(data, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var log foundLog
	opts := archiver.Options{Filter: &markerFilter{erased: true}, Found: log.found}
	sn, st, err := archiver.New(repo, opts).SnapshotCommand(context.Background(), archiver.Command{Args: []string{"cat", data}}, "dump.txt", archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesRedacted != 1 || st.RecordsRemoved["text"] != 1 {
		t.Errorf("stats %+v", st)
	}
	if f, ok := log.items["/dump.txt"]; !ok || f.f.Removed != 1 {
		t.Errorf("found %+v", log.items)
	}
	got := restictest.Run(t, dir, "dump", sn.ID.String(), "/dump.txt")
	if want := "INSERT 1 Bo;\nINSERT 3 Cecilia;\n"; got != want {
		t.Errorf("stored %q, want %q", got, want)
	}
}
