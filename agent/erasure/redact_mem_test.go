package erasure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/restic/chunker"

	"lethe/agent/archiver"
	"lethe/agent/repository"
)

// peakRepo records the live heap each time a blob is saved: the moment
// the redacted content, the chunk and everything redacting holds are
// all alive. It hashes what it is given in order instead of storing it,
// so that the packs being written do not count as redaction's memory.
type peakRepo struct {
	Repo
	peak  uint64
	saved hash.Hash
}

func (p *peakRepo) sample() {
	// Twice: what pools hold survives one collection.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.peak = max(p.peak, ms.HeapAlloc)
}

func (p *peakRepo) SaveBlob(_ context.Context, _ repository.BlobType, data []byte, _ repository.ID, _ bool) (repository.ID, bool, int, error) {
	p.sample()
	p.saved.Write(data)
	return repository.Hash(data), false, len(data), nil
}

// bigCSV returns a CSV of about size bytes with the subject's row in the
// middle, and the same CSV without it.
func bigCSV(size int) (data, want []byte) {
	var b, w bytes.Buffer
	b.WriteString("id,namn,epost\n")
	w.WriteString("id,namn,epost\n")
	added := false
	for i := 0; b.Len() < size; i++ {
		row := fmt.Sprintf("%d,Kund %d,kund%d@example.se\n", i, i, i)
		if !added && b.Len() >= size/2 {
			// More than the largest chunk before it: the redaction
			// keeps at least one old chunk whatever the polynomial.
			b.WriteString(csvAnna)
			added = true
		}
		b.WriteString(row)
		w.WriteString(row)
	}
	return b.Bytes(), w.Bytes()
}

// TestRedactFileHeapBounded redacts a CSV of 32 MB and checks that the
// live heap grows by the file's size and no more than a few chunks while
// it is cut, chunked, saved and handed to Indexed: the content is read
// once into a buffer of its size and cut in place. The chunk being saved,
// the blob last loaded and the chunker's and scanner's scratch are each
// at most a chunk. A read buffer grown by doubling, the output and a copy
// for Indexed beside it, as redacting had, needed over twice the file.
func TestRedactFileHeapBounded(t *testing.T) {
	ctx := context.Background()
	const size = 32 << 20
	data, want := bigCSV(size)
	src := filepath.Join(t.TempDir(), "srv")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "kunder.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	data = nil
	repoDir := filepath.Join(t.TempDir(), "repo")
	repo := initRepo(t, repoDir)
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{src}, archiver.SnapshotOptions{Time: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC), Hostname: "kontoret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{repoDir: repoDir}
	r := env.open(t)

	p, node := fileNode(t, r, sn, "kunder.csv")

	pr := &peakRepo{Repo: r, saved: sha256.New()}
	var indexed []byte
	opts := Options{Redactor: annaRedactor(t), IndexLimit: 1 << 30}
	opts.Indexed = func(_ string, _ *repository.Node, d []byte) {
		pr.sample()
		indexed = d
	}
	e := newEraser(pr, opts, nil)
	f := e.filter(sn.Paths)

	pr.sample()
	base := pr.peak
	fo, err := e.redactFile(ctx, f, p, node, true)
	if err != nil {
		t.Fatal(err)
	}
	if fo.fnd.Removed != 1 || fo.fnd.Dropped {
		t.Fatalf("findings %+v, want one record removed", fo.fnd)
	}
	n := *node
	n.Content, n.Size = fo.content, fo.size
	opts.Indexed(p, &n, fo.data)
	growth := pr.peak - base
	t.Logf("file %d bytes, live heap grew by %d (%.2fx)", len(want), growth, float64(growth)/float64(len(want)))
	if limit := uint64(len(want)) + 3*chunker.MaxSize; growth > limit {
		t.Errorf("redacting a file of %d bytes grew the live heap by %d, want at most %d", len(want), growth, limit)
	}

	if !bytes.Equal(indexed, want) {
		t.Errorf("Indexed was given %d bytes, not the %d of the file without the subject's row", len(indexed), len(want))
	}
	// The stored content is the file without the row: the old content's
	// chunks before the row, and then what was saved.
	kept := 0
	for _, id := range fo.content {
		if kept >= len(node.Content) || node.Content[kept] != id {
			break
		}
		kept++
	}
	var prefix []byte
	for _, id := range fo.content[:kept] {
		b, err := r.LoadBlob(ctx, repository.DataBlob, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		prefix = append(prefix, b...)
	}
	rest := sha256.Sum256(want[min(len(prefix), len(want)):])
	if fo.size != uint64(len(want)) || !bytes.HasPrefix(want, prefix) || !bytes.Equal(pr.saved.Sum(nil), rest[:]) {
		t.Errorf("stored %d bytes that are not the %d of the file without the subject's row", fo.size, len(want))
	}
	if kept == 0 {
		t.Error("no chunk before the row was kept")
	}
}
