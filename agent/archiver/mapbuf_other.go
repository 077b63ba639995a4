//go:build !unix

package archiver

func mapBuf(int) []byte { return nil }

func unmapBuf([]byte) {}
