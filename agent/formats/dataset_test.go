package formats

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"lethe/agent/formats/gen"
	"lethe/tombstones"
)

// subjectMatcher builds the real tombstones matcher for all identifiers of
// the data set's subjects.
func subjectMatcher(t testing.TB, ds *gen.Dataset) *tombstones.Matcher {
	t.Helper()
	custom := []tombstones.CustomKind{{Name: ds.CustomKind, Pattern: regexp.MustCompile(ds.CustomPattern)}}
	n, err := tombstones.NewNormalizer("SE", custom)
	if err != nil {
		t.Fatal(err)
	}
	var ids []tombstones.Identifier
	for _, s := range ds.Subjects {
		for _, kv := range s.IDs(ds.CustomKind) {
			id, err := n.ParseKindValue(kv)
			if err != nil {
				t.Fatalf("subject identifier: %v", err)
			}
			ids = append(ids, id)
		}
	}
	m, err := tombstones.NewIdentifierMatcher(n, ids)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func datasetOptions(t testing.TB, ds *gen.Dataset) *Options {
	r, err := ParsePathRule(ds.PathRule)
	if err != nil {
		t.Fatal(err)
	}
	return &Options{NameColumns: ds.NameColumns, PathRules: []PathRule{r}}
}

// datasetConfigs are the generated servers the data set tests run on: two
// small ones and, unless -short, one of the default (demo) size.
func datasetConfigs(t *testing.T) []gen.Config {
	cs := []gen.Config{gen.SmallConfig(42), gen.SmallConfig(2026)}
	if !testing.Short() {
		cs = append(cs, gen.DefaultConfig(7))
	}
	return cs
}

func generate(t testing.TB, cfg gen.Config) *gen.Dataset {
	t.Helper()
	ds, err := gen.Generate(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

type rng struct{ off, len int64 }

// TestDatasetScan checks every file of a generated server: every subject
// record is found with its exact byte range, nothing else is, and no decoy
// is ever reported.
func TestDatasetScan(t *testing.T) {
	for _, cfg := range datasetConfigs(t) {
		t.Run(fmt.Sprintf("seed%d-%dmsgs", cfg.Seed, cfg.Messages), func(t *testing.T) { testDatasetScan(t, generate(t, cfg)) })
	}
}

func testDatasetScan(t *testing.T, ds *gen.Dataset) {
	m := subjectMatcher(t, ds)
	opts := datasetOptions(t, ds)

	want := make(map[string][]rng)
	whole := make(map[string]string)
	for _, p := range ds.Records {
		if p.Whole {
			whole[p.Path] = p.Format
			continue
		}
		want[p.Path] = append(want[p.Path], rng{p.Offset, p.Length})
	}
	decoys := make(map[string][]rng)
	for _, p := range ds.Decoys {
		decoys[p.Path] = append(decoys[p.Path], rng{p.Offset, p.Length})
		if p.Whole {
			decoys[p.Path] = append(decoys[p.Path], rng{0, -1})
		}
	}

	var hits []Hit
	var reports []string
	opts.Report = func(path string, f Format, reason string) { reports = append(reports, path+": "+reason) }
	if err := Scan(t.Context(), []string{ds.Root}, m, opts, func(h Hit) { hits = append(hits, h) }); err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		t.Errorf("fallback: %s", r)
	}
	got := make(map[string][]rng)
	gotWhole := make(map[string]Format)
	formats := make(map[Format]int)
	for _, h := range hits {
		rel, _ := filepath.Rel(ds.Root, h.Path)
		rel = filepath.ToSlash(rel)
		formats[h.Format]++
		if _, ok := whole[rel]; ok {
			gotWhole[rel] = h.Format
			continue
		}
		got[rel] = append(got[rel], rng{h.Offset, h.Length})
	}
	for path, f := range whole {
		if g, ok := gotWhole[path]; !ok {
			t.Errorf("%s: whole-file subject record (%s) not found", path, f)
		} else if string(g) != f {
			t.Errorf("%s: found as %s, want %s", path, g, f)
		}
	}
	for path, w := range want {
		g := got[path]
		sortR(w)
		sortR(g)
		if !slices.Equal(w, g) {
			t.Errorf("%s: records\n got %v\nwant %v", path, g, w)
		}
	}
	for path, g := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s: unexpected records %v", path, g)
		}
	}
	for path, d := range decoys {
		for _, h := range hits {
			rel, _ := filepath.Rel(ds.Root, h.Path)
			if filepath.ToSlash(rel) != path {
				continue
			}
			for _, r := range d {
				if r.len < 0 || h.Offset < r.off+r.len && r.off < h.Offset+h.Length {
					t.Errorf("%s: decoy at %d+%d reported as a hit (%v)", path, r.off, r.len, h.Kinds)
				}
			}
		}
	}
	t.Logf("%d hits by format: %v", len(hits), formats)
}

// wholly reports whether records cover all of a file.
func wholly(src []byte, cuts []rng) bool {
	n := int64(0)
	for _, c := range cuts {
		n += c.len
	}
	return len(cuts) > 0 && n == int64(len(src))
}

func sortR(r []rng) {
	sort.Slice(r, func(i, j int) bool { return r[i].off < r[j].off })
}

// TestDatasetRedact redacts the generated server and checks the output:
// exactly the subject records are gone, everything else byte-identical.
func TestDatasetRedact(t *testing.T) {
	for _, cfg := range datasetConfigs(t) {
		t.Run(fmt.Sprintf("seed%d-%dmsgs", cfg.Seed, cfg.Messages), func(t *testing.T) { testDatasetRedact(t, generate(t, cfg)) })
	}
}

func testDatasetRedact(t *testing.T, ds *gen.Dataset) {
	m := subjectMatcher(t, ds)
	opts := datasetOptions(t, ds)
	out := t.TempDir()
	sum, err := Redact(t.Context(), []string{ds.Root}, out, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	cut := make(map[string][]rng)
	gone := make(map[string]bool)
	for _, p := range ds.Records {
		if p.Whole {
			gone[p.Path] = true
			continue
		}
		cut[p.Path] = append(cut[p.Path], rng{p.Offset, p.Length})
	}
	for _, f := range ds.Files {
		src, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(f)))
		inGone := gone[f] || wholly(src, cut[f])
		for g := range gone {
			if len(f) > len(g) && f[:len(g)+1] == g+"/" {
				inGone = true
			}
		}
		if inGone {
			if err == nil {
				t.Errorf("%s: subject's file written", f)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: not written: %v", f, err)
			continue
		}
		cuts := cut[f]
		if len(cuts) == 0 {
			if !bytes.Equal(src, dst) {
				t.Errorf("%s: changed without subject records", f)
			}
			continue
		}
		if Detect(f, src) == FormatSQLite {
			checkSQLiteRedaction(t, f, src, dst, len(cuts), ds)
			continue
		}
		if sf := ScanBytes(f, src, nil, nil).Format; sf == FormatSQL || sf == FormatJSON {
			checkListRedaction(t, f, src, dst, cuts, ds)
			continue
		}
		sortR(cuts)
		var exp []byte
		p := int64(0)
		for _, c := range cuts {
			exp = append(exp, src[p:c.off]...)
			p = c.off + c.len
		}
		exp = append(exp, src[p:]...)
		if !bytes.Equal(exp, dst) {
			t.Errorf("%s: redacted output differs from the input minus the subject records", f)
		}
	}
	for _, f := range sum.SortedFormats() {
		t.Logf("%s: %+v", f, *sum.Formats[f])
	}
}

// checkListRedaction checks formats where records share separators: no
// subject record left, every decoy and other record intact, and the
// result still parses with the right number of records.
func checkListRedaction(t *testing.T, f string, src, dst []byte, cuts []rng, ds *gen.Dataset) {
	t.Helper()
	for _, c := range cuts {
		if bytes.Contains(dst, src[c.off:c.off+c.len]) {
			t.Errorf("%s: subject record at %d still present", f, c.off)
		}
	}
	for _, d := range ds.Decoys {
		if d.Path == f && !d.Whole && !bytes.Contains(dst, src[d.Offset:d.Offset+d.Length]) {
			t.Errorf("%s: decoy at %d removed", f, d.Offset)
		}
	}
	before, err := ScanFormat(Detect(f, src), src, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := ScanFormat(Detect(f, src), dst, nil, nil)
	if err != nil {
		t.Errorf("%s: redacted output does not parse: %v", f, err)
		return
	}
	if after.NumRecords != before.NumRecords-len(cuts) {
		t.Errorf("%s: %d records after redaction, want %d", f, after.NumRecords, before.NumRecords-len(cuts))
	}
}
