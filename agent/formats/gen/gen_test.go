package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func readTree(t *testing.T, ds *Dataset) map[string][]byte {
	t.Helper()
	m := make(map[string][]byte)
	for _, f := range ds.Files {
		b, err := os.ReadFile(filepath.Join(ds.Root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		m[f] = b
	}
	return m
}

func TestDeterministic(t *testing.T) {
	cfg := SmallConfig(1)
	a, err := Generate(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := readTree(t, a), readTree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("%d files vs %d", len(ta), len(tb))
	}
	for f, da := range ta {
		if !bytes.Equal(da, tb[f]) {
			t.Errorf("%s differs between runs with one seed", f)
		}
	}
	c, err := Generate(t.TempDir(), SmallConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subjects[0].Email == a.Subjects[0].Email && c.Subjects[0].Phone == a.Subjects[0].Phone {
		t.Errorf("another seed gave the same subject")
	}
}

func TestPlacements(t *testing.T) {
	ds, err := Generate(t.TempDir(), SmallConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	files := readTree(t, ds)
	formats := make(map[string]map[int]bool)
	for _, p := range append(append([]Placement(nil), ds.Records...), ds.Decoys...) {
		data, ok := files[p.Path]
		if !ok && !p.Whole {
			t.Errorf("placement in unknown file %s", p.Path)
			continue
		}
		if !p.Whole && p.Format != "sqlite" && (p.Offset < 0 || p.Length <= 0 || p.Offset+p.Length > int64(len(data))) {
			t.Errorf("%s: placement %d+%d outside %d bytes", p.Path, p.Offset, p.Length, len(data))
		}
		if p.Subject >= 0 {
			if formats[p.Format] == nil {
				formats[p.Format] = make(map[int]bool)
			}
			formats[p.Format][p.Subject] = true
		}
	}
	// Every subject is in the formats that hold everyone.
	for _, f := range []string{"csv", "mail", "mbox", "vcard", "icalendar", "sql", "text", "jsonl", "json", "zip", "sqlite"} {
		if len(formats[f]) != len(ds.Subjects) {
			t.Errorf("%s holds %d of %d subjects", f, len(formats[f]), len(ds.Subjects))
		}
	}
	for _, f := range []string{"gzip", "name", "path", "fallback", "tar", "msg"} {
		if len(formats[f]) == 0 {
			t.Errorf("no subject in %s", f)
		}
	}
	if len(ds.Decoys) < 10*len(ds.Subjects) {
		t.Errorf("only %d decoys", len(ds.Decoys))
	}
	msgs := 0
	for _, f := range ds.Files {
		if filepath.Base(filepath.Dir(f)) == "cur" || filepath.Base(filepath.Dir(f)) == "new" {
			msgs++
		}
	}
	if msgs < SmallConfig(3).Messages/2 {
		t.Errorf("%d Maildir messages", msgs)
	}
}
