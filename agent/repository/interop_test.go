package repository

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

// TestResticReadsLethe: a repository lethe wrote passes restic's full
// check and restic restores the file byte for byte.
func TestResticReadsLethe(t *testing.T) {
	r, dir := newTestRepo(t, Options{PackSize: 64 << 10})
	var chunks [][]byte
	var want []byte
	for i := 0; i < 12; i++ {
		c := randomData(uint64(i), 20000+i*1000, i%2 == 0)
		chunks = append(chunks, c)
		want = append(want, c...)
	}
	fileSnapshot(t, r, "file.bin", chunks, time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC), "host1")

	restictest.Check(t, dir)
	target := t.TempDir()
	restictest.Run(t, dir, "restore", "latest", "--target", target)
	got, err := os.ReadFile(filepath.Join(target, "file.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("restic restored %d bytes that differ from the %d saved", len(got), len(want))
	}
	// Lethe's own objects do not disturb restic.
	if err := r.SaveLethe(context.Background(), "tombstones/x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, dir)
}

// TestLetheReadsRestic: lethe opens a repository restic initialised and
// backed up, and reproduces the file from its blobs.
func TestLetheReadsRestic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	restictest.Run(t, dir, "init")
	src := t.TempDir()
	want := randomData(7, 3<<20, false)
	want = append(want, randomData(8, 1<<20, true)...)
	if err := os.WriteFile(filepath.Join(src, "doc.bin"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	restictest.Run(t, dir, "backup", src)

	ctx := context.Background()
	r := openTestRepo(t, dir)
	if r.Config().Version != 2 {
		t.Fatalf("restic 0.14 repository version %d, want 2", r.Config().Version)
	}
	sn, err := r.FindSnapshot(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	// Walk down the snapshot's paths to the file.
	tree, err := r.LoadTree(ctx, *sn.Tree)
	if err != nil {
		t.Fatal(err)
	}
	var node *Node
	for _, part := range strings.Split(strings.Trim(src, "/"), "/") {
		n := tree.Find(part)
		if n == nil || n.Subtree == nil {
			t.Fatalf("path element %q not found in tree", part)
		}
		if tree, err = r.LoadTree(ctx, *n.Subtree); err != nil {
			t.Fatal(err)
		}
	}
	node = tree.Find("doc.bin")
	if node == nil {
		t.Fatal("doc.bin not in tree")
	}
	var got []byte
	for _, id := range node.Content {
		b, err := r.LoadBlob(ctx, DataBlob, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("lethe read %d bytes that differ from restic's %d", len(got), len(want))
	}
	// Prefix lookup of the same snapshot.
	sn2, err := r.FindSnapshot(ctx, sn.ID.String()[:8])
	if err != nil || sn2.ID != sn.ID {
		t.Fatalf("prefix lookup: %v", err)
	}
	// Every pack restic wrote lists the same blobs as its index.
	packs := r.idx.packContents()
	if err := r.List(ctx, "data", func(id ID, size int64) error {
		blobs, err := r.ListPack(ctx, id, size)
		if err != nil {
			return err
		}
		if len(blobs) != len(packs[id]) {
			t.Errorf("pack %s: header has %d blobs, index %d", id.Str(), len(blobs), len(packs[id]))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// lethe adds to restic's repository and restic still checks clean
	// and restores lethe's snapshot.
	more := randomData(9, 100000, true)
	lsn := fileSnapshot(t, r, "lethe.txt", [][]byte{more, want[:5000]}, time.Now(), "lethehost")
	restictest.Check(t, dir)
	target := t.TempDir()
	restictest.Run(t, dir, "restore", lsn.ID.String(), "--target", target)
	got, err = os.ReadFile(filepath.Join(target, "lethe.txt"))
	if err != nil || !bytes.Equal(got, append(more, want[:5000]...)) {
		t.Fatalf("restic restore of lethe's snapshot in restic's repository: %v", err)
	}
}

// TestWrongPassword: opening with a wrong password gives ErrNoKeyFound.
func TestWrongPassword(t *testing.T) {
	_, dir := newTestRepo(t, Options{})
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), be, "not the password", Options{})
	if !errors.Is(err, ErrNoKeyFound) {
		t.Fatalf("got %v, want ErrNoKeyFound", err)
	}
}

// TestResticV1Repository: lethe writes into a version 1 repository
// without compression, and restic accepts it.
func TestResticV1Repository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	restictest.Run(t, dir, "init", "--repository-version", "1")
	r := openTestRepo(t, dir)
	if r.Config().Version != 1 {
		t.Fatalf("version %d, want 1", r.Config().Version)
	}
	data := randomData(3, 40000, true)
	fileSnapshot(t, r, "v1.txt", [][]byte{data}, time.Now(), "h")
	pb, ok := r.LookupBlob(BlobHandle{ID: Hash(data), Type: DataBlob})
	if !ok || pb.UncompressedLength != 0 {
		t.Fatalf("blob in a v1 repository: %+v %v", pb, ok)
	}
	restictest.Check(t, dir)
	target := t.TempDir()
	restictest.Run(t, dir, "restore", "latest", "--target", target)
	got, err := os.ReadFile(filepath.Join(target, "v1.txt"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restore from v1 repository: %v", err)
	}
}
