package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile: --cpu-profile leaves a complete profile (gzipped, as
// pprof writes them), also when the command fails.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"version"}, {"-r", filepath.Join(dir, "none"), "snapshots"}} {
		file := filepath.Join(dir, "cpu.prof")
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"--cpu-profile", file}, args...), &out, &errb)
		if want := strings.Join(args, " ") == "version"; (code == 0) != want {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil || len(data) == 0 {
			t.Fatalf("%v: the profile is cut or empty (%d bytes): %v", args, len(data), err)
		}
	}
}
