package main

import (
	"os"
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

// TestLsWithholdsErasedNames: after an erasure is recorded (and before,
// or without, a rewrite), ls lists neither a file nor a folder named
// after the subject, as a restore does not write them; the rest is listed.
func TestLsWithholdsErasedNames(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	const email = "anna.svensson@example.se"
	for name, data := range map[string]string{
		"kontakter/" + email + ".vcf":    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n",
		"mail/arkiv/" + email + "/x.eml": "From: x@example.se\r\n\r\nx\r\n",
		"kontakter/bo.vcf":               "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nEND:VCARD\r\n",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", src)
	before := mustLethe(t, "-r", repo, "ls", "latest")
	if !strings.Contains(before, email) {
		t.Fatalf("ls before the erasure does not list her files:\n%s", before)
	}
	mustLethe(t, "-r", repo, "erase", "--record-only", "--reason", "17(1)(a)", "--email", email)
	for _, args := range [][]string{{"ls", "latest"}, {"ls", "-l", "latest"}, {"--json", "ls", "latest"}} {
		out := mustLethe(t, append([]string{"-r", repo}, args...)...)
		if strings.Contains(out, "anna.svensson") {
			t.Errorf("lethe %v lists a name of the erased subject:\n%s", args, out)
		}
		for _, want := range []string{"bo.vcf", "kunder.csv", filepath.Join(src, "mail", "arkiv")} {
			if !strings.Contains(out, want) {
				t.Errorf("lethe %v does not list %s:\n%s", args, want, out)
			}
		}
	}
}
