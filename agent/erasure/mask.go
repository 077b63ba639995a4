package erasure

import (
	"path"
	"sync"
)

// maxMaskedDirs bounds the directories a PathMask remembers; a walk is
// depth first, so the recent ones are the ones asked for again.
const maxMaskedDirs = 1024

// PathMask masks paths component by component as mask does (the
// redactor's MaskPath), remembering the masked directories: the archiver
// and the restorer mask the path of every file they report, and most of a
// path is the directory its neighbours share. It is safe for concurrent
// use when mask is.
type PathMask struct {
	mask func(string) string

	mu   sync.Mutex
	dirs map[string]string
}

// NewPathMask returns a PathMask over mask, which must mask each
// component of a slash-separated path on its own.
func NewPathMask(mask func(string) string) *PathMask {
	return &PathMask{mask: mask, dirs: make(map[string]string)}
}

// Mask returns p with the components that name an erased subject masked.
func (m *PathMask) Mask(p string) string {
	dir, name := path.Split(p)
	if dir == "" || name == "" {
		return m.mask(p)
	}
	m.mu.Lock()
	md, ok := m.dirs[dir]
	m.mu.Unlock()
	if !ok {
		md = m.mask(dir)
		m.mu.Lock()
		if len(m.dirs) >= maxMaskedDirs {
			clear(m.dirs)
		}
		m.dirs[dir] = md
		m.mu.Unlock()
	}
	return md + m.mask(name)
}
