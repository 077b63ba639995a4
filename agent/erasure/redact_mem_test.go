package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

// peakRepo records the live heap each time a blob is saved: the moment
// the redacted content, the chunk and everything redacting holds are
// all alive.
type peakRepo struct {
	Repo
	peak uint64
}

func (p *peakRepo) sample() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.peak = max(p.peak, ms.HeapAlloc)
}

func (p *peakRepo) SaveBlob(ctx context.Context, t repository.BlobType, data []byte, id repository.ID, dup bool) (repository.ID, bool, int, error) {
	p.sample()
	return p.Repo.SaveBlob(ctx, t, data, id, dup)
}

// bigCSV returns a CSV of about size bytes with the subject's row in the
// middle, and the same CSV without it.
func bigCSV(size int) (data, want []byte) {
	var b, w bytes.Buffer
	b.WriteString("id,namn,epost\n")
	w.WriteString("id,namn,epost\n")
	for i := 0; b.Len() < size; i++ {
		row := fmt.Sprintf("%d,Kund %d,kund%d@example.se\n", i, i, i)
		if i == 100000 {
			b.WriteString(csvAnna)
		}
		b.WriteString(row)
		w.WriteString(row)
	}
	return b.Bytes(), w.Bytes()
}

// TestRedactFileHeapBounded redacts a CSV of 24 MB and checks that the
// live heap grows by less than 1.5 times the file's size while it is cut,
// chunked, saved and handed to Indexed: the content is read once into a
// buffer of its size and cut in place. A grown read buffer, the output
// and a copy for Indexed beside it, as redacting had, needed over twice.
func TestRedactFileHeapBounded(t *testing.T) {
	ctx := context.Background()
	const size = 24 << 20
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
	be, err := local.Create(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Init(ctx, be, restictest.Password, repository.InitOptions{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{src}, archiver.SnapshotOptions{Time: time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC), Hostname: "kontoret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{repoDir: repoDir}
	r := env.open(t)

	var p string
	var node *repository.Node
	err = repository.Walk(ctx, r, *sn.Tree, func(_ repository.ID, np string, n *repository.Node, err error) error {
		if err == nil && n.Name == "kunder.csv" {
			p, node = np, n
		}
		return err
	})
	if err != nil || node == nil {
		t.Fatalf("finding the CSV in the snapshot: %v", err)
	}

	pr := &peakRepo{Repo: r}
	var indexed []byte
	opts := Options{Redactor: annaRedactor(t), IndexLimit: 1 << 30}
	opts.Indexed = func(_ string, _ *repository.Node, d []byte) {
		pr.sample()
		indexed = d
	}
	e := &eraser{repo: pr, opts: opts, filters: map[string]*Filter{}, files: map[repository.ID]*fileOutcome{}}
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
	if growth > 3*uint64(len(want))/2 {
		t.Errorf("redacting a file of %d bytes grew the live heap by %d, want less than 1.5 times the file", len(want), growth)
	}

	if !bytes.Equal(indexed, want) {
		t.Errorf("Indexed was given %d bytes, not the %d of the file without the subject's row", len(indexed), len(want))
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(newContentReader(ctx, r, &n))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("saved content is %d bytes, not the %d of the file without the subject's row", len(got), len(want))
	}
}
