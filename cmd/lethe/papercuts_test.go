package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"lethe/agent/jobs"
	"lethe/agent/receipts"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/tombstones"
)

// TestFlagsHavePlaceholders: every flag that takes a value shows a name
// for it in --help (a backquoted word of its usage), not its Go type.
func TestFlagsHavePlaceholders(t *testing.T) {
	root := newRootCommand(&strings.Builder{}, &strings.Builder{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			if f.Value.Type() == "bool" {
				return
			}
			if name, _ := pflag.UnquoteUsage(f); !strings.Contains(f.Usage, "`"+name+"`") {
				t.Errorf("%s --%s shows %q where a placeholder name belongs", c.CommandPath(), f.Name, name)
			}
		}
		c.LocalFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	// Commands do not offer flags they ignore.
	for _, c := range []struct {
		path  []string
		flags []string
	}{
		{[]string{"erasures", "list"}, []string{"kind", "phone-region"}},
		{[]string{"erasures", "show"}, []string{"kind", "phone-region"}},
		{[]string{"erasures", "revoke"}, []string{"kind", "phone-region"}},
		{[]string{"key", "list"}, []string{"new-password-file"}},
		{[]string{"key", "remove"}, []string{"new-password-file"}},
	} {
		cmd, _, err := root.Find(c.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range c.flags {
			if cmd.Flags().Lookup(f) != nil || cmd.InheritedFlags().Lookup(f) != nil {
				t.Errorf("%s offers --%s, which it ignores", cmd.CommandPath(), f)
			}
		}
	}
}

// noKeys fails if the state directory or the repository holds a subject
// or receipt key.
func noKeys(t *testing.T, what, state, repo string) {
	t.Helper()
	for _, p := range []string{
		filepath.Join(state, "subject.key"), filepath.Join(state, receipts.StateKeyName),
		filepath.Join(repo, "lethe", "keys"),
	} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("after %s: %s exists", what, p)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(repo, "lethe", "*", "keys")); len(m) > 0 {
		t.Errorf("after %s: %v exist", what, m)
	}
}

// TestReadOnlyCommandsMakeNoKeys: read-only commands run against a
// repository restic backed up into, or with no repository, make no key anywhere;
// the first erasure then makes the one key, and no command disagrees.
func TestReadOnlyCommandsMakeNoKeys(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo, state := filepath.Join(base, "src"), filepath.Join(base, "repo"), os.Getenv("LETHE_STATE_DIR")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "kunder.csv"), []byte("K-1;anna@example.se\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cheapRepo(t, repo)
	restictest.Run(t, repo, "backup", "--host", "server1", src)
	noKeys(t, "init and restic's backup", state, repo)
	before := snapshotFiles(t, repo)
	receipt := filepath.Join(base, "receipt.json")
	if err := os.WriteFile(receipt, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"erasures", "list"},
		{"erasures", "check", "--email", "anna@example.se"},
		{"erasures", "show", "01"},
		{"receipts", "pubkey"},
		{"receipts", "verify", receipt},
		{"-r", repo, "snapshots"},
		{"-r", repo, "ls", "latest"},
		{"-r", repo, "check"},
		{"-r", repo, "find", "--email", "anna@example.se"},
		{"-r", repo, "erasures", "list"},
		{"-r", repo, "erasures", "show", "01"},
		{"-r", repo, "erasures", "check", "--email", "anna@example.se"},
		{"-r", repo, "receipts", "list"},
		{"-r", repo, "receipts", "show", "01"},
		{"-r", repo, "receipts", "verify", receipt},
		{"-r", repo, "receipts", "pubkey"},
		{"-r", repo, "restore", "latest", "--target", filepath.Join(base, "restore")},
	} {
		out, errOut, _ := lethe(t, args...)
		noKeys(t, strings.Join(args, " "), state, repo)
		if args[len(args)-1] == "pubkey" && !strings.Contains(errOut, "no receipt signing key yet") {
			t.Errorf("pubkey without a key: %s%s", out, errOut)
		}
		if args[len(args)-1] == "anna@example.se" && args[len(args)-2] == "--email" && args[1] == "find" && !strings.Contains(errOut, "lethe index") {
			t.Errorf("find without a subject index: %s%s", out, errOut)
		}
	}
	if got := snapshotFiles(t, repo); got != before {
		t.Errorf("read-only commands changed the snapshots: %s, was %s", got, before)
	}
	if _, err := os.ReadFile(filepath.Join(base, "restore", src, "kunder.csv")); err != nil {
		t.Errorf("restore from restic's repository: %v", err)
	}

	// The first erasure makes the key; state and repository agree.
	a := strings.TrimSpace(mustLethe(t, "-r", repo, "erase", "--record-only", "--email", "anna@example.se", "--reason", "b"))
	b := strings.TrimSpace(mustLethe(t, "-r", repo, "erase", "--record-only", "--email", "bo@example.se", "--reason", "b"))
	mustLethe(t, "-r", repo, "erasures", "list")

	// erasures show takes a unique prefix; an ambiguous one says how many
	// match.
	n := 0
	for n < len(a) && a[n] == b[n] {
		n++
	}
	if out := mustLethe(t, "erasures", "show", strings.ToLower(b[:n+1])); !strings.Contains(out, b) {
		t.Errorf("show by prefix %s:\n%s", b[:n+1], out)
	}
	if _, errOut, code := lethe(t, "erasures", "show", a[:n]); code != 1 || !strings.Contains(errOut, "2 tombstones") {
		t.Errorf("ambiguous prefix: exit %d, %s", code, errOut)
	}
	mustLethe(t, "-r", repo, "find", "--tombstone", strings.ToLower(a[:n+1]))
}

// snapshotFiles lists the repository's snapshot files.
func snapshotFiles(t *testing.T, repo string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repo, "snapshots", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(m, ",")
}

// TestStateKeyAdoptedOrExplained: a state directory whose key an older
// lethe made without a repository, and that holds no erasure, takes the
// repository's key; one that holds erasures under another key fails with
// an error that says what to do.
func TestStateKeyAdoptedOrExplained(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	cheapRepo(t, repo)
	mustLethe(t, "-r", repo, "erase", "--record-only", "--state-dir", filepath.Join(base, "state-a"), "--email", "anna@example.se", "--reason", "b")

	// What `erasures list` without a repository left behind before.
	stale := filepath.Join(base, "state-b")
	st, err := tombstones.OpenState(stale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&tombstones.Service{State: st, Normalizer: mustNormalizer(t)}).SubjectKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", repo, "erase", "--record-only", "--state-dir", stale, "--email", "bo@example.se", "--reason", "b")
	if out := mustLethe(t, "-r", repo, "erasures", "list", "--state-dir", stale); strings.Count(out, "@example.se") != 2 {
		t.Errorf("list after adoption:\n%s", out)
	}

	// Erasures recorded under another key: the error names the way out.
	other := filepath.Join(base, "state-c")
	mustLethe(t, "erase", "--record-only", "--state-dir", other, "--email", "cecilia@example.se", "--reason", "b")
	_, errOut, code := lethe(t, "-r", repo, "erasures", "list", "--state-dir", other)
	if code != 1 || !strings.Contains(errOut, "subject keys disagree") || !strings.Contains(errOut, "holds 1 erasure") || !strings.Contains(errOut, "--state-dir") {
		t.Errorf("disagreeing keys: exit %d, %s", code, errOut)
	}
}

// cheapRepo makes a repository whose key derivation is cheap: every
// command of these tests opens it.
func cheapRepo(t *testing.T, path string) {
	t.Helper()
	repo, err := jobs.Init(context.Background(), jobs.Repo{Location: path, Password: func() (string, error) { return restictest.Password, nil }},
		repository.InitOptions{KDF: &repository.KDFParams{N: 1 << 10, R: 8, P: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Close(repo); err != nil {
		t.Fatal(err)
	}
}

func mustNormalizer(t *testing.T) *tombstones.Normalizer {
	t.Helper()
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestArgumentMessages: a restore that matches nothing fails and says so,
// and a command without its arguments says what it needs.
func TestArgumentMessages(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cheapRepo(t, repo)
	mustLethe(t, "-r", repo, "backup", "-q", src)

	target := filepath.Join(base, "t")
	_, errOut, code := lethe(t, "-r", repo, "restore", "latest", "--target", target, "--include", "/nonexistent")
	if code != 1 || !strings.Contains(errOut, "nothing in snapshot") || !strings.Contains(errOut, "/nonexistent") {
		t.Errorf("restore --include /nonexistent: exit %d, %s", code, errOut)
	}
	mustLethe(t, "-r", repo, "restore", "latest", "--target", target, "--include", filepath.Join(src, "a.txt"))
	if _, err := os.Stat(filepath.Join(target, src, "a.txt")); err != nil {
		t.Errorf("restore --include of a file: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", repo, "backup"}, "backup needs at least one source path"},
		{[]string{"-r", repo, "restore", "--target", target}, "restore needs one snapshot"},
		{[]string{"erasures", "show"}, "erasures show needs one tombstone ID"},
	} {
		_, errOut, code := lethe(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "arg(s)") {
			t.Errorf("lethe %s: exit %d, %q; want %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
}
