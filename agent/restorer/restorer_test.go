package restorer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/agent/restorer"
)

var _ restorer.Repo = (*repository.Repository)(nil)

// TestRestoreResticRepository restores a snapshot that restic itself made
// and compares it byte for byte with the source.
func TestRestoreResticRepository(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	repoDir := filepath.Join(t.TempDir(), "repo")
	restictest.Run(t, repoDir, "init", "--repository-version", "2")
	restictest.Run(t, repoDir, "backup", "--host", "h", src)

	repo := archivertest.OpenRepo(t, repoDir)
	sn, err := repo.FindSnapshot(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	var prog progress
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{Progress: &prog}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, src, filepath.Join(dst, src))
	if st.Files != uint64(9+len(archivertest.OddNames)) || st.Symlinks != 3 || st.Others != 2 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
	if prog.files != st.Files || prog.total != st.Bytes || prog.bytes.Load() != st.Bytes {
		t.Errorf("progress %d files %d/%d bytes, stats %+v", prog.files, prog.bytes.Load(), prog.total, st)
	}

	// Restoring again over the first restore replaces everything in place.
	if _, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), dst); err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, src, filepath.Join(dst, src))
}

type progress struct {
	files, total uint64
	bytes        atomic.Uint64
}

func (p *progress) Total(files, bytes uint64) { p.files, p.total = files, bytes }
func (p *progress) Bytes(n uint64)            { p.bytes.Add(n) }
func (p *progress) Done(string)               {}

// TestRestoreInclude restores only a subtree.
func TestRestoreInclude(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	repo, _ := archivertest.NewRepo(t)
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{Include: []string{filepath.Join(src, "a", "b")}}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, filepath.Join(src, "a", "b"), filepath.Join(dst, src, "a", "b"))
	if st.Files != 2 {
		t.Errorf("restored %d files, want 2", st.Files)
	}
	// Nothing beside the included subtree.
	entries, err := os.ReadDir(filepath.Join(dst, src, "a"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "b" {
		t.Errorf("entries beside the include: %v %v", entries, err)
	}
	entries, err = os.ReadDir(filepath.Join(dst, src))
	if err != nil || len(entries) != 1 {
		t.Errorf("entries beside the include: %v %v", entries, err)
	}

	// A pattern include.
	dst2 := filepath.Join(t.TempDir(), "dst")
	if _, err := restorer.New(repo, sn, restorer.Options{Include: []string{filepath.Join(src, "*.sh")}}).RestoreTo(context.Background(), dst2); err != nil {
		t.Fatal(err)
	}
	entries, err = os.ReadDir(filepath.Join(dst2, src))
	if err != nil || len(entries) != 1 || entries[0].Name() != "script.sh" {
		t.Errorf("pattern include restored %v %v", entries, err)
	}
}

// saveTree stores a tree and returns its ID.
func saveTree(t *testing.T, repo *repository.Repository, nodes ...*repository.Node) repository.ID {
	t.Helper()
	buf, err := repository.EncodeTree(&repository.Tree{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	id, _, _, err := repo.SaveBlob(context.Background(), repository.TreeBlob, buf, repository.ID{}, false)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func fileNode(t *testing.T, repo *repository.Repository, name, content string) *repository.Node {
	t.Helper()
	id, _, _, err := repo.SaveBlob(context.Background(), repository.DataBlob, []byte(content), repository.ID{}, false)
	if err != nil {
		t.Fatal(err)
	}
	return &repository.Node{Name: name, Type: repository.NodeFile, Mode: 0o644, ModTime: time.Unix(1e9, 0),
		Size: uint64(len(content)), Content: repository.IDs{id}}
}

func snapshotOf(t *testing.T, repo *repository.Repository, root repository.ID) *repository.Snapshot {
	t.Helper()
	if err := repo.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	sn := &repository.Snapshot{Time: time.Now(), Tree: &root, Paths: []string{"/crafted"}}
	if _, err := repo.SaveSnapshot(context.Background(), sn); err != nil {
		t.Fatal(err)
	}
	return sn
}

// TestRestoreRefusesEscape restores crafted trees whose names or the
// target's own symlinks would lead outside the target.
func TestRestoreRefusesEscape(t *testing.T) {
	repo, _ := archivertest.NewRepo(t)
	base := t.TempDir()
	target := filepath.Join(base, "target")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}

	for i, bad := range []string{"../x", "..", ".", "a/b", "", "nul\x00"} {
		t.Run(strings.ReplaceAll(bad, "/", "_"), func(t *testing.T) {
			sub := saveTree(t, repo, fileNode(t, repo, "inner", "inner"))
			root := saveTree(t, repo,
				fileNode(t, repo, bad, "escaped!"),
				&repository.Node{Name: fmt.Sprintf("dir%d", i), Type: repository.NodeDir, Mode: os.ModeDir | 0o755, Subtree: &sub},
			)
			sn := snapshotOf(t, repo, root)
			_, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), target)
			if err == nil || !strings.Contains(err.Error(), "unsafe name") {
				t.Errorf("restore of entry %q: %v, want refusal", bad, err)
			}
			// With an error callback that goes on, the safe entries are
			// restored and the bad one is reported.
			var reported []string
			st, err := restorer.New(repo, sn, restorer.Options{Error: func(p string, err error) error {
				reported = append(reported, p)
				return nil
			}}).RestoreTo(context.Background(), target)
			if err != nil || st.Errors != 1 || len(reported) != 1 {
				t.Errorf("restore with callback: %v, stats %+v, reported %q", err, st, reported)
			}
		})
	}
	for _, p := range []string{filepath.Join(base, "x"), filepath.Join(outside, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written outside the target", p)
		}
	}

	// A symlink already in the target is never followed: a directory
	// node of the same name fails instead of writing through it.
	if err := os.Symlink(outside, filepath.Join(target, "link")); err != nil {
		t.Fatal(err)
	}
	sub := saveTree(t, repo, fileNode(t, repo, "pwned", "escaped!"))
	root := saveTree(t, repo, &repository.Node{Name: "link", Type: repository.NodeDir, Mode: os.ModeDir | 0o755, Subtree: &sub})
	sn := snapshotOf(t, repo, root)
	if _, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), target); err == nil {
		t.Error("restore through a symlink in the target succeeded")
	}
	if _, err := os.Lstat(filepath.Join(outside, "pwned")); err == nil {
		t.Error("restore wrote through a symlink in the target")
	}

	// A symlink node with an absolute target is restored as a symlink,
	// and a file of the same name later replaces the link itself, not
	// the file it points to.
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	root = saveTree(t, repo, &repository.Node{Name: "abs", Type: repository.NodeSymlink, Mode: os.ModeSymlink | 0o777, LinkTarget: victim, ModTime: time.Unix(1e9, 0)})
	sn = snapshotOf(t, repo, root)
	if _, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(target, "abs")); err != nil || l != victim {
		t.Fatalf("symlink restored as %q, %v", l, err)
	}
	root = saveTree(t, repo, fileNode(t, repo, "abs", "replaced"))
	sn = snapshotOf(t, repo, root)
	if _, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("restore wrote through a symlink: victim now %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "abs")); string(b) != "replaced" {
		t.Errorf("file restored as %q", b)
	}
}

// TestRestoreWrongSize checks that a file whose content does not add up
// to its recorded size is refused and never appears under its name.
func TestRestoreWrongSize(t *testing.T) {
	repo, _ := archivertest.NewRepo(t)
	n := fileNode(t, repo, "f", "0123456789")
	n.Size = 11
	root := saveTree(t, repo, n, fileNode(t, repo, "ok", "fine"))
	sn := snapshotOf(t, repo, root)
	target := t.TempDir()
	_, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), target)
	if err == nil || !strings.Contains(err.Error(), "recorded size") {
		t.Errorf("restore of a short file: %v", err)
	}
	entries, _ := os.ReadDir(target)
	for _, e := range entries {
		if e.Name() != "ok" {
			t.Errorf("left %q in the target", e.Name())
		}
	}

	// A missing blob is an error too.
	n = fileNode(t, repo, "g", "x")
	n.Content = repository.IDs{repository.Hash([]byte("not stored"))}
	sn = snapshotOf(t, repo, saveTree(t, repo, n))
	if _, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), t.TempDir()); err == nil {
		t.Error("restore with a missing blob succeeded")
	}
}

// TestRestorePackwise restores more files than are written at once, with
// shared and repeated blobs, hard links and empty files, and then a
// snapshot whose pack is damaged: the files needing it are reported and
// left out, the others restored, and no temporary file remains.
func TestRestorePackwise(t *testing.T) {
	repo, repoDir := archivertest.NewRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	mt := time.Unix(1.6e9, 0)
	for i := 0; i < 700; i++ {
		var buf bytes.Buffer
		archivertest.Pattern(&buf, uint64(i%50), int64(i%7)*3000)
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%9))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		archivertest.WriteFile(t, filepath.Join(dir, fmt.Sprintf("f%03d", i)), buf.Bytes(), 0o640, mt)
	}
	// A file whose chunks repeat.
	var big bytes.Buffer
	archivertest.Pattern(&big, 99, 1<<20)
	rep := bytes.Repeat(big.Bytes(), 3)
	archivertest.WriteFile(t, filepath.Join(src, "repeated"), rep, 0o600, mt)
	if err := os.Link(filepath.Join(src, "repeated"), filepath.Join(src, "d1", "link")); err != nil {
		t.Fatal(err)
	}
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, src, filepath.Join(dst, src))
	if st.Files != 702 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}

	// Damage the pack holding "repeated"'s blobs.
	tree, err := repo.LoadTree(context.Background(), *sn.Tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Split(strings.Trim(src, "/"), "/") {
		if tree, err = repo.LoadTree(context.Background(), *tree.Find(c).Subtree); err != nil {
			t.Fatal(err)
		}
	}
	pb, _ := repo.LookupBlob(repository.BlobHandle{ID: tree.Find("repeated").Content[0], Type: repository.DataBlob})
	pack := filepath.Join(repoDir, "data", pb.PackID.String()[:2], pb.PackID.String())
	buf, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	buf[pb.Offset+10] ^= 1
	os.Chmod(pack, 0o600)
	if err := os.WriteFile(pack, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	dst2 := filepath.Join(t.TempDir(), "dst")
	var reported []string
	st, err = restorer.New(repo, sn, restorer.Options{Error: func(p string, err error) error {
		reported = append(reported, p)
		return nil
	}}).RestoreTo(context.Background(), dst2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Errors != 2 || len(reported) != 2 {
		t.Errorf("damaged pack: stats %+v, reported %q", st, reported)
	}
	filepath.Walk(dst2, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".lethe-restore-") {
			t.Errorf("temporary file %s left behind", p)
		}
		return nil
	})
	for _, name := range []string{"repeated", "d1/link"} {
		if _, err := os.Lstat(filepath.Join(dst2, src, name)); err == nil {
			t.Errorf("%s restored from a damaged pack", name)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst2, src, "d2", "f002")); err != nil || len(b) != 6000 {
		t.Errorf("intact file: %d bytes, %v", len(b), err)
	}
}

// TestRestoreAbortReportedOnce aborts a restore from the error callback on
// an item deep in the tree: the callback is told about that item only,
// not again about each directory above it.
func TestRestoreAbortReportedOnce(t *testing.T) {
	repo, _ := archivertest.NewRepo(t)
	bad := fileNode(t, repo, "bad", "x")
	bad.Content = repository.IDs{repository.Hash([]byte("not stored"))}
	d2 := saveTree(t, repo, bad, fileNode(t, repo, "later", "later"))
	d1 := saveTree(t, repo, &repository.Node{Name: "d2", Type: repository.NodeDir, Mode: os.ModeDir | 0o755, Subtree: &d2})
	sn := snapshotOf(t, repo, saveTree(t, repo, &repository.Node{Name: "d1", Type: repository.NodeDir, Mode: os.ModeDir | 0o755, Subtree: &d1}))

	stop := fmt.Errorf("stop")
	var reported []string
	st, err := restorer.New(repo, sn, restorer.Options{Error: func(p string, err error) error {
		reported = append(reported, p)
		return stop
	}}).RestoreTo(context.Background(), t.TempDir())
	if err != stop {
		t.Errorf("restore returned %v, want the callback's error", err)
	}
	if len(reported) != 1 || reported[0] != "/d1/d2/bad" || st.Errors != 1 {
		t.Errorf("reported %q, stats %+v; want only /d1/d2/bad", reported, st)
	}
}
