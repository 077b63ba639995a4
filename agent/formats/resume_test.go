package formats

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
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

// sameRecords reports how got, a result of ScanAfter, differs from
// want, Scan's result for the same file.
func sameRecords(t *testing.T, name string, want, got *Result) {
	t.Helper()
	sameKeys(t, name, want, got)
	if len(want.Records) != len(got.Records) {
		t.Errorf("%s: %d matching records, want %d", name, len(got.Records), len(want.Records))
		return
	}
	for i, w := range want.Records {
		g := got.Records[i]
		if w.Index != g.Index || w.Offset != g.Offset || w.Length != g.Length || !slices.Equal(w.Kinds, g.Kinds) || !slices.Equal(w.Refs, g.Refs) {
			t.Errorf("%s: record %d is %+v, want %+v", name, i, g, w)
		}
	}
}

// datasetMatchers returns the subjects' matcher of a data set and the
// subject index's matcher with its custom kinds.
func datasetMatchers(t *testing.T, ds *gen.Dataset) (*tombstones.Matcher, *tombstones.TagMatcher) {
	t.Helper()
	m := subjectMatcher(t, ds)
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	return m, tombstones.NewTagMatcher(m.Normalizer(), key)
}

// largeFiles returns the files of a data set, each repeated until it
// has at least size bytes.
func largeFiles(t *testing.T, ds *gen.Dataset, size int) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range ds.Files {
		data, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for len(data) < size && len(data) > 0 {
			data = append(data, data...)
		}
		files[f] = data
	}
	return files
}

// TestScanAfter checks that scanning a version after the previous one
// finds exactly what scanning it alone finds, by ScanAfter and
// ScanKeysAfter, for every file of a generated server made large, and
// for versions of each as a day would change it, scanned one after the
// other; and that versions sharing their start were scanned from a
// checkpoint.
func TestScanAfter(t *testing.T) {
	ds := generate(t, gen.SmallConfig(42))
	m, tm := datasetMatchers(t, ds)
	opts := datasetOptions(t, ds)
	all := *opts
	all.AllCandidates = true
	for _, mc := range []struct {
		name string
		m    Matcher
		opts *Options
		key  RefKey
	}{
		{"keys/tags", tm, &all, scanKeysTag},
		{"keys/subjects", m, &all, scanKeysTag},
		{"records/subjects", m, opts, nil},
		{"records/tags", tm, &all, nil},
	} {
		t.Run(mc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			whole, after := NewScanner(mc.m, mc.opts), NewScanner(mc.m, mc.opts)
			check := func(name, what string, data []byte, prev *LineScan) *LineScan {
				if mc.key != nil {
					got, next := after.ScanKeysAfter(prev, name, data, mc.key)
					sameKeys(t, what, whole.ScanKeys(name, data, mc.key), got)
					return next
				}
				got, next := after.ScanAfter(prev, name, data)
				sameRecords(t, what, whole.Scan(name, data), got)
				return next
			}
			resumed, flat := 0, 0
			// Large enough for many checkpoints, in a fixed order for
			// the edits drawn.
			files := largeFiles(t, ds, 4*checkpointEvery)
			for _, f := range slices.Sorted(maps.Keys(files)) {
				data, name := files[f], path.Base(f)
				prev := check(name, f, data, nil)
				if prev == nil {
					continue
				}
				flat++
				for i, v := range edits(data, r) {
					next := check(name, fmt.Sprintf("%s version %d", f, i), v, prev)
					if got, _ := after.resume(prev, v, mc.key); got != nil {
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

// TestScanAfterContext checks that a version read another way (a
// new delimiter or name columns, quotes, another format) is scanned
// whole.
func TestScanAfterContext(t *testing.T) {
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

// TestVersions checks that Versions gives what a whole scan gives, keeps
// the scans of line-oriented files of at least its least size within its
// limit, and scans the next version after the one it kept.
func TestVersions(t *testing.T) {
	m := allMatcher(t)
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "rad %d kund%d@example.se 070-%03d %02d %02d\n", i, i, i%1000, i%100, i%7)
	}
	log := []byte(b.String())
	small := []byte("en rad anna.svensson@example.se\n")
	for _, limit := range []int{64 << 20, 1} {
		v := NewVersions(1<<10, limit)
		sc, whole := NewScanner(m, nil), NewScanner(m, nil)
		for day := range 3 {
			log = fmt.Appendf(log, "dag %d anna.svensson@example.se\n", day)
			for name, data := range map[string][]byte{"app.log": log, "liten.log": small} {
				sameRecords(t, name, whole.Scan(name, data), v.Scan(sc, name, data))
			}
			v.mu.Lock()
			kept, size := v.last["app.log"], v.size
			_, smallKept := v.last["liten.log"]
			v.mu.Unlock()
			if size > limit || smallKept || (limit > 1) != (kept != nil) {
				t.Errorf("limit %d, day %d: keeps %d bytes, the small file %v, the log %v", limit, day, size, smallKept, kept != nil)
			}
			if kept != nil {
				if res, _ := sc.resume(kept, append(slices.Clone(log), "ny\n"...), nil); res == nil {
					t.Errorf("day %d: the next version cannot be scanned after the kept one", day)
				}
			}
		}
	}
}
