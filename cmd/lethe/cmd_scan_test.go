package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lethe/agent/formats"
	"lethe/agent/formats/gen"
	"lethe/tombstones"
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

// TestRedactMatchesRedactor: what `lethe redact` writes for a generated
// server is what a Redactor keeps of each file read from a plain reader,
// as backup and restore read them.
func TestRedactMatchesRedactor(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	root := filepath.Join(base, "server")
	ds, err := gen.Generate(root, gen.SmallConfig(11))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(base, "redacted")
	mustLethe(t, append(append([]string{"redact", "--out", out}, subjectArgs(ds, 0)...), root)...)

	n, err := tombstones.NewNormalizer("SE", []tombstones.CustomKind{{Name: ds.CustomKind, Pattern: regexp.MustCompile(ds.CustomPattern)}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []tombstones.Identifier
	for _, kv := range ds.Subjects[0].IDs(ds.CustomKind) {
		id, err := n.ParseKindValue(kv)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	m, err := tombstones.NewIdentifierMatcher(n, ids)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := formats.ParsePathRule(ds.PathRule)
	if err != nil {
		t.Fatal(err)
	}
	r := formats.NewRedactor(m, &formats.Options{NameColumns: ds.NameColumns, PathRules: []formats.PathRule{rule}})
	removed := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		dst := filepath.Join(out, rel)
		if _, drop := r.DecidePath(filepath.ToSlash(rel), d.IsDir()); drop {
			if _, err := os.Lstat(dst); err == nil {
				t.Errorf("%s: the Redactor drops it, lethe redact wrote it", rel)
			}
			removed++
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rc, f, err := r.Redact(t.Context(), filepath.ToSlash(rel), func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		})
		if err != nil {
			return err
		}
		written, werr := os.ReadFile(dst)
		if rc == nil {
			if werr == nil {
				t.Errorf("%s: the Redactor keeps nothing, lethe redact wrote %d bytes", rel, len(written))
			}
			removed++
			return nil
		}
		defer rc.Close()
		kept, err := io.ReadAll(rc)
		if err != nil {
			return err
		}
		if werr != nil || !bytes.Equal(kept, written) {
			t.Errorf("%s: the Redactor keeps %d bytes, lethe redact wrote %d (%v)", rel, len(kept), len(written), werr)
		}
		if f.Removed > 0 {
			removed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if removed == 0 {
		t.Error("nothing of the subject was found: the test checks too little")
	}
}
