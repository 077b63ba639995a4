//go:build unix

package repository

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// unlinkSpool removes a temporary file's name; it lives on while open.
func unlinkSpool(f *os.File) error { return os.Remove(f.Name()) }

func closeSpool(f *os.File) { f.Close() }

// mapSpool maps the first size bytes of a spool file for reading, for a
// backend that stores objects from memory only. Its pages are the page
// cache's, and they leave the process at release.
func mapSpool(f *os.File, size int64) (data []byte, release func(), err error) {
	if size == 0 {
		return nil, func() {}, nil
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping temporary pack file: %w", err)
	}
	return data, func() { _ = unix.Munmap(data) }, nil
}
