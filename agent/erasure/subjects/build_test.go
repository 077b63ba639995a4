package subjects

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// TestBuildResumes: a full scan stopped part way saves what it scanned,
// and the next one scans only the rest; the index then finds the subject
// in the one file that holds her and rules out the others.
func TestBuildResumes(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	const files = batchEntries + 500
	for i := 0; i < files; i++ {
		d := filepath.Join(src, fmt.Sprintf("d%02d", i%50))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%d.txt", i)), []byte(fmt.Sprintf("kund%d@example.se\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repo, _ := archivertest.NewRepo(t)
	// A backup without an index, as restic or an older lethe writes one.
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snaps := []*repository.Snapshot{sn}
	n, key := setup(t, "", "")
	ix := NewIndexer(n, key, nil)

	stopCtx, stop := context.WithCancel(ctx)
	st, err := Build(stopCtx, repo, repo, snaps, ix, New(ix), func(done, total int, _, _ uint64) {
		if done == batchEntries+10 {
			stop()
		}
	})
	if !errors.Is(err, context.Canceled) || st.Files != files {
		t.Fatalf("stopped build: %v, %+v", err, st)
	}
	idx, err := Load(ctx, repo, ix)
	if err != nil {
		t.Fatal(err)
	}
	saved := idx.Len()
	if saved < batchEntries+10 || saved >= files {
		t.Fatalf("stopped build saved %d entries of %d", saved, files)
	}
	st, err = Build(ctx, repo, repo, snaps, ix, idx, nil)
	if err != nil || st.Files != files-saved || st.Indexed != files-saved {
		t.Fatalf("resumed build: %v, %+v; %d were saved before", err, st, saved)
	}
	idx, err = Load(ctx, repo, ix)
	if err != nil || idx.Len() != files {
		t.Fatalf("after the resumed build: %v, %d entries", err, idx.Len())
	}
	tb := tombstoneOf(t, n, key, "01JD0000000000000000000001", "email=kund4000@example.se")
	var hits []string
	fst, err := Find(ctx, repo, snaps, idx, tombstones.ProbeOf(tb.Entries), nil, func(o Occurrence) error {
		hits = append(hits, o.Path)
		return nil
	})
	if err != nil || fst.NotIndexed != 0 || fst.Files != files {
		t.Fatalf("find: %v, %+v", err, fst)
	}
	if len(hits) == 0 || len(hits) > 2 || filepath.Base(hits[0]) != "4000.txt" {
		t.Fatalf("find: %v", hits)
	}
}
