package formats

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
	"lethe/tombstones"
)

// TestScanKeysParts checks that scanning a file in parts at once finds
// exactly what ScanKeys finds, in 2, 3 and 5 parts, for every file of a
// generated server made large and for files whose parts fall on blank
// lines, a header with an identifier, or a last line without a newline.
func TestScanKeysParts(t *testing.T) {
	ds := generate(t, gen.SmallConfig(2026))
	m := subjectMatcher(t, ds)
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	opts := datasetOptions(t, ds)
	opts.AllCandidates = true
	tm := tombstones.NewTagMatcher(m.Normalizer(), key)
	files := map[string][]byte{}
	for _, f := range ds.Files {
		data, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		for len(data) < 1<<16 && len(data) > 0 {
			data = append(data, data...)
		}
		files[f] = data
	}
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "{\"e\":\"kund%d@example.se\"}\n", i)
		if i%7 == 0 {
			b.WriteString("\n  \n")
		}
	}
	files["blank/lines.jsonl"] = []byte(b.String())
	files["utan/radslut.log"] = []byte(strings.Repeat("rad 070-123 45 67 och anna.svensson@example.se\n", 3000) + "sista 19800101-1231")
	files["header/hit.csv"] = []byte("namn;anna.svensson@example.se\n" + strings.Repeat("Bo;0701234567\n", 5000))
	files["header/names.csv"] = []byte("Namn;Tel\n" + strings.Repeat("Anna Svensson;0701234567\nBo Ek;x\n", 3000))

	split := 0
	for _, n := range []int{2, 3, 5} {
		scs := make([]*Scanner, n)
		for i := range scs {
			scs[i] = NewScanner(tm, opts)
		}
		whole := NewScanner(tm, opts)
		for f, data := range files {
			name := path.Base(f)
			want := whole.ScanKeys(name, data, scanKeysTag)
			got := ScanKeysParts(scs, name, data, scanKeysTag)
			sameKeys(t, fmt.Sprintf("%s in %d parts", f, n), want, got)
			if c, ok := whole.lineContext(name, data); ok && len(lineCuts(data, c.start, n)) > 2 {
				split++
			}
		}
	}
	if split == 0 {
		t.Error("no file was scanned in parts")
	}
}
