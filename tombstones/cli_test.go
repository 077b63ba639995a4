package tombstones

import (
	"bytes"
	"context"
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

func TestWriters(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir(), newMemStore())
	ts, err := s.Record(ctx, Request{Identifiers: subject, Reason: "b", Reference: "T-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, ts.ID, "consented again", "T-2"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteList(&buf, list); err != nil {
		t.Fatal(err)
	}
	shown, err := s.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTombstone(&buf, shown); err != nil {
		t.Fatal(err)
	}
	res, err := s.Check(ctx, subject[:2])
	if err != nil {
		t.Fatal(err)
	}
	matched, err := WriteCheck(&buf, res)
	if err != nil || matched {
		t.Fatalf("check of a revoked subject: matched %v, %v", matched, err)
	}
	out := buf.String()
	for _, want := range []string{ts.ID, "revoked", "a***@example.se", "+46 70*** ** 67", "GDPR Art. 17(1)(b): consent withdrawn", "T-2", "not erased (revoked"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	grepForms(t, "CLI output", buf.Bytes())
}
