package repository

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
)

// damageKinds are the ways a file in the repository gets damaged.
var damageKinds = map[string]func(t *testing.T, path string){
	"corrupt": func(t *testing.T, path string) {
		buf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		buf[len(buf)/2] ^= 0x01
		writeFile(t, path, buf)
	},
	"empty": func(t *testing.T, path string) { writeFile(t, path, nil) },
	"truncated": func(t *testing.T, path string) {
		buf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, buf[:len(buf)/2])
	},
}

func writeFile(t *testing.T, path string, buf []byte) {
	t.Helper()
	// Repository files are read-only.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
}

// objectPath is where the local backend keeps an object.
func objectPath(dir string, t backends.FileType, id ID) string {
	s := id.String()
	switch t {
	case backends.PackFile:
		return filepath.Join(dir, "data", s[:2], s)
	case backends.SnapshotFile:
		return filepath.Join(dir, "snapshots", s)
	case backends.IndexFile:
		return filepath.Join(dir, "index", s)
	case backends.LockFile:
		return filepath.Join(dir, "locks", s)
	}
	panic("objectPath: " + string(t))
}

// warnings collects what a handle reports through Options.Warn.
type warnings struct {
	mu   sync.Mutex
	errs []error
}

func (w *warnings) add(err error) {
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var l []string
	for _, e := range w.errs {
		l = append(l, e.Error())
	}
	return strings.Join(l, "\n")
}

func openWarnRepo(t *testing.T, dir string) (*Repository, *warnings) {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &warnings{}
	r, err := Open(context.Background(), be, restictest.Password, Options{KDF: testKDF, Warn: w.add})
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// threeSnapshots writes three snapshots, a day apart, of different files.
func threeSnapshots(t *testing.T, r *Repository) []*Snapshot {
	t.Helper()
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var snaps []*Snapshot
	for i := range 3 {
		chunks := [][]byte{randomData(uint64(10*i+1), 3000, false), randomData(uint64(10*i+2), 5000, true)}
		snaps = append(snaps, fileSnapshot(t, r, "f", chunks, base.Add(time.Duration(i)*24*time.Hour), "host"))
	}
	return snaps
}

func TestDamagedSnapshotSkipped(t *testing.T) {
	for kind, damage := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			r, dir := newTestRepo(t, Options{})
			snaps := threeSnapshots(t, r)
			bad := snaps[2] // the latest
			damage(t, objectPath(dir, backends.SnapshotFile, bad.ID))

			r, w := openWarnRepo(t, dir)
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := r.Snapshots(ctx)
			if err != nil {
				t.Fatalf("Snapshots: %v", err)
			}
			if len(got) != 2 || got[0].ID != snaps[0].ID || got[1].ID != snaps[1].ID {
				t.Fatalf("Snapshots returned %v, want the two undamaged ones", got)
			}
			if !strings.Contains(w.String(), bad.ID.Str()) {
				t.Errorf("warnings %q do not name the damaged snapshot %s", w, bad.ID.Str())
			}
			latest, err := r.FindSnapshot(ctx, "latest")
			if err != nil || latest.ID != snaps[1].ID {
				t.Errorf("latest = %v, %v; want %s", latest, err, snaps[1].ID.Str())
			}
			_, err = r.FindSnapshot(ctx, bad.ID.Str())
			var le *SnapshotLoadError
			if !errors.As(err, &le) || le.ID != bad.ID {
				t.Errorf("FindSnapshot of the damaged one: %v, want a SnapshotLoadError naming it", err)
			}
			// Prune must not delete the data of a snapshot it cannot read.
			if _, err := r.Prune(ctx, PruneOptions{}); err == nil || !strings.Contains(err.Error(), bad.ID.Str()) {
				t.Errorf("Prune: %v, want a refusal naming %s", err, bad.ID.Str())
			}
			res, err := r.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "snapshot "+bad.ID.String()) {
				t.Errorf("Check errors %v, want one naming snapshot %s", res.Errors, bad.ID.Str())
			}
		})
	}
}

// listIDs returns the IDs of every object of type t.
func listIDs(t *testing.T, r *Repository, ft backends.FileType) IDSet {
	t.Helper()
	s := IDSet{}
	if err := r.List(context.Background(), ft, func(id ID, _ int64) error {
		s.Insert(id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// newSince returns the IDs in after that are not in before.
func newSince(before, after IDSet) IDs {
	var l IDs
	for id := range after {
		if !before.Has(id) {
			l = append(l, id)
		}
	}
	return l
}

// snapshotData loads the content of a fileSnapshot's file.
func snapshotData(t *testing.T, r *Repository, sn *Snapshot) ([]byte, error) {
	t.Helper()
	ctx := context.Background()
	tree, err := r.LoadTree(ctx, *sn.Tree)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, c := range tree.Nodes[0].Content {
		b, err := r.LoadBlob(ctx, DataBlob, c, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

func mustCheckClean(t *testing.T, r *Repository, dir string) {
	t.Helper()
	res, err := r.Check(context.Background(), CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("check after repair: %v", res.Errors)
	}
	restictest.Check(t, dir)
}

func TestDamagedIndexRepaired(t *testing.T) {
	for kind, damage := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			r, dir := newTestRepo(t, Options{})
			base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
			var snaps []*Snapshot
			var want [][]byte
			var badIndex ID
			for i := range 3 {
				chunks := [][]byte{randomData(uint64(10*i+1), 3000, false), randomData(uint64(10*i+2), 5000, true)}
				before := listIDs(t, r, backends.IndexFile)
				snaps = append(snaps, fileSnapshot(t, r, "f", chunks, base.Add(time.Duration(i)*time.Hour), "host"))
				want = append(want, append(append([]byte(nil), chunks[0]...), chunks[1]...))
				if i == 1 {
					l := newSince(before, listIDs(t, r, backends.IndexFile))
					if len(l) != 1 {
						t.Fatalf("%d new index files", len(l))
					}
					badIndex = l[0]
				}
			}
			damage(t, objectPath(dir, backends.IndexFile, badIndex))

			r, w := openWarnRepo(t, dir)
			if err := r.LoadIndex(ctx); err != nil {
				t.Fatalf("LoadIndex: %v", err)
			}
			if !strings.Contains(w.String(), badIndex.Str()) {
				t.Errorf("warnings %q do not name the damaged index %s", w, badIndex.Str())
			}
			for i, sn := range snaps {
				if got, err := snapshotData(t, r, sn); err != nil || !bytes.Equal(got, want[i]) {
					t.Fatalf("snapshot %d with a damaged index: %v", i, err)
				}
			}
			if _, err := r.Prune(ctx, PruneOptions{}); err == nil {
				t.Errorf("Prune ran with a damaged index")
			}
			res, err := r.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "index "+badIndex.String()) {
				t.Errorf("Check errors %v, want one naming index %s", res.Errors, badIndex.Str())
			}

			st, err := r.RepairIndex(ctx, RepairIndexOptions{})
			if err != nil {
				t.Fatalf("RepairIndex: %v", err)
			}
			if st.PacksRead != 2 || len(st.UnreadablePacks) != 0 || len(st.MissingPacks) != 0 {
				t.Errorf("RepairIndex stats %+v, want the 2 packs of the lost index read", st)
			}
			if listIDs(t, r, backends.IndexFile).Has(badIndex) {
				t.Errorf("damaged index file still there")
			}
			r = openTestRepo(t, dir)
			mustCheckClean(t, r, dir)
			for i, sn := range snaps {
				if got, err := snapshotData(t, r, sn); err != nil || !bytes.Equal(got, want[i]) {
					t.Fatalf("snapshot %d after repair: %v", i, err)
				}
			}
		})
	}
}

func TestMissingPackRepaired(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var snaps []*Snapshot
	var want [][]byte
	var lost IDs
	for i := range 3 {
		chunks := [][]byte{randomData(uint64(10*i+1), 3000, false), randomData(uint64(10*i+2), 5000, true)}
		before := listIDs(t, r, backends.PackFile)
		snaps = append(snaps, fileSnapshot(t, r, "f", chunks, base.Add(time.Duration(i)*time.Hour), "host"))
		want = append(want, append(append([]byte(nil), chunks[0]...), chunks[1]...))
		if i == 1 {
			lost = newSince(before, listIDs(t, r, backends.PackFile))
		}
	}
	// Lose the data pack of the second snapshot.
	var dataPack ID
	for _, id := range lost {
		blobs, err := r.ListPack(ctx, id, packSize(t, dir, id))
		if err != nil {
			t.Fatal(err)
		}
		if blobs[0].Type == DataBlob {
			dataPack = id
		}
	}
	if err := os.Remove(objectPath(dir, backends.PackFile, dataPack)); err != nil {
		t.Fatal(err)
	}

	r, _ = openWarnRepo(t, dir)
	if err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Check(ctx, CheckOptions{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "pack "+dataPack.String()) {
		t.Fatalf("Check errors %v, want one naming pack %s", res.Errors, dataPack.Str())
	}
	st, err := r.RepairIndex(ctx, RepairIndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.MissingPacks) != 1 || st.MissingPacks[0] != dataPack {
		t.Errorf("RepairIndex missing packs %v, want %s", st.MissingPacks, dataPack.Str())
	}
	var changes []string
	rep, err := r.RepairSnapshots(ctx, RepairSnapshotsOptions{Report: func(sn *Snapshot, c string) {
		changes = append(changes, sn.ID.Str()+": "+c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := rep.Repaired[snaps[1].ID]
	if len(rep.Repaired) != 1 || !ok || n == nil {
		t.Fatalf("repaired %v, want only snapshot %s", rep.Repaired, snaps[1].ID.Str())
	}
	if *n.Original != snaps[1].ID || !n.HasTag(RepairedTag) || !n.Time.Equal(snaps[1].Time) {
		t.Errorf("repaired snapshot %+v does not point to its original or lost its fields", n)
	}
	if len(changes) != 1 || !strings.Contains(changes[0], `file "/f": removed missing content`) {
		t.Errorf("changes reported: %q", changes)
	}
	// The damaged original stays (restic keeps it without --forget);
	// forget it, as an operator would, before checking.
	if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, snaps[1].ID); err != nil {
		t.Fatal(err)
	}
	r = openTestRepo(t, dir)
	mustCheckClean(t, r, dir)
	for _, i := range []int{0, 2} {
		if got, err := snapshotData(t, r, snaps[i]); err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("undamaged snapshot %d after repair: %v", i, err)
		}
	}
}

func packSize(t *testing.T, dir string, id ID) int64 {
	t.Helper()
	fi, err := os.Stat(objectPath(dir, backends.PackFile, id))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestPruneCountsUnindexedPacks: the packs of an interrupted backup, which
// no index lists, are deleted by prune and counted in what it removed.
func TestPruneCountsUnindexedPacks(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	threeSnapshots(t, r)
	// An interrupted backup: a pack uploaded, its index never written.
	before := listIDs(t, r, backends.PackFile)
	if _, _, _, err := r.SaveBlob(ctx, DataBlob, randomData(99, 20000, false), ID{}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.flushPacks(ctx); err != nil {
		t.Fatal(err)
	}
	orphans := newSince(before, listIDs(t, r, backends.PackFile))
	if len(orphans) != 1 {
		t.Fatalf("%d new packs", len(orphans))
	}
	size := packSize(t, dir, orphans[0])

	r = openTestRepo(t, dir)
	st, err := r.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksUnindexed != 1 || st.RemovedBytes != size || len(st.RemovedPacks) != 1 || st.RemovedPacks[0] != orphans[0] {
		t.Errorf("prune stats %+v, want the unindexed pack of %d bytes removed and counted", st, size)
	}
	if listIDs(t, r, backends.PackFile).Has(orphans[0]) {
		t.Errorf("unindexed pack still there")
	}
	mustCheckClean(t, r, dir)
}

// TestDamagedBlobStoredAgain: once a blob's stored copy is found damaged,
// saving the blob stores it again instead of building on the damaged copy.
func TestDamagedBlobStoredAgain(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	data := randomData(7, 4000, false)
	before := listIDs(t, r, backends.PackFile)
	id, _, _, err := r.SaveBlob(ctx, DataBlob, data, ID{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs := newSince(before, listIDs(t, r, backends.PackFile))
	pb, _ := r.LookupBlob(BlobHandle{ID: id, Type: DataBlob})
	path := objectPath(dir, backends.PackFile, packs[0])
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	buf[pb.Offset+pb.Length/2] ^= 0xff
	writeFile(t, path, buf)

	r = openTestRepo(t, dir)
	if _, err := r.LoadBlob(ctx, DataBlob, id, nil); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), packs[0].String()) {
		t.Fatalf("loading the damaged blob: %v, want ErrDamaged naming pack %s", err, packs[0].Str())
	}
	if _, known, _, err := r.SaveBlob(ctx, DataBlob, data, ID{}, false); err != nil || known {
		t.Fatalf("SaveBlob of a damaged blob: known %v, %v; want it stored again", known, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r = openTestRepo(t, dir)
	got, err := r.LoadBlob(ctx, DataBlob, id, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("loading the blob stored again: %v", err)
	}
	// A blob not found damaged is not stored twice.
	if _, known, _, err := r.SaveBlob(ctx, DataBlob, data, ID{}, false); err != nil || !known {
		t.Errorf("SaveBlob of an intact blob: known %v, %v", known, err)
	}
}

func TestDamagedPackRepaired(t *testing.T) {
	for kind, damage := range damageKinds {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			r, dir := newTestRepo(t, Options{})
			base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
			var snaps []*Snapshot
			var want [][]byte
			var dataPack ID
			for i := range 3 {
				chunks := [][]byte{randomData(uint64(10*i+1), 3000, false), randomData(uint64(10*i+2), 5000, true)}
				before := listIDs(t, r, backends.PackFile)
				snaps = append(snaps, fileSnapshot(t, r, "f", chunks, base.Add(time.Duration(i)*time.Hour), "host"))
				want = append(want, append(append([]byte(nil), chunks[0]...), chunks[1]...))
				if i != 1 {
					continue
				}
				for _, id := range newSince(before, listIDs(t, r, backends.PackFile)) {
					if blobs, err := r.ListPack(ctx, id, packSize(t, dir, id)); err == nil && blobs[0].Type == DataBlob {
						dataPack = id
					}
				}
			}
			damage(t, objectPath(dir, backends.PackFile, dataPack))

			r = openTestRepo(t, dir)
			res, err := r.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatalf("Check found no damage")
			}
			for _, e := range res.Errors {
				if !strings.Contains(e.Error(), "pack "+dataPack.String()) {
					t.Errorf("Check error %v does not name pack %s", e, dataPack.Str())
				}
			}
			st, err := r.RepairPacks(ctx, IDs{dataPack})
			if err != nil {
				t.Fatalf("RepairPacks: %v", err)
			}
			if st.Lost == 0 || st.Salvaged+st.Lost != 2 {
				t.Errorf("RepairPacks stats %+v, want the pack's 2 blobs salvaged or lost", st)
			}
			if listIDs(t, r, backends.PackFile).Has(dataPack) {
				t.Errorf("damaged pack still there")
			}
			if _, err := r.RepairSnapshots(ctx, RepairSnapshotsOptions{Forget: true}); err != nil {
				t.Fatal(err)
			}
			r = openTestRepo(t, dir)
			mustCheckClean(t, r, dir)
			for _, i := range []int{0, 2} {
				if got, err := snapshotData(t, r, snaps[i]); err != nil || !bytes.Equal(got, want[i]) {
					t.Fatalf("undamaged snapshot %d after repair: %v", i, err)
				}
			}
			left, err := r.Snapshots(ctx)
			if err != nil || len(left) != 3 {
				t.Fatalf("%d snapshots left, %v", len(left), err)
			}
		})
	}
}
