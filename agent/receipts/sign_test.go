package receipts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"lethe/tombstones"
)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signed(t *testing.T) (Receipt, ed25519.PrivateKey) {
	t.Helper()
	ts := recordSubject(t, t.TempDir())
	key := testKey(t)
	r, err := Sign(factsFor(ts), key)
	if err != nil {
		t.Fatal(err)
	}
	return r, key
}

func TestSignVerifyRoundTrip(t *testing.T) {
	r, key := signed(t)
	pub := key.Public().(ed25519.PublicKey)
	got, err := Verify(r.File, pub)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(r.Facts)
	b, _ := json.Marshal(got.Facts)
	if !bytes.Equal(a, b) {
		t.Errorf("facts changed in the round trip:\n%s\n%s", a, b)
	}
	if got.Key != Fingerprint(pub) || !strings.HasPrefix(got.Key, "SHA256:") {
		t.Errorf("key %q", got.Key)
	}
	// The file is canonical JSON of {key, receipt, signature}.
	if !bytes.HasPrefix(r.File, []byte(`{"key":"SHA256:`)) || !bytes.Contains(r.File, []byte(`,"receipt":{"business":{`)) {
		t.Errorf("file layout: %.120s", r.File)
	}
	// Signing the same facts again gives the same bytes.
	again, err := Sign(r.Facts, key)
	if err != nil || !bytes.Equal(again.File, r.File) {
		t.Errorf("signing is not deterministic: %v", err)
	}
}

// TestVerifyEveryChangedByte: no byte of the file can change, be dropped
// or be added without Verify failing.
func TestVerifyEveryChangedByte(t *testing.T) {
	r, key := signed(t)
	pub := key.Public().(ed25519.PublicKey)
	for i := range r.File {
		// xor 1 changes every byte; xor 0x20 (a letter's case, a space
		// for a NUL) on a share of them keeps the test's time down.
		deltas := []byte{1}
		if i%4 == 0 {
			deltas = append(deltas, 0x20)
		}
		for _, delta := range deltas {
			bad := bytes.Clone(r.File)
			bad[i] ^= delta
			if _, err := Verify(bad, pub); err == nil {
				t.Fatalf("byte %d (%q) xor %#x: verified", i, r.File[i], delta)
			}
		}
		dropped := append(bytes.Clone(r.File[:i]), r.File[i+1:]...)
		if _, err := Verify(dropped, pub); err == nil {
			t.Fatalf("byte %d dropped: verified", i)
		}
	}
	for _, extra := range [][]byte{append(bytes.Clone(r.File), '\n'), append([]byte(" "), r.File...), bytes.TrimSuffix(r.File, []byte("\n"))} {
		if _, err := Verify(extra, pub); err == nil {
			t.Errorf("%q...: verified", extra[:10])
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	r, key := signed(t)
	pub := key.Public().(ed25519.PublicKey)
	other := testKey(t)
	otherPub := other.Public().(ed25519.PublicKey)

	// A reordered key: the same JSON with two members swapped.
	var env map[string]json.RawMessage
	if err := json.Unmarshal(r.File, &env); err != nil {
		t.Fatal(err)
	}
	reordered := []byte(`{"receipt":` + string(env["receipt"]) + `,"key":` + string(env["key"]) + `,"signature":` + string(env["signature"]) + "}\n")
	if _, err := Verify(reordered, pub); err == nil || !strings.Contains(err.Error(), "canonical") {
		t.Errorf("reordered envelope: %v", err)
	}
	inner := bytes.Replace(r.File, []byte(`"business":{"contact":"dataskydd@exempelbolaget.se","name":"Exempelbolaget AB"}`),
		[]byte(`"business":{"name":"Exempelbolaget AB","contact":"dataskydd@exempelbolaget.se"}`), 1)
	if bytes.Equal(inner, r.File) {
		t.Fatal("test did not reorder")
	}
	if _, err := Verify(inner, pub); err == nil || !strings.Contains(err.Error(), "canonical") {
		t.Errorf("reordered receipt: %v", err)
	}
	indented := bytes.Replace(r.File, []byte(`{"key":`), []byte("{ \"key\":"), 1)
	if _, err := Verify(indented, pub); err == nil {
		t.Error("added space verified")
	}

	if _, err := Verify(r.File, otherPub); err == nil {
		t.Error("verified with another key")
	}
	// Signed by another key that claims this key's fingerprint.
	forged, err := Sign(r.Facts, other)
	if err != nil {
		t.Fatal(err)
	}
	forgedFile := bytes.Replace(forged.File, []byte(Fingerprint(otherPub)), []byte(Fingerprint(pub)), 1)
	if _, err := Verify(forgedFile, pub); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("forged signature: %v", err)
	}
	// A changed fact, re-canonicalized but not re-signed.
	changed := bytes.Replace(r.File, []byte(`"records_removed":{"csv":12,"mbox":3}`), []byte(`"records_removed":{"csv":13,"mbox":3}`), 1)
	if bytes.Equal(changed, r.File) {
		t.Fatal("test did not change a count")
	}
	if _, err := Verify(changed, pub); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("changed count: %v", err)
	}
	// A field lethe does not write, even signed.
	var facts map[string]any
	if err := json.Unmarshal(env["receipt"], &facts); err != nil {
		t.Fatal(err)
	}
	facts["extra"] = "x"
	canon, _ := Marshal(facts)
	sig := ed25519.Sign(key, canon)
	file, _ := Marshal(map[string]any{"key": Fingerprint(pub), "receipt": json.RawMessage(canon), "signature": sig})
	if _, err := Verify(append(file, '\n'), pub); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("extra field: %v", err)
	}
}

func TestSignValidates(t *testing.T) {
	ts := recordSubject(t, t.TempDir())
	key := testKey(t)
	cases := map[string]func(*Facts){
		"final while pending": func(f *Facts) { f.Repositories[1].State = StatePending },
		"no repositories":     func(f *Facts) { f.Repositories = nil },
		"bad request id":      func(f *Facts) { f.RequestID = "x" },
		"unmasked identifier": func(f *Facts) { f.Identifiers[0].Masked = "anna.svensson@example.se" },
		"old phone mask":      func(f *Facts) { f.Identifiers[1].Masked = "+46 70*** ** 67" },
		"negative count":      func(f *Facts) { f.Repositories[0].BytesRemoved = -1 },
		"count above 2^53":    func(f *Facts) { f.Repositories[0].RecordsRemoved["csv"] = 1 << 54 },
		"rewritten no after":  func(f *Facts) { f.Repositories[0].Snapshots[0].After = "" },
		"expiring no date":    func(f *Facts) { f.Repositories[0].State = StateExpiring },
		"interim completed":   func(f *Facts) { f.Final = false },
		"bad verification":    func(f *Facts) { f.Repositories[0].Verification.Kind = "quick" },
		"no business":         func(f *Facts) { f.Business.Name = "" },
		"mode in capitals":    func(f *Facts) { f.Mode = "REWRITE" },
		"expiring in rewrite": func(f *Facts) { f.Repositories[0].State, f.Repositories[0].ExpiringUntil = StateExpiring, f.Completed },
	}
	for name, change := range cases {
		f := factsFor(ts)
		change(&f)
		if _, err := Sign(f, key); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	// An interim receipt: pending somewhere, no completion date.
	f := factsFor(ts)
	f.Final, f.Completed, f.NoCopyFrom = false, nil, nil
	f.Repositories[1].State, f.Repositories[1].Verification = StatePending, nil
	if _, err := Sign(f, key); err != nil {
		t.Errorf("interim: %v", err)
	}
}

func TestPublicKeyForms(t *testing.T) {
	key := testKey(t)
	pub := key.Public().(ed25519.PublicKey)
	pemBytes, err := MarshalPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PUBLIC KEY-----\n")) {
		t.Errorf("pem: %s", pemBytes)
	}
	for _, form := range [][]byte{pemBytes, []byte(" " + b64(pub) + "\n")} {
		got, err := ParsePublicKey(form)
		if err != nil || !got.Equal(pub) {
			t.Errorf("parse %q: %v", form, err)
		}
	}
	if _, err := ParsePublicKey([]byte("AAAA")); err == nil {
		t.Error("short key parsed")
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestFromTombstone(t *testing.T) {
	created := testNow
	due := testNow.AddDate(0, 0, 30)
	ts := tombstones.Tombstone{ID: "01KAKZ8J9Q5V7W3Y2X1C0B4N6M", Created: created, Mode: tombstones.ModeExpire,
		Entries:  []tombstones.Entry{{Kind: tombstones.KindPhone, Masked: "+46 70*** ** 67"}, {Kind: tombstones.KindPersonnummer, Masked: "19800101-****"}},
		Deadline: &tombstones.Deadline{Due: due}}
	f := FromTombstone(ts, Business{Name: "B"})
	if f.RequestID != ts.ID || !f.Received.Equal(created) || !f.Deadline.Equal(due) || f.Mode != tombstones.ModeExpire || f.Business.Name != "B" {
		t.Errorf("facts %+v", f)
	}
	if len(f.Identifiers) != 2 || f.Identifiers[0].Masked != "***67" || f.Identifiers[1].Masked != "***" {
		t.Errorf("identifiers %+v: old masks not re-masked", f.Identifiers)
	}
	ts.Deadline = nil
	if f := FromTombstone(ts, Business{}); !f.Deadline.Equal(tombstones.OneMonthAfter(created)) {
		t.Errorf("default deadline %v", f.Deadline)
	}
}
