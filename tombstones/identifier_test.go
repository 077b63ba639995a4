package tombstones

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// today is the fixed "now" of the tests: the century of a 10-digit
// personnummer depends on it.
var today = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func testNormalizer(t testing.TB) *Normalizer {
	t.Helper()
	n, err := NewNormalizer("SE", []CustomKind{{Name: "customer", Pattern: regexp.MustCompile(`K-[0-9]{5}`)}})
	if err != nil {
		t.Fatal(err)
	}
	return n.WithClock(func() time.Time { return today })
}

// withCheck appends the Luhn check digit to the 9 digits of s (which may
// contain a separator and a century).
func withCheck(s string) string {
	var d []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	return s + string(LuhnDigit(d[len(d)-9:]))
}

type equivCase struct {
	kind     Kind
	want     string
	spelling []string
}

func equivalenceCases() []equivCase {
	return []equivCase{
		{KindEmail, "anna.svensson@example.se", []string{
			"anna.svensson@example.se", "Anna.Svensson@Example.SE", "  ANNA.SVENSSON@EXAMPLE.SE\t", "anna.svensson@EXAMPLE.se",
			"anna.svensson@example.se.",
		}},
		{KindEmail, "åsa.strauss@exämple.se", []string{"Åsa.Strauß@Exämple.se", "A\u030asa.STRAUSS@EXA\u0308MPLE.SE"}},
		{KindPhone, "+46701234567", []string{
			"070-123 45 67", "070 123 45 67", "+46 70 123 45 67", "+46 (0)70-1234567", "0046701234567",
			"0701234567", "+46701234567", "070-1234567", "(070) 123 45 67", "+46 70-123 45 67", "070\u00a0123\u00a045\u00a067",
		}},
		{KindPhone, "+4681234567", []string{"08-123 45 67", "+46 8 123 45 67", "0046 8 1234567"}},
		{KindOrgnr, "5566778899", []string{"556677-8899", "5566778899", "16556677-8899", "165566778899", " 556677-8899 "}},
		{KindName, "anna svensson", []string{"Anna Svensson", "  ANNA   svensson ", "anna\tSvensson", "Anna\nSvensson"}},
		{KindName, "åsa öberg", []string{"Åsa Öberg", "ÅSA  ÖBERG", "A\u030asa O\u0308berg"}},
		{KindName, "johann strauss", []string{"Johann Strauß", "JOHANN STRAUSS"}},
		{CustomKindOf("customer"), "K-12345", []string{"K-12345", " K-12345 "}},
	}
}

func personnummerCases() []equivCase {
	ten := withCheck("800101123") // 800101123C
	c := ten[9:]
	want := "19800101123" + c
	samTen := withCheck("800161123") // samordningsnummer: day 01 + 60
	sc := samTen[9:]
	return []equivCase{
		{KindPersonnummer, want, []string{
			"800101-123" + c, "800101123" + c, "19800101-123" + c, "19800101123" + c, " 800101-123" + c + " ",
		}},
		{KindPersonnummer, "19800161123" + sc, []string{
			"800161-123" + sc, "800161123" + sc, "19800161-123" + sc, "19800161123" + sc,
		}},
		// Tolvan Tolvansson: '+' means 100 years or older.
		{KindPersonnummer, "191212121212", []string{"121212+1212", "19121212-1212", "191212121212"}},
		{KindPersonnummer, "201212121212", []string{"121212-1212", "1212121212", "20121212-1212"}},
	}
}

func TestEquivalence(t *testing.T) {
	n := testNormalizer(t)
	key, err := GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := append(equivalenceCases(), personnummerCases()...)
	for _, c := range cases {
		want := key.Fingerprint(c.kind, c.want)
		for _, s := range c.spelling {
			got, err := n.Normalize(c.kind, s)
			if err != nil {
				t.Errorf("%s %q: %v", c.kind, s, err)
				continue
			}
			if got != c.want {
				t.Errorf("%s %q: normalized to %q, want %q", c.kind, s, got, c.want)
			}
			fp, err := n.Fingerprint(key, c.kind, s)
			if err != nil || fp != want {
				t.Errorf("%s %q: fingerprint %v (%v), want %v", c.kind, s, fp, err, want)
			}
		}
	}
}

func TestNearMisses(t *testing.T) {
	n := testNormalizer(t)
	ten := withCheck("800101123")
	wrong := ten[:9] + string('0'+(ten[9]-'0'+1)%10)
	ids := []Identifier{
		{KindEmail, "anna.svensson@example.se"},
		{KindPhone, "+46701234567"},
		{KindPersonnummer, ten},
		{KindOrgnr, "5566778899"},
		{CustomKindOf("customer"), "K-12345"},
	}
	m, err := NewIdentifierMatcher(n, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !m.Match(id.Kind, id.Value) {
			t.Fatalf("%s itself does not match", id.Kind)
		}
	}
	misses := []Identifier{
		{KindEmail, "xanna.svensson@example.se"},
		{KindEmail, "anna.svensson@example.se.evil.com"},
		{KindEmail, "anna.svensson@example.s"},
		{KindEmail, "anna.svensson@example.sex"},
		{KindEmail, "nna.svensson@example.se"},
		{KindEmail, "anna.svensson@sub.example.se"},
		{KindEmail, "anna.svensson+tag@example.se"},
		{KindEmail, "<anna.svensson@example.se>"},
		{KindPhone, "070-123 45 68"},
		{KindPhone, "070-123 45 678"},
		{KindPhone, "070-123 45 6"},
		{KindPhone, "+46 70 123 45 66"},
		{KindPhone, "+47 70 123 45 67"},
		{KindPhone, "0701234567 8"},
		{KindPhone, "170-123 45 67"},
		{KindPersonnummer, wrong},
		{KindPersonnummer, "19" + wrong},
		{KindPersonnummer, ten[:6] + "+" + ten[6:]}, // 1880, another person
		{KindPersonnummer, "800102-" + ten[6:]},
		{KindOrgnr, "5566778898"},
		{KindOrgnr, "5566778899" + "0"},
		{KindOrgnr, "17556677-8899"},
		{CustomKindOf("customer"), "K-123456"},
		{CustomKindOf("customer"), "k-12345"},
		{KindName, "anna svensson"}, // no name in the matcher
		{KindEmail, ten},
		{KindOrgnr, ten}, // same digits, other kind
	}
	for _, c := range misses {
		if id, ok := m.Lookup(c.Kind, c.Value); ok {
			t.Errorf("near miss %s %q matched %s", c.Kind, c.Value, id)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	n := testNormalizer(t)
	cases := []struct {
		kind Kind
		in   string
		want string
	}{
		{KindPersonnummer, "800101-1232", "personnummer: check digit should be 1"},
		{KindPersonnummer, "801301-1234", "personnummer: birth date is not a valid date"},
		{KindPersonnummer, withCheck("800230123"), "personnummer: birth date is not a valid date"},
		{KindPersonnummer, "800101", "personnummer: needs 10 or 12 digits"},
		{KindPersonnummer, "19800101+1231", "personnummer: '+'"},
		{KindPersonnummer, withCheck("20990101123"), "personnummer: birth date is in the future"},
		{KindPersonnummer, "800101--1231", "personnummer: needs 10 or 12 digits"},
		{KindOrgnr, "556677-8898", "orgnr: check digit should be 9"},
		{KindOrgnr, "55667788", "orgnr: needs 10 digits"},
		{KindOrgnr, "800101-1231", "orgnr: the third and fourth digits are below 20"},
		{KindEmail, "anna.svensson.example.se", "email: needs exactly one '@'"},
		{KindEmail, "anna@svensson@example.se", "email: needs exactly one '@'"},
		{KindEmail, "anna svensson@example.se", "email: contains a space"},
		{KindEmail, "anna.svensson@localhost", "email: domain needs a dot"},
		{KindEmail, "", "email: empty"},
		{KindPhone, "070-12", "phone: wrong number of digits"},
		{KindPhone, "+46 70 123 45 67 89 12", "phone: wrong number of digits"},
		{KindPhone, "hello", "phone: holds a letter"},
		{KindPhone, "070-123 45 6x", "phone: holds a letter"},
		{KindPhone, "070-123 45 67 ext. 5", "phone: holds a letter"},
		{KindPhone, "tel:+46701234567", "phone: holds a letter"},
		{KindPhone, "46+701234567", "phone: holds a letter"},
		{KindPhone, "070-123", "phone: not a valid number"},
		{KindPhone, "0701234", "phone: not a valid number"},
		{KindPhone, "070-123 45 678", "phone: not a valid number"},
		{KindName, "   ", "name: empty"},
		{CustomKindOf("customer"), "K-1234", "custom identifier: does not match"},
		{CustomKindOf("nope"), "x", "unknown identifier kind"},
		{Kind("shoe size"), "x", "unknown identifier kind"},
	}
	for _, c := range cases {
		_, err := n.Normalize(c.kind, c.in)
		if err == nil {
			t.Errorf("%s %q: no error", c.kind, c.in)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s %q: error %q, want prefix %q", c.kind, c.in, err, c.want)
		}
		if strings.TrimSpace(c.in) != "" && len(c.in) > 3 && strings.Contains(err.Error(), c.in) {
			t.Errorf("%s: error %q repeats the value", c.kind, err)
		}
	}
}

// TestPersonnummerCentury pins the century rules around the birthday.
func TestPersonnummerCentury(t *testing.T) {
	n := testNormalizer(t)
	cases := []struct{ in, wantYear string }{
		{withCheck("261121123"), "2026"},                                        // born today
		{withCheck("261122123"), "1926"},                                        // tomorrow's date: last century
		{withCheck("261121123")[:6] + "+" + withCheck("261121123")[6:], "1926"}, // turned 100 today
		{withCheck("261122123")[:6] + "+" + withCheck("261122123")[6:], "1826"}, // 100 tomorrow
		{withCheck("000229123"), "2000"},                                        // leap day
	}
	for _, c := range cases {
		got, err := n.Normalize(KindPersonnummer, c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got[:4] != c.wantYear {
			t.Errorf("%s: year %s, want %s", c.in, got[:4], c.wantYear)
		}
	}
	// 1900 was no leap year.
	if _, err := n.Normalize(KindPersonnummer, withCheck("19000229123")); err == nil {
		t.Error("19000229: no error")
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	n := testNormalizer(t)
	for _, c := range append(equivalenceCases(), personnummerCases()...) {
		for _, s := range c.spelling {
			once, err := n.Normalize(c.kind, s)
			if err != nil {
				continue
			}
			twice, err := n.Normalize(c.kind, once)
			if err != nil || twice != once {
				t.Errorf("%s %q: normalizing %q again gave %q, %v", c.kind, s, once, twice, err)
			}
		}
	}
}

func TestMask(t *testing.T) {
	cases := []struct {
		kind       Kind
		normalized string
		want       string
	}{
		{KindEmail, "anna.svensson@example.se", "a***@example.se"},
		{KindEmail, "@example.se", "***"},
		{KindPhone, "+46701234567", "***67"},
		{KindPhone, "+4687654321", "***21"},
		{KindPersonnummer, "198001011231", "***31"},
		{KindOrgnr, "5566778899", "***99"},
		{KindName, "anna svensson", "A*** S***"},
		{CustomKindOf("customer"), "K-123456", "***56"},
		{CustomKindOf("customer"), "K-12345", "***"}, // too few digits to show two
		{CustomKindOf("customer"), "K-1", "***"},
		{CustomKindOf("customer"), "abcdefgh", "***"},
	}
	for _, c := range cases {
		if got := Mask(c.kind, c.normalized); got != c.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", c.kind, c.normalized, got, c.want)
		}
		if got := Remask(c.kind, c.want); got != c.want {
			t.Errorf("Remask(%s, %q) = %q, want it unchanged", c.kind, c.want, got)
		}
	}
}

// TestRemaskOldForms: masks an older lethe stored become current masks,
// cut from what the old mask showed, and none of the old form survives.
func TestRemaskOldForms(t *testing.T) {
	cases := []struct {
		kind      Kind
		old, want string
	}{
		{KindPhone, "+46 70*** ** 67", "***67"},
		{KindPhone, "+46 ***", "***"},
		{KindPersonnummer, "19800101-****", "***"}, // its digits are a birth date
		{KindOrgnr, "556677-****", "***"},
		{CustomKindOf("customer"), "K***", "***"},
		{KindEmail, "a***@example.se", "a***@example.se"},
		{KindEmail, "***", "***"},
		{KindName, "A*** S***", "A*** S***"},
		{KindPersonnummer, "", "***"},
	}
	for _, c := range cases {
		if got := Remask(c.kind, c.old); got != c.want {
			t.Errorf("Remask(%s, %q) = %q, want %q", c.kind, c.old, got, c.want)
		}
	}
}

// TestMaskShowsLittle checks the rule on many values of every kind: an
// email shows one character of its local part, a number at most its last
// two digits and never its birth date.
func TestMaskShowsLittle(t *testing.T) {
	n := testNormalizer(t)
	values := map[Kind][]string{
		KindPhone:        {"070-123 45 67", "08-765 43 21", "+1 202 555 0143", "+44 20 7946 0958", "0046 31 123 45 67"},
		KindPersonnummer: {withCheck("800101123"), "19" + withCheck("121212121"), withCheck("800161123")},
		KindOrgnr:        {"556677-8899", "2021005489"},
		KindEmail:        {"Anna.Svensson@Example.SE", "x@y.se"},
	}
	for kind, vs := range values {
		for _, v := range vs {
			norm, err := n.Normalize(kind, v)
			if err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
			m := Mask(kind, norm)
			switch kind {
			case KindEmail:
				local, domain, _ := strings.Cut(norm, "@")
				if m != local[:1]+"***@"+domain {
					t.Errorf("email mask %q", m)
				}
			default:
				if d := digitsOf(m); len(d) > 2 || d != "" && !strings.HasSuffix(norm, d) {
					t.Errorf("%s mask %q shows %q", kind, m, d)
				}
				if kind == KindPersonnummer && strings.Contains(m, norm[2:8]) {
					t.Errorf("personnummer mask %q shows the birth date", m)
				}
			}
		}
	}
}

func TestParseKindValue(t *testing.T) {
	n := testNormalizer(t)
	for in, want := range map[string]Identifier{
		"email=Anna@Example.se":    {KindEmail, "anna@example.se"},
		"customer=K-12345":         {CustomKindOf("customer"), "K-12345"},
		"custom:customer=K-12345":  {CustomKindOf("customer"), "K-12345"},
		"PHONE=070-123 45 67":      {KindPhone, "+46701234567"},
		"orgnr=556677-8899":        {KindOrgnr, "5566778899"},
		"personnummer=121212-1212": {KindPersonnummer, "201212121212"},
		"name= Anna  Svensson ":    {KindName, "anna svensson"},
	} {
		got, err := n.ParseKindValue(in)
		if err != nil || got != want {
			t.Errorf("ParseKindValue(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"email", "=x", "shoe=42", "customer=K-1"} {
		if _, err := n.ParseKindValue(in); err == nil {
			t.Errorf("ParseKindValue(%q): no error", in)
		}
	}
}

func TestNewNormalizerErrors(t *testing.T) {
	for _, c := range []struct {
		region string
		custom []CustomKind
	}{
		{"XX", nil},
		{"SE", []CustomKind{{Name: "Customer", Pattern: regexp.MustCompile(`K`)}}},
		{"SE", []CustomKind{{Name: "customer"}}},
		{"SE", []CustomKind{{Name: "customer", Pattern: regexp.MustCompile(`K*`)}}},
		{"SE", []CustomKind{{Name: "c", Pattern: regexp.MustCompile(`K`)}, {Name: "c", Pattern: regexp.MustCompile(`L`)}}},
	} {
		if _, err := NewNormalizer(c.region, c.custom); err == nil {
			t.Errorf("NewNormalizer(%q, %v): no error", c.region, c.custom)
		}
	}
	// Another default region: national numbers are that country's.
	n, err := NewNormalizer("no", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := n.Normalize(KindPhone, "412 34 567"); err != nil || got != "+4741234567" {
		t.Errorf("NO national number: %q, %v", got, err)
	}
}

func TestLuhnDigit(t *testing.T) {
	for base, want := range map[string]byte{"800101123": '1', "556677889": '9', "556036079": '3', "121212121": '2', "000000000": '0'} {
		if got := LuhnDigit(base); got != want {
			t.Errorf("LuhnDigit(%s) = %c, want %c", base, got, want)
		}
		if got := LuhnDigit([]byte(base)); got != want {
			t.Errorf("LuhnDigit([]byte(%s)) = %c, want %c", base, got, want)
		}
	}
}

// TestShapes checks the spellings the shape functions accept, which are the
// ones Normalize accepts, and the near misses they reject.
func TestShapes(t *testing.T) {
	pnr := map[string]bool{
		"800101-1231": true, "8001011231": true, "19800101-1231": true, "198001011231": true, "800101+1231": true,
		"800161-1238": true, "19800161-1238": true, "800101-1232": false, "19800101+1231": false, "800101--1231": false,
		"80010-11231": false, "801301-1237": false, "800100-1239": false, "800132-1234": false, "+8001011231": false,
		"800101 1231": false, "1231": false, "19800101-12311": false, " 800101-1231": false,
		"800101-123a": false, "8001011-231": false, "1980010-11231": false, "19800101=1231": false, "80010112311": false,
	}
	for s, want := range pnr {
		if got := IsPersonnummerShape(s); got != want {
			t.Errorf("IsPersonnummerShape(%q) = %v", s, got)
		}
	}
	org := map[string]bool{
		"556036-0793": true, "5560360793": true, "165560360793": true, "16556036-0793": true, "800101-1231": false,
		"168001011231": false, "802001-1238": true,
		"556036-0794": false, "175560360793": false, "16 556036-0793": false, "16-556036-0793": false,
		"55603-60793": false, "55603607930": false, "1655603607930": false, "556036-079": false,
		"1655603-60793": false, "556036+0793": false, "16556036+0793": false, "556036-07a3": false,
	}
	n := testNormalizer(t)
	for s, want := range org {
		if got := IsOrgnrShape(s); got != want {
			t.Errorf("IsOrgnrShape(%q) = %v", s, got)
		}
		if _, err := n.Normalize(KindOrgnr, s); (err == nil) != want {
			t.Errorf("Normalize(orgnr, %q): %v, shape %v", s, err, want)
		}
	}
}
