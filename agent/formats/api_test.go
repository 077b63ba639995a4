package formats

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gzipBytes(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zipBytes(t *testing.T, members map[string]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(members[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestContainers(t *testing.T) {
	m := allMatcher(t)
	docx := zipBytes(t, map[string]string{
		"[Content_Types].xml": "<Types/>",
		"word/document.xml": `<w:document><w:body><w:p><w:r><w:t>E-post: anna.svensson@</w:t></w:r><w:r><w:t>example.se</w:t></w:r></w:p>` +
			`<w:p><w:r><w:t>070</w:t></w:r></w:p><w:p><w:r><w:t>1234567</w:t></w:r></w:p></w:body></w:document>`,
	})
	xlsx := zipBytes(t, map[string]string{
		"xl/sharedStrings.xml": `<sst><si><t>070-123 45 6</t></si><si><t>8</t></si><si><t>K-1234</t></si></sst>`,
	})
	odt := zipBytes(t, map[string]string{"content.xml": `<office:text><text:p>org 556677&#45;8899</text:p></office:text>`})
	cases := []struct {
		name string
		data []byte
		f    Format
		want []Kind
	}{
		{"x.docx", docx, FormatZip, kindsOf(KindEmail)},
		{"x.xlsx", xlsx, FormatZip, nil},
		{"x.odt", odt, FormatZip, kindsOf(KindOrgnr)},
		{"x.csv.gz", gzipBytes(t, "a,b\n1,19800101-1231\n"), FormatGzip, kindsOf(KindPersonnummer)},
		{"x.gz", gzipBytes(t, "a,b\n1,19800101-1232\n"), FormatGzip, nil},
		{"x.tar.gz", gzipBytes(t, string(zipBytes(t, map[string]string{"a.txt": "K-12345"}))), FormatGzip, kindsOf(Kind("custom:kundnr"))},
	}
	for _, c := range cases {
		res := ScanBytes(c.name, c.data, m, nil)
		if res.Format != c.f || res.Fallback != "" {
			t.Errorf("%s: %s %s", c.name, res.Format, res.Fallback)
		}
		if !slices.Equal(res.Kinds(), c.want) {
			t.Errorf("%s: kinds %v, want %v", c.name, res.Kinds(), c.want)
		}
		if len(c.want) > 0 {
			if out, gone := RedactBytes(c.data, res, res.Records); !gone || out != nil {
				t.Errorf("%s: a container hit removes the whole file", c.name)
			}
		}
	}
	if r := ScanBytes("x.zip", []byte("PK\x03\x04broken anna.svensson@example.se"), m, nil); r.Fallback == "" || len(r.Records) != 1 {
		t.Errorf("broken zip: %+v", r)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name, data string
		want       Format
	}{
		{"a.txt", "BEGIN:VCARD\r\nEND:VCARD\r\n", FormatVCard},
		{"", "\n\nbegin:vcalendar\r\n", FormatICal},
		{"x", "From a@b Mon Mar  3 08:00:00 2025\nFrom: a\n\n", FormatMbox},
		{"x", "Received: from x\nFrom: a@b\nSubject: s\n\nbody", FormatMail},
		{"x.csv", "a;b\n1;2\n", FormatCSV},
		{"x", "a;b;c\n1;2;3\n4;5;6\n", FormatCSV},
		{"x", "just some text\nand more\n", FormatText},
		{"x.log", "a,b\n1,2\n", FormatText},
		{"x.sql", "CREATE TABLE t (a int);\n", FormatSQL},
		{"x", "-- MySQL dump 10.13\n", FormatSQL},
		{"x", "-- phpMyAdmin SQL Dump\n-- version 5.2.1\n", FormatSQL},
		{"x", "[2025-11-20 02:00:00] up\n[2025-11-20 02:00:01] down\n", FormatText},
		{"x.tar", "not really", FormatTar},
		{"x.tgz", "", FormatGzip},
		{"x", "[1,2]", FormatJSON},
		{"x", "{\"a\":1}\n{\"a\":2}\n", FormatJSONL},
		{"x", "{\"a\":\n1}\n", FormatJSON},
		{"x", "\x1f\x8b\x08", FormatGzip},
		{"x.txt", "PK\x03\x04", FormatZip},
		{"x", "\x00\x01\x02", FormatFallback},
		{"x", "\xff\xfeA\x00", FormatText},
		{"Maildir/cur/1700000000.M1P2.host:2,S", "no headers here", FormatMail},
		{"x", "\xc3\x28 invalid utf-8", FormatFallback},
		{"x", "<!DOCTYPE html>\n<p>x</p>\n", FormatFallback},
		{"a.html", "<p>x</p>\n", FormatFallback},
	}
	for _, c := range cases {
		if got := Detect(c.name, []byte(c.data)); got != c.want {
			t.Errorf("Detect(%q, %q) = %s, want %s", c.name, c.data, got, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	m := allMatcher(t)
	for _, c := range []struct {
		name string
		hit  bool
	}{
		{"anna.svensson@example.se.pdf", true},
		{"Anna.Svensson@Example.se", true},
		{"19800101-1231_id-kort.pdf", true},
		{"faktura_0701234567.txt", true},
		{"kvitto_anna.svensson@example.se_2025.pdf", true},
		{"xanna.svensson@example.se.pdf", false},
		{"19800101-1232_id-kort.pdf", false},
		{"Anna Svensson.pdf", false},
		{"2025-03-03.log", false},
		{"anna.svensson@example.se.evil.com", false},
		{"anna.svensson@example.se.evil", false},
		{"anna.svensson@example.se.tar.gz", true},
		{"anna.svensson@example.se.PDF", true},
	} {
		if got := len(MatchName(c.name, m)) > 0; got != c.hit {
			t.Errorf("MatchName(%q) = %v", c.name, got)
		}
	}
}

func TestPathRule(t *testing.T) {
	m := allMatcher(t)
	r, err := ParsePathRule("kunder/{kundnr}/**")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel, folder string
	}{
		{"kunder/K-12345/avtal.txt", "kunder/K-12345"},
		{"kunder/K-12345", "kunder/K-12345"},
		{"kunder/K-10000/avtal.txt", ""},
		{"arkiv/kunder/K-12345/x", ""},
		{"kunder", ""},
	} {
		folder, kind, _, ok := r.Match(c.rel, m)
		if folder != c.folder || ok != (c.folder != "") {
			t.Errorf("Match(%q) = %q %v", c.rel, folder, ok)
		}
		if ok && kind != Kind("custom:kundnr") {
			t.Errorf("kind %s", kind)
		}
	}
	any, err := ParsePathRule("**/kunder/*/{personnummer}/**")
	if err != nil {
		t.Fatal(err)
	}
	if folder, _, _, ok := any.Match(filepath.FromSlash("srv/data/kunder/2025/19800101-1231/a/b.txt"), m); !ok || folder != "srv/data/kunder/2025/19800101-1231" {
		t.Errorf("any-depth rule: %q %v", folder, ok)
	}
	for _, bad := range []string{"kunder/**/x/{email}", "kunder/x{email}", "kunder/*", "kunder/{email}/{phone}", "../{email}", "kunder/{}/x"} {
		if _, err := ParsePathRule(bad); err == nil {
			t.Errorf("ParsePathRule(%q) accepted", bad)
		}
	}
}

// tree writes files (slash paths) under a new temporary directory.
func tree(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for n, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// digest hashes every path, mode and content under dir.
func digest(t *testing.T, dir string) [32]byte {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h.Write([]byte(p + info.Mode().String() + info.ModTime().String()))
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func TestScanAndRedactTrees(t *testing.T) {
	m := allMatcher(t)
	r, _ := ParsePathRule("kunder/{kundnr}/**")
	csv := "namn,epost\nPer,per@example.se\nAnna,anna.svensson@example.se\n"
	dir := tree(t, map[string]string{
		"kunder/lista.csv":            csv,
		"kunder/K-12345/avtal.txt":    "avtal\n",
		"kunder/K-10000/avtal.txt":    "avtal\n",
		"mail/cur/1.M1P1.h:2,S":       mailHead + "Subject: x\n\nring 0701234567\n",
		"mail/cur/2.M2P2.h:2,S":       mailHead + "Subject: y\n\nhej\n",
		"inskannat/19800101-1231.pdf": "%PDF-1.4\n",
		"data/trasig.json":            `[{"e":"anna.svensson@example.se"`,
		"data/ok.json":                `[1,2]`,
	})
	single := tree(t, map[string]string{"ensam.log": "a\nanna.svensson@example.se\nb\n"})
	before, beforeSingle := digest(t, dir), digest(t, single)

	var hits []Hit
	var reports []string
	opts := &Options{PathRules: []PathRule{r}, Report: func(p string, f Format, reason string) {
		rel, _ := filepath.Rel(dir, p)
		reports = append(reports, filepath.ToSlash(rel)+" "+string(f))
	}}
	err := Scan(t.Context(), []string{dir, filepath.Join(single, "ensam.log")}, m, opts, func(h Hit) {
		if rel, err := filepath.Rel(dir, h.Path); err == nil && !strings.HasPrefix(rel, "..") {
			h.Path = filepath.ToSlash(rel)
		} else {
			h.Path = filepath.Base(h.Path)
		}
		hits = append(hits, h)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Hit{
		{Path: "data/trasig.json", Format: FormatFallback, Record: 0, Offset: 0, Length: 32, Kinds: []Kind{KindEmail}},
		{Path: "inskannat/19800101-1231.pdf", Format: FormatName, Length: 9, Kinds: []Kind{KindPersonnummer}},
		{Path: "kunder/K-12345", Format: FormatPath, Kinds: []Kind{"custom:kundnr"}},
		{Path: "kunder/lista.csv", Format: FormatCSV, Record: 1, Offset: 30, Length: 30, Kinds: []Kind{KindEmail}},
		{Path: "mail/cur/1.M1P1.h:2,S", Format: FormatMail, Length: int64(len(mailHead + "Subject: x\n\nring 0701234567\n")), Kinds: []Kind{KindPhone}},
		{Path: "ensam.log", Format: FormatText, Record: 1, Offset: 2, Length: 25, Kinds: []Kind{KindEmail}},
	}
	if len(hits) != len(want) {
		t.Fatalf("hits %+v", hits)
	}
	for i := range want {
		if hits[i].Path != want[i].Path || hits[i].Format != want[i].Format || hits[i].Record != want[i].Record ||
			hits[i].Offset != want[i].Offset || hits[i].Length != want[i].Length || !slices.Equal(hits[i].Kinds, want[i].Kinds) {
			t.Errorf("hit %d: %+v, want %+v", i, hits[i], want[i])
		}
	}
	if !slices.Equal(reports, []string{"data/trasig.json json"}) {
		t.Errorf("reports %v", reports)
	}

	out := filepath.Join(t.TempDir(), "ut")
	sum, err := Redact(t.Context(), []string{dir}, out, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Redact(t.Context(), []string{filepath.Join(single, "ensam.log")}, out, m, opts); err != nil {
		t.Fatal(err)
	}
	if digest(t, dir) != before || digest(t, single) != beforeSingle {
		t.Fatal("input changed")
	}
	expect := map[string]string{
		"kunder/lista.csv":         "namn,epost\nPer,per@example.se\n",
		"kunder/K-10000/avtal.txt": "avtal\n",
		"mail/cur/2.M2P2.h:2,S":    mailHead + "Subject: y\n\nhej\n",
		"data/ok.json":             `[1,2]`,
		"ensam.log":                "a\nb\n",
	}
	var got []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(out, p)
			got = append(got, filepath.ToSlash(rel))
			b, _ := os.ReadFile(p)
			if w, ok := expect[filepath.ToSlash(rel)]; !ok || w != string(b) {
				t.Errorf("%s: %q", rel, b)
			}
			if info, _ := d.Info(); info.Mode().Perm() != 0o640 {
				t.Errorf("%s: mode %v", rel, info.Mode())
			}
		}
		return nil
	})
	if len(got) != len(expect) {
		t.Errorf("written: %v", got)
	}
	if s := sum.Formats[FormatCSV]; s == nil || s.Redacted != 1 || s.RecordsRemoved != 1 {
		t.Errorf("csv summary %+v", s)
	}
	if s := sum.Formats[FormatMail]; s == nil || s.Files != 2 || s.Removed != 1 {
		t.Errorf("mail summary %+v", s)
	}
	if s := sum.Formats[FormatFallback]; s == nil || s.Fallbacks != 1 || s.Removed != 1 {
		t.Errorf("fallback summary %+v", s)
	}
}
