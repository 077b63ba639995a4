package tombstones

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestMatcherZeroAllocs(t *testing.T) {
	n := testNormalizer(t)
	m, err := NewIdentifierMatcher(n, subject)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind      Kind
		candidate string
		want      bool
	}{
		{KindEmail, "Anna.Svensson@example.se", true},
		{KindEmail, "someone.else@example.se", false},
		{KindPersonnummer, subjectPnr10, true},
		{KindPersonnummer, "121212-1212", false},
		{KindOrgnr, "556677-8899", true},
		{KindName, "ANNA  SVENSSON", true},
		{CustomKindOf("customer"), "K-12345", true},
		{CustomKindOf("customer"), "K-54321", false},
		{KindPhone, "070-765 43 21", false}, // rejected by the tail prefilter
		{KindPhone, "08-123 456 78", false},
	}
	for _, c := range cases {
		if got := m.Match(c.kind, c.candidate); got != c.want {
			t.Errorf("Match(%s, %q) = %v", c.kind, c.candidate, got)
		}
		allocs := testing.AllocsPerRun(100, func() { m.Match(c.kind, c.candidate) })
		if allocs != 0 && !raceEnabled {
			t.Errorf("Match(%s, %q): %v allocations", c.kind, c.candidate, allocs)
		}
	}
}

// phoneVariants spells a Swedish mobile number in many ways.
func phoneVariants(nsn string) []string {
	a, b, c, d := nsn[:2], nsn[2:5], nsn[5:7], nsn[7:]
	return []string{
		"0" + nsn, "0" + a + "-" + b + " " + c + " " + d, "+46 " + a + " " + b + " " + c + " " + d,
		"+46 (0)" + a + "-" + b + c + d, "0046" + nsn, "+46" + nsn, "(0" + a + ") " + b + c + d,
		"0" + a + "/" + b + c + d, "0" + a + "." + b + "." + c + "." + d, "+46-" + a + "-" + b + c + d,
		"46" + nsn, "tel:+46" + nsn, "0" + a + " " + b + " " + c + " " + d + " ext. 12",
	}
}

// TestPhonePrefilterSound: the tail prefilter never rejects a candidate
// the full parse would match.
func TestPhonePrefilterSound(t *testing.T) {
	n := testNormalizer(t)
	var ids []Identifier
	for i := range 50 {
		ids = append(ids, Identifier{KindPhone, fmt.Sprintf("070%07d", i*7919)})
	}
	ids = append(ids, Identifier{KindPhone, "+1 650 253 0000"}, Identifier{KindPhone, "+39 06 1234 5678"}, Identifier{KindPhone, "+54 9 11 2345 6789"})
	m, err := NewIdentifierMatcher(n, ids)
	if err != nil {
		t.Fatal(err)
	}
	slow := *m
	slow.phoneNoTail = true
	var candidates []string
	for i := range 60 {
		candidates = append(candidates, phoneVariants(fmt.Sprintf("70%07d", i*7919))...)
		candidates = append(candidates, phoneVariants(fmt.Sprintf("70%07d", i*7919+1))...)
	}
	candidates = append(candidates, "+1 (650) 253-0000", "1-650-253-0000", "00 1 650 253 0000", "+39 06 12345678", "0039 0612345678",
		"+54 9 11 2345-6789", "+54 11 15 2345-6789", "+1 650 253 0000 x 12")
	hits := 0
	for _, c := range candidates {
		fast, full := m.Match(KindPhone, c), slow.Match(KindPhone, c)
		if fast != full {
			t.Errorf("%q: prefiltered match %v, full match %v", c, fast, full)
		}
		if full {
			hits++
		}
	}
	if hits < 50*10 {
		t.Errorf("only %d candidates matched; the test checks too little", hits)
	}
}

func TestNewMatcherKeyMismatch(t *testing.T) {
	n := testNormalizer(t)
	k1, _ := GenerateSubjectKey()
	k2, _ := GenerateSubjectKey()
	set := NewSet()
	if err := set.AddTombstone(Tombstone{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", KeyID: k1.ID(), Entries: []Entry{{Kind: KindEmail, Fingerprint: k1.Fingerprint(KindEmail, "a@b.se")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMatcher(n, k2, set); err == nil {
		t.Fatal("matcher over another key's tombstones: no error")
	}
	m, err := NewMatcher(n, k1, set)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match(KindEmail, "A@B.SE") || m.HasKind(KindPhone) || m.Match(KindPhone, "0701234567") {
		t.Fatal("matcher from set")
	}
}

// benchMatcher builds a matcher with size tombstones, each with an email,
// a phone number and a personnummer, as Record would; without quick tags
// when legacy is set, as an older lethe recorded them.
func benchMatcher(b *testing.B, size int, legacy bool) *Matcher {
	b.Helper()
	n := testNormalizer(b)
	key, err := GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	m := newMatcher(n, key, 3*size)
	for i := range size {
		id := "T" + strconv.Itoa(i)
		for _, kv := range []struct {
			kind Kind
			v    string
		}{
			{KindEmail, "subject" + strconv.Itoa(i) + "@example.se"},
			{KindPhone, fmt.Sprintf("+4670%07d", i)},
			{KindPersonnummer, fmt.Sprintf("19800101%04d", i)}, // not Luhn-valid: never hit by a valid candidate
		} {
			e, err := newEntry(key, kv.kind, kv.v)
			if err != nil {
				b.Fatal(err)
			}
			if legacy {
				e.Quick, e.QuickTail = nil, nil
			}
			m.addEntry(e, id)
		}
	}
	return m
}

// BenchmarkMatch measures normalize + quick tag or fingerprint + lookup
// per candidate, for tombstones with quick tags and without (hmac).
func BenchmarkMatch(b *testing.B) {
	pnr := withCheck("800102123") // the matcher holds 1980-01-01 births only
	for _, bc := range []struct {
		size   int
		legacy bool
	}{{1, false}, {1, true}, {1_000_000, false}, {1_000_000, true}} {
		size, scheme := bc.size, "quick"
		if bc.legacy {
			scheme = "hmac"
		}
		m := benchMatcher(b, size, bc.legacy)
		for _, c := range []struct {
			name      string
			kind      Kind
			candidate string
			want      bool
		}{
			{"email-hit", KindEmail, "Subject0@Example.se", true},
			{"email-miss", KindEmail, "someone.else@example.se", false},
			{"personnummer", KindPersonnummer, pnr[:6] + "-" + pnr[6:], false},
			{"phone-hit", KindPhone, "070-000 00 00", true},
			{"phone-miss-prefilter", KindPhone, "070-765 43 21", false},
			{"phone-miss-parsed", KindPhone, "073-000 00 00", false}, // tail known: full parse
		} {
			b.Run(fmt.Sprintf("tombstones=%d/%s/%s", size, scheme, c.name), func(b *testing.B) {
				if got := m.Match(c.kind, c.candidate); got != c.want {
					b.Fatalf("Match = %v, want %v", got, c.want)
				}
				// Phone misses alternate with a number one off in the last
				// digit, so the phone tail cache does not answer every call.
				cands := [2]string{c.candidate, c.candidate}
				if c.kind == KindPhone && !c.want {
					alt := []byte(c.candidate)
					alt[len(alt)-1] ^= 1
					cands[1] = string(alt)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					m.Match(c.kind, cands[i&1])
					i++
				}
			})
		}
	}
}

// BenchmarkMatchParallel shows the matcher scaling across cores.
func BenchmarkMatchParallel(b *testing.B) {
	m := benchMatcher(b, 1000, false)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Match(KindEmail, "someone.else@example.se")
		}
	})
}

// BenchmarkFingerprint is the keyed hash alone (one HMAC-SHA-256).
func BenchmarkFingerprint(b *testing.B) {
	key, err := GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		key.Fingerprint(KindEmail, "anna.svensson@example.se")
	}
}

// slowName is appendName's general path, the reference for its Latin-1
// fast path.
func slowName(raw string) (string, bool) {
	if !utf8.ValidString(raw) {
		return "", false
	}
	var out []string
	for _, f := range strings.Fields(foldNFC(raw)) {
		for _, r := range f {
			if unicode.IsControl(r) {
				return "", false
			}
		}
		out = append(out, f)
	}
	return strings.Join(out, " "), len(out) > 0
}

// TestFoldLatin1 checks the allocation-free folding of Latin-1 text against
// full case folding and NFC, for every rune up to U+02FF around ASCII and
// Latin-1 neighbours, alone and before combining marks.
func TestFoldLatin1(t *testing.T) {
	n := testNormalizer(t)
	for r := rune(0); r < 0x300; r++ {
		for _, s := range []string{
			string(r), "A" + string(r) + "z", string(r) + "\u030a", "Ö" + string(r) + "ß", " É " + string(r) + "\tÅ ",
		} {
			got, ok := appendFoldLatin1(nil, s)
			latin := true
			for _, c := range s {
				if c >= utf8.RuneSelf && (c < 0xC0 || c > 0xFF) {
					latin = false
				}
			}
			if ok != latin {
				t.Fatalf("appendFoldLatin1(%q): ok = %v", s, ok)
			}
			if ok && string(got) != foldNFC(s) {
				t.Fatalf("appendFoldLatin1(%q) = %q, want %q", s, got, foldNFC(s))
			}
			want, wantOK := slowName(s)
			name, err := n.Normalize(KindName, s)
			if (err == nil) != wantOK || name != want {
				t.Fatalf("name %q: %q, %v; want %q, %v", s, name, err, want, wantOK)
			}
		}
	}
	for _, s := range []string{"Maja Engström", "ÅSA  ÖBERG", "Strauß", "Zoë\u00a0Ek", "Ödön\u0301", "\xc3"} {
		want, wantOK := slowName(s)
		name, err := n.Normalize(KindName, s)
		if (err == nil) != wantOK || name != want {
			t.Errorf("name %q: %q, %v; want %q, %v", s, name, err, want, wantOK)
		}
	}
	m, err := NewIdentifierMatcher(n, []Identifier{{KindName, "maja engström"}, {KindEmail, "maja.engström@exempel.se"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind Kind
		cand string
	}{{KindName, "MAJA  ENGSTRÖM"}, {KindEmail, "Maja.Engström@Exempel.se"}} {
		want, _ := m.Lookup(c.kind, c.cand)
		if id, ok := m.LookupBytes(c.kind, []byte(c.cand)); !ok || id != want || id == "" {
			t.Errorf("LookupBytes(%s, %q) = %q, %v; Lookup says %q", c.kind, c.cand, id, ok, want)
		}
		if allocs := testing.AllocsPerRun(100, func() { m.Match(c.kind, c.cand) }); allocs != 0 && !raceEnabled {
			t.Errorf("Match(%s, %q): %v allocations", c.kind, c.cand, allocs)
		}
		b := []byte(c.cand)
		if allocs := testing.AllocsPerRun(100, func() { m.LookupBytes(c.kind, b) }); allocs != 0 && !raceEnabled {
			t.Errorf("LookupBytes(%s, %q): %v allocations", c.kind, c.cand, allocs)
		}
	}
}

func TestDaysIn(t *testing.T) {
	for year := 1500; year <= 2500; year++ {
		for month := 1; month <= 12; month++ {
			if got, want := daysIn(year, month), time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", year, month, got, want)
			}
		}
	}
}
