package formats

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// offerAll matches every candidate and names it by kind and value, so that
// two scans can be compared candidate by candidate.
type offerAll struct{ custom []CustomKind }

func (m offerAll) Lookup(k Kind, cand string) (string, bool) { return string(k) + ":" + cand, true }
func (m offerAll) CustomKinds() []CustomKind                 { return m.custom }

// utf16Samples are spellings of identifiers, some hidden by escapes and
// Unicode separators, and near misses around them.
var utf16Samples = []string{
	"anna.svensson@example.se", "x@y.se", "anna%40example.se", "a@b@c.se",
	"070-123 45 67", "+46 70 123 45 67", "+46 (0)70-1234567", "0046701234567",
	"070\u00a0123\u00a045\u00a067", "070\u2013123 45 67", "070&nbsp;123&nbsp;45&nbsp;67",
	"%30%37%30%2D%31%32%33%20%34%35%20%36%37", "19800101-1249", "800101-1249",
	"556677-8899", "K-54321", "%4B-54321", "kund K-1234;", "1 2 3 4 5 6 7",
	"tel:070-1234567,", "<070-1234567>", "\"anna@example.se\"", "12345678901234567",
	"0&nbsp;7&nbsp;0&nbsp;1&nbsp;2&nbsp;3&nbsp;4&nbsp;5", "0 - 7 - 0 - 1 - 2 - 3 - 4",
	"PRJ-ABCD", "xPRJ-ABCD", "PRJ-ABCDE",
}

func utf16LE(s string, bigEndian bool) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}

// TestUTF16Regions: scanning only the stretches around triggers offers the
// same candidates as decoding everything, in binary noise with UTF-16
// identifiers at both alignments and in both byte orders.
func TestUTF16Regions(t *testing.T) {
	custom := []CustomKind{
		{Name: "kundnr", Pattern: regexp.MustCompile(`K-\d{4,6}`)},
		{Name: "projekt", Pattern: regexp.MustCompile(`PRJ-[A-Z]{4}`)},
	}
	m := offerAll{custom}
	r := rand.New(rand.NewPCG(7, 13))
	sparse := 0
	for i := range 400 {
		// Binary noise with few zero bytes, so that regions are used.
		data := make([]byte, 1000+r.IntN(3000))
		for j := range data {
			switch r.IntN(40) {
			case 0:
				data[j] = 0
			case 1, 2, 3, 4, 5:
				data[j] = " -.@%0123456789Kabc,;&#\n\t"[r.IntN(25)]
			default:
				data[j] = byte(r.Uint32()) | 1
			}
		}
		for range r.IntN(6) {
			s := utf16Samples[r.IntN(len(utf16Samples))]
			if r.IntN(3) == 0 {
				s = strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(3)) + s
			}
			at := r.IntN(len(data) + 1)
			data = slices.Insert(data, at, utf16LE(s, r.IntN(2) == 0)...)
		}
		if bytes.Count(data, []byte{0}) <= len(data)/16 {
			sparse++
		}
		whole, parts := newExtractor(m), newExtractor(m)
		whole.all, parts.all = true, true
		if parts.noStretches {
			t.Fatal("a pattern without breakers decodes whole texts")
		}
		whole.noStretches = true
		kw, kp := whole.scanRaw(data), parts.scanRaw(data)
		rw, rp := whole.takeRefs(0), parts.takeRefs(0)
		if kw != kp || !slices.Equal(rw, rp) {
			t.Fatalf("input %d: whole decoding found %v %q, regions %v %q", i, kw, rw, kp, rp)
		}
	}
	if sparse < 300 {
		t.Fatalf("only %d of 400 inputs were scanned by regions", sparse)
	}
}

// TestUTF16RegionsCustomBreaker: a custom pattern that can match a
// breaker makes the scanner decode everything.
func TestUTF16RegionsCustomBreaker(t *testing.T) {
	for _, c := range []struct {
		pattern string
		whole   bool
	}{
		{`K-\d{4,6}`, false},
		{`(?i)k-\d+`, true}, // no literal prefix
		{`K:\d+`, true},
		{`K-[^x]+`, true},
		{`K-.\d`, true},
		{`K\d+`, false},
	} {
		x := newExtractor(offerAll{[]CustomKind{{Name: "k", Pattern: regexp.MustCompile(c.pattern)}}})
		if x.noStretches != c.whole {
			t.Errorf("%s: noStretches = %v, want %v", c.pattern, x.noStretches, c.whole)
		}
	}
}

// TestPercentStretches: decoding only the stretches around percent escapes
// offers the same candidates as decoding the whole text.
func TestPercentStretches(t *testing.T) {
	custom := []CustomKind{{Name: "kundnr", Pattern: regexp.MustCompile(`K-\d{4,6}`)}}
	m := offerAll{custom}
	pieces := []string{"anna%40example.se", "%61nna@example.se", "070%2D123%2045%2067", "%30%37%30-1234567",
		"19800101%2D1249", "K%2D12345", "%4B-12345", "%", "%4", "%zz", "%%40", "a@b.se", "070-123 45 67",
		" ", ",", ";", "&", "#", "@", "=", "?", "/", "%20", "%2C", "x", "7", "é", "mailto:", "\n"}
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 2000 {
		var b []byte
		for range 1 + r.IntN(12) {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
		whole, parts := newExtractor(m), newExtractor(m)
		whole.all, parts.all = true, true
		whole.noStretches = true
		kw, kp := whole.scan(b), parts.scan(b)
		rw, rp := whole.takeRefs(0), parts.takeRefs(0)
		if kw != kp || !slices.Equal(rw, rp) {
			t.Fatalf("input %d %q: whole decoding found %v %q, stretches %v %q", i, b, kw, rw, kp, rp)
		}
	}
}
