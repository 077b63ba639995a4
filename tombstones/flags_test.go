package tombstones

import (
	"strings"
	"testing"
)

func TestIdentifierFlags(t *testing.T) {
	n := testNormalizer(t)
	f := IdentifierFlags{
		Emails: []string{"Anna.Svensson@Example.SE"}, Phones: []string{"070-123 45 67"},
		Personnummer: []string{"121212-1212"}, Orgnr: []string{"556677-8899"}, Names: []string{"Anna Svensson"},
		IDs: []string{"customer=K-12345"},
	}
	ids, err := f.Identifiers(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 6 || ids[1] != (Identifier{KindPhone, "+46701234567"}) || ids[5].Kind != CustomKindOf("customer") {
		t.Fatalf("identifiers %v", ids)
	}
	if (IdentifierFlags{}).Empty() != true || f.Empty() {
		t.Error("Empty")
	}
	_, err = IdentifierFlags{Phones: []string{"070-123 45 67", "070-12"}}.Identifiers(n)
	if err == nil || !strings.HasPrefix(err.Error(), "--phone #2: phone:") {
		t.Fatalf("bad phone: %v", err)
	}
	grepForms(t, "error", []byte(err.Error()))
	if _, err := (IdentifierFlags{}).Identifiers(n); err == nil {
		t.Error("no identifiers: no error")
	}
}
