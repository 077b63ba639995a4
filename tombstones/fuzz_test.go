package tombstones

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixedError reports whether err is one of the errors Normalize returns,
// none of which repeats its input.
func fixedError(err error) bool {
	for _, e := range []error{errUnknownKind, errCustomPattern, errEmailEmpty, errEmailAt, errEmailChar, errEmailLength,
		errEmailDomain, errEmailUnicode, errPhoneParse, errPhoneChar, errPhoneInvalid, errPhoneRange, errPnrLength, errPnrPlus, errPnrDate, errPnrFuture,
		errOrgnrLength, errOrgnrPerson, errNameEmpty, errNameUnicode, errNameTooLong, errNameControls} {
		if errors.Is(err, e) {
			return true
		}
	}
	for d := range 10 {
		if errors.Is(err, errPnrCheck[d]) || errors.Is(err, errOrgnrCheck[d]) {
			return true
		}
	}
	return false
}

// fuzzNormalize checks the properties every parser must have: no panic,
// errors from the fixed set, idempotence, and that the matcher finds what
// Normalize accepts under the raw and the normalized spelling.
func fuzzNormalize(t *testing.T, kind Kind, raw string, check func(t *testing.T, out string)) {
	n := testNormalizer(t)
	out, err := n.Normalize(kind, raw)
	if err != nil {
		if !fixedError(err) {
			t.Fatalf("error %q is not one of the fixed messages", err)
		}
		return
	}
	again, err := n.Normalize(kind, out)
	if err != nil || again != out {
		t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, out, again, err)
	}
	if check != nil {
		check(t, out)
	}
	m, err := NewIdentifierMatcher(n, []Identifier{{kind, out}})
	if err != nil {
		t.Fatalf("matcher: %v", err)
	}
	if !m.Match(kind, raw) || !m.Match(kind, out) {
		t.Fatalf("matcher does not find %q", raw)
	}
	_ = Mask(kind, out)
}

// checkShape checks that a shape function and Normalize agree: every value
// Normalize accepts has the shape, on bytes as on strings, and a value of
// the shape is rejected only for its date (which needs today).
func checkShape(t *testing.T, kind Kind, raw string, shape func(string) bool) {
	_, err := testNormalizer(t).Normalize(kind, raw)
	tok := strings.TrimSpace(raw)
	ok := shape(tok)
	var bytesOK bool
	switch kind {
	case KindPersonnummer:
		bytesOK = IsPersonnummerShape([]byte(tok))
	case KindOrgnr:
		bytesOK = IsOrgnrShape([]byte(tok))
	}
	switch {
	case ok != bytesOK:
		t.Fatalf("%s shape of %q: %v as a string, %v as bytes", kind, raw, ok, bytesOK)
	case err == nil && !ok:
		t.Fatalf("%s %q: normalized, but the shape rejects it", kind, raw)
	case err != nil && ok && !errors.Is(err, errPnrDate) && !errors.Is(err, errPnrFuture):
		t.Fatalf("%s %q: of the shape, but normalizing fails: %v", kind, raw, err)
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"anna.svensson@example.se", "Anna.Svensson@Example.SE", " a@b.se ", "a@b", "@b.se", "a@@b.se",
		"xanna.svensson@example.se", "ÅSA@exämple.se", "a\u030a@b.se", "a b@c.se", "a@b..se", "\xff@b.se"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzNormalize(t, KindEmail, raw, func(t *testing.T, out string) {
			if strings.Count(out, "@") != 1 || strings.ToLower(out) != out || !utf8.ValidString(out) {
				t.Fatalf("email %q", out)
			}
		})
	})
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range append(phoneVariants("701234567"), "070-123 45 678", "+1 650 253 0000", "0046 8 123 45 67", "++46", "+", "00",
		"1-800-FLOWERS", "+46 70 123 45 67;ext=1", "\u0660\u0667\u0660") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzNormalize(t, KindPhone, raw, func(t *testing.T, out string) {
			if len(out) < 3 || out[0] != '+' || !allDigits(out[1:]) {
				t.Fatalf("phone %q", out)
			}
		})
	})
}

// FuzzPhonePrefilter: the tail prefilter never rejects what the full
// parse would match.
func FuzzPhonePrefilter(f *testing.F) {
	for _, s := range phoneVariants("701234567") {
		f.Add("070-123 45 67", s)
	}
	f.Add("+1 650 253 0000", "1 (650) 253-0000")
	f.Add("+54 9 11 2345 6789", "+54 11 15 2345-6789")
	f.Fuzz(func(t *testing.T, tombstoned, candidate string) {
		n := testNormalizer(t)
		if _, err := n.Normalize(KindPhone, tombstoned); err != nil {
			return
		}
		m, err := NewIdentifierMatcher(n, []Identifier{{KindPhone, tombstoned}})
		if err != nil {
			t.Fatal(err)
		}
		slow := *m
		slow.phoneNoTail = true
		if full := slow.Match(KindPhone, candidate); full && !m.Match(KindPhone, candidate) {
			t.Fatalf("prefilter rejects %q which matches %q", candidate, tombstoned)
		}
	})
}

func FuzzNormalizePersonnummer(f *testing.F) {
	for _, s := range []string{"800101-1231", "8001011231", "19800101-1231", "198001011231", "121212+1212", "800161-1237",
		"800101-1232", "000229-1234", "19000229-1234", "261122-1234", "-", "+", "8001011231-", "80010112+31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkShape(t, KindPersonnummer, raw, IsPersonnummerShape[string])
		fuzzNormalize(t, KindPersonnummer, raw, func(t *testing.T, out string) {
			if len(out) != 12 || !allDigits(out) {
				t.Fatalf("personnummer %q", out)
			}
			if d := out[2:]; LuhnDigit(d[:9]) != d[9] {
				t.Fatalf("personnummer %q: check digit", out)
			}
		})
	})
}

func FuzzNormalizeOrgnr(f *testing.F) {
	for _, s := range []string{"556677-8899", "5566778899", "16556677-8899", "165566778899", "556677-8898", "17556677-8899", "5566-778899"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkShape(t, KindOrgnr, raw, IsOrgnrShape[string])
		fuzzNormalize(t, KindOrgnr, raw, func(t *testing.T, out string) {
			if len(out) != 10 || !allDigits(out) {
				t.Fatalf("orgnr %q", out)
			}
		})
	})
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Anna Svensson", "  ANNA   svensson ", "Åsa Öberg", "A\u030asa", "\t", "a\x00b", "\xff", "İstanbul", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzNormalize(t, KindName, raw, func(t *testing.T, out string) {
			if strings.Join(strings.Fields(out), " ") != out {
				t.Fatalf("name %q: whitespace not collapsed", out)
			}
		})
	})
}

func FuzzNormalizeCustom(f *testing.F) {
	for _, s := range []string{"K-12345", " K-12345 ", "K-1234", "K-123456", "k-12345", "xK-12345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fuzzNormalize(t, CustomKindOf("customer"), raw, nil)
	})
}

// FuzzDecodeObject: stored objects from a repository or the log never
// crash the decoder, and what decodes can be added to a set.
func FuzzDecodeObject(f *testing.F) {
	key, _ := GenerateSubjectKey()
	ts := Tombstone{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAV", KeyID: key.ID(), Reason: "a", Mode: ModeRewrite,
		Entries: []Entry{{Kind: KindEmail, Fingerprint: key.Fingerprint(KindEmail, "a@b.se"), Masked: "a***@b.se"}}}
	for _, o := range []object{tombstoneObject(ts), revocationObject(Revocation{ID: "01ARZ3NDEKTSV4RRFFQ69G5FAW", Tombstone: ts.ID, Reason: "x"}),
		{Version: 1, Type: objProgress, Progress: &Progress{Tombstone: ts.ID, Repository: "r", State: ProgressPending}}} {
		b, _ := json.Marshal(o)
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"type":"tombstone"}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := decodeObject(data)
		if err != nil {
			return
		}
		set := NewSet()
		if err := set.addObject(o); err != nil {
			t.Fatal(err)
		}
		_ = o.name()
		_ = set.Tombstones()
	})
}
