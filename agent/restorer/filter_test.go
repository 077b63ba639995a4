package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/agent/restorer"

	"golang.org/x/sys/unix"
)

// subject is the identifier the test filter erases.
const subject = "anna@example.se"

// lineFilter is the erasure filter of the tests. Decide drops items whose
// name contains "anna", sends files ending in ".txt" to filtering and
// keeps the rest; FilterContent removes the lines holding the subject's
// address and leaves out a file that is nothing else. Below a directory
// named "upper" the kept lines are upper-cased, so that the output
// depends on the path. Names starting with "fail-" make it fail.
type lineFilter struct {
	mu       sync.Mutex
	decided  []string
	filtered map[repository.ID]bool // content of the files sent to filtering
}

func (f *lineFilter) Decide(_ context.Context, p string, n *repository.Node) (formats.Decision, formats.Findings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decided = append(f.decided, p)
	name := path.Base(p)
	switch {
	case strings.HasPrefix(name, "fail-decide"):
		return 0, formats.Findings{}, errors.New("deciding failed")
	case name == "fail-dir-as-filter":
		return formats.Filter, formats.Findings{}, nil
	case strings.Contains(name, "anna"):
		return formats.Drop, formats.Findings{Format: formats.FormatName, Records: 1, Removed: 1, Refs: []string{"t1"}}, nil
	case n.Type == repository.NodeFile && strings.HasSuffix(name, ".txt"):
		if f.filtered == nil {
			f.filtered = map[repository.ID]bool{}
		}
		for _, id := range n.Content {
			f.filtered[id] = true
		}
		return formats.Filter, formats.Findings{}, nil
	}
	return formats.Keep, formats.Findings{}, nil
}

func (f *lineFilter) FilterContent(_ context.Context, p string, n *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	name := path.Base(p)
	if name == "fail-filter.txt" {
		return nil, formats.Findings{}, errors.New("filtering failed")
	}
	if strings.Contains(name, "twice") {
		// Sniff the start, then read the content again.
		r, err := open()
		if err != nil {
			return nil, formats.Findings{}, err
		}
		var head [10]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return nil, formats.Findings{}, err
		}
		r.Close()
	}
	r, err := open()
	if err != nil {
		return nil, formats.Findings{}, err
	}
	// Deliberately not closed: the restorer closes what open returned.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, formats.Findings{}, err
	}
	out, found := redactLines(data, strings.Contains(p, "/upper/"))
	switch {
	case name == "fail-late.txt":
		return io.NopCloser(io.MultiReader(bytes.NewReader(out[:len(out)/2]), iotest.ErrReader(errors.New("failing late")))), found, nil
	case found.Records > 0 && found.Removed == found.Records:
		return nil, found, nil
	}
	return io.NopCloser(bytes.NewReader(out)), found, nil
}

// redactLines removes the lines holding the subject's address.
func redactLines(data []byte, upper bool) ([]byte, formats.Findings) {
	found := formats.Findings{Format: formats.FormatText}
	var out []byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		found.Records++
		if bytes.Contains(l, []byte(subject)) {
			found.Removed++
			continue
		}
		if upper {
			l = bytes.ToUpper(l)
		}
		out = append(out, l...)
	}
	if found.Removed > 0 {
		found.Refs = []string{"t1"}
	}
	return out, found
}

// decidedSet returns the paths Decide was asked about.
func (f *lineFilter) decidedSet() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]bool{}
	for _, p := range f.decided {
		if m[p] {
			panic("decided twice about " + p)
		}
		m[p] = true
	}
	return m
}

// keepAll keeps everything and counts what it was asked about.
type keepAll struct {
	mu      sync.Mutex
	decided map[string]bool
}

func (k *keepAll) Decide(_ context.Context, p string, _ *repository.Node) (formats.Decision, formats.Findings, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.decided == nil {
		k.decided = map[string]bool{}
	}
	k.decided[p] = true
	return formats.Keep, formats.Findings{}, nil
}

func (*keepAll) FilterContent(context.Context, string, *repository.Node, func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	return nil, formats.Findings{}, errors.New("FilterContent called for a kept file")
}

// countingRepo records the data blobs loaded one by one, which only the
// per-file path does.
type countingRepo struct {
	*repository.Repository
	mu     sync.Mutex
	loaded map[repository.ID]bool
}

func (r *countingRepo) LoadBlob(ctx context.Context, t repository.BlobType, id repository.ID, buf []byte) ([]byte, error) {
	if t == repository.DataBlob {
		r.mu.Lock()
		if r.loaded == nil {
			r.loaded = map[repository.ID]bool{}
		}
		r.loaded[id] = true
		r.mu.Unlock()
	}
	return r.Repository.LoadBlob(ctx, t, id, buf)
}

// foundLog collects Options.Found calls.
type foundLog struct {
	mu sync.Mutex
	m  map[string]formats.Findings
}

func (l *foundLog) found(p string, f formats.Findings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]formats.Findings{}
	}
	if _, ok := l.m[p]; ok {
		panic("found twice: " + p)
	}
	l.m[p] = f
}

func backup(t testing.TB, src string) (*repository.Repository, string, *repository.Snapshot) {
	t.Helper()
	repo, dir := archivertest.NewRepo(t)
	sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(context.Background(), []string{src}, archiver.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return repo, dir, sn
}

// ancestors returns the snapshot paths of the directories above p and p.
func ancestors(p string) []string {
	var as []string
	for ; p != "/"; p = path.Dir(p) {
		as = append(as, p)
	}
	return as
}

// rewriteKeepTimes replaces the content of an existing file, keeping its
// mode, owner and mtime.
func rewriteKeepTimes(t *testing.T, p string, data []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// removeKeepTimes removes p and what is below it, keeping its directory's
// mtime.
func removeKeepTimes(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Dir(p), fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".lethe-restore-") {
			t.Errorf("temporary file %s left behind", p)
		}
		return nil
	})
}

// TestRestoreFilterRedacts restores a snapshot through a filter that
// removes the subject's lines from text files: those files come out
// redacted with the node's mode, owner and mtime, a file that is only the
// subject's is left out, every other item is byte-identical, and only
// the filtered files' blobs are loaded one by one.
func TestRestoreFilterRedacts(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	notes := filepath.Join(src, "notes")
	if err := os.MkdirAll(filepath.Join(notes, "many"), 0o750); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2022, 1, 2, 3, 4, 5, 6, time.UTC)
	write := func(name, content string) {
		archivertest.WriteFile(t, filepath.Join(notes, name), []byte(content), 0o640, mt)
	}
	write("mixed.txt", "hello\n"+subject+" wrote\nbye")
	write("only.txt", "x "+subject+"\nto "+subject+"\n")
	write("twice.txt", "first line\nsecond line, "+subject+"\nthird line\n")
	write("empty.txt", "")
	var big bytes.Buffer
	for i := 0; big.Len() < 5<<20; i++ {
		if i%1000 == 7 {
			fmt.Fprintf(&big, "line %d from %s\n", i, subject)
		} else {
			fmt.Fprintf(&big, "line %d of a long log\n", i)
		}
	}
	write("big.txt", big.String())
	for i := 0; i < 120; i++ {
		c := fmt.Sprintf("note %d\nmore %d\n", i, i)
		if i%3 == 0 {
			c += "mail " + subject + "\n"
		}
		write(fmt.Sprintf("many/n%03d.txt", i), c)
	}
	if err := os.Lchown(filepath.Join(notes, "mixed.txt"), 1234, 5678); err != nil && os.Geteuid() == 0 {
		t.Fatal(err)
	}
	for _, d := range []string{"many", "."} {
		os.Chtimes(filepath.Join(notes, d), mt, mt)
	}
	repo, _, sn := backup(t, src)

	// The expected tree is the source with the filter applied.
	wantRemoved, wantRedacted := 0, 0
	wantFound := map[string]int{}
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".txt") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out, f := redactLines(data, false)
		wantFound[p] = f.Removed
		wantRemoved += f.Removed
		switch {
		case f.Removed > 0 && f.Removed == f.Records:
			removeKeepTimes(t, p)
		case f.Removed > 0:
			wantRedacted++
			rewriteKeepTimes(t, p, out)
		}
		return nil
	})

	var found foundLog
	filter := &lineFilter{}
	crepo := &countingRepo{Repository: repo}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(crepo, sn, restorer.Options{Filter: filter, Found: found.found}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, src, filepath.Join(dst, src))
	noTempFiles(t, dst)
	if b, err := os.ReadFile(filepath.Join(dst, notes, "mixed.txt")); err != nil || string(b) != "hello\nbye" {
		t.Errorf("mixed.txt restored as %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, notes, "only.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file that is only the subject's was restored: %v", err)
	}

	wantFiles := uint64(9+len(archivertest.OddNames)) + 125 - 1
	if st.Files != wantFiles || st.Errors != 0 || st.FilesRedacted != uint64(wantRedacted) || st.FilesDropped != 1 ||
		st.DirsDropped != 0 || st.OthersDropped != 0 || len(st.RecordsRemoved) != 1 || st.RecordsRemoved[formats.FormatText] != uint64(wantRemoved) {
		t.Errorf("stats %+v, want %d files, %d redacted, 1 dropped, %d text records removed", st, wantFiles, wantRedacted, wantRemoved)
	}
	if len(found.m) != len(wantFound) {
		t.Errorf("found %d items, want %d", len(found.m), len(wantFound))
	}
	for p, removed := range wantFound {
		if f, ok := found.m[p]; !ok || f.Removed != removed || f.Dropped != (p == filepath.Join(notes, "only.txt")) {
			t.Errorf("%s: found %+v (reported: %v), want %d removed", p, f, ok, removed)
		}
	}
	for id := range crepo.loaded {
		if !filter.filtered[id] {
			t.Errorf("blob %s of a kept file was loaded one by one", id.Str())
		}
	}
	if len(crepo.loaded) == 0 {
		t.Error("no filtered content was loaded")
	}
}

// TestRestoreFilterKeepAll restores through a filter that keeps
// everything: the result equals the source and restic's own restore of
// the same snapshot, no blob is loaded one by one, and Decide was asked
// about every item once.
func TestRestoreFilterKeepAll(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	archivertest.MakeTree(t, src, 0)
	repo, repoDir, sn := backup(t, src)

	filter := &keepAll{}
	crepo := &countingRepo{Repository: repo}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(crepo, sn, restorer.Options{Filter: filter, Found: func(p string, _ formats.Findings) {
		t.Errorf("found something in %s", p)
	}}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	archivertest.Compare(t, src, filepath.Join(dst, src))
	rdst := filepath.Join(t.TempDir(), "restic")
	restictest.Run(t, repoDir, "restore", "latest", "--target", rdst)
	archivertest.Compare(t, filepath.Join(rdst, src), filepath.Join(dst, src))

	plain, err := restorer.New(repo, sn, restorer.Options{}).RestoreTo(context.Background(), filepath.Join(t.TempDir(), "plain"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files == 0 || !statsEqual(st, plain) {
		t.Errorf("stats with a keep-all filter %+v, without a filter %+v", st, plain)
	}
	if len(crepo.loaded) != 0 {
		t.Errorf("%d blobs loaded one by one with a keep-all filter", len(crepo.loaded))
	}

	want := map[string]bool{}
	for _, p := range ancestors(src) {
		want[p] = true
	}
	filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		want[p] = true
		return err
	})
	for p := range want {
		if !filter.decided[p] {
			t.Errorf("not asked about %q", p)
		}
	}
	for p := range filter.decided {
		if !want[p] {
			t.Errorf("asked about %q, which is not in the source", p)
		}
	}
}

func statsEqual(a, b restorer.Stats) bool {
	return a.Files == b.Files && a.Dirs == b.Dirs && a.Symlinks == b.Symlinks && a.Others == b.Others &&
		a.Bytes == b.Bytes && a.Errors == b.Errors && a.FilesRedacted == b.FilesRedacted &&
		a.FilesDropped == b.FilesDropped && a.DirsDropped == b.DirsDropped && a.OthersDropped == b.OthersDropped &&
		len(a.RecordsRemoved) == 0 && len(b.RecordsRemoved) == 0
}

// makeCustomers writes a tree with a folder named after the subject, a
// file and a symlink named after her, and files of others.
func makeCustomers(t *testing.T, src string) {
	t.Helper()
	mt := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, d := range []string{"kunder/anna/sub", "kunder/bo", "a"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"kunder/anna/notes.txt":    "Anna's notes\n",
		"kunder/anna/sub/deep.dat": "deep",
		"kunder/bo/notes.txt":      "Bo's notes\ncc " + subject + "\n",
		"kunder/bo/invoice.pdf":    "%PDF-1.4 invoice",
		"a/anna.vcf":               "BEGIN:VCARD\nEND:VCARD\n",
		"a/other.vcf":              "BEGIN:VCARD\nFN:Bo\nEND:VCARD\n",
	} {
		archivertest.WriteFile(t, filepath.Join(src, name), []byte(content), 0o644, mt)
	}
	if err := os.Symlink("kunder/anna", filepath.Join(src, "link-anna")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("kunder/bo", filepath.Join(src, "link-bo")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"kunder/anna/sub", "kunder/anna", "kunder/bo", "kunder", "a", "."} {
		if err := os.Chtimes(filepath.Join(src, d), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreFilterDrop drops a directory, a file and a symlink: none of
// them exists after the restore (no empty file, no directory), nothing
// below the dropped directory is asked about, and everything else is
// restored as it was.
func TestRestoreFilterDrop(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeCustomers(t, src)
	repo, _, sn := backup(t, src)

	var found foundLog
	filter := &lineFilter{}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{Filter: filter, Found: found.found}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kunder/anna", "a/anna.vcf", "link-anna"} {
		if _, err := os.Lstat(filepath.Join(dst, src, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: dropped, but Lstat says %v", name, err)
		}
		f, ok := found.m[filepath.Join(src, name)]
		if !ok || !f.Dropped || f.Removed != 1 || f.Format != formats.FormatName || !slices.Equal(f.Refs, []string{"t1"}) {
			t.Errorf("%s: found %+v (reported: %v)", name, f, ok)
		}
	}
	for p := range filter.decidedSet() {
		if strings.HasPrefix(p, filepath.Join(src, "kunder/anna")+"/") {
			t.Errorf("asked about %s below a dropped directory", p)
		}
	}
	if st.DirsDropped != 1 || st.FilesDropped != 1 || st.OthersDropped != 1 || st.FilesRedacted != 1 ||
		st.RecordsRemoved[formats.FormatName] != 3 || st.RecordsRemoved[formats.FormatText] != 1 || st.Files != 3 || st.Symlinks != 1 {
		t.Errorf("stats %+v", st)
	}

	for _, name := range []string{"kunder/anna", "a/anna.vcf", "link-anna"} {
		removeKeepTimes(t, filepath.Join(src, name))
	}
	rewriteKeepTimes(t, filepath.Join(src, "kunder/bo/notes.txt"), []byte("Bo's notes\n"))
	archivertest.Compare(t, src, filepath.Join(dst, src))
}

// TestRestoreFilterInclude combines an include with a filter: only the
// items on the way to the included paths are asked about, a dropped
// directory on that way is not created, and the included file of another
// customer is filtered.
func TestRestoreFilterInclude(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	makeCustomers(t, src)
	repo, _, sn := backup(t, src)

	filter := &lineFilter{}
	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{Filter: filter, Include: []string{filepath.Join(src, "kunder/*/notes.txt")}}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range append(ancestors(filepath.Join(src, "kunder")), filepath.Join(src, "kunder/anna"), filepath.Join(src, "kunder/bo"), filepath.Join(src, "kunder/bo/notes.txt")) {
		want[p] = true
	}
	if got := filter.decidedSet(); !mapsEqual(got, want) {
		t.Errorf("asked about %v, want %v", keys(got), keys(want))
	}
	if b, err := os.ReadFile(filepath.Join(dst, src, "kunder/bo/notes.txt")); err != nil || string(b) != "Bo's notes\n" {
		t.Errorf("included file restored as %q, %v", b, err)
	}
	var got []string
	filepath.WalkDir(filepath.Join(dst, src), func(p string, _ fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(filepath.Join(dst, src), p)
		got = append(got, rel)
		return err
	})
	if !slices.Equal(got, []string{".", "kunder", "kunder/bo", "kunder/bo/notes.txt"}) {
		t.Errorf("restored %q", got)
	}
	if st.Files != 1 || st.FilesRedacted != 1 || st.DirsDropped != 1 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestRestoreFilterHardLinks restores an inode with five names: the
// filtered names whose output is equal stay one inode, a filtered name
// whose output differs (it depends on the path) gets its own, and the
// kept names stay one inode with the original content.
func TestRestoreFilterHardLinks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	names := []string{"a/doc.txt", "b/doc.txt", "c/doc.dat", "d/doc.dat", "upper/doc.txt"}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(src, path.Dir(n)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	orig := "one\n" + subject + "\ntwo\n"
	archivertest.WriteFile(t, filepath.Join(src, names[0]), []byte(orig), 0o640, time.Unix(1.5e9, 0))
	for _, n := range names[1:] {
		if err := os.Link(filepath.Join(src, names[0]), filepath.Join(src, n)); err != nil {
			t.Fatal(err)
		}
	}
	repo, _, sn := backup(t, src)

	dst := filepath.Join(t.TempDir(), "dst")
	st, err := restorer.New(repo, sn, restorer.Options{Filter: &lineFilter{}}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	fis := map[string]os.FileInfo{}
	for _, n := range names {
		p := filepath.Join(dst, src, n)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		fis[n] = fi
		want := orig
		switch path.Ext(n) {
		case ".txt":
			want = "one\ntwo\n"
			if strings.HasPrefix(n, "upper/") {
				want = "ONE\nTWO\n"
			}
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", n, b, err, want)
		}
		if fi.Mode() != 0o640 || !fi.ModTime().Equal(time.Unix(1.5e9, 0)) {
			t.Errorf("%s: mode %v mtime %v", n, fi.Mode(), fi.ModTime())
		}
	}
	for _, pair := range [][2]string{{"a/doc.txt", "b/doc.txt"}, {"c/doc.dat", "d/doc.dat"}} {
		if !os.SameFile(fis[pair[0]], fis[pair[1]]) {
			t.Errorf("%s and %s are not one inode", pair[0], pair[1])
		}
	}
	for _, pair := range [][2]string{{"a/doc.txt", "c/doc.dat"}, {"a/doc.txt", "upper/doc.txt"}, {"c/doc.dat", "upper/doc.txt"}} {
		if os.SameFile(fis[pair[0]], fis[pair[1]]) {
			t.Errorf("%s and %s share an inode but not their content", pair[0], pair[1])
		}
	}
	if st.Files != 5 || st.FilesRedacted != 3 || st.RecordsRemoved[formats.FormatText] != 3 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}

	// When the first filtered name is left out, the next one is written.
	sn2 := snapshotOf(t, repo, rewriteNames(t, repo, sn, map[string]string{"doc.txt": "anna.txt"}, "a"))
	dst2 := filepath.Join(t.TempDir(), "dst")
	if _, err := restorer.New(repo, sn2, restorer.Options{Filter: &lineFilter{}}).RestoreTo(context.Background(), dst2); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst2, src, "b/doc.txt")); err != nil || string(b) != "one\ntwo\n" {
		t.Errorf("second name after a dropped first: %q %v", b, err)
	}
}

// rewriteNames returns a copy of sn's tree in which the entries of the
// directories named dir are renamed by rename.
func rewriteNames(t *testing.T, repo *repository.Repository, sn *repository.Snapshot, rename map[string]string, dir string) repository.ID {
	t.Helper()
	var rewrite func(id repository.ID, name string) repository.ID
	rewrite = func(id repository.ID, name string) repository.ID {
		tree, err := repo.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var nodes []*repository.Node
		for _, n := range tree.Nodes {
			c := *n
			if c.Type == repository.NodeDir {
				sub := rewrite(*c.Subtree, c.Name)
				c.Subtree = &sub
			} else if to, ok := rename[c.Name]; ok && name == dir {
				c.Name = to
			}
			nodes = append(nodes, &c)
		}
		return saveTree(t, repo, nodes...)
	}
	return rewrite(*sn.Tree, "")
}

// TestRestoreFilterErrors makes the filter fail in each way it can: every
// failing item is reported with its path, masked, and is not restored;
// nothing unfiltered and no temporary file is left; the other items are
// restored.
func TestRestoreFilterErrors(t *testing.T) {
	repo, _ := archivertest.NewRepo(t)
	content := "kept\n" + subject + "\n"
	missing := fileNode(t, repo, "missing-blob.txt", content)
	missing.Content = repository.IDs{repository.Hash([]byte("not stored"))}
	inner := saveTree(t, repo, fileNode(t, repo, "inner.txt", content))
	dir := func(name string, sub repository.ID) *repository.Node {
		return &repository.Node{Name: name, Type: repository.NodeDir, Mode: os.ModeDir | 0o755, ModTime: time.Unix(1e9, 0), Subtree: &sub}
	}
	customer := saveTree(t, repo, fileNode(t, repo, "fail-decide.txt", content), fileNode(t, repo, "ok.txt", content))
	root := saveTree(t, repo,
		fileNode(t, repo, "fail-decide.txt", content),
		fileNode(t, repo, "fail-filter.txt", content),
		fileNode(t, repo, "fail-late.txt", content),
		missing,
		fileNode(t, repo, "ok.txt", content),
		fileNode(t, repo, "kept.dat", content),
		dir("fail-decide-dir", inner),
		dir("fail-dir-as-filter", inner),
		dir("kund-anna", customer),
		dir("bo", customer),
	)
	sn := snapshotOf(t, repo, root)
	mask := func(p string) string { return strings.ReplaceAll(p, "anna", "***") }

	var (
		mu       sync.Mutex
		reported []string
	)
	var found foundLog
	dst := t.TempDir()
	st, err := restorer.New(repo, sn, restorer.Options{
		Filter:   &lineFilter{},
		MaskPath: mask,
		Found:    found.found,
		Error: func(p string, err error) error {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, p)
			if strings.Contains(err.Error(), subject) || strings.Contains(err.Error(), "anna") {
				t.Errorf("error for %s names the subject: %v", p, err)
			}
			return nil
		},
	}).RestoreTo(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(reported)
	want := []string{"/bo/fail-decide.txt", "/fail-decide-dir", "/fail-decide.txt", "/fail-dir-as-filter", "/fail-filter.txt", "/fail-late.txt", "/missing-blob.txt"}
	if !slices.Equal(reported, want) || st.Errors != uint64(len(want)) {
		t.Errorf("reported %q (stats %+v), want %q", reported, st, want)
	}
	for _, p := range want {
		if _, err := os.Lstat(filepath.Join(dst, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s failed, but Lstat says %v", p, err)
		}
	}
	noTempFiles(t, dst)
	for p, want := range map[string]string{"ok.txt": "kept\n", "bo/ok.txt": "kept\n", "kept.dat": content} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", p, b, err, want)
		}
	}
	if _, ok := found.m["/kund-***"]; !ok || len(found.m) != 3 {
		t.Errorf("found %v, want the masked dropped directory and two filtered files", found.m)
	}
	if st.Files != 3 || st.DirsDropped != 1 || st.FilesRedacted != 2 {
		t.Errorf("stats %+v", st)
	}

	// Without an Error callback the first failure aborts the restore; the
	// error names the item, masked.
	customer2 := saveTree(t, repo, fileNode(t, repo, "fail-filter.txt", content))
	sn = snapshotOf(t, repo, saveTree(t, repo, dir("x-anna-x", customer2)))
	keepName := &prefixFilter{lineFilter: &lineFilter{}, keep: "x-anna-x"}
	_, err = restorer.New(repo, sn, restorer.Options{Filter: keepName, MaskPath: mask}).RestoreTo(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "/x-***-x/fail-filter.txt") || strings.Contains(err.Error(), "anna") {
		t.Errorf("restore returned %v, want the masked path", err)
	}
}

// prefixFilter keeps the item named keep instead of asking lineFilter.
type prefixFilter struct {
	*lineFilter
	keep string
}

func (f *prefixFilter) Decide(ctx context.Context, p string, n *repository.Node) (formats.Decision, formats.Findings, error) {
	if path.Base(p) == f.keep {
		return formats.Keep, formats.Findings{}, nil
	}
	return f.lineFilter.Decide(ctx, p, n)
}

// benchSnapshot backs up about 96 MiB (one 32 MiB file and 1000 files of
// 64 KiB) and returns the snapshot with its size.
func benchSnapshot(b *testing.B) (*repository.Repository, *repository.Snapshot, int64) {
	src := filepath.Join(b.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	var big bytes.Buffer
	archivertest.Pattern(&big, 1, 32<<20)
	archivertest.WriteFile(b, filepath.Join(src, "big"), big.Bytes(), 0o644, time.Now())
	total := int64(big.Len())
	for i := 0; i < 1000; i++ {
		dir := filepath.Join(src, fmt.Sprintf("d%02d", i%20))
		os.MkdirAll(dir, 0o755)
		var buf bytes.Buffer
		archivertest.Pattern(&buf, uint64(i+2), 64<<10)
		archivertest.WriteFile(b, filepath.Join(dir, fmt.Sprintf("f%04d", i)), buf.Bytes(), 0o644, time.Now())
		total += int64(buf.Len())
	}
	repo, _, sn := backup(b, src)
	return repo, sn, total
}

var benchFilters = []struct {
	name   string
	filter restorer.Filter
}{
	{"NoFilter", nil},
	{"KeepAll", keepFilter{}},
	{"Filter1pct", passFilter{}},
}

// benchRestore restores sn into dst, which it empties first, and returns
// how long the restore took. Nothing of an earlier restore is still to be
// written back when the timer runs, so that the order of the runs does
// not matter.
func benchRestore(b *testing.B, repo *repository.Repository, sn *repository.Snapshot, total int64, filter restorer.Filter, dst string) time.Duration {
	b.StopTimer()
	if err := os.RemoveAll(dst); err != nil {
		b.Fatal(err)
	}
	unix.Sync()
	b.StartTimer()
	start := time.Now()
	st, err := restorer.New(repo, sn, restorer.Options{Filter: filter}).RestoreTo(context.Background(), dst)
	took := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if st.Bytes != uint64(total) {
		b.Fatalf("restored %d bytes, want %d", st.Bytes, total)
	}
	return took
}

// BenchmarkRestore measures restoring a snapshot of about 96 MiB without
// a filter, with a filter that keeps everything, and with one that
// passes 1% of the files through FilterContent unchanged.
func BenchmarkRestore(b *testing.B) {
	repo, sn, total := benchSnapshot(b)
	for _, bf := range benchFilters {
		b.Run(bf.name, func(b *testing.B) {
			b.SetBytes(total)
			dst := filepath.Join(b.TempDir(), "dst")
			for i := 0; i < b.N; i++ {
				benchRestore(b, repo, sn, total, bf.filter, dst)
			}
		})
	}
}

// BenchmarkRestoreRatio runs the restores of BenchmarkRestore in turn,
// so that a machine busy with other work slows all of them alike, and
// reports each one's time and its ratio to the restore without a filter.
func BenchmarkRestoreRatio(b *testing.B) {
	repo, sn, total := benchSnapshot(b)
	dst := filepath.Join(b.TempDir(), "dst")
	spent := make([]time.Duration, len(benchFilters))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range benchFilters {
			// Rotate the order, so that no filter always runs first.
			j := (i + k) % len(benchFilters)
			spent[j] += benchRestore(b, repo, sn, total, benchFilters[j].filter, dst)
		}
	}
	for j, bf := range benchFilters {
		b.ReportMetric(float64(spent[j].Microseconds())/1e3/float64(b.N), bf.name+"-ms/op")
		if j > 0 {
			b.ReportMetric(float64(spent[j])/float64(spent[0]), bf.name+"/NoFilter")
		}
	}
}

// keepFilter keeps everything.
type keepFilter struct{}

func (keepFilter) Decide(context.Context, string, *repository.Node) (formats.Decision, formats.Findings, error) {
	return formats.Keep, formats.Findings{}, nil
}

func (keepFilter) FilterContent(context.Context, string, *repository.Node, func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	return nil, formats.Findings{}, errors.New("FilterContent called for a kept file")
}

// passFilter sends every hundredth file through FilterContent, which
// returns its content unchanged.
type passFilter struct{}

func (passFilter) Decide(_ context.Context, p string, n *repository.Node) (formats.Decision, formats.Findings, error) {
	if n.Type == repository.NodeFile && strings.HasSuffix(p, "00") {
		return formats.Filter, formats.Findings{}, nil
	}
	return formats.Keep, formats.Findings{}, nil
}

func (passFilter) FilterContent(_ context.Context, _ string, _ *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	r, err := open()
	return r, formats.Findings{Format: formats.FormatFallback, Records: 1}, err
}
