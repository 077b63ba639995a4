package subjects

import (
	"math/bits"
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
	entries = append(entries, &Entry{Format: formats.FormatText, Width: 64, Tags: tagsOf(0, 1, 1<<63, ^uint64(0)), more: []tagCount{{1, 2}, {2, 3}, {3, 4}}})
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
		if e.Tags.Len() == 0 {
			got.Width, e.Width = 0, 0 // not stored without tags
			got.Tags, got.more, e.Tags, e.more = tagList{}, nil, tagList{}, nil
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
			for i, c := range e.more {
				if int(c.i) >= e.Tags.Len() || c.n < 2 || i > 0 && c.i <= e.more[i-1].i {
					t.Fatalf("count %+v of %d tags", c, e.Tags.Len())
				}
			}
			if tags := e.Tags.values(); !slices.IsSorted(tags) || len(slices.Compact(slices.Clone(tags))) != len(tags) {
				t.Fatal("tags not sorted and unique")
			}
			for _, tg := range e.Tags.values() {
				if e.Width < 64 && tg>>e.Width != 0 {
					t.Fatalf("tag %x wider than %d bits", tg, e.Width)
				}
			}
			for i := range e.Tags.Len() {
				if e.Count(i) == 0 {
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

// riceDecodeBitwise is the decoder as it was, one bit at a time: the
// reference riceDecode must agree with, on good data and bad.
func riceDecodeBitwise(gaps []byte, n int, width, k uint8) ([]uint64, bool) {
	bit := func(pos *int) (uint64, bool) {
		if *pos >= 8*len(gaps) {
			return 0, false
		}
		b := gaps[*pos/8] >> (7 - uint(*pos%8)) & 1
		*pos++
		return uint64(b), true
	}
	limit := uint64(1)<<width - 1
	if width == 64 {
		limit = ^uint64(0)
	}
	pos, prev := 0, uint64(0)
	out := make([]uint64, 0, n)
	for i := 0; i < n; i++ {
		var q uint64
		for {
			b, ok := bit(&pos)
			if !ok {
				return nil, false
			}
			if b == 0 {
				break
			}
			if q++; q > limit>>k {
				return nil, false
			}
		}
		var low uint64
		for j := uint8(0); j < k; j++ {
			b, ok := bit(&pos)
			if !ok {
				return nil, false
			}
			low = low<<1 | b
		}
		d := q<<k | low
		t := d
		if i > 0 {
			if d >= limit-prev {
				return nil, false
			}
			t = prev + d + 1
		} else if d > limit {
			return nil, false
		}
		out = append(out, t)
		prev = t
	}
	return out, true
}

func TestRiceDecodeAgreesWithBitwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(gaps []byte, n int, width, k uint8) {
		t.Helper()
		want, wantOK := riceDecodeBitwise(gaps, n, width, k)
		got, err := riceDecode(gaps, n, width, k)
		if (err == nil) != wantOK || (wantOK && !slices.Equal(got.values(), want)) {
			t.Fatalf("n %d width %d k %d gaps %x: got %v, %v; want %v, %v", n, width, k, gaps, got, err, want, wantOK)
		}
	}
	// Runs of ones longer than one 64-bit window, ended or cut off.
	for ones := 50; ones < 140; ones += 7 {
		long := make([]byte, 20)
		for j := 0; j < ones; j++ {
			long[j/8] |= 0x80 >> (j % 8)
		}
		for _, cut := range []int{ones / 8, ones/8 + 1, len(long)} {
			for _, width := range []uint8{8, 64} {
				check(long[:cut], 1, width, 0)
				check(long[:cut], 2, width, 3)
			}
		}
	}
	for i := 0; i < 3000; i++ {
		width := uint8(1 + rng.IntN(64))
		n := rng.IntN(40)
		// A parameter about as the encoder picks it (gaps of a few
		// ones); a much smaller one makes runs too long to encode.
		k := uint8(max(0, int(width)-bits.Len(uint(n))-rng.IntN(4)))
		k = min(k, width-1)
		// Encoded tags, whole and cut, and with a flipped bit.
		tags := make([]uint64, n)
		for j := range tags {
			tags[j] = rng.Uint64() >> (64 - uint(width))
		}
		slices.Sort(tags)
		tags = slices.Compact(tags)
		gaps := riceEncode(tagsOf(tags...), k)
		check(gaps, len(tags), width, k)
		if len(gaps) > 0 {
			check(gaps[:rng.IntN(len(gaps))], len(tags), width, k)
			flipped := slices.Clone(gaps)
			flipped[rng.IntN(len(flipped))] ^= 1 << rng.IntN(8)
			check(flipped, len(tags), width, k)
		}
		// Noise, and long runs of ones.
		noise := make([]byte, rng.IntN(24))
		for j := range noise {
			noise[j] = byte(rng.Uint32())
			if rng.IntN(3) == 0 {
				noise[j] = 0xff
			}
		}
		check(noise, 1+rng.IntN(8), width, uint8(rng.IntN(int(width))))
	}
}

// BenchmarkDecodeBatch: what loading the index costs per batch, without
// reading and decrypting it.
func BenchmarkDecodeBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	var entries []*Entry
	for range 2000 {
		entries = append(entries, randomEntry(rng, 20))
	}
	data := encodeBatch("p", entries)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeBatch(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch: the screen's cost per file with 100 erased
// identifiers, none in the file, in entries of a mail's size.
func BenchmarkMatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	entries := make([]*Entry, 1000)
	for i := range entries {
		entries[i] = randomEntry(rng, 5+rng.IntN(40))
	}
	var p tombstones.Probe
	for range 100 {
		p.Tags = append(p.Tags, tombstones.Tag(rng.Uint64()))
	}
	i := 0
	for b.Loop() {
		entries[i%len(entries)].Match(p)
		i++
	}
}

// TestCountsOverOne: an entry keeps the counts of the tags in more than
// one record alone, in memory and decoded; every other tag is in one.
func TestCountsOverOne(t *testing.T) {
	var key ContentKey
	e := newEntry(key, []uint64{7, 3, 5, 3, 9, 9, 9})
	bt, err := decodeBatch(encodeBatch("p", []*Entry{e}))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Entry{e, bt.entries[0]} {
		if x.Tags.Len() != 4 || len(x.more) != 2 {
			t.Fatalf("%d tags, counts over one %v", x.Tags.Len(), x.more)
		}
		for tag, want := range map[uint64]uint32{3: 2, 5: 1, 7: 1, 9: 3, 4: 0} {
			if c := x.find(tombstones.Tag(tag)); c != want {
				t.Errorf("tag %d in %d records, want %d", tag, c, want)
			}
		}
	}
}

// tagsOf returns a list of sorted, unique tags.
func tagsOf(ts ...uint64) tagList {
	l := makeTags(len(ts))
	for _, t := range ts {
		l.add(t)
	}
	return l
}

// values returns the tags of a list.
func (l *tagList) values() []uint64 {
	var out []uint64
	l.each(func(_ int, t uint64) { out = append(out, t) })
	return out
}

// TestTagList: tags of every width are found where they are, and tags
// not in the list are not, across runs of high bits.
func TestTagList(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, width := range []uint{8, 32, 33, 35, 48, 64} {
		var ts []uint64
		for range 3000 {
			v := rng.Uint64()
			if width < 64 {
				v >>= 64 - width
			}
			ts = append(ts, v)
		}
		slices.Sort(ts)
		ts = slices.Compact(ts)
		l := tagsOf(ts...)
		if l.Len() != len(ts) || !slices.Equal(l.values(), ts) {
			t.Fatalf("width %d: %d tags back of %d", width, l.Len(), len(ts))
		}
		for i, v := range ts {
			if j, ok := l.search(v); !ok || j != i {
				t.Fatalf("width %d: tag %d found at %d, %v", width, i, j, ok)
			}
			if _, ok := slices.BinarySearch(ts, v+1); !ok {
				if _, found := l.search(v + 1); found {
					t.Fatalf("width %d: %x found, not in the list", width, v+1)
				}
			}
		}
	}
}
