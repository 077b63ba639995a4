package s3_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/s3"
	"lethe/backends/s3test"
)

// testRepositoryOverS3 writes a lethe repository into a versioned bucket
// through the fault proxy, has restic check and restore it, then removes a
// snapshot and prunes: afterwards the bucket holds exactly one version of
// every current object and no delete marker, and restic still checks clean.
func testRepositoryOverS3(t *testing.T, srv *s3test.Server) {
	ctx := context.Background()
	bucket := srv.NewBucket(t, true)
	proxy := s3test.NewFaultProxy(t, srv.Endpoint, s3test.FaultConfig{Seed: 7, Rate: 0.3, Delay: 20 * time.Millisecond})
	be := create(t, srv, proxy.Endpoint, bucket, "lethe-repo", testOptions(srv))
	url := srv.URL(bucket, "lethe-repo")

	r, err := repository.Init(ctx, be, restictest.Password, repository.InitOptions{
		KDF:     &repository.KDFParams{N: 1 << 10, R: 8, P: 1},
		Options: repository.Options{PackSize: s3.MinPartSize + 1<<20},
	})
	if err != nil {
		t.Fatalf("Init on S3: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	files := map[string][]byte{
		"a.bin": randomBytes(rng, 9<<20),
		"b.bin": randomBytes(rng, 3<<20+17),
	}
	var snaps []*repository.Snapshot
	for _, name := range []string{"a.bin", "b.bin"} {
		data := files[name]
		var content repository.IDs
		for off := 0; off < len(data); off += 1 << 20 {
			id, _, _, err := r.SaveBlob(ctx, repository.DataBlob, data[off:min(off+1<<20, len(data))], repository.ID{}, false)
			if err != nil {
				t.Fatalf("SaveBlob: %v", err)
			}
			content = append(content, id)
		}
		tree := &repository.Tree{}
		if err := tree.Insert(&repository.Node{
			Name: name, Type: "file", Mode: 0o644, ModTime: time.Unix(1700000000, 0).UTC(),
			Size: uint64(len(data)), Content: content,
		}); err != nil {
			t.Fatal(err)
		}
		root, err := r.SaveTree(ctx, tree)
		if err != nil {
			t.Fatalf("SaveTree: %v", err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		sn := &repository.Snapshot{Time: time.Now().UTC(), Tree: &root, Paths: []string{"/data"}, Hostname: "h"}
		if _, err := r.SaveSnapshot(ctx, sn); err != nil {
			t.Fatalf("SaveSnapshot: %v", err)
		}
		snaps = append(snaps, sn)
	}

	restic := func(args ...string) string {
		t.Helper()
		out, errOut, err := restictest.RunErr(t, url, srv.Env(), args...)
		if err != nil {
			t.Fatalf("restic %v: %v\n%s\n%s", args, err, out, errOut)
		}
		return out
	}
	restoreAndCompare := func(sn *repository.Snapshot, name string) {
		t.Helper()
		target := t.TempDir()
		restic("restore", sn.ID.String(), "--target", target)
		got, err := os.ReadFile(filepath.Join(target, name))
		if err != nil || !bytes.Equal(got, files[name]) {
			t.Fatalf("restic restore of %s from S3: differs (%d bytes, %v)", name, len(got), err)
		}
	}
	restictest.Check(t, url, srv.Env()...)
	restoreAndCompare(snaps[0], "a.bin")
	restoreAndCompare(snaps[1], "b.bin")

	// restic deletes its lock files with a plain DELETE, which leaves
	// versions behind; those are restic's, not lethe's.
	resticLeftovers := map[s3test.ObjectVersion]bool{}
	for _, v := range srv.AllVersions(t, bucket, "lethe-repo/locks/") {
		resticLeftovers[v] = true
	}

	// Forget the first snapshot and prune.
	if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, snaps[0].ID); err != nil {
		t.Fatalf("removing snapshot: %v", err)
	}
	st, err := r.Prune(ctx, repository.PruneOptions{RepackAllUnused: true})
	if err != nil {
		t.Fatalf("Prune over S3: %v", err)
	}
	if len(st.RemovedPacks) == 0 {
		t.Fatalf("Prune removed no pack: %+v", st)
	}
	keys := map[string]bool{}
	for _, k := range srv.Keys(t, bucket, "") {
		keys[k] = true
	}
	versions := srv.AllVersions(t, bucket, "")
	for _, v := range versions {
		if resticLeftovers[v] {
			continue
		}
		if v.DeleteMarker || !keys[v.Key] {
			t.Errorf("left behind after prune: %+v", v)
		}
	}
	if len(versions)-len(resticLeftovers) != len(keys) {
		t.Errorf("%d versions (%d of restic's locks) for %d current objects", len(versions), len(resticLeftovers), len(keys))
	}
	for _, id := range st.RemovedPacks {
		k := "lethe-repo/data/" + id.String()[:2] + "/" + id.String()
		if keys[k] {
			t.Errorf("removed pack %s still listed", k)
		}
	}
	restictest.Check(t, url, srv.Env()...)
	restoreAndCompare(snaps[1], "b.bin")
	if proxy.Faults() == 0 {
		t.Error("no fault injected")
	}
	t.Logf("faults injected: %d; prune: %+v", proxy.Faults(), st)
}

func randomBytes(rng *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.UintN(256))
	}
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

// openResticRepo opens a repository restic wrote to S3 with lethe and
// checks it, reading all data.
func openResticRepo(t *testing.T, be backends.Backend, password string, wantSnapshots int) {
	ctx := context.Background()
	r, err := repository.Open(ctx, be, password, repository.Options{})
	if err != nil {
		t.Fatalf("opening restic's S3 repository: %v", err)
	}
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatalf("LoadIndex: %v", err)
	}
	snaps, err := r.Snapshots(ctx)
	if err != nil || len(snaps) != wantSnapshots {
		t.Fatalf("Snapshots: %d, %v; want %d", len(snaps), err, wantSnapshots)
	}
	res, err := r.Check(ctx, repository.CheckOptions{ReadData: true})
	if err != nil || !res.OK() {
		t.Fatalf("lethe check of restic's S3 repository: %v %+v", err, res)
	}
}
