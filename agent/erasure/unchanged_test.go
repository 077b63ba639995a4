package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restic/chunker"

	"lethe/agent/archiver"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
)

// TestEraseKeepsUnchangedChunks erases a row near the end of a large CSV
// that grows every day, with a redactor that scans each version from
// where it differs from the last. Every snapshot's CSV must restore
// (with restic) as the original without the row, and be stored in
// exactly the chunks that chunking it whole gives: the chunks before the
// row are the old content's own.
func TestEraseKeepsUnchangedChunks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	repoDir, src := filepath.Join(dir, "repo"), filepath.Join(dir, "srv")
	repo := initRepo(t, repoDir)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.WriteString("id,namn,epost\n")
	// More than the largest chunk before her row: at least one old chunk
	// is kept whatever the repository's polynomial.
	for i := 0; body.Len() < chunker.MaxSize+chunker.MinSize; i++ {
		fmt.Fprintf(&body, "%d,Kund %d,kund%d@example.se\n", i, i, i)
	}
	body.WriteString(csvAnna)
	var want []string
	var parent *repository.Snapshot
	var snaps []*repository.Snapshot
	for d := range 3 {
		fmt.Fprintf(&body, "%d,Ny kund,ny%d@example.se\n", 100000+d, d)
		if err := os.WriteFile(filepath.Join(src, "kunder.csv"), body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, string(bytes.Replace(body.Bytes(), []byte(csvAnna), nil, 1)))
		sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{src}, archiver.SnapshotOptions{
			Time: time.Date(2026, 11, 20+d, 2, 0, 0, 0, time.UTC), Hostname: "kontoret", Parent: parent})
		if err != nil {
			t.Fatal(err)
		}
		snaps, parent = append(snaps, sn), sn
	}
	pol := repo.Config().ChunkerPolynomial
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}

	env := &testEnv{repoDir: repoDir, src: src, snaps: snaps}
	oldFirst := make(repository.IDs, len(snaps))
	for i, sn := range snaps {
		_, n := fileNode(t, env.open(t), sn, "kunder.csv")
		oldFirst[i] = n.Content[0]
	}
	opts := eraseOpts(t)
	red := annaRedactor(t)
	red.KeepVersions(formats.NewVersions(1<<20, 64<<20))
	opts.Redactor = red
	if _, err := Run(ctx, env.open(t), opts); err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, repoDir)
	r := env.open(t)
	after, _, err := r.LoadAllSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(after, func(a, b *repository.Snapshot) int { return a.Time.Compare(b.Time) })
	for i, sn := range after {
		dst := t.TempDir()
		restictest.Run(t, repoDir, "restore", sn.ID.String(), "--target", dst)
		got, err := os.ReadFile(filepath.Join(dst, src, "kunder.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want[i] {
			t.Fatalf("snapshot %d: kunder.csv restored with %d bytes, want %d without the row", i, len(got), len(want[i]))
		}
		_, node := fileNode(t, r, sn, "kunder.csv")
		if chunks := chunkIDs(t, []byte(want[i]), pol); !slices.Equal(node.Content, chunks) {
			t.Errorf("snapshot %d: stored in %d chunks, chunking the file whole gives %d (or others)", i, len(node.Content), len(chunks))
		}
		if node.Content[0] != oldFirst[i] {
			t.Errorf("snapshot %d: the chunk before her row is not the old content's", i)
		}
	}
}

// fileNode returns the path and node of the file called name in the
// snapshot.
func fileNode(t *testing.T, r *repository.Repository, sn *repository.Snapshot, name string) (string, *repository.Node) {
	t.Helper()
	var p string
	var found *repository.Node
	err := repository.Walk(context.Background(), r, *sn.Tree, func(_ repository.ID, np string, n *repository.Node, err error) error {
		if err == nil && n.Name == name && n.Type == repository.NodeFile {
			p, found = np, n
		}
		return err
	})
	if err != nil || found == nil {
		t.Fatalf("finding %s in the snapshot: %v", name, err)
	}
	return p, found
}

// chunkIDs returns the IDs of data's chunks.
func chunkIDs(t *testing.T, data []byte, pol chunker.Pol) repository.IDs {
	t.Helper()
	c := chunker.New(bytes.NewReader(data), pol)
	var ids repository.IDs
	for {
		ch, err := c.Next(nil)
		if err == io.EOF {
			return ids
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, repository.Hash(ch.Data))
	}
}
