package formats

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
)

// TestKeysStream checks that a file handed to a KeysStream in pieces of
// every size is found to hold exactly what ScanKeys finds in it whole:
// every file of a generated server made large, and files whose windows
// end on blank lines, a last line without a newline, a CSV header with
// an identifier (one record: no result) and a quote far into a CSV (no
// result); and that only what is not line-oriented is declined.
func TestKeysStream(t *testing.T) {
	ds := generate(t, gen.SmallConfig(42))
	_, tm := datasetMatchers(t, ds)
	opts := datasetOptions(t, ds)
	opts.AllCandidates = true
	files := largeFiles(t, ds, 1<<18)
	var b strings.Builder
	for i := range 8000 {
		fmt.Fprintf(&b, "{\"e\":\"kund%d@example.se\"}\n", i)
		if i%7 == 0 {
			b.WriteString("\n  \n")
		}
	}
	files["blank/lines.jsonl"] = []byte(b.String())
	files["utan/radslut.log"] = []byte(strings.Repeat("rad 070-123 45 67 och anna.svensson@example.se\n", 8000) + "sista 19800101-1231")
	files["header/hit.csv"] = []byte("namn;anna.svensson@example.se\n" + strings.Repeat("Bo;0701234567\n", 20000))
	files["late/quote.csv"] = []byte("namn;tel\n" + strings.Repeat("Bo;0701234567\n", 20000) + "\"Anna\";\"070\n123\"\n")

	r := rand.New(rand.NewPCG(3, 4))
	whole := NewScanner(tm, opts)
	streamed, declined, lost := 0, 0, 0
	for _, f := range slices.Sorted(maps.Keys(files)) {
		data, name := files[f], path.Base(f)
		want := whole.ScanKeys(name, data, scanKeysTag)
		// One scanner, or three at once.
		scs := []*Scanner{NewScanner(tm, opts)}
		if len(f)%2 == 0 {
			scs = append(scs, NewScanner(tm, opts), NewScanner(tm, opts))
		}
		ks := NewKeysStream(scs, name, scanKeysTag)
		ks.window = 1 << 16
		var got *Result
		for p := 0; ; {
			n := min(len(data)-p, 1+r.IntN(40000))
			if n == 0 {
				got = ks.Result()
				break
			}
			if !ks.Write(data[p : p+n]) {
				// Declined: the caller scans it whole.
				declined++
				if _, ok := whole.lineContext(name, data); ok && len(data) > 1<<16 && !strings.HasSuffix(f, ".csv") {
					t.Errorf("%s: a line-oriented file was declined", f)
				}
				got = whole.ScanKeys(name, append(ks.Take(), data[p:]...), scanKeysTag)
				streamed--
				break
			}
			p += n
		}
		if got == nil {
			lost++
			if c, ok := whole.lineContext(name, data); ok && !want.Whole {
				t.Errorf("%s (%s): no result from the stream, although the whole file reads as lines", f, c.format)
			}
			continue
		}
		streamed++
		sameKeys(t, f, want, got)
	}
	t.Logf("%d files: %d streamed, %d declined, %d without a result", len(files), streamed, declined, lost)
	if streamed == 0 || declined == 0 || lost < 2 {
		t.Errorf("%d streamed, %d declined, %d without a result: the cases were not all met", streamed, declined, lost)
	}
}
