package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo is the README's first command: it must keep working.
func TestDemo(t *testing.T) {
	setupEnv(t)
	dir := filepath.Join(t.TempDir(), "demo")
	out := mustLethe(t, "demo", "--dir", dir)
	for _, want := range []string{"3 snapshots", "is byte-identical", "no errors were found", "restic: no errors were found", "holds no record of the customer"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// A second run in the same directory refuses instead of mixing data.
	if _, errOut, code := lethe(t, "demo", "--dir", dir); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("demo reused a used directory: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo", "config")); err != nil {
		t.Errorf("demo repository missing: %v", err)
	}
}
