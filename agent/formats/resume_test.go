package formats

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
	"lethe/tombstones"
)

// sameKeys reports how got, a result of ScanKeysAfter, differs from want,
// ScanKeys' result for the same file.
func sameKeys(t *testing.T, name string, want, got *Result) {
	t.Helper()
	if want.Format != got.Format || want.NumRecords != got.NumRecords || want.Whole != got.Whole ||
		want.Fallback != got.Fallback || want.Flagged != got.Flagged || want.matching() != got.matching() {
		t.Errorf("%s: got %s, %d records (%d matching), whole %v, %q, %d flagged; want %s, %d (%d), %v, %q, %d", name,
			got.Format, got.NumRecords, got.matching(), got.Whole, got.Fallback, got.Flagged,
			want.Format, want.NumRecords, want.matching(), want.Whole, want.Fallback, want.Flagged)
	}
	if !slices.Equal(want.RecordKeys, got.RecordKeys) || !slices.Equal(want.Kinds(), got.Kinds()) {
		t.Errorf("%s: got %d keys, kinds %v; want %d, %v", name, len(got.RecordKeys), got.Kinds(), len(want.RecordKeys), want.Kinds())
	}
}

// edits returns versions of data as a file changes from day to day:
// lines added at the end, removed at the start or in the middle, one
// changed, one doubled, and the last newline gone.
func edits(data []byte, r *rand.Rand) [][]byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	pick := func() int { return r.IntN(len(lines)) }
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	vs := [][]byte{
		slices.Concat(data, []byte("2026-11-03 ny kund anna.ny@example.se 070-111 22 33\n")),
		slices.Concat(data, []byte("utan radslut 19800101-1231")),
		join(lines[1:]),
		bytes.TrimSuffix(data, []byte("\n")),
	}
	for range 3 {
		i := pick()
		vs = append(vs, join(slices.Delete(slices.Clone(lines), i, i+1)))
		i = pick()
		vs = append(vs, join(slices.Insert(slices.Clone(lines), i, lines[i])))
		i = pick()
		changed := slices.Clone(lines)
		changed[i] = []byte("ändrad rad med kund@example.se och 0701234567\n")
		vs = append(vs, join(changed))
	}
	return vs
}

// scanKeysTag is the tag function of a TagMatcher's refs.
func scanKeysTag(ref string) (uint64, bool, bool) {
	if len(ref) != 9 {
		return 0, false, false
	}
	return binary.BigEndian.Uint64([]byte(ref[1:])), ref[0] == 'p', true
}

// TestScanKeysAfter checks that scanning a version after the previous
// one finds exactly what scanning it alone finds, for every file of a
// generated server made large, and for versions of each as a day would
// change it, scanned one after the other; and that versions sharing
// their start were scanned from a checkpoint.
func TestScanKeysAfter(t *testing.T) {
	ds := generate(t, gen.SmallConfig(42))
	m := subjectMatcher(t, ds)
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	opts := datasetOptions(t, ds)
	opts.AllCandidates = true
	for _, mc := range []struct {
		name string
		m    Matcher
	}{{"tags", tombstones.NewTagMatcher(m.Normalizer(), key)}, {"subjects", m}} {
		t.Run(mc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			whole, after := NewScanner(mc.m, opts), NewScanner(mc.m, opts)
			resumed, flat := 0, 0
			for _, f := range ds.Files {
				data, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
				if err != nil {
					t.Fatal(err)
				}
				// Large enough for many checkpoints.
				for len(data) < 4*checkpointEvery && len(data) > 0 {
					data = append(data, data...)
				}
				name := path.Base(f)
				res, prev := after.ScanKeysAfter(nil, name, data, scanKeysTag)
				sameKeys(t, f, whole.ScanKeys(name, data, scanKeysTag), res)
				if prev == nil {
					continue
				}
				flat++
				for i, v := range edits(data, r) {
					got, next := after.ScanKeysAfter(prev, name, v, scanKeysTag)
					sameKeys(t, fmt.Sprintf("%s version %d", f, i), whole.ScanKeys(name, v, scanKeysTag), got)
					if got, _ := after.resumeKeys(prev, v, scanKeysTag); got != nil {
						resumed++
					}
					if next != nil && i%2 == 0 {
						prev = next // a chain of versions too
					}
				}
			}
			t.Logf("%d line-oriented files, %d versions resumed", flat, resumed)
			if flat == 0 || resumed == 0 {
				t.Errorf("%d line-oriented files, %d versions resumed", flat, resumed)
			}
		})
	}
}

// TestScanKeysAfterContext checks that a version read another way (a
// new delimiter or name columns, quotes, another format) is scanned
// whole.
func TestScanKeysAfterContext(t *testing.T) {
	m := allMatcher(t)
	opts := &Options{AllCandidates: true, NameColumns: []string{"namn"}}
	var b strings.Builder
	b.WriteString("kundnr;namn;epost\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "K%05d;Kund %d;kund%d@example.se\n", i, i, i)
	}
	data := []byte(b.String())
	sc := NewScanner(m, opts)
	_, prev := sc.ScanKeysAfter(nil, "kunder.csv", data, scanKeysTag)
	if prev == nil {
		t.Fatal("a CSV file without quotes kept no checkpoints")
	}
	for name, v := range map[string][]byte{
		"comma":      bytes.ReplaceAll(data, []byte(";"), []byte(",")),
		"no names":   slices.Concat([]byte("kundnr;kund;epost\n"), data[len("kundnr;namn;epost\n"):]),
		"quotes":     slices.Concat(data, []byte("\"K1\";\"Anna\";\"anna.svensson@example.se\"\n")),
		"name match": slices.Concat(data, []byte("K2;Anna Svensson;x@example.se\n")),
	} {
		got, _ := sc.ScanKeysAfter(prev, "kunder.csv", v, scanKeysTag)
		sameKeys(t, name, NewScanner(m, opts).ScanKeys("kunder.csv", v, scanKeysTag), got)
	}
	// The same bytes read as text are scanned whole.
	got, _ := sc.ScanKeysAfter(prev, "kunder.txt", data, scanKeysTag)
	sameKeys(t, "as text", NewScanner(m, opts).ScanKeys("kunder.txt", data, scanKeysTag), got)
}
