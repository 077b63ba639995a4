// Package local stores a repository in a directory of the local file
// system, in restic's default layout.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"lethe/backends"
)

// tempMarker is part of every temporary file name. A crash may leave such a
// file behind; it is never listed, and restic ignores it too because the
// name is not an object ID.
const tempMarker = "-tmp-"

// Backend is a repository directory.
type Backend struct {
	dir string
}

var (
	_ backends.Backend   = (*Backend)(nil)
	_ backends.FileSaver = (*Backend)(nil)
)

// Open uses an existing repository directory.
func Open(dir string) (*Backend, error) {
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening repository directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening repository directory %s: not a directory", dir)
	}
	return &Backend{dir: dir}, nil
}

// Create makes the directory layout of a new repository. It refuses a
// directory that already holds a repository config.
func Create(dir string) (*Backend, error) {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return nil, fmt.Errorf("creating repository at %s: config file already exists", dir)
	}
	dirs := []string{dir}
	for _, t := range []backends.FileType{backends.KeyFile, backends.LockFile, backends.SnapshotFile, backends.IndexFile, backends.LetheFile} {
		dirs = append(dirs, filepath.Join(dir, string(t)))
	}
	for i := 0; i < 256; i++ {
		dirs = append(dirs, filepath.Join(dir, "data", fmt.Sprintf("%02x", i)))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating repository at %s: %w", dir, err)
		}
	}
	return &Backend{dir: dir}, nil
}

// Location returns the repository directory.
func (b *Backend) Location() string { return b.dir }

// Connections allows a few parallel operations; the disk decides the rest.
func (b *Backend) Connections() int { return 2 }

// Close releases nothing; it exists for the interface.
func (b *Backend) Close() error { return nil }

func (b *Backend) filename(h backends.Handle) string {
	return filepath.Join(b.dir, filepath.FromSlash(h.Path()))
}

// Save writes data to a temporary file next to the final name, syncs it,
// renames it into place and syncs the directory, so the object is either
// absent or complete, also after a crash.
func (b *Backend) Save(ctx context.Context, h backends.Handle, data []byte) error {
	return b.save(ctx, h, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// SaveFile is Save with the data read from src; the kernel copies it
// where it can.
func (b *Backend) SaveFile(ctx context.Context, h backends.Handle, src *os.File, size int64) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("saving %s: %w", h, err)
	}
	return b.save(ctx, h, func(f *os.File) error {
		n, err := f.ReadFrom(io.LimitReader(src, size))
		if err == nil && n != size {
			err = fmt.Errorf("source ended after %d of %d bytes", n, size)
		}
		return err
	})
}

func (b *Backend) save(ctx context.Context, h backends.Handle, write func(*os.File) error) (err error) {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	final := b.filename(h)
	dir := filepath.Dir(final)
	if h.Type != backends.LockFile {
		if _, err := os.Lstat(final); err == nil {
			return fmt.Errorf("saving %s: %w", h, fs.ErrExist)
		}
	}
	f, err := os.CreateTemp(dir, filepath.Base(final)+tempMarker)
	if errors.Is(err, fs.ErrNotExist) {
		// Subdirectories may be missing in repositories made by other
		// tools or when a LetheFile name has a new prefix.
		if err = os.MkdirAll(dir, 0o700); err == nil {
			f, err = os.CreateTemp(dir, filepath.Base(final)+tempMarker)
		}
	}
	if err != nil {
		return fmt.Errorf("saving %s: %w", h, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("saving %s: %w", h, err)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	// Objects are immutable; make that visible the way restic does.
	if err = os.Chmod(f.Name(), 0o400); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), final); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems cannot sync directories; the rename is still done.
	if errors.Is(err, os.ErrInvalid) {
		return nil
	}
	return err
}

// Load reads length bytes at offset (length 0: to the end).
func (b *Backend) Load(ctx context.Context, h backends.Handle, length int, offset int64, fn func(io.Reader) error) error {
	if err := h.Valid(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if length < 0 || offset < 0 {
		return fmt.Errorf("loading %s: invalid range %d+%d", h, offset, length)
	}
	f, err := os.Open(b.filename(h))
	if err != nil {
		return fmt.Errorf("loading %s: %w", h, err)
	}
	defer f.Close()
	var rd io.Reader = f
	if offset > 0 || length > 0 {
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("loading %s: %w", h, err)
		}
		end := fi.Size()
		if length > 0 {
			end = offset + int64(length)
		}
		if end > fi.Size() || offset > fi.Size() {
			return fmt.Errorf("loading %s: range %d+%d beyond its size %d: %w", h, offset, length, fi.Size(), io.ErrUnexpectedEOF)
		}
		rd = io.NewSectionReader(f, offset, end-offset)
	}
	return fn(rd)
}

// Stat returns the object's size.
func (b *Backend) Stat(ctx context.Context, h backends.Handle) (backends.FileInfo, error) {
	if err := h.Valid(); err != nil {
		return backends.FileInfo{}, err
	}
	fi, err := os.Stat(b.filename(h))
	if err != nil {
		return backends.FileInfo{}, fmt.Errorf("stat %s: %w", h, err)
	}
	return backends.FileInfo{Name: h.Name, Size: fi.Size()}, nil
}

// List walks the type's directory. Pack files are found in any
// subdirectory; LetheFile names are slash-separated paths below lethe/.
func (b *Backend) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if t == backends.ConfigFile {
		fi, err := os.Stat(filepath.Join(b.dir, "config"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing config: %w", err)
		}
		return fn(backends.FileInfo{Name: "config", Size: fi.Size()})
	}
	root := filepath.Join(b.dir, string(t))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || !d.Type().IsRegular() || strings.Contains(d.Name(), tempMarker) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		name := d.Name()
		if t == backends.LetheFile {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			name = filepath.ToSlash(rel)
		}
		return fn(backends.FileInfo{Name: name, Size: info.Size()})
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", t, err)
	}
	return nil
}

// Remove deletes the object and syncs its directory.
func (b *Backend) Remove(ctx context.Context, h backends.Handle) error {
	if err := h.Valid(); err != nil {
		return err
	}
	name := b.filename(h)
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("removing %s: %w", h, err)
	}
	if err := syncDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("removing %s: %w", h, err)
	}
	return nil
}
