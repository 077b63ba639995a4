// Package restictest runs the real restic binary against repositories in
// tests. restic is the peer implementation lethe must interoperate with, so
// a missing binary fails the test instead of skipping it.
package restictest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Password is the repository password the helpers use.
const Password = "lethe-test-password"

// Binary returns the path of restic, failing the test when it is missing.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("restic")
	if err != nil {
		t.Fatalf("restic binary not found (the test command installs Debian's restic package): %v", err)
	}
	return p
}

// Run runs restic with repo and the test password and returns stdout. It
// fails the test on a non-zero exit, showing stderr.
func Run(t testing.TB, repo string, args ...string) string {
	t.Helper()
	out, errOut, err := RunErr(t, repo, nil, args...)
	if err != nil {
		t.Fatalf("restic %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// RunErr runs restic and returns stdout, stderr and the exit error. env
// adds variables (e.g. AWS credentials for an S3 repository).
func RunErr(t testing.TB, repo string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(Binary(t), append([]string{"--no-cache", "-r", repo}, args...)...)
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+Password, "RESTIC_PROGRESS_FPS=0")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// Check runs `restic check --read-data` and fails the test unless restic
// finds the repository clean.
func Check(t testing.TB, repo string, env ...string) {
	t.Helper()
	out, errOut, err := RunErr(t, repo, env, "check", "--read-data")
	if err != nil || !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check --read-data failed: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
}
