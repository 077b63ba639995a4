package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
)

func day(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }

// dayContent is what the daily file holds on day d: 20 KB, one blob.
func dayContent(t *testing.T, d int) []byte {
	t.Helper()
	var b bytes.Buffer
	// Pattern sets the seed's low bit, so odd seeds differ.
	if err := archivertest.Pattern(&b, uint64(2*d+1), 20000); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var customers = []byte("kundnr;namn\nK-1;Anna\nK-2;Bo\n")

// source makes a source tree with a file that stays and one that changes
// every day.
func source(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archivertest.WriteFile(t, filepath.Join(src, "kunder.csv"), customers, 0o644, day(1))
	return src
}

// backupDay writes day d's file and backs up src as a job would.
func backupDay(t *testing.T, r Repo, src string, d int) BackupResult {
	t.Helper()
	archivertest.WriteFile(t, filepath.Join(src, "dagens.log"), dayContent(t, d), 0o644, day(d))
	repo, ctx, release, err := OpenLocked(context.Background(), r, Shared, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var failed []string
	res, err := Backup(ctx, repo, BackupOptions{
		Targets:        []string{src},
		Host:           "server1",
		Tags:           []string{"nightly"},
		Time:           day(d),
		ProgramVersion: "lethe test",
		Archiver: archiver.Options{Error: func(path string, err error) error {
			failed = append(failed, path)
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) > 0 || res.Stats.Incomplete() {
		t.Fatalf("backup of day %d could not read %v", d, failed)
	}
	return res
}

// repoFiles maps every file of the repository at dir to its content.
func repoFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		files[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func snapshotIDs(t *testing.T, r Repo) []repository.ID {
	t.Helper()
	repo, err := Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(repo)
	snaps, err := repo.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []repository.ID
	for _, sn := range snaps {
		ids = append(ids, sn.ID)
	}
	return ids
}

func ids(snaps []*repository.Snapshot) []repository.ID {
	var out []repository.ID
	for _, sn := range snaps {
		out = append(out, sn.ID)
	}
	slices.SortFunc(out, func(a, b repository.ID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

func sortedIDs(l []repository.ID) []repository.ID {
	l = slices.Clone(l)
	slices.SortFunc(l, func(a, b repository.ID) int { return bytes.Compare(a[:], b[:]) })
	return l
}

func TestBackup(t *testing.T) {
	r := testRepo(t)
	initRepo(t, r)
	src := source(t)

	first := backupDay(t, r, src, 1)
	sn := first.Snapshot
	if first.Parent != nil {
		t.Errorf("first backup has parent %s", first.Parent.ID.Str())
	}
	if sn.Hostname != "server1" || !sn.Time.Equal(day(1)) || !slices.Equal(sn.Paths, []string{src}) ||
		!slices.Equal(sn.Tags, []string{"nightly"}) || sn.ProgramVersion != "lethe test" {
		t.Errorf("snapshot %+v", sn)
	}
	if st := first.Stats; st.FilesNew != 2 || st.TotalBytes != uint64(len(customers)+20000) {
		t.Errorf("first backup stats %+v", st)
	}

	// The next day's backup takes the unchanged file from its parent.
	second := backupDay(t, r, src, 2)
	if second.Parent == nil || second.Parent.ID != sn.ID {
		t.Fatalf("second backup's parent %v, want %s", second.Parent, sn.ID.Str())
	}
	if second.Snapshot.Parent == nil || *second.Snapshot.Parent != sn.ID {
		t.Errorf("the snapshot does not record its parent")
	}
	if st := second.Stats; st.FilesUnmodified != 1 || st.FilesChanged != 1 || st.FilesRead != 1 {
		t.Errorf("second backup stats %+v, want one file unmodified and one read", st)
	}

	// NoParent reads everything again.
	repo, ctx, release, err := OpenLocked(context.Background(), r, Shared, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	res, err := Backup(ctx, repo, BackupOptions{Targets: []string{src}, Host: "server1", Time: day(3), NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Parent != nil || res.Stats.FilesRead != 2 {
		t.Errorf("backup without parent: parent %v, %d files read", res.Parent, res.Stats.FilesRead)
	}

	// A missing target fails the job before anything is stored.
	before := len(snapshotIDs(t, r))
	_, err = Backup(ctx, repo, BackupOptions{Targets: []string{src, filepath.Join(src, "gone")}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "backup target: ") {
		t.Errorf("missing target: %v", err)
	}
	if _, err := Backup(ctx, repo, BackupOptions{}); err == nil {
		t.Error("backup of nothing succeeded")
	}
	if n := len(snapshotIDs(t, r)); n != before {
		t.Errorf("%d snapshots after the failed backups, want %d", n, before)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, r.Location)
}

func TestBackupTargets(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("data", 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := BackupTargets([]string{"data", "./data/../data/"})
	if want := filepath.Join(dir, "data"); err != nil || !slices.Equal(got, []string{want, want}) {
		t.Errorf("targets %q, %v; want %s twice", got, err, want)
	}
	if _, err := BackupTargets([]string{"data", "missing"}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
		t.Errorf("missing target: %v", err)
	}
}

// recordingRepo notes when prune starts.
type recordingRepo struct {
	*repository.Repository
	events *[]string
}

func (r recordingRepo) Prune(ctx context.Context, opts repository.PruneOptions) (repository.PruneStats, error) {
	*r.events = append(*r.events, "prune")
	return r.Repository.Prune(ctx, opts)
}

func TestForgetPrune(t *testing.T) {
	r := testRepo(t)
	initRepo(t, r)
	src := source(t)
	var snaps []*repository.Snapshot
	for d := 1; d <= 4; d++ {
		snaps = append(snaps, backupDay(t, r, src, d).Snapshot)
	}
	policy := repository.ExpirePolicy{Last: 2}
	forget := func(opts ForgetOptions) (ForgetResult, error) {
		t.Helper()
		repo, ctx, release, err := OpenLocked(context.Background(), r, Exclusive, false)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		return Forget(ctx, repo, opts)
	}

	// A dry run decides, changes nothing and does not prune.
	before := repoFiles(t, r.Location)
	res, err := forget(ForgetOptions{Policy: policy, GroupBy: repository.DefaultGroupBy, DryRun: true, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(res.Removed), ids(snaps[:2])) || res.Pruned || len(res.Groups) != 1 {
		t.Errorf("dry run: removed %v, pruned %v, %d groups", ids(res.Removed), res.Pruned, len(res.Groups))
	}
	after := repoFiles(t, r.Location)
	for p := range before {
		if filepath.Base(filepath.Dir(p)) == "locks" {
			continue
		}
		if after[p] != before[p] {
			t.Errorf("dry run changed %s", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("dry run: %d files, before %d", len(after), len(before))
	}

	// The real run forgets the two oldest, reports them before prune
	// starts, and prune drops their data.
	var events []string
	repo, ctx, release, err := OpenLocked(context.Background(), r, Exclusive, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err = Forget(ctx, recordingRepo{repo, &events}, ForgetOptions{
		Policy:       policy,
		GroupBy:      repository.DefaultGroupBy,
		Prune:        true,
		PruneOptions: repository.PruneOptions{MaxUnused: -1},
		Forgotten: func(res ForgetResult) {
			events = append(events, fmt.Sprintf("forgot %d", len(res.Removed)))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(events, []string{"forgot 2", "prune"}) {
		t.Errorf("events %q, want the report before prune", events)
	}
	if !slices.Equal(ids(res.Removed), ids(snaps[:2])) || !res.Pruned || res.Prune.RemovedBytes == 0 || res.Prune.UnusedBlobs < 2 {
		t.Errorf("removed %v, pruned %v, stats %+v", ids(res.Removed), res.Pruned, res.Prune)
	}
	if got := sortedIDs(snapshotIDs(t, r)); !slices.Equal(got, ids(snaps[2:])) {
		t.Errorf("snapshots left %v, want %v", got, ids(snaps[2:]))
	}

	// The forgotten days' data is gone; the kept days' and the unchanged
	// file's is there.
	repo, err = Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	has := func(data []byte) bool {
		return repo.HasBlob(repository.BlobHandle{ID: repository.Hash(data), Type: repository.DataBlob})
	}
	for d := 1; d <= 4; d++ {
		if has(dayContent(t, d)) != (d > 2) {
			t.Errorf("day %d's data stored: %v", d, has(dayContent(t, d)))
		}
	}
	if !has(customers) {
		t.Error("the unchanged file's data is gone")
	}
	Close(repo)

	restictest.Check(t, r.Location)
	target := t.TempDir()
	restictest.Run(t, r.Location, "restore", snaps[2].ID.String(), "--target", target)
	got, err := os.ReadFile(filepath.Join(target, src, "dagens.log"))
	if err != nil || !bytes.Equal(got, dayContent(t, 3)) {
		t.Errorf("day 3's snapshot restores other bytes (%v)", err)
	}
	got, err = os.ReadFile(filepath.Join(target, src, "kunder.csv"))
	if err != nil || !bytes.Equal(got, customers) {
		t.Errorf("unchanged file restores as %q, %v", got, err)
	}
}

func TestForgetIDs(t *testing.T) {
	r := testRepo(t)
	initRepo(t, r)
	src := source(t)
	var snaps []*repository.Snapshot
	for d := 1; d <= 3; d++ {
		snaps = append(snaps, backupDay(t, r, src, d).Snapshot)
	}
	forget := func(opts ForgetOptions) (ForgetResult, error) {
		t.Helper()
		repo, ctx, release, err := OpenLocked(context.Background(), r, Exclusive, false)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		return Forget(ctx, repo, opts)
	}
	all := ids(snaps)

	// Every name is resolved first: one that is not there keeps all.
	_, err := forget(ForgetOptions{IDs: []string{snaps[0].ID.Str(), "0000000"}})
	if !errors.Is(err, repository.ErrSnapshotNotFound) {
		t.Errorf("unknown ID: %v", err)
	}
	if got := sortedIDs(snapshotIDs(t, r)); !slices.Equal(got, all) {
		t.Errorf("snapshots after a failed forget: %v, want all", got)
	}

	res, err := forget(ForgetOptions{IDs: []string{snaps[0].ID.String(), snaps[0].ID.Str(), snaps[1].ID.Str()}, DryRun: true})
	if err != nil || !slices.Equal(ids(res.Removed), ids(snaps[:2])) {
		t.Errorf("dry run: removed %v, %v", ids(res.Removed), err)
	}
	if got := sortedIDs(snapshotIDs(t, r)); !slices.Equal(got, all) {
		t.Errorf("snapshots after a dry run: %v, want all", got)
	}

	// A snapshot named twice is forgotten once.
	res, err = forget(ForgetOptions{IDs: []string{snaps[0].ID.String(), snaps[0].ID.Str()}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(res.Removed), ids(snaps[:1])) || res.Groups != nil || res.Pruned {
		t.Errorf("removed %v, groups %v, pruned %v", ids(res.Removed), res.Groups, res.Pruned)
	}
	if got := sortedIDs(snapshotIDs(t, r)); !slices.Equal(got, ids(snaps[1:])) {
		t.Errorf("snapshots left %v, want %v", got, ids(snaps[1:]))
	}

	for _, opts := range []ForgetOptions{
		{},
		{IDs: []string{snaps[1].ID.Str()}, Policy: repository.ExpirePolicy{Last: 1}},
	} {
		if _, err := forget(opts); err == nil {
			t.Errorf("forget %+v succeeded", opts)
		}
	}
	if got := sortedIDs(snapshotIDs(t, r)); !slices.Equal(got, ids(snaps[1:])) {
		t.Errorf("snapshots after refused forgets %v, want %v", got, ids(snaps[1:]))
	}
	restictest.Check(t, r.Location)
}
