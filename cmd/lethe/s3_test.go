package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/repository/restictest"
	"lethe/backends/s3test"
)

// s3Env starts the S3 server and exports its credentials for lethe.
func s3Env(t *testing.T) (*s3test.Server, []string) {
	t.Helper()
	setupEnv(t)
	s := s3test.Start(t)
	env := s.Env()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return s, env
}

// resticNoLock runs restic without taking a lock: restic's own lock
// removal is a plain DELETE, which on a versioned bucket leaves versions
// behind that this test would otherwise count.
func resticNoLock(t *testing.T, repo string, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := restictest.RunErr(t, repo, env, append([]string{"--no-lock"}, args...)...)
	if err != nil {
		t.Fatalf("restic %v: %v\n%s\n%s", args, err, out, errOut)
	}
	return out
}

func TestS3BackupRestoreForgetPrune(t *testing.T) {
	s, env := s3Env(t)
	for _, versioned := range []bool{false, true} {
		t.Run(fmt.Sprintf("versioned=%v", versioned), func(t *testing.T) {
			bucket := s.NewBucket(t, versioned)
			repo := s.URL(bucket, "lethe")
			base := t.TempDir()
			src := filepath.Join(base, "src")
			writeTree(t, src)

			mustLethe(t, "-r", repo, "init")
			for day := 1; day <= 3; day++ {
				if err := os.WriteFile(filepath.Join(src, "dagens.txt"), []byte(strings.Repeat(fmt.Sprintf("dag %d\n", day), 50000)), 0o644); err != nil {
					t.Fatal(err)
				}
				mustLethe(t, "-r", repo, "backup", "-q", "--time", fmt.Sprintf("2026-11-%02d 02:00:00", day), src)
			}
			out := resticNoLock(t, repo, env, "check", "--read-data")
			if !strings.Contains(out, "no errors were found") {
				t.Fatalf("restic check over S3:\n%s", out)
			}
			target := filepath.Join(base, "restic-restore")
			resticNoLock(t, repo, env, "restore", "latest", "--target", target)
			if err := compareTrees(src, filepath.Join(target, src)); err != nil {
				t.Fatalf("restic restore from S3: %v", err)
			}

			mustLethe(t, "-r", repo, "forget", "--keep-last", "1", "--prune", "--max-unused", "0%")
			if n := len(snapshots(t, repo)); n != 1 {
				t.Fatalf("%d snapshots after forget", n)
			}
			target = filepath.Join(base, "lethe-restore")
			mustLethe(t, "-r", repo, "restore", "latest", "--target", target)
			if err := compareTrees(src, filepath.Join(target, src)); err != nil {
				t.Fatalf("lethe restore from S3 after prune: %v", err)
			}
			resticNoLock(t, repo, env, "check", "--read-data")

			// Every removed object is gone with all its versions: what is
			// left is exactly the current objects, one version each.
			current := map[string]bool{}
			for _, k := range s.Keys(t, bucket, "lethe/") {
				current[k] = true
			}
			seen := map[string]int{}
			for _, v := range s.AllVersions(t, bucket, "lethe/") {
				if v.DeleteMarker {
					t.Errorf("delete marker left for %s", v.Key)
				}
				if !current[v.Key] {
					t.Errorf("version %s of removed object %s is still stored", v.VersionID, v.Key)
				}
				seen[v.Key]++
			}
			for k, n := range seen {
				if n > 1 {
					t.Errorf("%d versions of %s", n, k)
				}
			}
		})
	}
}

func TestS3ThroughFaults(t *testing.T) {
	s, env := s3Env(t)
	bucket := s.NewBucket(t, true)
	proxy := s3test.NewFaultProxy(t, s.Endpoint, s3test.FaultConfig{Seed: 7, Rate: 0.15})
	repo := "s3:" + proxy.Endpoint + "/" + bucket + "/lethe"
	direct := s.URL(bucket, "lethe")
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeTree(t, src)

	mustLethe(t, "-r", repo, "-o", "s3.max-backoff=100ms", "init")
	mustLethe(t, "-r", repo, "-o", "s3.max-backoff=100ms", "backup", "-q", src)
	target := filepath.Join(base, "restore")
	mustLethe(t, "-r", repo, "-o", "s3.max-backoff=100ms", "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("restore through faults: %v", err)
	}
	if proxy.Faults() == 0 {
		t.Fatal("the proxy injected no faults")
	}
	resticNoLock(t, direct, env, "check", "--read-data")
}

func TestS3ResticRepositoryReadByLethe(t *testing.T) {
	s, env := s3Env(t)
	bucket := s.NewBucket(t, false)
	repo := s.URL(bucket, "restic")
	base := t.TempDir()
	src := filepath.Join(base, "src")
	writeTree(t, src)
	resticNoLock(t, repo, env, "init")
	resticNoLock(t, repo, env, "backup", src)
	if n := len(snapshots(t, repo)); n != 1 {
		t.Fatalf("lethe lists %d snapshots", n)
	}
	target := filepath.Join(base, "restore")
	mustLethe(t, "-r", repo, "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("lethe restore of restic's S3 repository: %v", err)
	}
	mustLethe(t, "-r", repo, "backup", "-q", src)
	resticNoLock(t, repo, env, "check", "--read-data")
}
