package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/repository/restictest"
)

func TestEraseRecordedAndFoundOnFreshMachine(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	stateA := filepath.Join(base, "state-a")
	mustLethe(t, "-r", repo, "init")

	var outputs bytes.Buffer
	out := mustLethe(t, "-r", repo, "erase", "--record-only", "--state-dir", stateA,
		"--email", "Anna.Svensson@Example.SE", "--phone", "070-123 45 67", "--personnummer", "19800101-1231",
		"--reason", "17(1)(a)", "--reference", "T-1001")
	outputs.WriteString(out)
	id := strings.TrimSpace(out)
	if len(id) != 26 {
		t.Fatalf("erase printed %q, want a tombstone ID", out)
	}

	// A fresh machine: only the repository and its password.
	stateB := filepath.Join(base, "state-b")
	list := mustLethe(t, "-r", repo, "erasures", "list", "--state-dir", stateB)
	outputs.WriteString(list)
	if !strings.Contains(list, id) || !strings.Contains(list, "a***@example.se") {
		t.Fatalf("fresh state dir does not list the tombstone:\n%s", list)
	}
	for _, spelling := range []string{"+46 70 123 45 67", "0046701234567", "070-1234567"} {
		out, errOut, code := lethe(t, "erasures", "check", "--state-dir", stateB, "--phone", spelling)
		outputs.WriteString(out + errOut)
		if code != 0 || !strings.Contains(out, id) {
			t.Errorf("check %s: exit %d\n%s%s", spelling, code, out, errOut)
		}
	}
	out, _, code := lethe(t, "erasures", "check", "--state-dir", stateB, "--phone", "070-123 45 68")
	if code != 1 || strings.Contains(out, id) {
		t.Errorf("a neighbouring number matched: exit %d\n%s", code, out)
	}
	show := mustLethe(t, "erasures", "show", "--state-dir", stateB, id)
	outputs.WriteString(show)

	mustLethe(t, "-r", repo, "erasures", "revoke", "--state-dir", stateB, id, "--reason", "customer consented again")
	out, _, code = lethe(t, "-r", repo, "erasures", "check", "--state-dir", stateA, "--email", "anna.svensson@example.se")
	if code != 1 {
		t.Errorf("revoked tombstone still matches: exit %d\n%s", code, out)
	}

	restictest.Check(t, repo)

	// No identifier in clear text in anything lethe wrote or printed.
	forms := []string{"svensson", "701234567", "70-123", "123 45 67", "800101-1231", "198001011231", "8001011231"}
	check := func(what string, data []byte) {
		low := bytes.ToLower(data)
		for _, f := range forms {
			if bytes.Contains(low, []byte(f)) {
				t.Errorf("%s holds %q in clear text", what, f)
			}
		}
	}
	check("command output", outputs.Bytes())
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			check(p, data)
		}
		return nil
	})
}
