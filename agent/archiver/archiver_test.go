package archiver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/agent/restorer"
)

var (
	_ archiver.Repo = (*repository.Repository)(nil)
	_ restorer.Repo = (*repository.Repository)(nil)
)

func backup(t *testing.T, repo archiver.Repo, opts archiver.Options, sopts archiver.SnapshotOptions, targets ...string) (*repository.Snapshot, archiver.Stats) {
	t.Helper()
	sn, stats, err := archiver.New(repo, opts).Snapshot(context.Background(), targets, sopts)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return sn, stats
}

func restoreLethe(t *testing.T, repo restorer.Repo, sn *repository.Snapshot, opts restorer.Options) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "lethe-restore")
	if _, err := restorer.New(repo, sn, opts).RestoreTo(context.Background(), dst); err != nil {
		t.Fatalf("lethe restore: %v", err)
	}
	return dst
}

func loadTree(repo *repository.Repository, id repository.ID) (*repository.Tree, error) {
	buf, err := repo.LoadBlob(context.Background(), repository.TreeBlob, id, nil)
	if err != nil {
		return nil, err
	}
	return repository.DecodeTree(buf)
}

// progress records what the archiver reports.
type progress struct {
	mu                sync.Mutex
	totalFiles, total uint64
	totalDone         bool
	started, done     int
	bytes             uint64
}

func (p *progress) Total(files, dirs, bytes uint64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.totalFiles, p.total, p.totalDone = files, bytes, done
}
func (p *progress) Start(string) { p.mu.Lock(); p.started++; p.mu.Unlock() }
func (p *progress) Bytes(n uint64) {
	p.mu.Lock()
	p.bytes += n
	p.mu.Unlock()
}
func (p *progress) Done(string) { p.mu.Lock(); p.done++; p.mu.Unlock() }

// TestBackupRestoreInterop backs up a tree with every kind of entry,
// including a file over 100 MiB, and checks that restic finds the
// repository clean and restores it byte-identically, and that lethe's
// restorer does too.
func TestBackupRestoreInterop(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 100<<20+54321)
	repo, repoDir := archivertest.NewRepo(t)

	var prog progress
	var reported []string
	opts := archiver.Options{
		Progress: &prog,
		Error: func(path string, err error) error {
			reported = append(reported, path+": "+err.Error())
			return nil
		},
	}
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	sn, stats := backup(t, repo, opts, archiver.SnapshotOptions{Time: when, Hostname: "testhost", Tags: []string{"t1"}}, src)
	if len(reported) > 0 || stats.Incomplete() {
		t.Fatalf("backup reported errors: %q", reported)
	}
	if len(sn.Paths) != 1 || sn.Paths[0] != src {
		t.Errorf("snapshot paths %q, want [%q]", sn.Paths, src)
	}
	if !sn.Time.Equal(when) || sn.Hostname != "testhost" || sn.ID.IsNull() {
		t.Errorf("snapshot metadata: %+v", sn)
	}
	wantFiles := uint64(10 + len(archivertest.OddNames))
	if stats.FilesNew != wantFiles || stats.TotalFiles != wantFiles || stats.FilesRead != wantFiles {
		t.Errorf("stats: %+v, want %d new files", stats, wantFiles)
	}
	if stats.TotalBytes < 100<<20 || stats.DataBlobs == 0 || stats.TreeBlobs == 0 {
		t.Errorf("stats: %+v", stats)
	}
	if !prog.totalDone || prog.totalFiles != wantFiles || prog.total != stats.TotalBytes || prog.bytes != stats.TotalBytes || prog.started != int(wantFiles) {
		t.Errorf("progress: files %d/%d bytes %d/%d started %d, stats %+v", prog.totalFiles, wantFiles, prog.bytes, prog.total, prog.started, stats)
	}

	// The tree starts at the root, like restic's: every path component of
	// the target is a directory node with its real metadata.
	tree, err := loadTree(repo, *sn.Tree)
	if err != nil {
		t.Fatal(err)
	}
	comps := strings.Split(strings.TrimPrefix(src, "/"), "/")
	cur := "/"
	for i, c := range comps {
		n := tree.Find(c)
		if n == nil || n.Type != repository.NodeDir || len(tree.Nodes) != 1 {
			t.Fatalf("tree at %s: want only dir %q, got %+v", cur, c, tree.Nodes)
		}
		cur = filepath.Join(cur, c)
		fi, err := os.Lstat(cur)
		if err != nil {
			t.Fatal(err)
		}
		// Only the test's own directories hold still; /tmp changes.
		if n.Mode != fi.Mode() || i >= len(comps)-2 && !n.ModTime.Equal(fi.ModTime()) {
			t.Errorf("dir node %s: mode %v mtime %v, disk %v %v", cur, n.Mode, n.ModTime, fi.Mode(), fi.ModTime())
		}
		tree, err = loadTree(repo, *n.Subtree)
		if err != nil {
			t.Fatal(err)
		}
		if i == len(comps)-1 {
			checkNodes(t, tree)
		}
	}

	restictest.Check(t, repoDir)
	out := restictest.Run(t, repoDir, "ls", "latest")
	for _, want := range []string{filepath.Join(src, "big.bin"), filepath.Join(src, "a/b/c/d/deep.txt"), filepath.Join(src, "fifo")} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("restic ls does not list %s:\n%s", want, out)
		}
	}

	dst := filepath.Join(t.TempDir(), "restic-restore")
	restictest.Run(t, repoDir, "restore", "latest", "--target", dst)
	archivertest.Compare(t, src, filepath.Join(dst, src))

	ldst := restoreLethe(t, repo, sn, restorer.Options{Sparse: true})
	archivertest.Compare(t, src, filepath.Join(ldst, src))

	// A fresh handle on the repository sees the same snapshot.
	repo2 := archivertest.OpenRepo(t, repoDir)
	sn2, err := repo2.FindSnapshot(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	ldst2 := restoreLethe(t, repo2, sn2, restorer.Options{})
	archivertest.Compare(t, src, filepath.Join(ldst2, src))
}

// checkNodes checks node fields restic relies on.
func checkNodes(t *testing.T, tree *repository.Tree) {
	t.Helper()
	for _, n := range tree.Nodes {
		switch n.Name {
		case "empty":
			if n.Type != repository.NodeFile || n.Content == nil || len(n.Content) != 0 || n.Size != 0 {
				t.Errorf("empty file node: %+v", n)
			}
			buf, err := repository.EncodeTree(&repository.Tree{Nodes: []*repository.Node{n}})
			if err != nil || !strings.Contains(string(buf), `"content":[]`) {
				t.Errorf("empty file must be stored with content [] (restic check demands it): %s", buf)
			}
		case "link-rel":
			if n.Type != repository.NodeSymlink || n.LinkTarget != "a/b/c/d/deep.txt" {
				t.Errorf("symlink node: %+v", n)
			}
		case "fifo":
			if n.Type != repository.NodeFifo || n.Mode != os.ModeNamedPipe|0o640 {
				t.Errorf("fifo node: %+v", n)
			}
		case "big.bin":
			if n.Size != 100<<20+54321 || len(n.Content) < 13 || n.Inode == 0 || n.Links != 1 || n.User == "" {
				t.Errorf("big file node: size %d, %d blobs, %+v", n.Size, len(n.Content), n)
			}
		}
	}
}

// TestParentSnapshot checks that a backup with a parent does not read
// unchanged files and picks up changed, new and removed ones.
func TestParentSnapshot(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	repo, repoDir := archivertest.NewRepo(t)
	sn1, st1 := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{}, src)

	mt := time.Date(2022, 5, 6, 7, 8, 9, 0, time.UTC)
	archivertest.WriteFile(t, filepath.Join(src, "private"), []byte("changed secret\n"), 0o600, mt)
	archivertest.WriteFile(t, filepath.Join(src, "a", "new.txt"), []byte("new file\n"), 0o644, mt)
	if err := os.Remove(filepath.Join(src, "readonly")); err != nil {
		t.Fatal(err)
	}

	sn2, st2 := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{Parent: sn1}, src)
	if st2.FilesRead != 2 || st2.FilesChanged != 1 || st2.FilesNew != 1 || st2.FilesUnmodified != st1.FilesNew-2 {
		t.Errorf("second backup: %+v (first %+v); want 2 files read: 1 changed, 1 new", st2, st1)
	}
	if st2.BytesRead != uint64(len("changed secret\n")+len("new file\n")) {
		t.Errorf("second backup read %d bytes", st2.BytesRead)
	}
	if sn2.Parent == nil || *sn2.Parent != sn1.ID {
		t.Errorf("snapshot parent %v, want %v", sn2.Parent, sn1.ID)
	}
	if st2.DirsUnmodified == 0 || st2.DirsChanged == 0 {
		t.Errorf("dir stats: %+v", st2)
	}

	// Unchanged again: nothing read, no data added. (Trees may differ: like
	// restic, nodes carry access times, which listing a directory updates.)
	sn3, st3 := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{Parent: sn2}, src)
	if st3.FilesRead != 0 || st3.BytesRead != 0 || st3.DataBlobs != 0 || st3.FilesUnmodified != st2.TotalFiles {
		t.Errorf("third backup: %+v", st3)
	}

	restictest.Check(t, repoDir)
	dst := filepath.Join(t.TempDir(), "restic-restore")
	restictest.Run(t, repoDir, "restore", sn3.ID.String(), "--target", dst)
	archivertest.Compare(t, src, filepath.Join(dst, src))
	ldst := restoreLethe(t, repo, sn3, restorer.Options{})
	archivertest.Compare(t, src, filepath.Join(ldst, src))
}

// TestMultipleTargets checks that targets merge into one tree below
// their common directories, as restic does.
func TestMultipleTargets(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"x/one", "x/two/three", "y"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	archivertest.WriteFile(t, filepath.Join(base, "x/one/f"), []byte("1"), 0o644, time.Unix(1e9, 0))
	archivertest.WriteFile(t, filepath.Join(base, "x/two/three/g"), []byte("3"), 0o644, time.Unix(1e9, 0))
	archivertest.WriteFile(t, filepath.Join(base, "x/two/skip"), []byte("not a target"), 0o644, time.Unix(1e9, 0))
	archivertest.WriteFile(t, filepath.Join(base, "y/h"), []byte("y"), 0o644, time.Unix(1e9, 0))
	archivertest.WriteFile(t, filepath.Join(base, "x/one/h.log"), []byte("excluded"), 0o644, time.Unix(1e9, 0))

	repo, repoDir := archivertest.NewRepo(t)
	targets := []string{filepath.Join(base, "y/h"), filepath.Join(base, "x/two/three"), filepath.Join(base, "x/one"), filepath.Join(base, "x/one/f")}
	sn, _ := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{Excludes: []string{"*.log"}}, targets...)
	want := []string{filepath.Join(base, "x/one"), filepath.Join(base, "x/one/f"), filepath.Join(base, "x/two/three"), filepath.Join(base, "y/h")}
	if strings.Join(sn.Paths, "|") != strings.Join(want, "|") {
		t.Errorf("paths %q, want %q", sn.Paths, want)
	}
	restictest.Check(t, repoDir)
	out := restictest.Run(t, repoDir, "ls", "latest")
	for _, p := range []string{"x/one/f", "x/two/three/g", "y/h", "x/two", "x"} {
		if !strings.Contains(out, filepath.Join(base, p)+"\n") {
			t.Errorf("restic ls lacks %s:\n%s", p, out)
		}
	}
	for _, p := range []string{"x/two/skip", "x/one/h.log"} {
		if strings.Contains(out, filepath.Join(base, p)) {
			t.Errorf("restic ls lists %s, which is not a target or excluded:\n%s", p, out)
		}
	}
}

// TestUnreadableFile checks that an unreadable file is reported and
// skipped, the snapshot is written but marked incomplete. Root reads
// everything, so as root the test reruns itself as nobody.
func TestUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		rerunAsNobody(t, "TestUnreadableFile")
		return
	}
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	archivertest.WriteFile(t, filepath.Join(src, "a", "locked"), []byte("no access"), 0o000, time.Now())
	if err := os.Mkdir(filepath.Join(src, "lockeddir"), 0o000); err != nil {
		t.Fatal(err)
	}
	repo, repoDir := archivertest.NewRepo(t)

	var reported []string
	opts := archiver.Options{Error: func(path string, err error) error {
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s: unexpected error %v", path, err)
		}
		reported = append(reported, path)
		return nil
	}}
	sn, stats := backup(t, repo, opts, archiver.SnapshotOptions{}, src)
	want := []string{filepath.Join(src, "a", "locked"), filepath.Join(src, "lockeddir")}
	if strings.Join(reported, "|") != strings.Join(want, "|") && strings.Join(reported, "|") != strings.Join([]string{want[1], want[0]}, "|") {
		t.Errorf("reported %q, want %q", reported, want)
	}
	if !stats.Incomplete() || stats.Errors != 2 {
		t.Errorf("stats %+v: want incomplete with 2 errors", stats)
	}
	restictest.Check(t, repoDir)
	out := restictest.Run(t, repoDir, "ls", sn.ID.String())
	if strings.Contains(out, "locked") || !strings.Contains(out, filepath.Join(src, "a", "medium.bin")) {
		t.Errorf("restic ls:\n%s", out)
	}

	// An error callback that gives up makes the backup fail without a
	// snapshot; the earlier one is untouched.
	abort := errors.New("give up")
	_, _, err := archiver.New(repo, archiver.Options{Error: func(string, error) error { return abort }}).
		Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if !errors.Is(err, abort) {
		t.Fatalf("aborted backup returned %v", err)
	}
	sns, err := repo.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sns) != 1 || sns[0].ID != sn.ID {
		t.Errorf("snapshots after failed backup: %v", sns)
	}
	restictest.Check(t, repoDir)
}

// rerunAsNobody runs one test of this binary as uid/gid 65534 in a
// directory that user can write.
func rerunAsNobody(t *testing.T, name string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is private to root.
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "test.bin")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.v")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+tmp, "XDG_CACHE_HOME="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s as nobody did not pass:\n%s", name, out)
	}
}

// TestMissingTarget checks that a missing target among existing ones is
// reported and that no existing target is an error.
func TestMissingTarget(t *testing.T) {
	base := t.TempDir()
	archivertest.WriteFile(t, filepath.Join(base, "f"), []byte("x"), 0o644, time.Now())
	repo, _ := archivertest.NewRepo(t)
	var reported []string
	a := archiver.New(repo, archiver.Options{Error: func(p string, err error) error {
		reported = append(reported, p)
		return nil
	}})
	_, stats, err := a.Snapshot(context.Background(), []string{filepath.Join(base, "f"), filepath.Join(base, "nope")}, archiver.SnapshotOptions{})
	if err != nil || !stats.Incomplete() || len(reported) != 1 || reported[0] != filepath.Join(base, "nope") {
		t.Errorf("err %v stats %+v reported %q", err, stats, reported)
	}
	if _, _, err := a.Snapshot(context.Background(), []string{filepath.Join(base, "nope")}, archiver.SnapshotOptions{}); err == nil {
		t.Error("backup of only missing targets succeeded")
	}
}

// vanishing removes or replaces files just before the archiver opens them.
type vanishing struct {
	progress
	gone, swapped string
}

func (v *vanishing) Start(p string) {
	switch p {
	case v.gone:
		os.Remove(p)
	case v.swapped:
		// Renamed over: a file created after the old one was removed may
		// get its inode, and then it is the same file as far as the
		// archiver can tell.
		os.WriteFile(p+".new", []byte("a different file"), 0o644)
		os.Rename(p+".new", p)
	}
}

// TestVanishingFiles checks files that disappear or are replaced between
// listing and reading: reported, skipped, snapshot incomplete.
func TestVanishingFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gone", "kept", "swapped"} {
		archivertest.WriteFile(t, filepath.Join(src, n), []byte(n), 0o644, time.Now())
	}
	repo, repoDir := archivertest.NewRepo(t)
	v := &vanishing{gone: filepath.Join(src, "gone"), swapped: filepath.Join(src, "swapped")}
	reported := map[string]error{}
	var mu sync.Mutex
	opts := archiver.Options{Progress: v, FileWorkers: 1, Error: func(p string, err error) error {
		mu.Lock()
		reported[p] = err
		mu.Unlock()
		return nil
	}}
	sn, stats := backup(t, repo, opts, archiver.SnapshotOptions{}, src)
	if !stats.Incomplete() || len(reported) != 2 || !errors.Is(reported[v.gone], os.ErrNotExist) || reported[v.swapped] == nil {
		t.Errorf("stats %+v, reported %v", stats, reported)
	}
	restictest.Check(t, repoDir)
	out := restictest.Run(t, repoDir, "ls", sn.ID.String())
	if strings.Contains(out, "gone") || strings.Contains(out, "swapped") || !strings.Contains(out, filepath.Join(src, "kept")) {
		t.Errorf("restic ls:\n%s", out)
	}
}

// benchTree writes a tree of about 96 MiB: one 32 MiB file and 1000 files
// of 64 KiB, all distinct.
func benchTree(b *testing.B) (string, int64) {
	src := filepath.Join(b.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(src, "big"))
	if err != nil {
		b.Fatal(err)
	}
	if err := archivertest.Pattern(f, 1, 32<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	total := int64(32 << 20)
	for i := 0; i < 1000; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%20))
		os.MkdirAll(dir, 0o755)
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%04d", i)))
		if err != nil {
			b.Fatal(err)
		}
		if err := archivertest.Pattern(f, uint64(i+2), 64<<10); err != nil {
			b.Fatal(err)
		}
		f.Close()
		total += 64 << 10
	}
	return src, total
}

// BenchmarkArchiver measures an initial backup into a fresh repository.
func BenchmarkArchiver(b *testing.B) {
	src, total := benchTree(b)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		repo, _ := archivertest.NewRepo(b)
		b.StartTimer()
		if _, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArchiverUnchanged measures a backup with a parent where
// nothing changed (the nightly case).
func BenchmarkArchiverUnchanged(b *testing.B) {
	src, total := benchTree(b)
	repo, _ := archivertest.NewRepo(b)
	parent, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{Parent: parent}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBackupIntoResticRepository adds a lethe snapshot to a repository
// restic made, with restic's snapshot as parent: files restic stored are
// reused unread, and restic checks and restores the result.
func TestBackupIntoResticRepository(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	repoDir := filepath.Join(t.TempDir(), "repo")
	restictest.Run(t, repoDir, "init", "--repository-version", "2")
	restictest.Run(t, repoDir, "backup", src)

	archivertest.WriteFile(t, filepath.Join(src, "a", "added"), []byte("added by lethe"), 0o644, time.Now())
	repo := archivertest.OpenRepo(t, repoDir)
	parent, err := repo.FindSnapshot(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	sn, stats := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{Parent: parent}, src)
	if stats.FilesRead != 1 || stats.FilesNew != 1 || stats.FilesUnmodified != stats.TotalFiles-1 {
		t.Errorf("stats %+v: want only the added file read", stats)
	}
	restictest.Check(t, repoDir)
	dst := filepath.Join(t.TempDir(), "restic-restore")
	restictest.Run(t, repoDir, "restore", sn.ID.String(), "--target", dst)
	archivertest.Compare(t, src, filepath.Join(dst, src))
}

// keepAll is a Filter that keeps every item: what the seam itself costs.
type keepAll struct{}

func (keepAll) Decide(context.Context, string, *repository.Node) (formats.Decision, formats.Findings, error) {
	return formats.Keep, formats.Findings{}, nil
}

func (keepAll) FilterContent(_ context.Context, _ string, _ *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	rc, err := open()
	return rc, formats.Findings{}, err
}

// BenchmarkFilterSeam compares backups without a filter and with one that
// keeps everything, on the same tree: an initial backup and one where
// nothing changed.
func BenchmarkFilterSeam(b *testing.B) {
	src, total := benchTree(b)
	filters := []struct {
		name string
		f    archiver.Filter
	}{{"none", nil}, {"keep-all", keepAll{}}}
	for _, fl := range filters {
		b.Run("initial/"+fl.name, func(b *testing.B) {
			b.SetBytes(total)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				repo, _ := archivertest.NewRepo(b)
				b.StartTimer()
				if _, _, err := archiver.New(repo, archiver.Options{Filter: fl.f}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	repo, _ := archivertest.NewRepo(b)
	parent, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, fl := range filters {
		b.Run("unchanged/"+fl.name, func(b *testing.B) {
			b.SetBytes(total)
			for i := 0; i < b.N; i++ {
				if _, _, err := archiver.New(repo, archiver.Options{Filter: fl.f}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{Parent: parent}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
