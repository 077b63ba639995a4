package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
)

// lethe runs one command line in-process and returns stdout, stderr and
// the exit code.
func lethe(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// mustLethe runs a command that must succeed.
func mustLethe(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := lethe(t, args...)
	if code != 0 {
		t.Fatalf("lethe %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// setupEnv points lethe at the test password and a private state dir.
func setupEnv(t *testing.T) {
	t.Setenv("LETHE_PASSWORD", restictest.Password)
	t.Setenv("LETHE_PASSWORD_FILE", "")
	t.Setenv("LETHE_REPOSITORY", "")
	t.Setenv("LETHE_STATE_DIR", filepath.Join(t.TempDir(), "state"))
	// Keys with full-strength scrypt cost a second per command, ten under
	// the race detector; no test here is about their strength.
	t.Setenv(weakKDFEnv, "1")
}

// writeTree makes a small source tree with the kinds of entries a server
// holds.
func writeTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"kunder/kunder.csv":   "kundnr;namn;epost\nK-1;Anna;anna@example.se\nK-2;Bo;bo@example.se\n",
		"mail/cur/1.eml":      "From: a@example.se\r\nSubject: hej\r\n\r\nhej\r\n",
		"tomt.txt":            "",
		"dokument/faktura.md": strings.Repeat("faktura rad\n", 5000),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	if err := os.WriteFile(filepath.Join(dir, "dokument", "scan.pdf"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("kunder/kunder.csv", filepath.Join(dir, "senaste.csv")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "tomt.txt"), old, old); err != nil {
		t.Fatal(err)
	}
}

type snapshotList []struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
	Original string    `json:"original"`
}

func snapshots(t *testing.T, repo string) snapshotList {
	t.Helper()
	var l snapshotList
	if err := json.Unmarshal([]byte(mustLethe(t, "-r", repo, "snapshots", "--json")), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBackupCheckedAndRestoredByRestic(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)

	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", "--host", "server1", "--tag", "nightly", "--time", "2026-11-01 02:00:00", src)
	if err := os.WriteFile(filepath.Join(src, "kunder", "ny.csv"), []byte("K-3;Cecilia\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustLethe(t, "-r", repo, "backup", "--host", "server1", "--time", "2026-11-02 02:00:00", src)
	if !strings.Contains(out, "using parent snapshot") || !strings.Contains(out, "1 new") {
		t.Errorf("second backup did not use the parent or missed the new file:\n%s", out)
	}
	l := snapshots(t, repo)
	if len(l) != 2 || l[0].Hostname != "server1" || l[0].Tags[0] != "nightly" || l[0].Paths[0] != src {
		t.Fatalf("unexpected snapshots: %+v", l)
	}

	restictest.Check(t, repo)
	target := filepath.Join(base, "restic-restore")
	restictest.Run(t, repo, "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("restic's restore of lethe's snapshot: %v", err)
	}
	target = filepath.Join(base, "lethe-restore")
	mustLethe(t, "-r", repo, "restore", l[1].ID[:8], "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("lethe's restore: %v", err)
	}
	if link, err := os.Readlink(filepath.Join(target, src, "senaste.csv")); err != nil || link != "kunder/kunder.csv" {
		t.Errorf("symlink restored as %q, %v", link, err)
	}

	// ls and cat show the snapshot's content.
	ls := mustLethe(t, "-r", repo, "ls", "latest")
	if !strings.Contains(ls, filepath.Join(src, "kunder", "ny.csv")) {
		t.Errorf("ls lacks the new file:\n%s", ls)
	}
	var cfg struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(mustLethe(t, "-r", repo, "cat", "config")), &cfg); err != nil || cfg.Version != 2 {
		t.Errorf("cat config: version %d, %v", cfg.Version, err)
	}

	// Include restores a subtree only.
	target = filepath.Join(base, "include")
	mustLethe(t, "-r", repo, "restore", "latest", "--target", target, "--include", filepath.Join(src, "kunder"))
	if _, err := os.Stat(filepath.Join(target, src, "kunder", "ny.csv")); err != nil {
		t.Errorf("included file missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, src, "dokument")); err == nil {
		t.Errorf("restore --include restored more than asked")
	}
}

func TestResticRepositoryTakenOver(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	restictest.Run(t, repo, "init")
	restictest.Run(t, repo, "backup", "--host", "server1", src)

	l := snapshots(t, repo)
	if len(l) != 1 {
		t.Fatalf("lethe lists %d snapshots of restic's repository", len(l))
	}
	target := filepath.Join(base, "restore")
	mustLethe(t, "-r", repo, "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("lethe's restore of restic's snapshot: %v", err)
	}

	if err := os.WriteFile(filepath.Join(src, "ny.txt"), []byte("ny fil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustLethe(t, "-r", repo, "backup", "--host", "server1", src)
	if !strings.Contains(out, "using parent snapshot") {
		t.Errorf("lethe did not use restic's snapshot as parent:\n%s", out)
	}
	restictest.Check(t, repo)
	target = filepath.Join(base, "restic-restore")
	restictest.Run(t, repo, "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("restic's restore of lethe's snapshot in restic's repository: %v", err)
	}
}

func TestForgetPruneKeepsRestorable(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	for day := 1; day <= 9; day++ {
		// Each day replaces a file, so old data becomes unreferenced.
		data := bytes.Repeat([]byte(fmt.Sprintf("day %d\n", day)), 200000)
		if err := os.WriteFile(filepath.Join(src, "dagens.log"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		mustLethe(t, "-r", repo, "backup", "-q", "--host", "server1", "--time", fmt.Sprintf("2026-11-%02d 02:00:00", day), src)
	}
	out := mustLethe(t, "-r", repo, "forget", "--keep-daily", "7", "--prune")
	if !strings.Contains(out, "remove 2 snapshots") {
		t.Errorf("forget output:\n%s", out)
	}
	l := snapshots(t, repo)
	if len(l) != 7 {
		t.Fatalf("%d snapshots kept, want 7", len(l))
	}
	restictest.Check(t, repo)
	mustLethe(t, "-r", repo, "check", "--read-data")
	target := filepath.Join(base, "restore")
	restictest.Run(t, repo, "restore", "latest", "--target", target)
	if err := compareTrees(src, filepath.Join(target, src)); err != nil {
		t.Fatalf("restore after prune: %v", err)
	}
	// The oldest kept snapshot restores the data of its day.
	target = filepath.Join(base, "oldest")
	mustLethe(t, "-r", repo, "restore", l[0].ID, "--target", target)
	got, err := os.ReadFile(filepath.Join(target, src, "dagens.log"))
	if err != nil || !bytes.HasPrefix(got, []byte("day 3\n")) {
		t.Fatalf("oldest kept snapshot restores %.10q, %v", got, err)
	}
}

func TestKeysAndLocks(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	mustLethe(t, "-r", repo, "init")
	pwFile := filepath.Join(base, "new-password")
	if err := os.WriteFile(pwFile, []byte("second password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", repo, "key", "add", "--new-password-file", pwFile)
	list := mustLethe(t, "-r", repo, "key", "list")
	if strings.Count(list, "\n") != 3 {
		t.Errorf("key list:\n%s", list)
	}
	// restic opens the repository with the added key.
	if _, errOut, err := restictest.RunErr(t, repo, []string{"RESTIC_PASSWORD=second password"}, "snapshots"); err != nil {
		t.Fatalf("restic with the added key: %v\n%s", err, errOut)
	}
	// passwd replaces the key in use: the old password stops working.
	third := filepath.Join(base, "third-password")
	if err := os.WriteFile(third, []byte("third password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", repo, "key", "passwd", "--new-password-file", third)
	if _, errOut, code := lethe(t, "-r", repo, "snapshots"); code != 1 || !strings.Contains(errOut, "wrong password") {
		t.Errorf("old password after passwd: exit %d, %s", code, errOut)
	}
	mustLethe(t, "-r", repo, "--password-file", third, "snapshots")

	// A stale lock (dead process) goes with unlock; restic agrees.
	t.Setenv("LETHE_PASSWORD", "third password")
	mustLethe(t, "-r", repo, "unlock")
	mustLethe(t, "-r", repo, "unlock", "--remove-all")
}

func TestBadInput(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", src)

	cases := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"wrong password", "not the password", []string{"-r", repo, "snapshots"}, "wrong password"},
		{"no repository", "", []string{"-r", filepath.Join(base, "nothing"), "snapshots"}, "nothing"},
		{"not a repository", "", []string{"-r", src, "snapshots"}, "is not a repository"},
		{"missing source", "", []string{"-r", repo, "backup", filepath.Join(base, "gone")}, "gone"},
		{"unknown snapshot", "", []string{"-r", repo, "restore", "deadbeef", "--target", filepath.Join(base, "t")}, "deadbeef"},
		{"no target", "", []string{"-r", repo, "restore", "latest"}, "--target"},
		{"bad time", "", []string{"-r", repo, "backup", "--time", "yesterday", src}, "--time"},
		{"bad keep-within", "", []string{"-r", repo, "forget", "--keep-within", "7x"}, "unknown unit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("LETHE_PASSWORD", c.env)
			}
			_, errOut, code := lethe(t, c.args...)
			if code != exitError || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("exit %d, stderr %q: want one line mentioning %q", code, errOut, c.want)
			}
		})
	}

	// A corrupt pack: check names it, restic agrees, and the earlier
	// snapshot list is untouched.
	var pack string
	var size int64
	filepath.Walk(filepath.Join(repo, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			pack, size = p, fi.Size()
		}
		return nil
	})
	if pack == "" {
		t.Fatal("no pack found")
	}
	if err := os.Chmod(pack, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("corrupt"), 1000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, errOut, code := lethe(t, "-r", repo, "check", "--read-data")
	if code != exitError || !strings.Contains(errOut, filepath.Base(pack)[:8]) {
		t.Errorf("check of a corrupt pack: exit %d\n%s", code, errOut)
	}
	_, errOut, code = lethe(t, "-r", repo, "restore", "latest", "--target", filepath.Join(base, "restore"))
	if code == 0 {
		t.Errorf("restore from a corrupt pack succeeded\n%s", errOut)
	}
}
