// Package archivertest builds source trees for backup tests and compares
// restored trees with their sources.
package archivertest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

// NewRepo initialises a repository in a fresh directory with cheap KDF
// parameters and returns it with its directory.
func NewRepo(t testing.TB) (*repository.Repository, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Init(context.Background(), be, restictest.Password,
		repository.InitOptions{KDF: &repository.KDFParams{N: 1 << 10, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return repo, dir
}

// OpenRepo opens the repository in dir and loads its index.
func OpenRepo(t testing.TB, dir string) *repository.Repository {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := repository.Open(context.Background(), be, restictest.Password, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return repo
}

// Pattern writes n deterministic, incompressible-looking bytes derived
// from seed (xorshift64*), fast enough for files of hundreds of MiB.
func Pattern(w io.Writer, seed uint64, n int64) error {
	buf := make([]byte, 1<<20)
	x := seed | 1
	for n > 0 {
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x >> 12
			x ^= x << 25
			x ^= x >> 27
			binary.LittleEndian.PutUint64(buf[i:], x*2685821657736338717)
		}
		m := int64(len(buf))
		if m > n {
			m = n
		}
		if _, err := w.Write(buf[:m]); err != nil {
			return err
		}
		n -= m
	}
	return nil
}

// WriteFile creates a file with the given content, mode and mtime.
func WriteFile(t testing.TB, path string, data []byte, mode os.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// OddNames are file names that trip up careless code.
var OddNames = []string{
	"with space",
	"ünïcödé-名前-😀",
	"new\nline",
	`back\slash`,
	`quote"d`,
	"tab\tname",
	"-dash",
	".hidden",
	"%s%n",
}

// MakeTree fills dir with many kinds of entries: nested directories,
// empty files and directories, odd names, modes 0600/0755/0444, a setgid
// directory, symlinks (relative, absolute, dangling), a fifo, a file with
// a hole, duplicates, and files with set mtimes. big, when > 0, adds a
// file of that many bytes of deterministic data.
func MakeTree(t testing.TB, dir string, big int64) {
	t.Helper()
	mt := time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a", "b", "c", "d"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "odd"), 0o755))

	WriteFile(t, filepath.Join(dir, "empty"), nil, 0o644, mt)
	WriteFile(t, filepath.Join(dir, "private"), []byte("secret\n"), 0o600, mt.Add(time.Hour))
	WriteFile(t, filepath.Join(dir, "script.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755, mt.Add(2*time.Hour))
	WriteFile(t, filepath.Join(dir, "readonly"), []byte("read only\n"), 0o444, mt.Add(3*time.Hour))
	WriteFile(t, filepath.Join(dir, "a", "b", "c", "d", "deep.txt"), bytes.Repeat([]byte("deep "), 1000), 0o644, mt)
	var medium bytes.Buffer
	must(Pattern(&medium, 7, 3<<20+12345))
	WriteFile(t, filepath.Join(dir, "a", "medium.bin"), medium.Bytes(), 0o640, mt.Add(-time.Hour))
	WriteFile(t, filepath.Join(dir, "a", "b", "medium-copy.bin"), medium.Bytes(), 0o640, mt.Add(-2*time.Hour))
	for i, name := range OddNames {
		WriteFile(t, filepath.Join(dir, "odd", name), []byte(name), 0o644, mt.Add(time.Duration(i)*time.Minute))
	}

	// A file with a hole in the middle.
	f, err := os.Create(filepath.Join(dir, "sparse"))
	must(err)
	_, err = f.WriteAt([]byte("start"), 0)
	must(err)
	_, err = f.WriteAt([]byte("end"), 20<<20)
	must(err)
	must(f.Close())
	must(os.Chtimes(filepath.Join(dir, "sparse"), mt, mt))

	if big > 0 {
		f, err := os.Create(filepath.Join(dir, "big.bin"))
		must(err)
		must(Pattern(f, 42, big))
		must(f.Close())
		must(os.Chtimes(filepath.Join(dir, "big.bin"), mt, mt))
	}

	must(os.Symlink("a/b/c/d/deep.txt", filepath.Join(dir, "link-rel")))
	must(os.Symlink("/etc/hostname", filepath.Join(dir, "link-abs")))
	must(os.Symlink("does/not/exist", filepath.Join(dir, "link-dangling")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o640))
	must(os.Link(filepath.Join(dir, "script.sh"), filepath.Join(dir, "a", "hardlink-to-script")))
	if os.Geteuid() == 0 {
		// A character device like /dev/null (only root may create one).
		must(syscall.Mknod(filepath.Join(dir, "a", "null"), syscall.S_IFCHR|0o644, 1<<8|3))
	}

	must(os.Chmod(filepath.Join(dir, "a", "b"), 0o2750))
	must(os.Chmod(filepath.Join(dir, "emptydir"), 0o700))
	// Directory mtimes last: creating entries changes them.
	for _, d := range []string{"a/b/c/d", "a/b/c", "a/b", "a", "emptydir", "odd", "."} {
		must(os.Chtimes(filepath.Join(dir, d), mt.Add(-24*time.Hour), mt.Add(-24*time.Hour)))
	}
}

// Compare fails the test unless got holds exactly the entries of want
// with equal type, mode, owner, size, content, symlink target, device
// number and mtime (mtime of directories too, including want itself),
// and hard links in want are hard links in got.
func Compare(t testing.TB, want, got string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		seen[rel] = true
		compareEntry(t, rel, p, filepath.Join(got, rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", want, err)
	}
	err = filepath.WalkDir(got, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		if !seen[rel] {
			t.Errorf("restored tree has extra entry %q", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", got, err)
	}
}

func compareEntry(t testing.TB, rel, a, b string) {
	t.Helper()
	fa, err := os.Lstat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Lstat(b)
	if err != nil {
		t.Errorf("%q: missing in restored tree: %v", rel, err)
		return
	}
	if fa.Mode() != fb.Mode() {
		t.Errorf("%q: mode %v, restored %v", rel, fa.Mode(), fb.Mode())
		return
	}
	sa, sb := fa.Sys().(*syscall.Stat_t), fb.Sys().(*syscall.Stat_t)
	if os.Geteuid() == 0 && (sa.Uid != sb.Uid || sa.Gid != sb.Gid) {
		t.Errorf("%q: owner %d:%d, restored %d:%d", rel, sa.Uid, sa.Gid, sb.Uid, sb.Gid)
	}
	if !fa.ModTime().Equal(fb.ModTime()) {
		t.Errorf("%q: mtime %v, restored %v", rel, fa.ModTime(), fb.ModTime())
	}
	switch {
	case fa.Mode().IsRegular():
		if fa.Size() != fb.Size() {
			t.Errorf("%q: size %d, restored %d", rel, fa.Size(), fb.Size())
			return
		}
		if !sameContent(t, a, b) {
			t.Errorf("%q: content differs", rel)
		}
		if sa.Nlink != sb.Nlink {
			t.Errorf("%q: %d links, restored %d", rel, sa.Nlink, sb.Nlink)
		}
	case fa.Mode()&os.ModeDevice != 0:
		if sa.Rdev != sb.Rdev {
			t.Errorf("%q: device %x, restored %x", rel, sa.Rdev, sb.Rdev)
		}
	case fa.Mode()&os.ModeSymlink != 0:
		la, _ := os.Readlink(a)
		lb, _ := os.Readlink(b)
		if la != lb {
			t.Errorf("%q: symlink target %q, restored %q", rel, la, lb)
		}
	}
}

func sameContent(t testing.TB, a, b string) bool {
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF)
		}
	}
}
