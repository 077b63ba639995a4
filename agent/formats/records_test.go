package formats

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// checkRedact scans data as f and checks that exactly the records want
// (given as the substrings that form each record) match, and that the
// redacted output is data without them.
func checkRedact(t *testing.T, f Format, data string, opts *Options, want ...string) *Result {
	t.Helper()
	res := scanOK(t, f, data, allMatcher(t), opts)
	if res.Whole {
		t.Fatalf("whole file matched: %+v", res)
	}
	var got []string
	for _, r := range res.Records {
		got = append(got, data[r.Offset:r.Offset+r.Length])
	}
	if !slices.Equal(got, want) {
		t.Errorf("records\n got %q\nwant %q", got, want)
	}
	exp := data
	for _, w := range want {
		exp = strings.Replace(exp, w, "", 1)
	}
	if out, gone := redactAll(t, data, res); out != exp || gone {
		t.Errorf("redacted\n got %q\nwant %q", out, exp)
	}
	if out, _ := RedactBytes([]byte(data), res, nil); string(out) != data {
		t.Errorf("redacting no records changed the file")
	}
	return res
}

func TestCSV(t *testing.T) {
	opts := &Options{NameColumns: []string{"Namn"}}
	t.Run("comma", func(t *testing.T) {
		hdr := "kundnr,namn,epost,telefon\n"
		r1 := "K-10001,Per Svensson,per@example.se,070-123 45 68\n"
		r2 := "K-10002,\"Anna S\",\"Ny adress:\nanna.svensson@example.se\",\n"
		r3 := "K-10003,Eva,\"Säger \"\"hej\"\"\",+46 70 123 45 67\n"
		r4 := "K-10004,Anna Svensson,,\n"
		checkRedact(t, FormatCSV, hdr+r1+r2+r3+r4, opts, r2, r3, r4)
	})
	t.Run("semicolon CRLF BOM", func(t *testing.T) {
		hdr := "\uFEFFKundnr;Namn;Telefon;Belopp\r\n"
		r1 := "K-10001;Per;070-123 45 68;1 000,00\r\n"
		r2 := "K-12345;Anna;;12,50\r\n"
		r3 := "K-10003;\"Eva; AB\";0701234560;3,00"
		if d := Detect("x.csv", []byte(hdr+r1+r2+r3)); d != FormatCSV {
			t.Errorf("detected %s", d)
		}
		checkRedact(t, FormatCSV, hdr+r1+r2+"\r\n"+r3, opts, r2)
	})
	t.Run("tab", func(t *testing.T) {
		hdr := "id\tnamn\tpnr\n"
		r1 := "1\tAnna Svensson\t800101-1231\n"
		r2 := "2\tPer\t800101-1232\n"
		checkRedact(t, FormatCSV, hdr+r1+r2, opts, r1)
	})
	t.Run("names only in name columns", func(t *testing.T) {
		data := "id,anteckning\n1,Anna Svensson\n"
		res := scanOK(t, FormatCSV, data, allMatcher(t), opts)
		if len(res.Records) != 0 {
			t.Errorf("name matched outside a name column: %+v", res.Records)
		}
	})
	t.Run("identifier in the header makes the file one record", func(t *testing.T) {
		data := "id,anna.svensson@example.se\n1,2\n"
		res := scanOK(t, FormatCSV, data, allMatcher(t), opts)
		if !res.Whole || len(res.Records) != 1 || res.Records[0].Length != int64(len(data)) {
			t.Errorf("%+v", res)
		}
	})
	t.Run("unterminated quote is read leniently", func(t *testing.T) {
		data := "a,b\n1,\"anna.svensson@example.se\n"
		res := ScanBytes("x.csv", []byte(data), allMatcher(t), opts)
		if res.Format != FormatCSV || len(res.Records) != 1 || res.Records[0].Offset != 4 {
			t.Errorf("%+v", res)
		}
	})
}

func TestJSONL(t *testing.T) {
	l1 := `{"e":"view","u":"per@example.se"}` + "\n"
	l2 := `{"e":"signup","u":"anna.svensson\u0040example\u002ese"}` + "\n"
	l3 := `{"e":"call","p":"070-123 45 67\"}"}` + "\n"
	l4 := `{"e":"x","u":"xanna.svensson\u0040example.se"}`
	data := l1 + l2 + "\n" + l3 + l4
	if d := Detect("", []byte(data)); d != FormatJSONL {
		t.Errorf("detected %s", d)
	}
	checkRedact(t, FormatJSONL, data, nil, l2, l3)
}

func TestJSONArray(t *testing.T) {
	a := `{"n":"Per","e":"per@example.se"}`
	s := `{"n":"Anna","e":"anna.svensson\u0040example.se"}`
	b := `{"n":"Eva","p":"\u002b46 70 123 45 68"}`
	s2 := `{"p":"+46701234567"}`
	for _, c := range []struct {
		in, want string
	}{
		{"[" + a + ",\n " + s + ",\n " + b + "]\n", "[" + a + ",\n " + b + "]\n"},
		{"[\n  " + s + ",\n  " + a + "\n]", "[\n  " + a + "\n]"},
		{"[" + a + ", " + b + ", " + s + "]", "[" + a + ", " + b + "]"},
		{"[" + a + ", " + s + ", " + s2 + "]", "[" + a + "]"},
		{"[" + s + ", " + s2 + "]", "[]"},
		{"[ " + s + " ]", "[  ]"},
	} {
		res := scanOK(t, FormatJSON, c.in, allMatcher(t), nil)
		out, gone := redactAll(t, c.in, res)
		if out != c.want || gone {
			t.Errorf("%s\n got %q\nwant %q", c.in, out, c.want)
		}
		if !json.Valid([]byte(out)) {
			t.Errorf("invalid JSON after redaction: %s", out)
		}
	}
	// An object is one record.
	obj := `{"kunder":[{"e":"anna.svensson@example.se"}]}`
	res := scanOK(t, FormatJSON, obj, allMatcher(t), nil)
	if !res.Whole || len(res.Records) != 1 {
		t.Errorf("%+v", res)
	}
	// Invalid JSON falls back, and is still scanned.
	bad := `[{"e":"anna.svensson@example.se"`
	if r := ScanBytes("x.json", []byte(bad), allMatcher(t), nil); r.Fallback == "" || len(r.Records) != 1 {
		t.Errorf("%+v", r)
	}
}

func TestVCard(t *testing.T) {
	c1 := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Per Svensson\r\nEMAIL:xanna.svensson@example.se\r\nTEL:070-123 45 68\r\nEND:VCARD\r\n"
	c2 := "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Svensson;Anna\r\nEMAIL;INTERNET;ENCODING=QUOTED-PRINTABLE:anna.sven=\r\nsson=40example.se\r\nEND:VCARD\r\n"
	c3 := "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Eva\r\nEMAIL;TYPE=work:anna.svensson@exa\r\n mple.se\r\nEND:VCARD\r\n"
	c4 := "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Anna Svensson\r\nEND:VCARD\r\n"
	c5 := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nNOTE:pnr 800101-1231\\, ring\r\nitem1.TEL:+46 70 123 45 69\r\nEND:VCARD\r\n"
	c6 := "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:Svensson;Anna\r\nEND:VCARD\r\n"
	data := c1 + c2 + c3 + c4 + c5 + c6
	if d := Detect("", []byte(data)); d != FormatVCard {
		t.Errorf("detected %s", d)
	}
	res := checkRedact(t, FormatVCard, data, nil, c2, c3, c4, c5, c6)
	if !slices.Equal(res.Records[2].Kinds, kindsOf(KindName)) {
		t.Errorf("FN: %v", res.Records[2].Kinds)
	}
	// A card without END falls back.
	if r := ScanBytes("x.vcf", []byte("BEGIN:VCARD\r\nFN:x\r\n"), allMatcher(t), nil); r.Fallback == "" {
		t.Errorf("%+v", r)
	}
}

func TestICal(t *testing.T) {
	head := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//SV\r\n"
	tz := "BEGIN:VTIMEZONE\r\nTZID:Europe/Stockholm\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
	e1 := "BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:Möte med Anna Svensson\r\nATTENDEE;CN=Per:mailto:per@example.se\r\nEND:VEVENT\r\n"
	e2 := "BEGIN:VEVENT\r\nUID:2\r\nATTENDEE;CN=\"Svensson, Anna\";ROLE=REQ-PARTICIPANT:mailto:anna.svens\r\n son@example.se\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\n"
	e3 := "BEGIN:VTODO\r\nUID:3\r\nDESCRIPTION:Ring 070-123\\, 45 67 nej: 070-123 45 67\\nsen\r\nEND:VTODO\r\n"
	e4 := "BEGIN:VJOURNAL\r\nUID:4\r\nDESCRIPTION:org 556677-8899\r\nEND:VJOURNAL\r\n"
	tail := "END:VCALENDAR\r\n"
	data := head + tz + e1 + e2 + e3 + e4 + tail
	if d := Detect("", []byte(data)); d != FormatICal {
		t.Errorf("detected %s", d)
	}
	res := checkRedact(t, FormatICal, data, nil, e2, e3, e4)
	if res.NumRecords != 4 {
		t.Errorf("%d records", res.NumRecords)
	}
	if r := ScanBytes("x.ics", []byte(head+"END:VEVENT\r\n"+tail), allMatcher(t), nil); r.Fallback == "" {
		t.Errorf("mismatched END accepted")
	}
}

func TestMysqlDump(t *testing.T) {
	hdr := "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE `k` (`id` int);\n"
	a := "(1,'Per','per@example.se','O\\'Brien')"
	s := "(2,'Anna','','Ring\\n0701234567')"
	b := "(3,'Eva','x','070-123 45 68')"
	s2 := "(4,'Bo','anna.svensson@example.se','Säger \\\"hej\\\"')"
	stmt := func(ts ...string) string { return "INSERT INTO `k` VALUES " + strings.Join(ts, ",") + ";\n" }
	for _, c := range []struct{ in, want string }{
		{hdr + stmt(a, s, b) + "UNLOCK TABLES;\n", hdr + stmt(a, b) + "UNLOCK TABLES;\n"},
		{hdr + stmt(s, a, b), hdr + stmt(a, b)},
		{hdr + stmt(a, b, s), hdr + stmt(a, b)},
		{hdr + stmt(a, s, s2, b), hdr + stmt(a, b)},
		{hdr + stmt(s, s2, a), hdr + stmt(a)},
		{hdr + stmt(a, s, s2), hdr + stmt(a)},
		{hdr + stmt(s, s2) + stmt(a), hdr + stmt(a)},
		{hdr + stmt(s), hdr},
	} {
		res := scanOK(t, FormatSQL, c.in, allMatcher(t), nil)
		out, gone := redactAll(t, c.in, res)
		if out != c.want || gone {
			t.Errorf("\n got %q\nwant %q", out, c.want)
		}
		r2, err := ScanFormat(FormatSQL, []byte(out), nil, nil)
		if err != nil || r2.NumRecords != res.NumRecords-len(res.Records) {
			t.Errorf("redacted dump: %v, %d records", err, r2.NumRecords)
		}
	}
	// Escapes are decoded: the raw bytes "\n070..." hide the number.
	res := scanOK(t, FormatSQL, hdr+stmt(s), newMatcher(t, "phone="+tPhone), nil)
	if len(res.Records) != 1 {
		t.Errorf("escaped newline: %+v", res)
	}
}

func TestPgDump(t *testing.T) {
	hdr := "--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n\nCOPY public.k (id, namn, anteckning) FROM stdin;\n"
	r1 := "1\tPer\t\\N\n"
	r2 := "2\tAnna\tNy kontakt:\\t0701234567\\nmejl\n"
	r3 := "3\tEva\tanna.svensson\\100example.se\n"
	r4 := "4\tBo\txanna.svensson@example.se\n"
	mid := "\\.\n\nCREATE TABLE public.o (id int, t text);\n"
	i1 := "INSERT INTO public.o VALUES (1, 'O''Connor 19800101-1231');\n"
	i2 := "INSERT INTO public.o VALUES (2, 'Per');\n"
	i3 := "INSERT INTO public.o VALUES\n\t(3, E'anna.svensson\\x40example.se'),\n\t(4, 'ok');\n"
	data := hdr + r1 + r2 + r3 + r4 + mid + i1 + i2 + i3
	want := hdr + r1 + r4 + mid + i2 + "INSERT INTO public.o VALUES\n\t(4, 'ok');\n"
	res := scanOK(t, FormatSQL, data, allMatcher(t), nil)
	out, gone := redactAll(t, data, res)
	if out != want || gone {
		t.Errorf("\n got %q\nwant %q", out, want)
	}
	if n := len(res.Records); n != 4 {
		t.Errorf("%d records", n)
	}
	if r := ScanBytes("x.sql", []byte(hdr+r1), allMatcher(t), nil); r.Fallback == "" {
		t.Errorf("unterminated COPY accepted")
	}
	if r := ScanBytes("x.sql", []byte("INSERT INTO t VALUES (1, 'anna.svensson@example.se"), allMatcher(t), nil); r.Fallback == "" || len(r.Records) != 1 {
		t.Errorf("unterminated INSERT: %+v", r)
	}
}

func utf16Bytes(s string, bigEndian bool) string {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b.WriteByte(byte(u >> 8))
			b.WriteByte(byte(u))
		} else {
			b.WriteByte(byte(u))
			b.WriteByte(byte(u >> 8))
		}
	}
	return b.String()
}

func TestText(t *testing.T) {
	l1 := "2025-03-03T08:00:00Z INFO login user=per@example.se\n"
	l2 := "2025-03-03T08:00:01Z INFO login user=Anna.Svensson@example.se\n"
	l3 := "2025-03-03T08:00:02Z WARN sms to=070-123 45 68 ref=19800101-1232\n"
	l4 := "2025-03-03T08:00:03Z WARN sms to=+46 70 123 45 67"
	checkRedact(t, FormatText, l1+l2+l3+l4, nil, l2, l4)

	for _, be := range []bool{false, true} {
		bom := "\xff\xfe"
		if be {
			bom = "\xfe\xff"
		}
		u1 := utf16Bytes("Kvitto 1;Kund Åsa;Tel 070-123 45 68\r\n", be)
		u2 := utf16Bytes("Kvitto 2;Kund Anna;Tel 070-123 45 67\r\n", be)
		u3 := utf16Bytes("Kvitto 3;Kund 😀;Tel 0\r\n", be)
		data := bom + u1 + u2 + u3
		if d := Detect("x.dat", []byte(data)); d != FormatText {
			t.Errorf("detected %s", d)
		}
		checkRedact(t, FormatText, data, nil, u2)
	}
}

func TestFallback(t *testing.T) {
	m := allMatcher(t)
	for _, data := range []string{
		"\x00\x01\x02 binary anna.svensson@example.se \x00",
		"\x00\x01" + utf16Bytes("tel 070-123 45 67", false) + "\x00\x00",
		"\x00" + utf16Bytes("tel 070-123 45 67", true) + "\x00\x00",
	} {
		res := ScanBytes("x.bin", []byte(data), m, nil)
		if res.Format != FormatFallback || !res.Whole || len(res.Records) != 1 {
			t.Errorf("%q: %+v", data, res)
		}
	}
	html := "<!DOCTYPE html>\n<p>Mejla anna.svensson&#64;example.se</p>\n"
	if res := ScanBytes("sida", []byte(html), m, nil); res.Format != FormatFallback || len(res.Records) != 1 {
		t.Errorf("html: %+v", res)
	}
	kinds, err := NewScanner(m, nil).ScanReader(strings.NewReader(strings.Repeat("x ", streamChunk/2-2) + "070-123 45 67 " + strings.Repeat("y", 100)))
	if err != nil || !slices.Equal(kinds, kindsOf(KindPhone)) {
		t.Errorf("stream across chunks: %v %v", kinds, err)
	}
}

func TestDecodeQP(t *testing.T) {
	for in, want := range map[string]string{
		"a=40b.se":           "a@b.se",
		"anna.sven=\r\nsson": "anna.svensson",
		"x=\ny":              "xy",
		"=E5=e4":             "\xe5\xe4",
		"bad=4":              "bad=4",
		"=":                  "=",
		"a=ZZ":               "a=ZZ",
	} {
		if got := string(decodeQP(nil, []byte(in))); got != want {
			t.Errorf("decodeQP(%q) = %q, want %q", in, got, want)
		}
	}
}
