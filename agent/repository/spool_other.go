//go:build !unix

package repository

import (
	"fmt"
	"io"
	"os"
)

// unlinkSpool leaves the name: an open file cannot be removed here. The
// packer removes it when it closes the file.
func unlinkSpool(*os.File) error { return nil }

func closeSpool(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// mapSpool reads the first size bytes of a spool file into memory.
func mapSpool(f *os.File, size int64) ([]byte, func(), error) {
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, nil, fmt.Errorf("reading temporary pack file: %w", err)
	}
	return data, func() {}, nil
}
