package main

import (
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/repository/restictest"
)

// TestLsMatchesRestic: ls lists the same paths in the same order as
// restic's ls, and a DIR argument narrows it to that directory.
func TestLsMatchesRestic(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", src)

	body := func(out string) []string {
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		return lines[1:] // the header line differs
	}
	got := body(mustLethe(t, "-r", repo, "ls", "latest"))
	want := body(restictest.Run(t, repo, "ls", "latest"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lethe ls:\n%s\nrestic ls:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	kunder := filepath.Join(src, "kunder")
	got = body(mustLethe(t, "-r", repo, "ls", "latest", kunder))
	want = []string{kunder, filepath.Join(kunder, "kunder.csv")}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lethe ls %s:\n%s", kunder, strings.Join(got, "\n"))
	}
}
