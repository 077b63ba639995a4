package formats

import (
	"regexp"
	"slices"
	"testing"

	"lethe/tombstones"
)

// Test identifiers (all fictitious; the check digits are valid).
const (
	tEmail  = "anna.svensson@example.se"
	tPhone  = "070-123 45 67"
	tPnr    = "19800101-1231"
	tSamord = "800161-1238"
	tOrgnr  = "556677-8899"
	tCust   = "K-12345"
	tName   = "Anna Svensson"
)

// newMatcher returns the real tombstones matcher for KIND=VALUE pairs; the
// custom kind "kundnr" (K-NNNNN) is configured.
func newMatcher(t testing.TB, kv ...string) *tombstones.Matcher {
	t.Helper()
	custom := []tombstones.CustomKind{{Name: "kundnr", Pattern: regexp.MustCompile(`K-[0-9]{5}`)}}
	n, err := tombstones.NewNormalizer("SE", custom)
	if err != nil {
		t.Fatal(err)
	}
	var ids []tombstones.Identifier
	for _, s := range kv {
		id, err := n.ParseKindValue(s)
		if err != nil {
			t.Fatalf("identifier %d: %v", len(ids), err)
		}
		ids = append(ids, id)
	}
	m, err := tombstones.NewIdentifierMatcher(n, ids)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// allMatcher holds every test identifier.
func allMatcher(t testing.TB) *tombstones.Matcher {
	return newMatcher(t, "email="+tEmail, "phone="+tPhone, "personnummer="+tPnr, "personnummer="+tSamord,
		"orgnr="+tOrgnr, "kundnr="+tCust, "name="+tName)
}

// everything matches every candidate of every kind: fuzzing and redaction
// of all records.
type everything struct{}

func (everything) Lookup(Kind, string) (string, bool) { return "everything", true }
func (everything) CustomKinds() []CustomKind          { return nil }

func kindsOf(ks ...Kind) []Kind {
	slices.Sort(ks)
	return ks
}

// scanOK scans data as format f and fails the test on a parse error.
func scanOK(t *testing.T, f Format, data string, m Matcher, opts *Options) *Result {
	t.Helper()
	res, err := ScanFormat(f, []byte(data), m, opts)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return res
}

// redactAll removes every matching record.
func redactAll(t *testing.T, data string, res *Result) (string, bool) {
	t.Helper()
	out, gone := RedactBytes([]byte(data), res, res.Records)
	return string(out), gone
}
