//go:build unix

package repository

import "golang.org/x/sys/unix"

// allocPackBuf maps an anonymous buffer outside the Go heap (see
// packBufs); it falls back to the heap if mapping fails.
func allocPackBuf(size int) (b []byte, mapped bool) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, 0, size), false
	}
	return b[:0], true
}

// discardPages drops the memory behind a mapped buffer; it reads as zeros
// afterwards and costs memory again when written to.
func discardPages(b []byte) { _ = unix.Madvise(b[:cap(b)], unix.MADV_DONTNEED) }

func unmapPackBuf(b []byte) { _ = unix.Munmap(b[:cap(b)]) }
