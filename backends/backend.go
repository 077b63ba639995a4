// Package backends defines where a repository's objects are stored.
//
// A Backend stores opaque, immutable objects addressed by a file type and a
// name. It knows nothing of repositories, encryption or subjects; the
// object layout below a location is restic's, so restic can read what lethe
// stores and the other way round.
package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// FileType is the kind of object, which decides its place in the layout.
type FileType string

// The object kinds of a restic repository, plus lethe's own prefix.
const (
	ConfigFile   FileType = "config"
	KeyFile      FileType = "keys"
	LockFile     FileType = "locks"
	SnapshotFile FileType = "snapshots"
	IndexFile    FileType = "index"
	PackFile     FileType = "data"
	// LetheFile objects live below "lethe/"; their names may contain
	// slashes ("tombstones/<id>"). restic ignores this prefix.
	LetheFile FileType = "lethe"
)

// FileTypes lists every kind in a stable order.
var FileTypes = []FileType{ConfigFile, KeyFile, LockFile, SnapshotFile, IndexFile, PackFile, LetheFile}

// Handle names one object.
type Handle struct {
	Type FileType
	Name string
}

func (h Handle) String() string {
	if h.Type == ConfigFile {
		return "config"
	}
	return string(h.Type) + "/" + h.Name
}

// Valid reports whether the handle can name an object.
func (h Handle) Valid() error {
	switch h.Type {
	case ConfigFile:
		return nil
	case KeyFile, LockFile, SnapshotFile, IndexFile, PackFile:
		if h.Name == "" || path.Base(h.Name) != h.Name || h.Name == "." || h.Name == ".." {
			return fmt.Errorf("invalid object name %q for %s", h.Name, h.Type)
		}
		return nil
	case LetheFile:
		if h.Name == "" || path.Clean(h.Name) != h.Name || path.IsAbs(h.Name) || h.Name == ".." || len(h.Name) >= 3 && h.Name[:3] == "../" {
			return fmt.Errorf("invalid object name %q for %s", h.Name, h.Type)
		}
		return nil
	}
	return fmt.Errorf("invalid file type %q", h.Type)
}

// Path is the object's path relative to the repository root, in restic's
// default layout (packs sharded by the first two hex digits of their name).
func (h Handle) Path() string {
	switch h.Type {
	case ConfigFile:
		return "config"
	case PackFile:
		if len(h.Name) >= 2 {
			return path.Join("data", h.Name[:2], h.Name)
		}
	}
	return path.Join(string(h.Type), h.Name)
}

// FileInfo describes a stored object.
type FileInfo struct {
	Name string
	Size int64
}

// Backend stores a repository's objects.
//
// Save must be atomic: a reader never sees a partly written object under
// its final name. Errors for objects that do not exist wrap fs.ErrNotExist.
type Backend interface {
	// Location names the backend for messages (a path or URL, no secrets).
	Location() string
	// Save stores data under h, replacing nothing: saving an existing
	// name is an error for every type but LockFile refreshes, which use
	// a new name anyway.
	Save(ctx context.Context, h Handle, data []byte) error
	// Load calls fn with a reader over length bytes at offset
	// (length 0: to the end). fn must not keep the reader.
	Load(ctx context.Context, h Handle, length int, offset int64, fn func(rd io.Reader) error) error
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	// List calls fn for every object of type t, in no particular order.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	// Remove deletes the object for good (on versioned storage: every
	// version of it).
	Remove(ctx context.Context, h Handle) error
	// Connections says how many operations may usefully run at once.
	Connections() int
	Close() error
}

// FileSaver is implemented by backends that can store an object straight
// from a file, so that the caller need not hold the object in memory.
type FileSaver interface {
	// SaveFile stores the first size bytes of f under h, as Save would
	// store them. It reads f from offset 0 (f's offset is changed) and
	// does not close it.
	SaveFile(ctx context.Context, h Handle, f *os.File, size int64) error
}

// IsNotExist reports whether err says that an object does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// LoadAll reads a whole object.
func LoadAll(ctx context.Context, be Backend, h Handle) ([]byte, error) {
	var buf []byte
	err := be.Load(ctx, h, 0, 0, func(rd io.Reader) error {
		var err error
		buf, err = io.ReadAll(rd)
		return err
	})
	return buf, err
}
