package archiver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/agent/restorer"
)

// marker stands for an erased subject in the test filter's files.
const marker = "SUBJECT-4711"

var errFilter = errors.New("filter failed")

// markerFilter is a Filter in the manner of a redactor: it drops items by
// name, filters the content of .txt files by dropping the lines that hold
// the marker (or the whole file when it starts with "WHOLE"), and keeps
// everything else. With erased unset it finds nothing (no tombstone yet).
type markerFilter struct {
	erased   bool
	drop     map[string]bool // base names dropped by Decide
	failOn   map[string]bool // base names for which the filter fails
	twice    map[string]bool // base names read twice (scan, then redact)
	notFiles map[string]bool // base names Decide asks to filter whatever they are

	mu      sync.Mutex
	decided map[string]repository.IDs // path -> node.Content seen by Decide
}

func (f *markerFilter) Decide(_ context.Context, path string, node *repository.Node) (formats.Decision, formats.Findings, error) {
	name := filepath.Base(path)
	f.mu.Lock()
	if f.decided == nil {
		f.decided = map[string]repository.IDs{}
	}
	f.decided[path] = slices.Clone(node.Content)
	f.mu.Unlock()
	switch {
	case f.failOn[name] && node.Type != repository.NodeFile:
		return 0, formats.Findings{}, errFilter
	case f.notFiles[name]:
		return formats.Filter, formats.Findings{}, nil
	case f.erased && f.drop[name]:
		return formats.Drop, formats.Findings{Format: formats.FormatName, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}}, nil
	case node.Type == repository.NodeFile && strings.HasSuffix(name, ".txt"):
		return formats.Filter, formats.Findings{}, nil
	}
	return formats.Keep, formats.Findings{}, nil
}

func (f *markerFilter) FilterContent(_ context.Context, path string, node *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	name := filepath.Base(path)
	if f.failOn[name] {
		return nil, formats.Findings{}, errFilter
	}
	read := func() ([]byte, error) {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	data, err := read()
	if err != nil {
		return nil, formats.Findings{}, fmt.Errorf("reading: %w", err)
	}
	if f.twice[name] {
		if data, err = read(); err != nil {
			return nil, formats.Findings{}, fmt.Errorf("reading again: %w", err)
		}
	}
	if f.erased && bytes.HasPrefix(data, []byte("WHOLE")) && bytes.Contains(data, []byte(marker)) {
		return nil, formats.Findings{Format: formats.FormatFallback, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}}, nil
	}
	out, found := removeLines(data, f.erased)
	return io.NopCloser(bytes.NewReader(out)), found, nil
}

// removeLines drops the lines holding the marker when erased is set.
func removeLines(data []byte, erased bool) ([]byte, formats.Findings) {
	found := formats.Findings{Format: formats.FormatText}
	var out []byte
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		found.Records++
		if erased && bytes.Contains(line, []byte(marker)) {
			found.Removed++
			continue
		}
		out = append(out, line...)
	}
	if found.Removed > 0 {
		found.Refs = []string{"t1"}
	}
	return out, found
}

// foundLog collects what Options.Found is told.
type foundLog struct {
	mu    sync.Mutex
	items map[string]found
}

type found struct {
	node *repository.Node
	f    formats.Findings
}

func (l *foundLog) found(path string, node *repository.Node, f formats.Findings) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.items == nil {
		l.items = map[string]found{}
	}
	if _, dup := l.items[path]; dup {
		panic("Found called twice for " + path)
	}
	c := *node
	l.items[path] = found{node: &c, f: f}
}

// snapshotNodes returns the nodes of a snapshot by their path.
func snapshotNodes(t *testing.T, repo *repository.Repository, sn *repository.Snapshot) map[string]*repository.Node {
	t.Helper()
	nodes := map[string]*repository.Node{}
	var walk func(dir string, id repository.ID)
	walk = func(dir string, id repository.ID) {
		tree, err := loadTree(repo, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tree.Nodes {
			p := filepath.Join(dir, n.Name)
			nodes[p] = n
			if n.Type == repository.NodeDir {
				walk(p, *n.Subtree)
			}
		}
	}
	walk("/", *sn.Tree)
	return nodes
}

// readRestored returns the restored content of each of names below dir.
func readRestored(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatalf("restored %s: %v", n, err)
		}
		got[n] = string(b)
	}
	return got
}

// TestFilterUnchangedFiles checks that files unchanged since the parent
// snapshot are still decided on and filtered: a subject erased after the
// first backup is gone from the next one, and the rest of the file is
// byte-identical.
func TestFilterUnchangedFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	notes := "first line\nmail " + marker + " here\nmiddle line\n" + marker + "\nlast line without newline"
	clean := "first line\nmiddle line\nlast line without newline"
	archivertest.WriteFile(t, filepath.Join(src, "notes.txt"), []byte(notes), 0o640, mt)
	archivertest.WriteFile(t, filepath.Join(src, "plain.txt"), []byte("nothing to see\n"), 0o644, mt)
	archivertest.WriteFile(t, filepath.Join(src, "data.bin"), []byte("binary "+marker), 0o644, mt)
	repo, repoDir := archivertest.NewRepo(t)

	// Before the erasure the filter finds nothing.
	flt := &markerFilter{}
	sn1, st1 := backup(t, repo, archiver.Options{Filter: flt}, archiver.SnapshotOptions{}, src)
	if st1.FilesRedacted != 0 || st1.FilesNew != 3 || len(st1.RecordsRemoved) != 0 {
		t.Errorf("first backup: %+v", st1)
	}
	for p, content := range flt.decided {
		if content != nil {
			t.Errorf("%s: Decide saw content %v in a backup without parent", p, content)
		}
	}
	n1 := snapshotNodes(t, repo, sn1)

	// After it, the unchanged file loses the subject's lines.
	flt = &markerFilter{erased: true}
	var log foundLog
	sn2, st2 := backup(t, repo, archiver.Options{Filter: flt, Found: log.found}, archiver.SnapshotOptions{Parent: sn1}, src)
	dst := restoreLethe(t, repo, sn2, restorer.Options{})
	got := readRestored(t, filepath.Join(dst, src), "notes.txt", "plain.txt", "data.bin")
	want := map[string]string{"notes.txt": clean, "plain.txt": "nothing to see\n", "data.bin": "binary " + marker}
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("second backup: %s restored as %q, want %q", n, got[n], want[n])
		}
	}
	// Decide saw the parent's content of every unchanged file.
	for _, n := range []string{"notes.txt", "plain.txt", "data.bin"} {
		p := filepath.Join(src, n)
		if c := flt.decided[p]; len(c) == 0 || !slices.Equal(c, n1[p].Content) {
			t.Errorf("%s: Decide saw content %v, want the parent's %v", n, c, n1[p].Content)
		}
	}
	if st2.FilesRedacted != 1 || st2.FilesChanged != 1 || st2.FilesUnmodified != 2 || st2.FilesRead != 2 ||
		st2.RecordsRemoved[formats.FormatText] != 2 || len(st2.RecordsRemoved) != 1 {
		t.Errorf("second backup: %+v", st2)
	}

	// The stored node has the stored size and the source's metadata, and
	// Found saw it with its final content.
	n2 := snapshotNodes(t, repo, sn2)
	notesPath := filepath.Join(src, "notes.txt")
	node := n2[notesPath]
	if node.Size != uint64(len(clean)) || node.Mode != 0o640 || !node.ModTime.Equal(mt) || node.UID != n1[notesPath].UID || node.Inode != n1[notesPath].Inode {
		t.Errorf("redacted node: %+v", node)
	}
	if len(log.items) != 2 {
		t.Errorf("Found told about %d items, want the 2 filtered ones: %v", len(log.items), log.items)
	}
	for _, n := range []string{"notes.txt", "plain.txt"} {
		p := filepath.Join(src, n)
		it, ok := log.items[p]
		if !ok || !slices.Equal(it.node.Content, n2[p].Content) || it.node.Size != n2[p].Size {
			t.Errorf("Found for %s: %+v, stored %+v", n, it.node, n2[p])
		}
	}
	if f := log.items[notesPath].f; f.Removed != 2 || f.Records != 5 || f.Format != formats.FormatText || f.Dropped {
		t.Errorf("findings of notes.txt: %+v", f)
	}

	// A third backup filters again (the stored size differs from the
	// file's) and stores the same content.
	sn3, st3 := backup(t, repo, archiver.Options{Filter: &markerFilter{erased: true}}, archiver.SnapshotOptions{Parent: sn2}, src)
	n3 := snapshotNodes(t, repo, sn3)
	if !slices.Equal(n3[notesPath].Content, n2[notesPath].Content) || st3.DataBlobs != 0 || st3.FilesRedacted != 1 {
		t.Errorf("third backup: %+v, content %v, want %v", st3, n3[notesPath].Content, n2[notesPath].Content)
	}

	restictest.Check(t, repoDir)
	for _, sn := range []*repository.Snapshot{sn2, sn3} {
		rdst := filepath.Join(t.TempDir(), "restic-restore")
		restictest.Run(t, repoDir, "restore", sn.ID.String(), "--target", rdst)
		got := readRestored(t, filepath.Join(rdst, src), "notes.txt", "plain.txt", "data.bin")
		for n := range want {
			if got[n] != want[n] {
				t.Errorf("restic restore of %s: %s is %q, want %q", sn.ID.Str(), n, got[n], want[n])
			}
		}
	}
}

// TestFilterDrops checks that dropped files, directories and symlinks,
// and a file the filter drops by its content, are absent from the
// snapshot (not empty), that a dropped directory is not descended into,
// and that Found and Stats account for every dropped and filtered item.
func TestFilterDrops(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	for _, d := range []string{"kunder/subject-dir/inner", "kunder/other"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"kunder/subject-dir/a.txt":       "a\n",
		"kunder/subject-dir/inner/b.txt": "b\n",
		"kunder/other/keep.txt":          "keep\n" + marker + "\nkeep too\n",
		"kunder/other/whole.txt":         "WHOLE file of " + marker + "\n",
		"kunder/other/subject-file.txt":  "by name\n",
		"kunder/other/twice.txt":         "read " + marker + " twice\nand kept\n",
		"kunder/other/image.bin":         "kept as it is " + marker,
	}
	for n, c := range files {
		archivertest.WriteFile(t, filepath.Join(src, n), []byte(c), 0o644, mt)
	}
	if err := os.Symlink("keep.txt", filepath.Join(src, "kunder/other/subject-link")); err != nil {
		t.Fatal(err)
	}
	repo, repoDir := archivertest.NewRepo(t)
	flt := &markerFilter{
		erased: true,
		drop:   map[string]bool{"subject-dir": true, "subject-file.txt": true, "subject-link": true},
		twice:  map[string]bool{"twice.txt": true},
	}
	var log foundLog
	var prog progress
	sn, st := backup(t, repo, archiver.Options{Filter: flt, Found: log.found, Progress: &prog}, archiver.SnapshotOptions{}, src)

	nodes := snapshotNodes(t, repo, sn)
	for _, gone := range []string{"kunder/subject-dir", "kunder/subject-dir/a.txt", "kunder/subject-dir/inner", "kunder/subject-dir/inner/b.txt",
		"kunder/other/whole.txt", "kunder/other/subject-file.txt", "kunder/other/subject-link"} {
		if n, ok := nodes[filepath.Join(src, gone)]; ok {
			t.Errorf("%s is in the snapshot: %+v", gone, n)
		}
	}
	for _, below := range []string{"kunder/subject-dir/a.txt", "kunder/subject-dir/inner"} {
		if _, ok := flt.decided[filepath.Join(src, below)]; ok {
			t.Errorf("Decide was asked about %s below a dropped directory", below)
		}
	}
	for _, kept := range []string{"kunder/other/keep.txt", "kunder/other/twice.txt", "kunder/other/image.bin"} {
		if _, ok := nodes[filepath.Join(src, kept)]; !ok {
			t.Errorf("%s is missing from the snapshot", kept)
		}
	}

	want := map[string]formats.Findings{
		"kunder/subject-dir":            {Format: formats.FormatName, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}},
		"kunder/other/subject-file.txt": {Format: formats.FormatName, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}},
		"kunder/other/subject-link":     {Format: formats.FormatName, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}},
		"kunder/other/whole.txt":        {Format: formats.FormatFallback, Records: 1, Removed: 1, Dropped: true, Refs: []string{"t1"}},
		"kunder/other/keep.txt":         {Format: formats.FormatText, Records: 3, Removed: 1, Refs: []string{"t1"}},
		"kunder/other/twice.txt":        {Format: formats.FormatText, Records: 2, Removed: 1, Refs: []string{"t1"}},
	}
	if len(log.items) != len(want) {
		t.Errorf("Found told about %d items, want %d: %v", len(log.items), len(want), log.items)
	}
	for rel, wf := range want {
		p := filepath.Join(src, rel)
		it, ok := log.items[p]
		if !ok {
			t.Errorf("Found not told about %s", rel)
			continue
		}
		if fmt.Sprint(it.f) != fmt.Sprint(wf) {
			t.Errorf("findings of %s: %+v, want %+v", rel, it.f, wf)
		}
		if stored, ok := nodes[p]; ok {
			if !slices.Equal(it.node.Content, stored.Content) || len(stored.Content) == 0 {
				t.Errorf("Found for %s: content %v, stored %v", rel, it.node.Content, stored.Content)
			}
		} else if it.node.Content != nil {
			t.Errorf("Found for dropped %s: content %v", rel, it.node.Content)
		}
	}

	if st.FilesDropped != 3 || st.DirsDropped != 1 || st.FilesRedacted != 2 || st.Errors != 0 ||
		fmt.Sprint(st.RecordsRemoved) != fmt.Sprint(map[formats.Format]uint64{formats.FormatName: 3, formats.FormatFallback: 1, formats.FormatText: 2}) {
		t.Errorf("stats: %+v", st)
	}
	twice := uint64(len(files["kunder/other/twice.txt"]))
	var readWant uint64
	for _, n := range []string{"kunder/other/keep.txt", "kunder/other/whole.txt", "kunder/other/image.bin"} {
		readWant += uint64(len(files[n]))
	}
	if st.FilesRead != 4 || st.BytesRead != readWant+2*twice {
		t.Errorf("read %d files, %d bytes; want 4 files, %d bytes (twice.txt twice)", st.FilesRead, st.BytesRead, readWant+2*twice)
	}
	// Progress covers every file but those below the dropped directory,
	// which is not walked.
	below := uint64(len(files["kunder/subject-dir/a.txt"]) + len(files["kunder/subject-dir/inner/b.txt"]))
	if !prog.totalDone || prog.bytes != prog.total-below {
		t.Errorf("progress reported %d of %d bytes, want all but the %d below the dropped directory", prog.bytes, prog.total, below)
	}

	restictest.Check(t, repoDir)
	out := restictest.Run(t, repoDir, "ls", sn.ID.String())
	if strings.Contains(out, "subject-") || strings.Contains(out, "whole.txt") || !strings.Contains(out, filepath.Join(src, "kunder/other/keep.txt")+"\n") {
		t.Errorf("restic ls:\n%s", out)
	}
	rdst := filepath.Join(t.TempDir(), "restic-restore")
	restictest.Run(t, repoDir, "restore", sn.ID.String(), "--target", rdst)
	got := readRestored(t, filepath.Join(rdst, src, "kunder/other"), "keep.txt", "twice.txt", "image.bin")
	for n, w := range map[string]string{"keep.txt": "keep\nkeep too\n", "twice.txt": "and kept\n", "image.bin": files["kunder/other/image.bin"]} {
		if got[n] != w {
			t.Errorf("restic restored %s as %q, want %q", n, got[n], w)
		}
	}
}

// TestFilterFailure checks that a filter failing for an item has it
// reported and left out, never stored unfiltered, and the snapshot marked
// incomplete; and that a file replaced before the filter opens it is
// caught like an unfiltered one.
func TestFilterFailure(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "dir-fail"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(src, "not-a-file"), 0o755); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	contents := map[string]string{
		"fail.txt":           "unfiltered " + marker + "\n",
		"swapped.txt":        "swapped " + marker + "\n",
		"ok.txt":             "fine\n",
		"dir-fail/under.txt": "under\n",
	}
	for n, c := range contents {
		archivertest.WriteFile(t, filepath.Join(src, n), []byte(c), 0o644, mt)
	}
	// The new file exists before the old one goes, so it cannot reuse
	// the old one's inode.
	hook := &startHook{actions: map[string]func(){"swapped.txt": func() {
		p := filepath.Join(src, "swapped.txt")
		os.WriteFile(p+".new", []byte("replaced "+marker+"\n"), 0o644)
		os.Rename(p+".new", p)
	}}}
	var mu sync.Mutex
	reported := map[string]error{}
	opts := archiver.Options{
		Filter:      &markerFilter{erased: true, failOn: map[string]bool{"fail.txt": true, "dir-fail": true}, notFiles: map[string]bool{"not-a-file": true}},
		FileWorkers: 1,
		Progress:    hook,
		Error: func(p string, err error) error {
			mu.Lock()
			defer mu.Unlock()
			reported[p] = err
			return nil
		},
	}
	repo, repoDir := archivertest.NewRepo(t)
	sn, st := backup(t, repo, opts, archiver.SnapshotOptions{}, src)

	want := []string{"fail.txt", "dir-fail", "not-a-file", "swapped.txt"}
	if !st.Incomplete() || st.Errors != uint64(len(want)) || len(reported) != len(want) {
		t.Errorf("stats %+v, reported %v; want %q reported", st, reported, want)
	}
	for _, n := range want {
		p := filepath.Join(src, n)
		err := reported[p]
		if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: reported %v", n, err)
		}
	}
	if !errors.Is(reported[filepath.Join(src, "fail.txt")], errFilter) || !errors.Is(reported[filepath.Join(src, "dir-fail")], errFilter) {
		t.Errorf("the filter's error is not kept: %v", reported)
	}
	nodes := snapshotNodes(t, repo, sn)
	for _, n := range want {
		if _, ok := nodes[filepath.Join(src, n)]; ok {
			t.Errorf("%s is in the snapshot", n)
		}
	}
	if _, ok := nodes[filepath.Join(src, "ok.txt")]; !ok {
		t.Error("ok.txt is missing")
	}
	// Neither the file the filter failed on nor the replaced one reached
	// the repository unfiltered (each is a single blob).
	for _, c := range []string{contents["fail.txt"], contents["swapped.txt"], "replaced " + marker + "\n"} {
		if repo.HasBlob(repository.BlobHandle{ID: repository.Hash([]byte(c)), Type: repository.DataBlob}) {
			t.Errorf("unfiltered content %q was stored", c)
		}
	}
	restictest.Check(t, repoDir)
}

// abortingFilter cancels the backup after its first open and then reads.
type abortingFilter struct {
	cancel  context.CancelFunc
	readErr error
}

func (f *abortingFilter) Decide(_ context.Context, _ string, node *repository.Node) (formats.Decision, formats.Findings, error) {
	if node.Type == repository.NodeFile {
		return formats.Filter, formats.Findings{}, nil
	}
	return formats.Keep, formats.Findings{}, nil
}

func (f *abortingFilter) FilterContent(ctx context.Context, _ string, _ *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	rc, err := open()
	if err != nil {
		return nil, formats.Findings{}, err
	}
	defer rc.Close()
	f.cancel()
	<-ctx.Done()
	_, f.readErr = io.ReadAll(rc)
	return nil, formats.Findings{}, f.readErr
}

// TestFilterAbort checks that the readers open gives a filter fail once
// the backup is cancelled, and that no snapshot is written.
func TestFilterAbort(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archivertest.WriteFile(t, filepath.Join(src, "f"), []byte("content"), 0o644, time.Now())
	repo, _ := archivertest.NewRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flt := &abortingFilter{cancel: cancel}
	var reported []string
	_, _, err := archiver.New(repo, archiver.Options{Filter: flt, Error: func(p string, err error) error {
		reported = append(reported, p)
		return nil
	}}).Snapshot(ctx, []string{src}, archiver.SnapshotOptions{})
	if !errors.Is(err, context.Canceled) || !errors.Is(flt.readErr, context.Canceled) || len(reported) != 0 {
		t.Errorf("backup returned %v, the filter read %v, reported %q", err, flt.readErr, reported)
	}
	sns, err := repo.Snapshots(context.Background())
	if err != nil || len(sns) != 0 {
		t.Errorf("snapshots after an aborted backup: %v %v", sns, err)
	}
}

// sameSizeFilter masks the marker in .txt files with as many '#', as a
// redaction that keeps a file's size does (a SQLite database rewritten
// without a row can).
type sameSizeFilter struct{}

func (sameSizeFilter) Decide(_ context.Context, _ string, node *repository.Node) (formats.Decision, formats.Findings, error) {
	if node.Type == repository.NodeFile {
		return formats.Filter, formats.Findings{}, nil
	}
	return formats.Keep, formats.Findings{}, nil
}

func (sameSizeFilter) FilterContent(_ context.Context, _ string, _ *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	rc, err := open()
	if err != nil {
		return nil, formats.Findings{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, formats.Findings{}, err
	}
	f := formats.Findings{Format: formats.FormatText, Records: 1}
	if bytes.Contains(data, []byte(marker)) {
		data = bytes.ReplaceAll(data, []byte(marker), bytes.Repeat([]byte("#"), len(marker)))
		f.Removed, f.Refs = 1, []string{"t1"}
	}
	return io.NopCloser(bytes.NewReader(data)), f, nil
}

// TestFilterRevokedSameSize: a file stored redacted to the same size is
// read again by the next backup, so that once the erasure is revoked (no
// filter) the file is stored whole, not reused from the parent.
func TestFilterRevokedSameSize(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	orig := "a row\nthe row of " + marker + "\nanother row\n"
	archivertest.WriteFile(t, filepath.Join(src, "db.txt"), []byte(orig), 0o644, mt)
	repo, repoDir := archivertest.NewRepo(t)

	sn1, st1 := backup(t, repo, archiver.Options{Filter: sameSizeFilter{}}, archiver.SnapshotOptions{}, src)
	if st1.FilesRedacted != 1 {
		t.Fatalf("first backup: %+v", st1)
	}
	got := readRestored(t, filepath.Join(restoreLethe(t, repo, sn1, restorer.Options{}), src), "db.txt")
	if got["db.txt"] == orig || len(got["db.txt"]) != len(orig) {
		t.Fatalf("first backup stored %q, want the same size without the marker", got["db.txt"])
	}

	sn2, st2 := backup(t, repo, archiver.Options{}, archiver.SnapshotOptions{Parent: sn1}, src)
	got = readRestored(t, filepath.Join(restoreLethe(t, repo, sn2, restorer.Options{}), src), "db.txt")
	if got["db.txt"] != orig || st2.FilesUnmodified != 0 {
		t.Errorf("backup after the revocation: %q (%+v), want the file whole", got["db.txt"], st2)
	}
	restictest.Check(t, repoDir)
}
