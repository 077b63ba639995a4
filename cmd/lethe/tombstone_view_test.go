package main

import (
	"bytes"
	"strings"
	"testing"

	"lethe/tombstones"
)

// TestTombstoneView writes a revoked tombstone the way `lethe erasures
// list`, `show` and `check` do: the ID, the status, the masked identifiers
// and the reasons are there, the identifiers in clear text are not.
func TestTombstoneView(t *testing.T) {
	ctx := t.Context()
	st, err := tombstones.OpenState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &tombstones.Service{State: st, Normalizer: n}
	var ids []tombstones.Identifier
	for _, kv := range []string{"email=anna.svensson@example.se", "phone=070-123 45 67", "personnummer=19800101-1231"} {
		id, err := n.ParseKindValue(kv)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ts, err := svc.Record(ctx, tombstones.Request{Identifiers: ids, Reason: "b", Reference: "T-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revoke(ctx, ts.ID, "consented again", "T-2"); err != nil {
		t.Fatal(err)
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeTombstoneList(&buf, list); err != nil {
		t.Fatal(err)
	}
	shown, err := svc.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeTombstone(&buf, shown); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Check(ctx, ids[:2])
	if err != nil {
		t.Fatal(err)
	}
	matched, err := writeCheck(&buf, res)
	if err != nil || matched {
		t.Fatalf("check of a revoked subject: matched %v, %v", matched, err)
	}
	again, err := svc.Record(ctx, tombstones.Request{Identifiers: ids[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err = svc.Check(ctx, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if matched, err := writeCheck(&buf, res); err != nil || !matched {
		t.Fatalf("check of an erased subject: matched %v, %v", matched, err)
	}
	out := buf.String()
	for _, want := range []string{ts.ID, "revoked", "a***@example.se", "***67", "GDPR Art. 17(1)(b): consent withdrawn", "T-2", "not erased (revoked", "erased by " + again.ID} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	low := strings.ToLower(out)
	for _, f := range []string{"svensson", "701234567", "70-123", "123 45 67", "800101-1231", "198001011231", "8001011231"} {
		if strings.Contains(low, f) {
			t.Errorf("output holds %q in clear text:\n%s", f, out)
		}
	}
}
