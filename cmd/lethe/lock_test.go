package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

// --no-lock applies to commands that only read, as in restic: a backup
// still takes its lock, so it cannot run while a prune holds the
// repository.
func TestNoLockOnlyForReading(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", "-q", src)

	ctx := context.Background()
	be, err := local.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repository.Open(ctx, be, restictest.Password, repository.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lock, err := r.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock(ctx)

	mustLethe(t, "-r", repo, "--no-lock", "snapshots")
	pwFile := filepath.Join(base, "new-password")
	if err := os.WriteFile(pwFile, []byte("second password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"backup", "-q", src},
		{"key", "add", "--new-password-file", pwFile},
	} {
		_, errOut, code := lethe(t, append([]string{"-r", repo, "--no-lock"}, args...)...)
		if code != exitError || !strings.Contains(errOut, "already locked") {
			t.Errorf("lethe --no-lock %s under an exclusive lock: exit %d, %q; want it refused as locked", args[0], code, errOut)
		}
	}
	if err := lock.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(snapshots(t, repo)); n != 1 {
		t.Errorf("%d snapshots after the refused backup, want 1", n)
	}
	if keys := mustLethe(t, "-r", repo, "key", "list"); strings.Count(keys, "\n") != 2 {
		t.Errorf("keys after the refused key add:\n%s", keys)
	}
}
