package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A target named twice is one path of the snapshot, so the next backup of
// the same command line finds that snapshot as its parent.
func TestBackupDuplicateTargetUsesParent(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", "--host", "server1", "--time", "2026-11-01 02:00:00", src, src)
	first := snapshots(t, repo)[0].ID
	out := mustLethe(t, "-r", repo, "backup", "--host", "server1", "--time", "2026-11-02 02:00:00", src, src)
	if !strings.Contains(out, "using parent snapshot "+first[:8]) {
		t.Errorf("second backup of %s twice did not use snapshot %s as parent:\n%s", src, first[:8], out)
	}
}

// --parent latest means restic's rule, the latest snapshot of the same
// host and paths, not the latest snapshot of the repository.
func TestBackupParentLatestOfSameHostAndPaths(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, other, repo := filepath.Join(base, "src"), filepath.Join(base, "other"), filepath.Join(base, "repo")
	writeTree(t, src)
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", "--host", "server1", "--time", "2026-11-01 02:00:00", src)
	own := snapshots(t, repo)[0].ID
	mustLethe(t, "-r", repo, "backup", "--host", "server2", "--time", "2026-11-02 02:00:00", other)
	out := mustLethe(t, "-r", repo, "backup", "--host", "server1", "--parent", "latest", "--time", "2026-11-03 02:00:00", src)
	if !strings.Contains(out, "using parent snapshot "+own[:8]) {
		t.Errorf("backup --parent latest did not use snapshot %s of the same host and paths:\n%s", own[:8], out)
	}
	if !strings.Contains(out, " 0 new") {
		t.Errorf("backup --parent latest read files as new:\n%s", out)
	}
}
