package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"lethe/agent/repository/restictest"
)

const fullDiskEnv = "LETHE_TEST_FULL_DISK_BASE"

// TestFullDisk backs up into a repository on a 3 MiB tmpfs until the disk
// is full: the backup fails with one clear error, the earlier snapshot
// stays, and restic still finds the repository clean. The test re-runs
// itself in a private mount namespace so the tmpfs vanishes with it.
func TestFullDisk(t *testing.T) {
	if base := os.Getenv(fullDiskEnv); base != "" {
		fullDisk(t, base)
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed to mount a small file system: %v", err)
	}
	args := []string{"--mount"}
	if os.Geteuid() != 0 {
		args = append(args, "--map-root-user")
	}
	args = append(args, "--", os.Args[0], "-test.run=^TestFullDisk$", "-test.v")
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), fullDiskEnv+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFullDisk") {
		t.Fatalf("full-disk test in a mount namespace: %v\n%s", err, out)
	}
}

func fullDisk(t *testing.T, base string) {
	setupEnv(t)
	mnt := filepath.Join(base, "disk")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=3m"); err != nil {
		t.Fatalf("mounting a 3 MiB tmpfs: %v", err)
	}
	src, repo := filepath.Join(base, "src"), filepath.Join(mnt, "repo")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "small.txt"), []byte("a small file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", "-q", src)

	// 8 MiB that do not compress cannot fit.
	big := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := lethe(t, "-r", repo, "backup", "-q", src)
	if code != exitError || !strings.Contains(errOut, "no space left on device") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("backup onto a full disk: exit %d, want 1 and one line naming the cause:\n%s", code, errOut)
	}
	if n := len(snapshots(t, repo)); n != 1 {
		t.Fatalf("%d snapshots after the failed backup, want the earlier one", n)
	}
	// restic's check without a lock: the disk is still full.
	out, errOut2, err := restictest.RunErr(t, repo, nil, "--no-lock", "check", "--read-data")
	if err != nil || !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check after the failed backup: %v\n%s\n%s", err, out, errOut2)
	}
	target := filepath.Join(base, "restore")
	mustLethe(t, "-r", repo, "--no-lock", "restore", "latest", "--target", target)
	if got, err := os.ReadFile(filepath.Join(target, src, "small.txt")); err != nil || string(got) != "a small file\n" {
		t.Fatalf("earlier snapshot restores %q, %v", got, err)
	}
}
