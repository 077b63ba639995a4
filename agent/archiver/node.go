package archiver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"lethe/agent/repository"

	"golang.org/x/sys/unix"
)

// modeMask keeps what restic keeps of a file mode: permissions, type bits
// and setuid/setgid/sticky.
const modeMask = os.ModePerm | os.ModeType | os.ModeSetuid | os.ModeSetgid | os.ModeSticky

// nodeType returns restic's name for the file type in fi.
func nodeType(fi fs.FileInfo) string {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return repository.NodeFile
	case m.IsDir():
		return repository.NodeDir
	case m&os.ModeSymlink != 0:
		return repository.NodeSymlink
	case m&os.ModeDevice != 0 && m&os.ModeCharDevice != 0:
		return repository.NodeCharDev
	case m&os.ModeDevice != 0:
		return repository.NodeDev
	case m&os.ModeNamedPipe != 0:
		return repository.NodeFifo
	case m&os.ModeSocket != 0:
		return repository.NodeSocket
	}
	return ""
}

// idNames caches uid/gid to name lookups; /etc/passwd is read once per id.
type idNames struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func newIDNames() *idNames {
	return &idNames{users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (c *idNames) user(uid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	c.users[uid] = n
	return n
}

func (c *idNames) group(gid uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.groups[gid]; ok {
		return n
	}
	n := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		n = g.Name
	}
	c.groups[gid] = n
	return n
}

func timespec(ts syscall.Timespec) time.Time { return time.Unix(ts.Unix()) }

// nodeFromFileInfo builds a tree node the way restic 0.14 does
// (NodeFromFileInfo + fillExtra): the same fields are set for the same
// types, so `restic ls -l` and `restic diff` see what restic itself would
// have stored. path is the file's location on disk (for readlink/xattrs);
// errors do not name it, the caller does.
func (a *Archiver) nodeFromFileInfo(path, name string, fi fs.FileInfo) (*repository.Node, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("no stat data")
	}
	n := &repository.Node{
		Name:       name,
		Type:       nodeType(fi),
		Mode:       fi.Mode() & modeMask,
		ModTime:    timespec(st.Mtim),
		AccessTime: timespec(st.Atim),
		ChangeTime: timespec(st.Ctim),
		UID:        st.Uid,
		GID:        st.Gid,
		User:       a.names.user(st.Uid),
		Group:      a.names.group(st.Gid),
		Inode:      st.Ino,
		DeviceID:   uint64(st.Dev),
	}
	switch n.Type {
	case repository.NodeFile:
		n.Size = uint64(st.Size)
		n.Links = uint64(st.Nlink)
	case repository.NodeDir:
	case repository.NodeSymlink:
		target, err := os.Readlink(path)
		if err != nil {
			return nil, fmt.Errorf("reading symlink: %w", bare(err))
		}
		n.LinkTarget = target
		n.Links = uint64(st.Nlink)
	case repository.NodeDev, repository.NodeCharDev:
		n.Device = uint64(st.Rdev)
		n.Links = uint64(st.Nlink)
	case repository.NodeFifo, repository.NodeSocket:
	default:
		return nil, fmt.Errorf("unsupported file type %v", fi.Mode().Type())
	}
	if n.Type != repository.NodeSymlink {
		n.ExtendedAttributes = readXattrs(path)
	}
	return n, nil
}

// bare strips the path from an error of the os package, so that the
// caller can name the item through Options.MaskPath. What the error is
// (errors.Is(err, fs.ErrNotExist), …) is kept.
func bare(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// readXattrs returns the extended attributes of path. Like restic, it
// treats failures (unsupported file system, attribute vanished) as "none".
func readXattrs(path string) []repository.ExtendedAttribute {
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size <= 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return nil
	}
	var attrs []repository.ExtendedAttribute
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			continue
		}
		val := make([]byte, vsize)
		if vsize > 0 {
			vsize, err = unix.Lgetxattr(path, name, val)
			if err != nil {
				continue
			}
		}
		attrs = append(attrs, repository.ExtendedAttribute{Name: name, Value: val[:vsize]})
	}
	return attrs
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, string(b[start:]))
	}
	return out
}

// fileChanged reports whether the file described by fi may differ from
// the parent snapshot's node, by restic's rule: type, mtime, ctime, inode
// and size must all match for the content to be reused.
func fileChanged(fi fs.FileInfo, old *repository.Node, ignoreInode, ignoreCtime bool) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case old == nil, !ok, old.Type != repository.NodeFile:
		return true
	case !timespec(st.Mtim).Equal(old.ModTime):
		return true
	case !ignoreCtime && !timespec(st.Ctim).Equal(old.ChangeTime):
		return true
	case !ignoreInode && old.Inode != st.Ino:
		return true
	case uint64(st.Size) != old.Size:
		return true
	}
	return false
}
