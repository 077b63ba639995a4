package formats

import (
	"bytes"
	"regexp"
	"slices"
	"testing"
)

func TestExtract(t *testing.T) {
	m := allMatcher(t)
	cases := []struct {
		text string
		want []Kind
	}{
		{"Mejla Anna.Svensson@Example.SE idag", kindsOf(KindEmail)},
		{"<anna.svensson@example.se>, nästa", kindsOf(KindEmail)},
		{"mailto:anna.svensson@example.se.", kindsOf(KindEmail)},
		{"(anna.svensson@example.se)", kindsOf(KindEmail)},
		{"xanna.svensson@example.se", nil},
		{"anna.svensson@example.se.evil.com", nil},
		{"anna.svensson@sub.example.se", nil},
		{"anna.svensson@example.sex", nil},
		{"anna.svensson@example.se@evil.com", nil},
		{"åanna.svensson@example.se", nil},
		{"anna.svensson@example.se\u00a0och", kindsOf(KindEmail)},
		{"Ring 070-123 45 67 nu", kindsOf(KindPhone)},
		{"070 123 45 67", kindsOf(KindPhone)},
		{"+46 70 123 45 67", kindsOf(KindPhone)},
		{"+46 (0)70-1234567", kindsOf(KindPhone)},
		{"0046701234567", kindsOf(KindPhone)},
		{"tel:0701234567;", kindsOf(KindPhone)},
		{"+46701234567", kindsOf(KindPhone)},
		{"Order 2025-11-20 kl 10:00, tel 070-1234567.", kindsOf(KindPhone)},
		{"070-123 45 68", nil},
		{"070.123.45.67", kindsOf(KindPhone)},
		{"070/123 45 67", kindsOf(KindPhone)},
		{"10.0.70.123 och 1.070.123.456,7", nil},
		{"90701234567", nil},
		{"07012345678", nil},
		{"abc0701234567", nil},
		{"0701234567x", nil},
		{"abc12 070-123 45 67", kindsOf(KindPhone)}, // a word before the phrase, not the number
		{"x070 123 45 67", nil},
		{"12 34 5, 070-123 45 67", kindsOf(KindPhone)},
		{"19800101-1231", kindsOf(KindPersonnummer)},
		{"198001011231", kindsOf(KindPersonnummer)},
		{"pnr 800101-1231,", kindsOf(KindPersonnummer)},
		{"8001011231", kindsOf(KindPersonnummer)},
		{"19800101-1232", nil},
		{"119800101-1231", nil},
		{"800101-12311", nil},
		{"samordningsnummer 800161-1238", kindsOf(KindPersonnummer)},
		{"org.nr 556677-8899", kindsOf(KindOrgnr)},
		{"5566778899", kindsOf(KindOrgnr)},
		{"556677-8898", nil},
		{"kund K-12345.", kindsOf(Kind("custom:kundnr"))},
		{"XK-12345", nil},
		{"K-123456", nil},
		{"Anna Svensson ringde", nil}, // names never in free text
		{"anna.svensson@example.se 070-123 45 67 19800101-1231", kindsOf(KindEmail, KindPhone, KindPersonnummer)},
		{"", nil},
	}
	for _, c := range cases {
		x := newExtractor(m)
		got := x.kinds(x.scan([]byte(c.text)))
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.text, got, c.want)
		}
	}
}

// TestExtractManyGroups checks numbers at the end of long runs of digit
// groups are still seen.
func TestExtractManyGroups(t *testing.T) {
	m := allMatcher(t)
	x := newExtractor(m)
	text := "1 2 3 4 5 6 7 8 9 10 11 12 070-123 45 67"
	if got := x.kinds(x.scan([]byte(text))); !slices.Equal(got, kindsOf(KindPhone)) {
		t.Errorf("got %v", got)
	}
}

// TestKindFilter checks that kinds the matcher does not hold are not
// looked for (and a matcher without HasKind gets every kind tried).
func TestKindFilter(t *testing.T) {
	m := newMatcher(t, "email="+tEmail)
	x := newExtractor(m)
	if x.want != bitEmail {
		t.Errorf("want = %b", x.want)
	}
	if got := x.kinds(x.scan([]byte("070-123 45 67 " + tEmail))); !slices.Equal(got, kindsOf(KindEmail)) {
		t.Errorf("got %v", got)
	}
	y := newExtractor(everything{})
	if got := y.kinds(y.scan([]byte("a@b.se 0701234567"))); !slices.Contains(got, KindPhone) || !slices.Contains(got, KindEmail) {
		t.Errorf("got %v", got)
	}
}

// collector records every candidate it is offered.
type collector struct{ seen map[Kind][]string }

func (c *collector) Lookup(k Kind, cand string) (string, bool) {
	c.seen[k] = append(c.seen[k], cand)
	return string(k) + ":" + cand, true
}
func (c *collector) CustomKinds() []CustomKind { return nil }

func TestAllCandidates(t *testing.T) {
	text := "a@b.se c@d.se 19800101-1231 800101-1231"
	for _, all := range []bool{false, true} {
		c := &collector{seen: make(map[Kind][]string)}
		res := NewScanner(c, &Options{AllCandidates: all}).Scan("x.txt", []byte(text))
		if len(res.Records) != 1 {
			t.Fatalf("%+v", res)
		}
		want := 1
		if all {
			want = 2
		}
		if len(c.seen[KindEmail]) != want || len(c.seen[KindPersonnummer]) != want {
			t.Errorf("all=%v: offered %v", all, c.seen)
		}
	}
}

// recorder matches nothing and records every candidate it is asked about.
type recorder struct {
	custom []CustomKind
	got    []string
}

func (r *recorder) Lookup(k Kind, c string) (string, bool) {
	r.got = append(r.got, string(k)+"="+c)
	return "", false
}
func (r *recorder) CustomKinds() []CustomKind { return r.custom }

// TestCustomWindows: running a bounded custom pattern on windows at its
// literal prefix offers the matcher the same candidates as running it over
// the whole text, and unbounded patterns or patterns with assertions are
// not windowed.
func TestCustomWindows(t *testing.T) {
	patterns := map[string]int{ // pattern: windowed (1) or not (0)
		`K-[0-9]{5}`: 1, `K-\d{3,5}`: 1, `AB(?:C|CD)?\d{2}`: 1, `kund-[a-zåäö]{2,4}`: 1, `x{1,3}y`: 1,
		`(?i)k-\d{5}`: 0, `K-\d+`: 0, `\bK-\d{5}\b`: 0, `K-\d{5}$`: 0, `^K-\d{5}`: 0, `K-\d{300}`: 0,
	}
	alphabet := []string{"K-", "K-12345", "K-123", "K-1234567", "k-12345", "ABC12", "ABCD34", "AB9", "kund-åä", "kund-abcde", "xxy", "xxxxy",
		"K", "-", "1", "2", "A", "B", "C", "D", "x", "y", " ", " ", ",", "\n", "é", "å"}
	rnd := uint64(1)
	next := func(n int) int {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		return int(rnd>>33) % n
	}
	for pat, windowed := range patterns {
		re := regexp.MustCompile(pat)
		custom := []CustomKind{{Name: "c", Pattern: re}}
		full, win := &recorder{custom: custom}, &recorder{custom: custom}
		xf, xw := newExtractor(full), newExtractor(win)
		xf.all, xw.all = true, true
		xf.memo, xw.memo = nil, nil
		if got := xw.prefixes[0] != "" && xw.maxLens[0] > 0; got != (windowed == 1) {
			t.Fatalf("%s: windowed = %v", pat, got)
		}
		offered := 0
		for range 3000 {
			var text []byte
			for range next(12) {
				text = append(text, alphabet[next(len(alphabet))]...)
			}
			full.got, win.got = full.got[:0], win.got[:0]
			// A fresh memo each time: repeated candidates must be offered
			// again to be compared.
			xf.memo, xw.memo = nil, nil
			xf.customScan(text, 0)
			if windowed == 1 {
				xw.customWindows(text, 0)
			} else {
				xw.customScan(text, 0)
			}
			offered += len(full.got)
			if !slices.Equal(full.got, win.got) {
				t.Fatalf("%s on %q: windows offer %q, the whole text %q", pat, text, win.got, full.got)
			}
		}
		if windowed == 1 && offered < 30 {
			t.Errorf("%s: only %d candidates; the test checks too little", pat, offered)
		}
	}
}

// TestOrgnrSpellings: every spelling of an organisationsnummer that the
// tombstones normalizer accepts is found in text, in a CSV cell and in a
// file name, and near misses are not. A sole trader's number, which the
// normalizer takes only as a personnummer, is found in every spelling of
// one, also where the text calls it an organisationsnummer.
func TestOrgnrSpellings(t *testing.T) {
	for _, c := range []struct {
		tombstoned string
		kind       Kind
		found      []string
		missed     []string
	}{
		{"556036-0793", KindOrgnr,
			[]string{"556036-0793", "5560360793", "165560360793", "16556036-0793"},
			[]string{"556036-0794", "175560360793", "55603-60793", "1165560360793", "1655603607931"}},
		{"800101-1231", KindPersonnummer,
			[]string{"800101-1231", "8001011231", "19800101-1231", "198001011231"},
			[]string{"800101-1232", "168001011231", "16800101-1231"}},
	} {
		m := newMatcher(t, string(c.kind)+"="+c.tombstoned)
		for _, s := range c.found {
			if res := ScanBytes("x.txt", []byte("Org.nr: "+s+".\nannat\n"), m, nil); len(res.Records) != 1 || res.Records[0].Index != 0 {
				t.Errorf("%s tombstoned: %s not found in text: %+v", c.tombstoned, s, res.Records)
			}
			if res := ScanBytes("x.csv", []byte("namn;orgnr\nAB;"+s+"\nCD;5566778899\n"), m, nil); res.Format != FormatCSV || len(res.Records) != 1 || res.Records[0].Index != 0 {
				t.Errorf("%s tombstoned: %s not found in CSV: %+v", c.tombstoned, s, res)
			}
			if ks := MatchName("faktura_"+s+".pdf", m); !slices.Equal(ks, kindsOf(c.kind)) {
				t.Errorf("%s tombstoned: %s not found in a file name: %v", c.tombstoned, s, ks)
			}
		}
		for _, s := range c.missed {
			if res := ScanBytes("x.txt", []byte("Org.nr: "+s+".\n"), m, nil); len(res.Records) != 0 {
				t.Errorf("%s tombstoned: near miss %s found in text", c.tombstoned, s)
			}
			if ks := MatchName("faktura_"+s+".pdf", m); len(ks) != 0 {
				t.Errorf("%s tombstoned: near miss %s found in a file name", c.tombstoned, s)
			}
		}
	}
}

// TestExtractNoAllocs: looking for the built-in kinds does not allocate,
// with hits or without, once a scanner's buffers and memo are warm.
// (Custom kinds do: the regexp package returns each match's indexes in a
// new slice.)
func TestExtractNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	x := newExtractor(allMatcher(t))
	for _, text := range []string{
		"per@example.se 19800101-1249 556677-8898 070-765 43 21\n",
		"hit: " + tEmail + " " + tPnr + " " + tOrgnr + " " + tPhone + "\n",
	} {
		b := []byte(text)
		x.scan(b) // warm the memo
		if allocs := testing.AllocsPerRun(100, func() {
			x.startRefs(0)
			x.scan(b)
		}); allocs != 0 {
			t.Errorf("%q: %v allocations", text, allocs)
		}
	}
}

// TestNextDigit checks the word-at-a-time digit search against a byte
// loop for every byte value at every position of a word and in the tail.
func TestNextDigit(t *testing.T) {
	for c := range 256 {
		for pos := range 19 {
			b := bytes.Repeat([]byte{'x'}, 19)
			b[pos] = byte(c)
			want := len(b)
			if '0' <= c && c <= '9' {
				want = pos
			}
			if got := nextDigit(b, 0); got != want {
				t.Fatalf("byte %#x at %d: nextDigit = %d, want %d", c, pos, got, want)
			}
			// Neighbours that are digits must not hide or invent one.
			b = bytes.Repeat([]byte{'7'}, 19)
			b[pos] = byte(c)
			if got := nextDigit(b, pos); got != pos+boolInt(!('0' <= c && c <= '9')) {
				t.Fatalf("byte %#x at %d among digits: nextDigit = %d", c, pos, got)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCarveCapped: records' kinds and refs share backing arrays, so each
// must be capped at its length: appending to one never changes another.
func TestCarveCapped(t *testing.T) {
	var arena []string
	a := carve(&arena, 2)
	b := carve(&arena, 2)
	copy(a, []string{"a1", "a2"})
	copy(b, []string{"b1", "b2"})
	_ = append(a, "x")
	if cap(a) != 2 || b[0] != "b1" {
		t.Fatalf("appending to one slice changed the next: %q", b)
	}
	big := carve(&arena, 3*arenaChunk)
	if len(big) != 3*arenaChunk {
		t.Fatalf("carve of %d gave %d", 3*arenaChunk, len(big))
	}
}
