//go:build !unix

package repository

func allocPackBuf(size int) (b []byte, mapped bool) { return make([]byte, 0, size), false }

func discardPages([]byte) {}

func unmapPackBuf([]byte) {}
