package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
)

type hitJSON struct {
	Path   string   `json:"path"`
	Format string   `json:"format"`
	Record int      `json:"record"`
	Offset int64    `json:"offset"`
	Length int64    `json:"length"`
	Kinds  []string `json:"kinds"`
}

func parseHits(t *testing.T, root, out string) map[string]hitJSON {
	t.Helper()
	hits := map[string]hitJSON{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var h hitJSON
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("scan printed a line that is not JSON: %v", err)
		}
		rel, err := filepath.Rel(root, h.Path)
		if err != nil {
			t.Fatal(err)
		}
		h.Path = filepath.ToSlash(rel)
		hits[h.Path+"@"+itoa(h.Offset)+"+"+itoa(h.Length)] = h
	}
	return hits
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// subjectArgs are the flags that name subject s of the data set, with the
// data set's rules.
func subjectArgs(ds *gen.Dataset, s int) []string {
	args := ruleArgs(ds)
	for _, id := range ds.Subjects[s].IDs(ds.CustomKind) {
		args = append(args, "--id", id)
	}
	return args
}

func TestScanAndRedactGeneratedServer(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	root := filepath.Join(base, "server")
	ds, err := gen.Generate(root, gen.SmallConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	const subject = 0
	want := map[string]gen.Placement{}
	for _, p := range ds.Records {
		if p.Subject == subject {
			want[p.Path] = p
		}
	}

	out, errOut, code := lethe(t, append(append([]string{"scan"}, subjectArgs(ds, subject)...), root)...)
	if code != exitIncomplete {
		t.Fatalf("scan: exit %d, want 3\n%s", code, errOut)
	}
	hits := parseHits(t, root, out)
	if len(hits) == 0 {
		t.Fatal("scan found nothing")
	}
	paths := map[string]bool{}
	for _, h := range hits {
		paths[h.Path] = true
		if _, ok := want[h.Path]; !ok && !underWhole(h.Path, ds, subject) {
			t.Errorf("scan hit %s (%s) holds no record of the subject", h.Path, h.Format)
		}
	}
	for p := range want {
		if !paths[p] && !underWhole(p, ds, subject) {
			t.Errorf("scan missed the subject's record in %s", p)
		}
	}
	// The identifiers never reach the output, except as the path of a file
	// or folder that is named after the subject: that path is where the
	// operator must act.
	printed := out + errOut
	for _, h := range hits {
		if h.Format == "name" || h.Format == "path" {
			printed = strings.ReplaceAll(printed, filepath.Join(root, filepath.FromSlash(h.Path)), "")
		}
	}
	s := ds.Subjects[subject]
	for _, v := range []string{s.Email, s.Phone, s.Personnummer, s.CustomerNo} {
		if v != "" && strings.Contains(printed, v) {
			t.Errorf("scan output holds an identifier: %q in\n%s", v, out+errOut)
		}
	}

	// Redact, then scan the copy: nothing of the subject is left, and every
	// file without a record of the subject is byte-identical.
	red := filepath.Join(base, "redacted")
	mustLethe(t, append(append([]string{"redact", "--out", red}, subjectArgs(ds, subject)...), root)...)
	out, errOut, code = lethe(t, append(append([]string{"scan"}, subjectArgs(ds, subject)...), red)...)
	if code != 0 {
		t.Fatalf("scan of the redacted copy: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range ds.Files {
		if _, ok := want[f]; ok || underWhole(f, ds, subject) {
			continue
		}
		a, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(red, f))
		if err != nil {
			t.Errorf("redact lost %s: %v", f, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("redact changed %s, which holds no record of the subject", f)
		}
	}

	// The same through a recorded tombstone.
	erase := []string{"erase", "--reason", "17(1)(a)", "--kind", ds.CustomKind + "=" + ds.CustomPattern}
	for _, id := range s.IDs(ds.CustomKind) {
		erase = append(erase, "--id", id)
	}
	mustLethe(t, erase...)
	out, _, code = lethe(t, append([]string{"scan", "--tombstones", "--kind", ds.CustomKind + "=" + ds.CustomPattern, "--path-rule", ds.PathRule}, root)...)
	if code != exitIncomplete || len(parseHits(t, root, out)) == 0 {
		t.Errorf("scan --tombstones: exit %d, %d hits", code, len(parseHits(t, root, out)))
	}
}

// underWhole reports whether p lies in a directory that is wholly the
// subject's (by name or path rule), which scan reports as one hit.
func underWhole(p string, ds *gen.Dataset, subject int) bool {
	for _, r := range ds.Records {
		if r.Subject == subject && r.Whole && (r.Format == "name" || r.Format == "path") && strings.HasPrefix(p, r.Path+"/") {
			return true
		}
	}
	return false
}
