package subjects

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"testing"

	"lethe/agent/formats"
	"lethe/agent/formats/gen"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// entryOfRecords builds an entry as Entry did before ScanRefs: from the
// refs of a whole result's records.
func entryOfRecords(ix *Indexer, name string, data []byte) *Entry {
	sc := ix.pool.Get().(*formats.Scanner)
	res := sc.Scan(filepath.Base(name), data)
	ix.pool.Put(sc)
	var refs []string
	for _, rec := range res.Records {
		refs = append(refs, rec.Refs...)
	}
	return ix.entryOf(name, contentOf(data), res, refs)
}

// entryOf builds, as Entry did before ScanKeys, the entry of a content scanned to res, whose records'
// refs (each record's without duplicates) are refs.
func (ix *Indexer) entryOf(name string, content repository.IDs, res *formats.Result, refs []string) *Entry {
	tags := make([]uint64, 0, len(refs))
	plainPhones := false
	for _, ref := range refs {
		t, phone, ok := tagKey(ref)
		if !ok {
			continue // not a ref of the tag matcher
		}
		tags = append(tags, t)
		plainPhones = plainPhones || phone
	}
	return ix.entryOfTags(name, content, res, tags, plainPhones)
}

// entryOfRefs builds an entry as Entry did before ScanKeys: from the
// refs of ScanRefs.
func entryOfRefs(ix *Indexer, name string, data []byte) *Entry {
	sc := ix.pool.Get().(*formats.Scanner)
	res := sc.ScanRefs(filepath.Base(name), data)
	ix.pool.Put(sc)
	return ix.entryOf(name, contentOf(data), res, res.RecordRefs)
}

// TestEntryRefsOnly checks that entries built from ScanRefs are those
// built from the whole records, for every file of generated servers
// (mail, mbox, CSV with name columns, vCard, iCalendar, SQL dumps, logs,
// UTF-16, JSON, office files, gzip, tar, SQLite, .msg) and the fuzz
// corpus.
func TestEntryRefsOnly(t *testing.T) {
	type file struct {
		name string
		data []byte
	}
	var files []file
	walk := func(dir string) {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			data, err := os.ReadFile(p)
			files = append(files, file{p, data})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var ds *gen.Dataset
	for _, seed := range []uint64{42, 2026} {
		var err error
		ds, err = gen.Generate(filepath.Join(t.TempDir(), "ds"), gen.SmallConfig(seed))
		if err != nil {
			t.Fatal(err)
		}
		walk(ds.Root)
	}
	walk("../../formats/testdata")
	// Flat files whose records' refs ScanKeys drops as it goes, also
	// where the whole file ends up the record or a parse is undone.
	const (
		em, ph, pn = "anna.svensson@example.se", "070-123 45 67", "19811218-9876"
	)
	for name, data := range map[string]string{
		"hit-in-header.csv": "namn;" + em + "\nA;" + ph + "\nB;" + em + "\nC;x\n",
		"trailing-gap.csv":  "namn;tel\nA;" + ph + "\n\n\n",
		"rows.csv":          "namn;tel;pnr\nAnna Svensson;" + ph + ";" + pn + "\nAnna Svensson;" + ph + ";x\n",
		"broken.csv":        "namn;tel\nA;\"" + ph + "\nB;" + em + "\n",
		"lines.log":         em + " " + em + "\n" + ph + "\n0701234567 " + em + "\n",
		"undone.sql":        "INSERT INTO t VALUES ('" + em + "'),('" + ph + "');\nINSERT INTO t VALUES ('" + pn + "', oops;\n",
		"object.json":       `{"e":"` + em + `","t":"` + ph + `"}`,
		"array.json":        `[{"e":"` + em + `"},{"t":"` + ph + `"},{"e":"` + em + `"}]`,
		"lines.jsonl":       `{"e":"` + em + `"}` + "\n" + `{"t":"` + ph + `"}` + "\n",
		"kort.vcf":          "BEGIN:VCARD\nFN:Anna\nEMAIL:" + em + "\nEND:VCARD\nBEGIN:VCARD\nTEL:" + ph + "\nEND:VCARD\n",
		"text-with-gap.ics": "BEGIN:VCALENDAR\nX:" + em + "\nBEGIN:VEVENT\nATTENDEE:" + em + "\nEND:VEVENT\nEND:VCALENDAR\n",
		"utf16.csv":         "\xff\xfen\x00;\x00t\x00\n\x00",
	} {
		files = append(files, file{name, []byte(data)})
	}
	n, err := tombstones.NewNormalizer("SE", []tombstones.CustomKind{{Name: ds.CustomKind, Pattern: regexp.MustCompile(ds.CustomPattern)}})
	if err != nil {
		t.Fatal(err)
	}
	_, key := setup(t, "", "")
	ix := NewIndexer(n, key, &formats.Options{NameColumns: ds.NameColumns})
	tagged, multi := 0, 0
	for _, f := range files {
		want := entryOfRecords(ix, f.name, f.data)
		if got := entryOfRefs(ix, f.name, f.data); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: entry from refs\n%+v\nwant from records\n%+v", filepath.Base(f.name), got, want)
		}
		if got := ix.Entry(f.name, contentOf(f.data), f.data); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: entry from keys\n%+v\nwant from records\n%+v", filepath.Base(f.name), got, want)
		}
		if want.Tags.Len() > 0 {
			tagged++
		}
		if len(want.more) > 0 {
			multi++
		}
	}
	// The comparison means something only if the corpus has entries with
	// tags, and tags in more than one record.
	if tagged < len(files)/2 || multi == 0 {
		t.Fatalf("%d of %d files have tags, %d a tag in several records", tagged, len(files), multi)
	}
}

// BenchmarkEntryHeap measures the peak live heap of indexing a 10 MB
// customer CSV, as a multiple of the file's size ("live/file"): from the
// whole records (as Entry did before ScanRefs) and from ScanRefs.
func BenchmarkEntryHeap(b *testing.B) {
	n, key := setup(b, "", "")
	ix := NewIndexer(n, key, &formats.Options{NameColumns: []string{"namn"}})
	csv := customerCSV(10 << 20)
	for _, bc := range []struct {
		name  string
		entry func() *Entry
	}{
		{"records", func() *Entry { return entryOfRecords(ix, "kunder.csv", csv) }},
		{"refs", func() *Entry { return entryOfRefs(ix, "kunder.csv", csv) }},
		{"keys", func() *Entry { return ix.Entry("kunder.csv", contentOf(csv), csv) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var worst float64
			for i := 0; i < b.N; i++ {
				worst = max(worst, peakGrowth(bc.entry)/float64(len(csv)))
			}
			b.ReportMetric(worst, "live/file")
		})
	}
}

// peakGrowth runs entry and returns the most the live heap grew over
// what it was before, sampled after forced collections while it runs.
func peakGrowth(entry func() *Entry) float64 {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan *Entry)
	go func() { done <- entry() }()
	var peak uint64
	for {
		select {
		case e := <-done:
			if e == nil {
				panic("no entry")
			}
			return float64(peak - min(peak, before.HeapAlloc))
		default:
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
}

// TestEntryHeapBounded: indexing a large customer CSV holds little more
// than its records' tags: the live heap grows by less than the file's
// size (it grew by 2.9 times the file when the refs were kept, 7.7 times
// with whole records).
func TestEntryHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large CSV")
	}
	n, key := setup(t, "", "")
	ix := NewIndexer(n, key, &formats.Options{NameColumns: []string{"namn"}})
	csv := customerCSV(16 << 20)
	got := peakGrowth(func() *Entry { return ix.Entry("kunder.csv", contentOf(csv), csv) }) / float64(len(csv))
	t.Logf("peak live heap growth: %.2f times the file", got)
	if got > 1.2 {
		t.Errorf("indexing grew the live heap by %.2f times the file, want at most 1.2", got)
	}
}

// customerCSV returns a customer CSV of about size bytes, each row with
// its own address and phone number and a name shared by all.
func customerCSV(size int) []byte {
	var csv []byte
	csv = append(csv, "kundnr;namn;epost;telefon;ort\n"...)
	for i := 0; len(csv) < size; i++ {
		csv = append(csv, "K"+itoa(i)+";Anna Svensson;anna.svensson"+itoa(i)+"@example.se;070-"+itoa(1000000+i%9000000)+";Uppsala\n"...)
	}
	return csv
}

// TestEntryAfter checks that the entry of each version of a growing CSV,
// indexed after the version before it, is the entry of the whole file,
// also when what the indexer keeps of the versions is full.
func TestEntryAfter(t *testing.T) {
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, key := setup(t, "", "")
	opts := &formats.Options{NameColumns: []string{"namn"}}
	whole := NewIndexer(n, key, opts)
	for _, limit := range []int{64 << 20, 1} {
		ix := NewIndexer(n, key, opts)
		ix.KeepVersions(formats.NewVersions(1<<10, limit))
		data := []byte("kundnr;namn;epost;tel\n")
		for day := range 4 {
			for i := range 5000 {
				data = fmt.Appendf(data, "%d;Kund %d;kund%d.%d@example.se;070-%03d %02d %02d\n", i, i, day, i, i%1000, i%100, day)
			}
			want := whole.Entry("kunder.csv", contentOf(data), data)
			if got := ix.Entry("kunder.csv", contentOf(data), data); !reflect.DeepEqual(got, want) {
				t.Fatalf("day %d, limit %d: entry after the day before\n%+v\nwant\n%+v", day, limit, got, want)
			}
		}
	}
}

// TestContentStream checks that a content indexed as it is read gets the
// entry Entry makes of it whole, read in pieces of any size: a CSV file
// scanned window by window, and a file the stream declines (an mbox),
// whose entry Index makes from the bytes taken back.
func TestContentStream(t *testing.T) {
	n, key := setup(t, "", "")
	ix := NewIndexer(n, key, &formats.Options{NameColumns: []string{"namn"}})
	mbox := []byte{}
	for i := 0; len(mbox) < 12<<20; i++ {
		mbox = fmt.Appendf(mbox, "From kund%d@example.se Mon Jan  1 00:00:00 2024\nFrom: kund%d@example.se\nSubject: order\n\nring 070-%03d %02d %02d\n\n", i, i, i%1000, i%100, i%7)
	}
	for name, data := range map[string][]byte{"kunder.csv": customerCSV(20 << 20), "arkiv.mbox": mbox} {
		idx := New(ix)
		r := NewRecorder(t.Context(), newMemStore(), ix, idx)
		node := nodeOf(name, data)
		s := r.Stream(name)
		var whole []byte
		for p := 0; p < len(data); {
			n := min(len(data)-p, 1+(p*7919)%(1<<20))
			if whole != nil {
				whole = append(whole, data[p:p+n]...)
			} else if !s.Write(data[p : p+n]) {
				whole = append(s.Taken(), data[p:p+n]...)
			}
			p += n
		}
		if whole != nil {
			if name != "arkiv.mbox" {
				t.Fatalf("%s: declined", name)
			}
			r.Index(name, node, whole)
		} else {
			if name == "arkiv.mbox" {
				t.Fatal("an mbox was scanned as lines")
			}
			s.Done(node)
		}
		got, ok := idx.Lookup(node)
		if want := ix.Entry(name, node.Content, data); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: entry from the stream\n%+v\nwant\n%+v", name, got, want)
		}
	}
}
