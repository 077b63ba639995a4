package tombstones

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// fixtureKey is the subject key testdata/v1-tombstone.json was made under.
func fixtureKey(t testing.TB) *SubjectKey {
	t.Helper()
	raw := make([]byte, SubjectKeySize)
	for i := range raw {
		raw[i] = byte(0x40 + i)
	}
	k, err := SubjectKeyFromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestQuickTagDerivation recomputes a quick tag from its definition:
// SipHash-2-4 of kind || 0 || value under the first 16 bytes of
// HMAC-SHA-256(subject key, label), and pins one value so that a change
// of scheme (which would make every stored quick tag useless) fails here.
func TestQuickTagDerivation(t *testing.T) {
	k := fixtureKey(t)
	m := hmac.New(sha256.New, k.Bytes())
	m.Write([]byte("lethe quick tag key v1"))
	qk := m.Sum(nil)
	want := sipHash24(binary.LittleEndian.Uint64(qk[:8]), binary.LittleEndian.Uint64(qk[8:16]), []byte("email\x00anna.berg@example.se"))
	got := k.QuickTag(KindEmail, "anna.berg@example.se")
	if uint64(got) != want {
		t.Fatalf("quick tag %#x, recomputed %#x", got, want)
	}
	if got != 0xc7481977c82ba2f1 {
		t.Fatalf("quick tag %#x changed", uint64(got))
	}
	if k.QuickTag(KindName, "anna.berg@example.se") == got {
		t.Fatal("the kind does not change the quick tag")
	}
	other, err := GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	if other.QuickTag(KindEmail, "anna.berg@example.se") == got {
		t.Fatal("the key does not change the quick tag")
	}
	b, err := json.Marshal(got)
	if err != nil || string(b) != `"c7481977c82ba2f1"` {
		t.Fatalf("JSON %s, %v", b, err)
	}
	var back QuickTag
	if err := json.Unmarshal(b, &back); err != nil || back != got {
		t.Fatalf("JSON round trip: %#x, %v", back, err)
	}
	for _, bad := range []string{`"c7481977c82ba2f"`, `"+7481977c82ba2f1"`, `"c7481977c82ba2fg"`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// fixtureIDs are the identifiers of testdata/v1-tombstone.json, spelled
// otherwise than when it was recorded.
var fixtureIDs = []Identifier{
	{KindEmail, "anna.berg@EXAMPLE.SE"}, {KindPhone, "+46 70 123 45 67"}, {KindPersonnummer, "850315-1238"},
	{KindOrgnr, "5560160680"}, {Kind("custom:customer"), "K-12345"}, {KindName, "ANNA BERG"},
}

// TestV1TombstoneStillMatches: a tombstone object written before quick
// tags (by the lethe of the previous commit) loads, matches all of its
// identifiers by fingerprint, and marks its probe as without quick tags.
func TestV1TombstoneStillMatches(t *testing.T) {
	data, err := os.ReadFile("testdata/v1-tombstone.json")
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeObject(data)
	if err != nil {
		t.Fatal(err)
	}
	if o.Version != 1 || quickEntries(o.Tombstone.Entries) {
		t.Fatalf("fixture is version %d", o.Version)
	}
	set := NewSet()
	if err := set.addObject(o); err != nil {
		t.Fatal(err)
	}
	n := testNormalizer(t)
	m, err := NewMatcher(n, fixtureKey(t), set)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range fixtureIDs {
		if got, ok := m.Lookup(id.Kind, id.Value); !ok || got != o.Tombstone.ID {
			t.Errorf("%s: Lookup = %q, %v", id.Kind, got, ok)
		}
	}
	if m.Match(KindEmail, "anna.berg@example.com") || m.Match(KindPhone, "070-123 45 68") {
		t.Error("another identifier matches")
	}
	if p := ProbeOf(o.Tombstone.Entries); !p.NoQuick || len(p.Quick) != 0 || len(p.Tags) != len(fixtureIDs)+1 {
		t.Errorf("probe %+v", p)
	}
	// Written again (as a re-mask does), it stays version 1.
	if v := tombstoneObject(*o.Tombstone).Version; v != 1 {
		t.Errorf("rewritten as version %d", v)
	}
}

// TestVersion2Objects: a tombstone recorded now is a version 2 object
// with quick tags that agree with its fingerprints' identifiers; a newer
// version is refused with a message that names the object and says what
// to do.
func TestVersion2Objects(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	s := newService(t, t.TempDir(), st)
	tb, err := s.Record(ctx, Request{Identifiers: fixtureIDs, Reason: "b"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := st.LoadLethe(ctx, tombstoneName(tb.ID))
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeObject(data)
	if err != nil {
		t.Fatal(err)
	}
	if o.Version != 2 {
		t.Fatalf("version %d", o.Version)
	}
	key, err := s.SubjectKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := testNormalizer(t)
	for i, e := range o.Tombstone.Entries {
		v, err := n.Normalize(fixtureIDs[i].Kind, fixtureIDs[i].Value)
		if err != nil {
			t.Fatal(err)
		}
		if !e.hasQuick() || *e.Quick != key.QuickTag(e.Kind, v) {
			t.Errorf("entry %d: quick tag %v", i, e.Quick)
		}
		if e.Kind == KindPhone && *e.QuickTail != key.QuickTag(kindPhoneTail, "1234567") {
			t.Errorf("phone tail quick tag %v", e.QuickTail)
		}
	}
	if bytes := string(data); strings.Contains(bytes, "anna") || strings.Contains(bytes, "1234567") {
		t.Fatal("identifier in the object")
	}

	// Version 1 cannot carry quick tags; version 3 is a newer lethe's.
	v1 := strings.Replace(string(data), `"version":2`, `"version":1`, 1)
	if _, err := decodeObject([]byte(v1)); err == nil {
		t.Error("version 1 object with quick tags decoded")
	}
	v3 := strings.Replace(string(data), `"version":2`, `"version":3`, 1)
	st2 := newMemStore()
	st2.objects[tombstoneName(tb.ID)] = []byte(v3)
	_, err = LoadRepoSet(ctx, st2)
	if err == nil || !strings.Contains(err.Error(), tombstoneName(tb.ID)) || !strings.Contains(err.Error(), "upgrade lethe") {
		t.Errorf("version 3: %v", err)
	}
}

// randomIdentifiers returns identifiers of every kind with a seed.
func randomIdentifiers(r *rand.Rand, count int) []Identifier {
	var out []Identifier
	for i := range count {
		switch i % 6 {
		case 0:
			out = append(out, Identifier{KindEmail, fmt.Sprintf("user%d.%d@example%d.se", r.IntN(1000), i, r.IntN(5))})
		case 1:
			out = append(out, Identifier{KindPhone, fmt.Sprintf("07%c%07d", "0236"[r.IntN(4)], r.IntN(10_000_000))})
		case 2:
			out = append(out, Identifier{KindPersonnummer, withCheck(fmt.Sprintf("19%02d%02d%02d-%03d", 30+r.IntN(70), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000)))})
		case 3:
			d := fmt.Sprintf("55%d%06d", 2+r.IntN(8), r.IntN(1_000_000))
			out = append(out, Identifier{KindOrgnr, d[:6] + "-" + d[6:] + string(LuhnDigit([]byte(d)))})
		case 4:
			out = append(out, Identifier{Kind("custom:customer"), fmt.Sprintf("K-%05d", r.IntN(100_000))})
		case 5:
			out = append(out, Identifier{KindName, fmt.Sprintf("Person%d Efternamn%d", r.IntN(1000), i)})
		}
	}
	return out
}

// spellings returns ways the identifier may be written in a file.
func spellings(id Identifier) []string {
	v := id.Value
	switch id.Kind {
	case KindEmail:
		return []string{v, strings.ToUpper(v), " " + v + " ", strings.Replace(v, "user", "User", 1)}
	case KindPhone:
		return phoneVariants(v[1:])
	case KindPersonnummer:
		d := digitsOf(v)
		return []string{v, d, d[2:8] + "-" + d[8:], d[2:], d[:8] + " " + d[8:], d[2:8] + "+" + d[8:]}
	case KindOrgnr:
		d := digitsOf(v)
		return []string{v, d, "16" + d, d[:6] + " " + d[6:]}
	case KindName:
		return []string{v, strings.ToUpper(v), strings.ToLower(v), strings.ReplaceAll(v, " ", "  ")}
	}
	return []string{v, strings.ToLower(v), " " + v + "\t", v + "0"}
}

// TestMatcherQuickEquivalence: matchers over tombstones with quick tags,
// without (as an older lethe recorded them), and a mix of both answer
// every candidate the same, hits and misses: the quick path never loses a
// match.
func TestMatcherQuickEquivalence(t *testing.T) {
	n := testNormalizer(t)
	key, err := GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(13, 14))
	ids := randomIdentifiers(r, 600)
	quick, legacy, mixed := newMatcher(n, key, 0), newMatcher(n, key, 0), newMatcher(n, key, 0)
	mixedSlow := false
	for i, id := range ids {
		v, err := n.Normalize(id.Kind, id.Value)
		if err != nil {
			t.Fatalf("%s %d: %v", id.Kind, i, err)
		}
		e, err := newEntry(key, id.Kind, v)
		if err != nil {
			t.Fatal(err)
		}
		tid := fmt.Sprintf("T%d", i/3) // three identifiers a tombstone
		quick.addEntry(e, tid)
		old := e
		old.Quick, old.QuickTail = nil, nil
		legacy.addEntry(old, tid)
		// Old entries for a few of each kind: the kind is slow in mixed.
		if i%97 < 6 {
			mixed.addEntry(old, tid)
			mixedSlow = true
		} else {
			mixed.addEntry(e, tid)
		}
	}
	if !mixedSlow || quick.slowBuiltin != 0 || len(quick.slowCustom) != 0 || legacy.quick.n != 0 {
		t.Fatal("matchers not built as meant")
	}
	type cand struct {
		kind Kind
		v    string
	}
	var cands []cand
	for _, id := range ids {
		for _, s := range spellings(id) {
			cands = append(cands, cand{id.Kind, s})
		}
	}
	// Misses: identifiers never recorded, near misses and noise.
	for _, id := range randomIdentifiers(r, 3000) {
		for _, s := range spellings(id) {
			cands = append(cands, cand{id.Kind, s})
		}
	}
	for range 3000 {
		var b strings.Builder
		for range 4 + r.IntN(14) {
			b.WriteByte("0123456789 -+()."[r.IntN(16)])
		}
		for _, k := range []Kind{KindPhone, KindPersonnummer, KindOrgnr} {
			cands = append(cands, cand{k, b.String()})
		}
	}
	hits := 0
	for _, c := range cands {
		wantID, want := legacy.Lookup(c.kind, c.v)
		for name, m := range map[string]*Matcher{"quick": quick, "mixed": mixed} {
			if gotID, got := m.Lookup(c.kind, c.v); got != want || gotID != wantID {
				t.Errorf("%s: %s %q: %q, %v; fingerprints say %q, %v", name, c.kind, c.v, gotID, got, wantID, want)
			}
		}
		if want {
			hits++
		}
	}
	if hits < 600*3 {
		t.Errorf("only %d of %d candidates matched: the test checks too little", hits, len(cands))
	}
	t.Logf("%d candidates, %d hits", len(cands), hits)
}
