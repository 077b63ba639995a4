//go:build unix

package archiver

import "golang.org/x/sys/unix"

// mapBuf maps an anonymous buffer of n bytes outside the Go heap, or
// returns nil.
func mapBuf(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return b
}

func unmapBuf(b []byte) { _ = unix.Munmap(b[:cap(b)]) }
