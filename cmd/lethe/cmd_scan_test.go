package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanWarningsMaskSubjects: a warning about a file below a folder that
// names the subject (by address, or by name, which is never matched in
// free text) does not repeat the identifier.
func TestScanWarningsMaskSubjects(t *testing.T) {
	setupEnv(t)
	root := filepath.Join(t.TempDir(), "anna.svensson@example.se", "dokument")
	broken := filepath.Join(root, "kunder", "Anna Svensson", "trasig.json")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(`[{"a": 1`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"scan"}, {"redact", "--out", t.TempDir()}} {
		args := append(cmd, "--email", "anna.svensson@example.se", "--name", "Anna Svensson", root)
		_, errOut, code := lethe(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", cmd[0], code, errOut)
		}
		if !strings.Contains(errOut, "not valid json") || !strings.Contains(errOut, "[redacted]") {
			t.Errorf("%s: no masked warning about the broken file:\n%s", cmd[0], errOut)
		}
		if strings.Contains(strings.ToLower(errOut), "svensson") {
			t.Errorf("%s: a warning names the subject:\n%s", cmd[0], errOut)
		}
	}
}
