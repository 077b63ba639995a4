package archiver_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/archiver/archivertest"
	"lethe/agent/repository"
)

// contentLog is a ContentIndexer that keeps what it was given.
type contentLog struct {
	max int64
	mu  sync.Mutex
	got map[string][]byte // node name -> data
	ids map[string]repository.IDs
}

func (c *contentLog) MaxSize() int64 { return c.max }

func (c *contentLog) Index(_ string, node *repository.Node, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got, c.ids = map[string][]byte{}, map[string]repository.IDs{}
	}
	c.got[node.Name] = bytes.Clone(data)
	c.ids[node.Name] = node.Content
}

// TestIndexHook: the indexer is given the bytes and the stored content of
// every file read (the filtered content of a filtered one), nothing for
// files reused from the parent, and nothing for files over its limit.
func TestIndexHook(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	archivertest.WriteFile(t, filepath.Join(src, "a.bin"), []byte("alpha"), 0o644, mt)
	archivertest.WriteFile(t, filepath.Join(src, "big.bin"), big, 0o644, mt)
	archivertest.WriteFile(t, filepath.Join(src, "notes.txt"), []byte("keep\n"+marker+"\n"), 0o644, mt)
	archivertest.WriteFile(t, filepath.Join(src, "empty.bin"), nil, 0o644, mt)
	repo, _ := archivertest.NewRepo(t)

	ix := &contentLog{max: 1 << 19}
	sn1, _ := backup(t, repo, archiver.Options{Index: ix, Filter: &markerFilter{erased: true}}, archiver.SnapshotOptions{}, src)
	nodes := snapshotNodes(t, repo, sn1)
	want := map[string]string{"a.bin": "alpha", "notes.txt": "keep\n", "empty.bin": ""}
	if len(ix.got) != len(want) {
		t.Errorf("indexed %d files, want %d", len(ix.got), len(want))
	}
	for name, w := range want {
		if got, ok := ix.got[name]; !ok || string(got) != w {
			t.Errorf("%s: indexed %q (%v), want %q", name, got, ok, w)
		}
		if n := nodes[filepath.Join(src, name)]; n == nil || !sameIDs(n.Content, ix.ids[name]) {
			t.Errorf("%s: indexed with another content than stored", name)
		}
	}

	// Unchanged files are not read, so not indexed; a changed one is (and
	// notes.txt, whose stored size is the filtered one, counts as changed).
	archivertest.WriteFile(t, filepath.Join(src, "a.bin"), []byte("beta"), 0o644, mt.Add(time.Hour))
	ix2 := &contentLog{max: 1 << 19}
	backup(t, repo, archiver.Options{Index: ix2}, archiver.SnapshotOptions{Parent: sn1}, src)
	_, bigSeen := ix2.got["big.bin"]
	_, emptySeen := ix2.got["empty.bin"]
	if string(ix2.got["a.bin"]) != "beta" || bigSeen || emptySeen {
		t.Errorf("second backup indexed %v", ix2.got)
	}
}

func sameIDs(a, b repository.IDs) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// streamLog is a StreamIndexer whose streams take files named *.log and
// decline others; it keeps what each way was given.
type streamLog struct {
	contentLog
	streamed map[string][]byte // by node name, what the stream was given
}

type logStream struct {
	s    *streamLog
	name string
	buf  []byte
	took bool
}

func (s *streamLog) Stream(name string) archiver.IndexStream {
	return &logStream{s: s, name: name}
}

func (l *logStream) Write(p []byte) bool {
	if filepath.Ext(l.name) != ".log" {
		return false
	}
	if len(l.buf) < 1<<20 {
		l.buf = append(l.buf, p...)
		return true
	}
	// Past its first MiB, a declined stream gives its bytes back.
	if bytes.Contains(p, []byte("decline")) {
		return false
	}
	l.buf = append(l.buf, p...)
	return true
}

func (l *logStream) Taken() []byte { l.took = true; return l.buf }

func (l *logStream) Done(node *repository.Node) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.streamed == nil {
		l.s.streamed = map[string][]byte{}
	}
	l.s.streamed[node.Name] = l.buf
}

func (l *logStream) Abort() {}

// TestIndexStream: a large file goes to a StreamIndexer as it is read and
// is not held whole; one the stream declines, at once or later, reaches
// Index whole, with the bytes the stream had first.
func TestIndexStream(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	line := []byte("2026-11-20 rad i loggen\n")
	big := bytes.Repeat(line, (33<<20)/len(line))
	late := bytes.Clone(big)
	copy(late[20<<20:], "decline\n")
	files := map[string][]byte{"app.log": big, "late.log": late, "data.bin": big}
	for name, data := range files {
		archivertest.WriteFile(t, filepath.Join(src, name), data, 0o644, mt)
	}
	repo, _ := archivertest.NewRepo(t)
	ix := &streamLog{contentLog: contentLog{max: 64 << 20}}
	sn, _ := backup(t, repo, archiver.Options{Index: ix}, archiver.SnapshotOptions{}, src)
	nodes := snapshotNodes(t, repo, sn)
	if got := ix.streamed["app.log"]; !bytes.Equal(got, big) || ix.got["app.log"] != nil {
		t.Errorf("app.log: streamed %d bytes, indexed whole %d; want the %d streamed", len(got), len(ix.got["app.log"]), len(big))
	}
	for _, name := range []string{"late.log", "data.bin"} {
		if got := ix.got[name]; !bytes.Equal(got, files[name]) || ix.streamed[name] != nil {
			t.Errorf("%s: indexed whole %d bytes, streamed %d; want the %d whole", name, len(got), len(ix.streamed[name]), len(files[name]))
		}
		if n := nodes[filepath.Join(src, name)]; n == nil || !sameIDs(n.Content, ix.ids[name]) {
			t.Errorf("%s: indexed with another content than stored", name)
		}
	}
}
