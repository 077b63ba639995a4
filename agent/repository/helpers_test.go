package repository

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

var testKDF = &KDFParams{N: 1 << 10, R: 8, P: 1}

// newTestRepo initialises a repository in a temporary directory.
func newTestRepo(t testing.TB, opts Options) (*Repository, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Init(context.Background(), be, restictest.Password, InitOptions{KDF: testKDF, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func openTestRepo(t testing.TB, dir string) *Repository {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), be, restictest.Password, Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// randomData returns deterministic pseudo-random bytes; half of them
// compress (text-like), half do not.
func randomData(seed uint64, n int, compressible bool) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, n)
	if compressible {
		words := []string{"invoice ", "customer ", "order ", "2024-01-01 ", "total ", "SEK ", "\n"}
		var b bytes.Buffer
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
		}
		copy(buf, b.Bytes())
		return buf
	}
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	return buf
}

// fileSnapshot saves chunks as a file's content, a root tree holding that
// file, and a snapshot. It returns the snapshot.
func fileSnapshot(t testing.TB, r *Repository, name string, chunks [][]byte, when time.Time, host string, tags ...string) *Snapshot {
	t.Helper()
	ctx := context.Background()
	var content IDs
	var size uint64
	for _, c := range chunks {
		id, _, _, err := r.SaveBlob(ctx, DataBlob, c, ID{}, false)
		if err != nil {
			t.Fatal(err)
		}
		content = append(content, id)
		size += uint64(len(c))
	}
	node := &Node{Name: name, Type: NodeFile, Mode: 0o644, ModTime: when, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Size: size, Content: content}
	tree := &Tree{}
	if err := tree.Insert(node); err != nil {
		t.Fatal(err)
	}
	treeID, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sn := &Snapshot{Time: when, Tree: &treeID, Paths: []string{"/data"}, Hostname: host, Tags: tags}
	if _, err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	return sn
}
