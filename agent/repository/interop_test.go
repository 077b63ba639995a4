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

// TestResticOpensCalibratedKeys: key files with scrypt parameters
// calibrated to the machine (a short target keeps the test cheap) are
// within restic's bounds and restic opens them, the first key and an
// added one; the first key keeps its parameters.
func TestResticOpensCalibratedKeys(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{KDFTarget: 20 * time.Millisecond}
	r, err := Init(ctx, be, restictest.Password, InitOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	first := r.KeyID()
	added, err := r.AddKey(ctx, "second", "", "")
	if err != nil {
		t.Fatal(err)
	}
	params := map[ID]KDFParams{}
	for _, id := range []ID{first, added} {
		kf, err := loadKeyFile(ctx, be, id)
		if err != nil {
			t.Fatal(err)
		}
		p := KDFParams{N: kf.N, R: kf.R, P: kf.P}
		if p.N < kdfMinN || p.N&(p.N-1) != 0 || p.R != 8 || p.P < 1 || p.P > kdfMaxP || 128*p.N*p.R > kdfMemory {
			t.Errorf("key %s: calibrated parameters %+v out of range", id.Str(), p)
		}
		params[id] = p
	}
	restictest.Run(t, dir, "cat", "config")
	out, errOut, err := restictest.RunErr(t, dir, []string{"RESTIC_PASSWORD=second"}, "key", "list")
	if err != nil || !strings.Contains(out, added.Str()) {
		t.Fatalf("restic key list with the added key: %v\n%s\n%s", err, out, errOut)
	}
	kf, err := loadKeyFile(ctx, be, first)
	if err != nil {
		t.Fatal(err)
	}
	if (KDFParams{N: kf.N, R: kf.R, P: kf.P}) != params[first] {
		t.Errorf("first key's parameters changed to %d/%d/%d", kf.N, kf.R, kf.P)
	}
}

// TestCalibrateKDF: the parameters grow with the target time, N up to
// restic's memory limit (N=2^15 with r=8), then p; on a machine too slow
// for the target they stay at restic's minimum. A derivation here costs
// 1 ms per 2^10 of N*p.
func TestCalibrateKDF(t *testing.T) {
	var measured []KDFParams
	measure := func(p KDFParams) (time.Duration, error) {
		measured = append(measured, p)
		return time.Duration(p.N*p.P>>10) * time.Millisecond, nil
	}
	for _, c := range []struct {
		target time.Duration
		want   KDFParams
	}{
		{time.Millisecond, KDFParams{N: 1 << 14, R: 8, P: 1}},
		{20 * time.Millisecond, KDFParams{N: 1 << 14, R: 8, P: 1}},
		{40 * time.Millisecond, KDFParams{N: 1 << 15, R: 8, P: 1}},
		{500 * time.Millisecond, KDFParams{N: 1 << 15, R: 8, P: 15}},
		{time.Hour, KDFParams{N: 1 << 15, R: 8, P: kdfMaxP}},
	} {
		measured = nil
		got, err := calibrateKDF(c.target, measure)
		if err != nil || got != c.want {
			t.Errorf("target %v: %+v, %v; want %+v", c.target, got, err, c.want)
		}
		for _, p := range measured {
			if 128*p.N*p.R > kdfMemory || p.P != 1 {
				t.Errorf("target %v: measured %+v", c.target, p)
			}
		}
	}
	if p, err := CalibrateKDF(time.Nanosecond); err != nil || p != (KDFParams{N: kdfMinN, R: 8, P: 1}) {
		t.Errorf("calibrated for no time: %+v, %v", p, err)
	}
}
