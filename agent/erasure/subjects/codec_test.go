package subjects

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"lethe/agent/formats"
	"lethe/tombstones"
)

func randomEntry(rng *rand.Rand, n int) *Entry {
	var tags []uint64
	for i := 0; i < n; i++ {
		t := rng.Uint64()
		for c := rng.IntN(3); c >= 0; c-- {
			tags = append(tags, t)
		}
	}
	var key ContentKey
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	e := newEntry(key, tags)
	e.Format, e.Records, e.Fallback, e.PlainPhones = formats.FormatCSV, n+rng.IntN(5), rng.IntN(2) == 0, rng.IntN(2) == 0
	return e
}

func TestBatchRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var entries []*Entry
	for _, n := range []int{0, 1, 2, 3, 100, 5000} {
		entries = append(entries, randomEntry(rng, n))
	}
	// A width of 64 bits, at the edges of the tag space.
	entries = append(entries, &Entry{Format: formats.FormatText, Width: 64, Tags: []uint64{0, 1, 1 << 63, ^uint64(0)}, Counts: []uint32{1, 2, 3, 4}})
	b := encodeBatch("profile", entries)
	bt, err := decodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if bt.profile != "profile" || len(bt.entries) != len(entries) {
		t.Fatalf("profile %q, %d entries", bt.profile, len(bt.entries))
	}
	for i, e := range entries {
		got := bt.entries[i]
		if len(e.Tags) == 0 {
			got.Width, e.Width = 0, 0 // not stored without tags
			got.Tags, got.Counts, e.Tags, e.Counts = nil, nil, nil, nil
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("entry %d: decoded differently", i)
		}
	}
	for cut := 0; cut < len(b); cut += 1 + len(b)/200 {
		if _, err := decodeBatch(b[:cut]); err == nil {
			t.Errorf("truncated at %d: decoded", cut)
		}
	}
}

// TestIndexSize: a content full of distinct identifiers (a customer CSV)
// costs about 2.2 bytes of Rice-coded tag and a byte of record count per
// identifier before compression (the counts, mostly 1, compress well).
func TestIndexSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	e := randomEntry(rng, 200000)
	b := encodeBatch("p", []*Entry{e})
	per := float64(len(b)) / 200000
	if per > 3.5 {
		t.Errorf("%.2f bytes per tag", per)
	}
	t.Logf("%.2f bytes per tag, width %d", per, e.Width)
}

func FuzzDecodeBatch(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	f.Add(encodeBatch("p", nil))
	f.Add(encodeBatch("p", []*Entry{randomEntry(rng, 0), randomEntry(rng, 3)}))
	f.Add(encodeBatch("formats=1;region=SE", []*Entry{randomEntry(rng, 40)}))
	f.Add([]byte(magic + "\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		bt, err := decodeBatch(data)
		if err != nil {
			return
		}
		for _, e := range bt.entries {
			if len(e.Tags) != len(e.Counts) {
				t.Fatalf("%d tags, %d counts", len(e.Tags), len(e.Counts))
			}
			if !slices.IsSorted(e.Tags) || len(slices.Compact(slices.Clone(e.Tags))) != len(e.Tags) {
				t.Fatal("tags not sorted and unique")
			}
			for _, tg := range e.Tags {
				if e.Width < 64 && tg>>e.Width != 0 {
					t.Fatalf("tag %x wider than %d bits", tg, e.Width)
				}
			}
			for _, c := range e.Counts {
				if c == 0 {
					t.Fatal("a tag in no record")
				}
			}
		}
		// What decodes encodes to something that decodes the same.
		bt2, err := decodeBatch(encodeBatch(bt.profile, bt.entries))
		if err != nil || len(bt2.entries) != len(bt.entries) {
			t.Fatalf("re-encoded batch: %v", err)
		}
	})
}

// TestCollisionsIndependent: a looked-up tag that truncates like a tag
// common to many contents (a company's own address in every mail) in one
// entry does not in the others, so a false positive stays one rescan.
func TestCollisionsIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	common := rng.Uint64()
	var entries []*Entry
	for i := 0; i < 1000; i++ {
		var key ContentKey
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		entries = append(entries, newEntry(key, []uint64{common, rng.Uint64(), rng.Uint64()}))
	}
	// A tag other than common that entries[0] cannot tell from it.
	var probe uint64
	for {
		probe = rng.Uint64()
		if probe != common && entries[0].find(tombstones.Tag(probe)) > 0 && spread(entries[0].Key, probe)>>(64-uint(entries[0].Width)) == spread(entries[0].Key, common)>>(64-uint(entries[0].Width)) {
			break
		}
	}
	hits := 0
	for _, e := range entries[1:] {
		if e.find(tombstones.Tag(probe)) > 0 {
			hits++
		}
	}
	if hits > 2 {
		t.Errorf("the colliding tag matches %d of %d other entries", hits, len(entries)-1)
	}
}
