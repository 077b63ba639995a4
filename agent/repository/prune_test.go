package repository

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
)

// TestForgetPruneInterop: lethe forgets and prunes a repository with
// several snapshots sharing data; restic's full check stays clean, the
// kept snapshots restore identically and unreferenced data is gone.
func TestForgetPruneInterop(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{PackSize: 32 << 10})
	shared := randomData(100, 30000, false)
	day := time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	var contents [][]byte
	var snaps []*Snapshot
	for i := 0; i < 6; i++ {
		own := randomData(uint64(200+i), 25000, i%2 == 0)
		contents = append(contents, append(append([]byte(nil), shared...), own...))
		snaps = append(snaps, fileSnapshot(t, r, "f.bin", [][]byte{shared, own}, day.AddDate(0, 0, i), "host1"))
	}
	// A second host's snapshot is its own group and kept by keep-daily.
	other := fileSnapshot(t, r, "g.bin", [][]byte{randomData(300, 5000, true)}, day, "host2")

	groups, err := r.Forget(ctx, ExpirePolicy{Daily: 2}, DefaultGroupBy, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
	left, err := r.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantLeft := map[ID]bool{snaps[4].ID: true, snaps[5].ID: true, other.ID: true}
	if len(left) != 3 {
		t.Fatalf("%d snapshots left, want 3", len(left))
	}
	for _, sn := range left {
		if !wantLeft[sn.ID] {
			t.Fatalf("snapshot %s should have been forgotten", sn.ID.Str())
		}
	}

	st, err := r.Prune(ctx, PruneOptions{RepackAllUnused: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksRemoved+st.PacksRepacked == 0 {
		t.Fatalf("prune removed nothing: %+v", st)
	}
	// Every forgotten snapshot's own data blob is gone from index and packs.
	for i := 0; i < 4; i++ {
		own := Hash(contents[i][len(shared):])
		if r.HasBlob(BlobHandle{ID: own, Type: DataBlob}) {
			t.Errorf("blob of forgotten snapshot %d still indexed", i)
		}
	}
	res, err := r.Check(ctx, CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || len(res.Warnings) > 0 {
		t.Fatalf("lethe check after prune: %v %v", res.Errors, res.Warnings)
	}
	restictest.Check(t, dir)
	for _, i := range []int{4, 5} {
		target := t.TempDir()
		restictest.Run(t, dir, "restore", snaps[i].ID.String(), "--target", target)
		got, err := os.ReadFile(filepath.Join(target, "f.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, contents[i]) {
			t.Fatalf("snapshot %d restores differently after prune", i)
		}
	}
	// A second prune has nothing left to do.
	st, err = r.Prune(ctx, PruneOptions{RepackAllUnused: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.UnusedBlobs != 0 || st.PacksRemoved != 0 || st.PacksRepacked != 0 {
		t.Fatalf("second prune still found work: %+v", st)
	}
}

// TestPruneThreshold: without RepackAllUnused, a pack with a little
// unused data stays; with a forced pack it is rewritten.
func TestPruneThreshold(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{PackSize: 1 << 20})
	big := randomData(1, 200000, false)
	small := randomData(2, 2000, false)
	fileSnapshot(t, r, "a", [][]byte{big}, time.Unix(1000, 0), "h")
	sn := fileSnapshot(t, r, "b", [][]byte{small}, time.Unix(2000, 0), "h")
	_ = sn
	// Both data blobs share one pack only if flushed together; put both in
	// one snapshot file instead.
	if _, err := r.Forget(ctx, ExpirePolicy{Last: 1}, GroupBy{}, false); err != nil {
		t.Fatal(err)
	}
	st, err := r.Prune(ctx, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.UnusedBlobs == 0 {
		t.Fatalf("dry run found no unused blobs: %+v", st)
	}
	st, err = r.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.HasBlob(BlobHandle{ID: Hash(big), Type: DataBlob}) {
		t.Fatal("unused blob in its own pack survived prune")
	}
	if !r.HasBlob(BlobHandle{ID: Hash(small), Type: DataBlob}) {
		t.Fatal("used blob lost")
	}
	pb, _ := r.LookupBlob(BlobHandle{ID: Hash(small), Type: DataBlob})
	st, err = r.Prune(ctx, PruneOptions{RepackPacks: IDSet{pb.PackID: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksRepacked != 1 {
		t.Fatalf("forced repack: %+v", st)
	}
	pb2, _ := r.LookupBlob(BlobHandle{ID: Hash(small), Type: DataBlob})
	if pb2.PackID == pb.PackID {
		t.Fatal("forced repack left the blob in its pack")
	}
	if got, err := r.LoadBlob(ctx, DataBlob, Hash(small), nil); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("loading repacked blob: %v", err)
	}
}

func TestApplyPolicy(t *testing.T) {
	base := time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)
	var snaps []*Snapshot
	for i := 0; i < 40; i++ {
		sn := &Snapshot{Time: base.AddDate(0, 0, i)}
		sn.ID[0] = byte(i)
		if i == 3 {
			sn.Tags = []string{"keep", "x"}
		}
		snaps = append(snaps, sn)
	}
	// A second snapshot on the last day: keep-daily keeps only the newest.
	late := &Snapshot{Time: base.AddDate(0, 0, 39).Add(time.Hour)}
	late.ID[0] = 99
	snaps = append(snaps, late)

	cases := []struct {
		name string
		p    ExpirePolicy
		want int
	}{
		{"empty", ExpirePolicy{}, 41},
		{"last", ExpirePolicy{Last: 3}, 3},
		{"daily", ExpirePolicy{Daily: 7}, 7},
		{"weekly", ExpirePolicy{Weekly: 2}, 2},
		{"monthly", ExpirePolicy{Monthly: 5}, 2},
		{"yearly", ExpirePolicy{Yearly: 1}, 1},
		{"within", ExpirePolicy{Within: 72 * time.Hour}, 4},
		{"tag", ExpirePolicy{Tags: [][]string{{"keep"}}}, 1},
		{"daily+tag", ExpirePolicy{Daily: 2, Tags: [][]string{{"keep", "x"}}}, 3},
		{"unlimited daily", ExpirePolicy{Daily: -1}, 40},
		{"hourly", ExpirePolicy{Hourly: 2}, 2},
	}
	for _, c := range cases {
		keep, remove, reasons := ApplyPolicy(snaps, c.p)
		if len(keep) != c.want || len(keep)+len(remove) != len(snaps) || len(reasons) != len(keep) {
			t.Errorf("%s: keep %d remove %d, want keep %d", c.name, len(keep), len(remove), c.want)
		}
	}
	keep, _, _ := ApplyPolicy(snaps, ExpirePolicy{Daily: 1})
	if keep[0] != late {
		t.Errorf("keep-daily kept %v, want the newest of the day", keep[0].Time)
	}
}

// TestPruneTakesUsed checks that Prune takes the used blobs it is given
// for the repository's snapshots as they are, and walks them itself when
// they were found for other snapshots.
func TestPruneTakesUsed(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{PackSize: 1 << 20})
	gone := randomData(1, 200000, false)
	kept := randomData(2, 2000, false)
	fileSnapshot(t, r, "a", [][]byte{gone}, time.Unix(1000, 0), "h")
	fileSnapshot(t, r, "b", [][]byte{kept}, time.Unix(2000, 0), "h")
	if _, err := r.Forget(ctx, ExpirePolicy{Last: 1}, GroupBy{}, false); err != nil {
		t.Fatal(err)
	}
	snaps, _, err := r.LoadAllSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used, err := r.UsedBlobs(ctx, snaps)
	if err != nil {
		t.Fatal(err)
	}
	// Found for other snapshots: not taken, so nothing used is lost.
	other := SortedIDs(snaps)
	other[0][0] ^= 1
	want, err := r.Prune(ctx, PruneOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Prune(ctx, PruneOptions{DryRun: true, Used: BlobSet{}, UsedFor: other})
	if err != nil {
		t.Fatal(err)
	}
	if st.UsedBlobs != want.UsedBlobs || st.UnusedBlobs != want.UnusedBlobs {
		t.Fatalf("with a set found for other snapshots: %+v, want %+v", st, want)
	}
	// Found for these: taken as it is.
	if st, err = r.Prune(ctx, PruneOptions{DryRun: true, Used: BlobSet{}, UsedFor: SortedIDs(snaps)}); err != nil {
		t.Fatal(err)
	}
	if st.UsedBlobs != 0 {
		t.Fatalf("an empty used set given for these snapshots was not taken: %+v", st)
	}
	if _, err = r.Prune(ctx, PruneOptions{Used: used, UsedFor: SortedIDs(snaps)}); err != nil {
		t.Fatal(err)
	}
	if r.HasBlob(BlobHandle{ID: Hash(gone), Type: DataBlob}) || !r.HasBlob(BlobHandle{ID: Hash(kept), Type: DataBlob}) {
		t.Fatal("prune with the given used set kept the wrong blobs")
	}
}
