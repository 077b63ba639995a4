package subjects

import (
	"context"
	"testing"

	"lethe/tombstones"
)

// TestTagSchemes: entries of quick tags (built now) and of fingerprint
// tags (built by an older lethe, stored under the profile without the tag
// scheme) are both trusted, and screened by the tags of their scheme; a
// tombstone without quick tags cannot rule out a quick-tag entry.
func TestTagSchemes(t *testing.T) {
	ctx := context.Background()
	n, key := setup(t, "", "")
	ix := NewIndexer(n, key, nil)
	tb := tombstoneOf(t, n, key, "01JD0000000000000000000001", "email=anna.berg@example.se", "phone=070-123 45 67")
	old := tb
	old.Entries = append([]tombstones.Entry(nil), tb.Entries...)
	for i := range old.Entries {
		old.Entries[i].Quick, old.Entries[i].QuickTail = nil, nil
	}
	holds := []byte("skriv till Anna.Berg@example.se eller ring 070-1234567\n")
	clean := []byte("skriv till someone@example.se eller ring 070-7654321\n")

	// Entries built now: quick tags.
	st := newMemStore()
	w := NewWriter(st, New(ix))
	for _, f := range []struct {
		name string
		data []byte
	}{{"a.txt", holds}, {"b.txt", clean}} {
		e := ix.Entry(f.name, contentOf(f.data), f.data)
		if !e.Quick {
			t.Fatal("a new entry without quick tags")
		}
		if err := w.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Entries an older lethe built: the tags of the fingerprints of what
	// the files hold, the phone number by its tail.
	var fpTags = func(emailTombstone tombstones.Tombstone) []uint64 {
		return []uint64{uint64(tombstones.TagOf(emailTombstone.Entries[0].Fingerprint)), uint64(tombstones.TagOf(*emailTombstone.Entries[1].Tail))}
	}
	other := tombstoneOf(t, n, key, "01JD0000000000000000000002", "email=someone@example.se", "phone=070-765 43 21")
	la := newEntry(ix.Key("c.log", contentOf(holds)), fpTags(tb))
	lb := newEntry(ix.Key("d.log", contentOf(clean)), fpTags(other))
	la.PlainPhones, lb.PlainPhones = true, true
	legacy := encodeBatch(ix.legacy, []*Entry{la, lb})
	if err := st.SaveLethe(ctx, batchName(legacy), legacy); err != nil {
		t.Fatal(err)
	}

	idx, err := Load(ctx, st, ix)
	if err != nil {
		t.Fatal(err)
	}
	if idx.Len() != 4 || idx.Other() != 0 {
		t.Fatalf("%d entries trusted, %d of other profiles", idx.Len(), idx.Other())
	}
	for _, c := range []struct {
		name   string
		tombs  []tombstones.Tombstone
		file   string
		data   []byte
		want   bool
		reason string
	}{
		{"new tombstone, quick entry", []tombstones.Tombstone{tb}, "a.txt", holds, true, "holds the subject"},
		{"new tombstone, quick entry", []tombstones.Tombstone{tb}, "b.txt", clean, false, "is clean"},
		{"new tombstone, fingerprint entry", []tombstones.Tombstone{tb}, "c.log", holds, true, "holds the subject"},
		{"new tombstone, fingerprint entry", []tombstones.Tombstone{tb}, "d.log", clean, false, "is clean"},
		{"old tombstone, quick entry", []tombstones.Tombstone{old}, "a.txt", holds, true, "holds the subject"},
		{"old tombstone, quick entry", []tombstones.Tombstone{old}, "b.txt", clean, true, "cannot be ruled out without quick tags"},
		{"old tombstone, fingerprint entry", []tombstones.Tombstone{old}, "c.log", holds, true, "holds the subject"},
		{"old tombstone, fingerprint entry", []tombstones.Tombstone{old}, "d.log", clean, false, "is clean"},
		{"old and new tombstones, quick entry", []tombstones.Tombstone{other, old}, "b.txt", clean, true, "cannot be ruled out without quick tags"},
	} {
		if got := idx.Screen(c.tombs).MayHold(nodeOf(c.file, c.data)); got != c.want {
			t.Errorf("%s: %s may hold = %v, but it %s", c.name, c.file, got, c.reason)
		}
	}
	// An older lethe sees the new batches under another profile.
	if ix.Profile() == ix.legacy {
		t.Fatal("the tag scheme is not in the profile")
	}
}
