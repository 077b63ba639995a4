package formats

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// scanRecords scans data by name with detection and the fallback, and
// returns the result and the text of each matching record.
func scanRecords(t *testing.T, name, data string) (*Result, []string) {
	t.Helper()
	res := ScanBytes(name, []byte(data), allMatcher(t), nil)
	var got []string
	for _, r := range res.Records {
		got = append(got, data[r.Offset:r.Offset+r.Length])
	}
	return res, got
}

// wantRecords checks that scanning data by name finds exactly the records
// want (split, not whole), and that redacting them leaves data without
// them.
func wantRecords(t *testing.T, name, data string, want ...string) *Result {
	t.Helper()
	exp := data
	for _, w := range want {
		exp = strings.Replace(exp, w, "", 1)
	}
	return wantRedacted(t, name, data, exp, want...)
}

// wantRedacted is wantRecords for records that take separators along:
// exp is what redacting them leaves.
func wantRedacted(t *testing.T, name, data, exp string, want ...string) *Result {
	t.Helper()
	res, got := scanRecords(t, name, data)
	if res.Whole {
		t.Fatalf("%s: the whole file is one record (format %s, fallback %q)", name, res.Format, res.Fallback)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s: records\n got %q\nwant %q", name, got, want)
	}
	if out, gone := RedactBytes([]byte(data), res, res.Records); string(out) != exp || gone {
		t.Errorf("%s: redacted\n got %q\nwant %q", name, out, exp)
	}
	return res
}

func TestLogLinesNotJSON(t *testing.T) {
	var lines []string
	for i := 0; i < 10; i++ {
		lines = append(lines, "[2025-11-20 02:00:0"+string(rune('0'+i))+"] INFO worker heartbeat queue=3\n")
	}
	hit1 := "[2025-11-20 02:00:10] WARN sms.failed to=" + tPhone + "\n"
	hit2 := "[2025-11-20 02:00:11] INFO login user=" + tEmail + "\n"
	data := strings.Join(lines[:4], "") + hit1 + strings.Join(lines[4:8], "") + hit2 + strings.Join(lines[8:], "")
	for _, name := range []string{"app.log", "syslog", "journal.txt", "messages"} {
		res := wantRecords(t, name, data, hit1, hit2)
		if res.Format != FormatText || res.Fallback != "" {
			t.Errorf("%s: format %s, fallback %q", name, res.Format, res.Fallback)
		}
	}
	// Lines that begin like JSON values are still lines.
	for _, first := range []string{"[1] started\n", "[\"a\"] x\n", "{job 17} started\n", "[] empty\n", "[INFO] up\n"} {
		wantRecords(t, "x.log", first+hit1+"[2] done\n", hit1)
	}
	// JSON stays JSON.
	if f := Detect("x.log", []byte("[\n {\"a\": 1},\n {\"b\": 2}\n]\n")); f != FormatJSON {
		t.Errorf("a JSON array detected as %s", f)
	}
	if f := Detect("x", []byte("[1,2]\n[3,4]\n")); f != FormatJSONL {
		t.Errorf("arrays per line detected as %s", f)
	}
	if f := Detect("x", []byte("{\"a\":1}\n{\"b\":2}\n")); f != FormatJSONL {
		t.Errorf("JSON Lines detected as %s", f)
	}
	// A JSON document longer than the sniffed head is still JSON.
	long := "[" + strings.Repeat("{\"a\": \"xxxxxxxxxxxxxxxxxxxxxx\"},\n", sniffLen/8) + "1]"
	if f := Detect("", []byte(long)); f != FormatJSON {
		t.Errorf("a long JSON array detected as %s", f)
	}
}

func TestLogLinesSniffedJSONFails(t *testing.T) {
	// Reads as JSON in its head, then is not: the lines are the records.
	hit := "{\"to\": \"" + tEmail + "\"} sent\n"
	data := "[" + strings.Repeat("1,\n", sniffLen) + hit + "3]\n"
	res := wantRecords(t, "x.log", data, hit)
	if res.Tried != FormatJSON || res.Fallback == "" || res.Format != FormatText {
		t.Errorf("format %s, tried %s, fallback %q", res.Format, res.Tried, res.Fallback)
	}
}

func TestByteOrderMark(t *testing.T) {
	const bom = "\uFEFF"
	t.Run("json", func(t *testing.T) {
		e1 := "{\"epost\": \"" + tEmail + "\"}"
		data := bom + "[" + e1 + ", {\"epost\": \"per@example.se\"}]\n"
		res := wantRedacted(t, "kunder.json", data, bom+"[{\"epost\": \"per@example.se\"}]\n", e1)
		if res.Format != FormatJSON {
			t.Errorf("format %s", res.Format)
		}
		// A single document is one record, and it parses.
		res, _ = scanRecords(t, "x.json", bom+"{\"epost\": \""+tEmail+"\"}")
		if res.Fallback != "" || res.Format != FormatJSON || len(res.Records) != 1 {
			t.Errorf("%+v", res)
		}
	})
	t.Run("text", func(t *testing.T) {
		l1 := "Kund: " + tEmail + "\n"
		data := bom + l1 + "Rad två\n"
		wantRecords(t, "x.txt", data, l1)
		if out, _ := RedactBytes([]byte(data), ScanBytes("x.txt", []byte(data), allMatcher(t), nil), nil); !bytes.HasPrefix(out, []byte(bom)) {
			t.Error("BOM lost")
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		l1 := "{\"epost\":\"" + tEmail + "\"}\n"
		wantRecords(t, "x.jsonl", bom+l1+"{\"a\":1}\n", l1)
	})
	t.Run("csv", func(t *testing.T) {
		r := "2;" + tEmail + "\n"
		wantRecords(t, "x.csv", bom+"id;epost\n1;per@example.se\n"+r, r)
	})
	t.Run("sql", func(t *testing.T) {
		ins := "INSERT INTO t VALUES ('" + tEmail + "');\n"
		wantRedacted(t, "x.sql", bom+ins+"INSERT INTO t VALUES ('x');\n", bom+"INSERT INTO t VALUES ('x');\n", "('"+tEmail+"')")
	})
}

func TestDeepJSON(t *testing.T) {
	const depth = 100000
	deep := strings.Repeat("[", depth) + "\"" + tEmail + "\"" + strings.Repeat("]", depth)
	if !validJSON([]byte(deep)) {
		t.Fatal("deep JSON not valid")
	}
	res := ScanBytes("x.json", []byte(deep), allMatcher(t), nil)
	if res.Fallback != "" || res.Format != FormatJSON || len(res.Records) != 1 {
		t.Fatalf("format %s, fallback %q, %d records", res.Format, res.Fallback, len(res.Records))
	}
	for _, s := range []string{deep[:len(deep)-1], deep + "]", "[" + deep + "}"} {
		if validJSON([]byte(s)) {
			t.Errorf("broken deep JSON (%d bytes) valid", len(s))
		}
	}
}

func TestValidJSONAgrees(t *testing.T) {
	for _, s := range []string{"", " ", "1", "-", "-0", "01", "1.", "1.5e", "1e+3", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,}", "{\"a\":1}", "[\"\\u00e5\"]", "[\"\\x\"]", "\"\x01\"", "[true, false, null]", "[tru]", "{}", "[]", "[{}]",
		"[] []", "\"\\ud83d\"", "{\"a\":[1,{\"b\":2}]}", "1 2", " [ ] "} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("%q: valid %v, json.Valid %v", s, got, want)
		}
	}
}

// checkKinds scans each text with the test matcher and compares kinds.
func checkKinds(t *testing.T, cases map[string][]Kind) {
	t.Helper()
	m := allMatcher(t)
	for text, want := range cases {
		x := newExtractor(m)
		if got := x.kinds(x.scan([]byte(text))); strings.Join(kindStrings(got), ",") != strings.Join(kindStrings(want), ",") {
			t.Errorf("%q: got %v, want %v", text, got, want)
		}
	}
}

func kindStrings(ks []Kind) []string {
	var s []string
	for _, k := range ks {
		s = append(s, string(k))
	}
	return s
}

func TestUnicodeSpacesInNumbers(t *testing.T) {
	phone := kindsOf(KindPhone)
	checkKinds(t, map[string][]Kind{
		"Ring 070-123\u00a045\u00a067 nu":                 phone,
		"070\u00a0123\u00a045\u00a067":                    phone,
		"070-123&nbsp;45&nbsp;67":                         phone,
		"<td>070&nbsp;123&nbsp;45&nbsp;67</td>":           phone,
		"070-123\u202f45\u202f67":                         phone,
		"070\u2009123\u200945\u200967":                    phone,
		"+46\u00a070\u00a0123\u00a045\u00a067":            phone,
		"070\u2013123 45 67":                              phone,
		"070-123&#160;45&#160;67":                         phone,
		"19800101\u20131231":                              kindsOf(KindPersonnummer),
		"070-123\u00a045\u00a068":                         nil,
		"x070\u00a0123\u00a045\u00a067":                   nil,
		"070\u00a0123\u00a045\u00a067\u00a08":             nil,
		"070-123\u00a045\u00a067\u00a0\u00a0\u00a0\u00a0": phone,
	})
}

func TestNumberGoesOn(t *testing.T) {
	checkKinds(t, map[string][]Kind{
		"070-123 45 67 8":             nil,
		"070-123 45 67 89":            nil,
		"070-123 45 67 890":           nil,
		"070-123 45 67 08-765 43 21":  kindsOf(KindPhone),
		"070-123 45 67 19800101-1231": kindsOf(KindPhone, KindPersonnummer),
		"070-123 45 67, 8 st":         kindsOf(KindPhone),
		"070-123 45 67  8":            kindsOf(KindPhone), // two spaces: a column
		"19800101-1231 5":             nil,
		"+46 70 123 45 67":            kindsOf(KindPhone),
	})
}

func TestPercentEncoded(t *testing.T) {
	email, phone := kindsOf(KindEmail), kindsOf(KindPhone)
	checkKinds(t, map[string][]Kind{
		"GET /nyhetsbrev?epost=anna.svensson%40example.se&ok=1 HTTP/1.1": email,
		"GET /nyhetsbrev?epost=ANNA.SVENSSON%40EXAMPLE.SE HTTP/1.1":      email,
		"/avregistrera?e=anna%2Esvensson%40example%2Ese":                 email,
		"<a href=\"mailto:anna.svensson@example.se?subject=Hej\">":       email,
		"<a href=\"mailto:Anna%20S%20%3Canna.svensson@example.se%3E\">":  email,
		"mailto:anna.svensson%40example.se":                              email,
		"tel:070%20123%2045%2067":                                        phone,
		"?epost=xanna.svensson%40example.se":                             nil,
		"?epost=anna.svensson%40example.se.evil.com":                     nil,
		"100%40 rabatt": nil,
		"%4":            nil,
	})
	l := "10.0.0.1 - - [20/Nov/2025:10:00:00 +0100] \"GET /nyhetsbrev?epost=anna.svensson%40example.se HTTP/1.1\" 200 12\n"
	wantRecords(t, "access.log", "10.0.0.2 - - [20/Nov/2025:10:00:00 +0100] \"GET / HTTP/1.1\" 200 12\n"+l, l)
}

func TestMIMEParameters(t *testing.T) {
	m := allMatcher(t)
	multi := func(disp string) string {
		return mailHead + "Subject: Avtal\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSe bilaga.\n--b\n" +
			"Content-Type: application/pdf\n" + disp + "\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
	}
	for name, msg := range map[string]string{
		"utf-8":        multi("Content-Disposition: attachment; filename*=UTF-8''anna.svensson%40example.se.pdf"),
		"latin1":       multi("Content-Disposition: attachment; filename*=iso-8859-1'sv'avtal_anna.svensson%40example.se.pdf"),
		"continued":    multi("Content-Disposition: attachment;\n filename*0*=UTF-8''avtal_anna.sv;\n filename*1*=ensson%40exam;\n filename*2=\"ple.se.pdf\""),
		"out of order": multi("Content-Disposition: attachment; filename*1*=ensson%40example.se.pdf; filename*0*=UTF-8''anna.sv"),
		"plain":        multi("Content-Disposition: attachment; filename=\"anna.svensson@example.se.pdf\""),
		"name":         multi("Content-Type: application/pdf; name*0=\"anna.svensson@exa\"; name*1=\"mple.se.pdf\""),
		"single part":  mailHead + "Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: inline; filename*0*=UTF-8''anna.svensson%40; filename*1=example.se\n\nHej\n",
	} {
		res, err := ScanFormat(FormatMail, []byte(msg), m, nil)
		if err != nil || !slices.Equal(res.Kinds(), kindsOf(KindEmail)) {
			t.Errorf("%s: kinds %v, err %v", name, res.Kinds(), err)
		}
	}
	// Another address split the same way is not the subject's.
	msg := multi("Content-Disposition: attachment; filename*0*=UTF-8''xanna.sv; filename*1*=ensson%40example.se.pdf")
	if res, err := ScanFormat(FormatMail, []byte(msg), m, nil); err != nil || len(res.Records) != 0 {
		t.Errorf("another address matched: %+v, %v", res, err)
	}
}

func TestSQLVariants(t *testing.T) {
	const hdr = "-- MySQL dump 10.13\n/*!40101 SET NAMES utf8mb4 */;\n"
	hit := "(2,'Anna','" + tEmail + "')"
	other := "(1,'Per','per@example.se')"
	for _, c := range []struct{ name, stmt, want string }{
		{"insert ignore", "INSERT IGNORE INTO `k` VALUES " + other + "," + hit + ";\n", "INSERT IGNORE INTO `k` VALUES " + other + ";\n"},
		{"replace", "REPLACE INTO `k` VALUES " + hit + "," + other + ";\n", "REPLACE INTO `k` VALUES " + other + ";\n"},
		{"low priority", "INSERT LOW_PRIORITY IGNORE INTO k VALUES " + hit + "," + other + ";\n", "INSERT LOW_PRIORITY IGNORE INTO k VALUES " + other + ";\n"},
		{"on duplicate key", "INSERT INTO `k` (`id`,`namn`,`epost`) VALUES " + other + "," + hit + " ON DUPLICATE KEY UPDATE `epost`=VALUES(`epost`);\n",
			"INSERT INTO `k` (`id`,`namn`,`epost`) VALUES " + other + " ON DUPLICATE KEY UPDATE `epost`=VALUES(`epost`);\n"},
		{"phpmyadmin", "INSERT INTO `k` (`id`, `namn`, `epost`) VALUES\n" + other + ",\n" + hit + ",\n(3,'Eva','eva@example.se');\n",
			"INSERT INTO `k` (`id`, `namn`, `epost`) VALUES\n" + other + ",\n(3,'Eva','eva@example.se');\n"},
		{"value", "INSERT INTO k VALUE " + hit + ";\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := hdr + "LOCK TABLES `k` WRITE;\n" + c.stmt + "UNLOCK TABLES;\n"
			res := scanOK(t, FormatSQL, data, allMatcher(t), nil)
			if res.Whole || len(res.Records) != 1 || data[res.Records[0].Offset:res.Records[0].Offset+res.Records[0].Length] != hit {
				t.Fatalf("%+v", res)
			}
			if out, _ := redactAll(t, data, res); out != hdr+"LOCK TABLES `k` WRITE;\n"+c.want+"UNLOCK TABLES;\n" {
				t.Errorf("redacted\n%s", out)
			}
		})
	}
	t.Run("other statements are records", func(t *testing.T) {
		upd := "UPDATE `k` SET `epost`='" + tEmail + "' WHERE `id`=2;\n"
		sel := "INSERT INTO k2 SELECT * FROM k WHERE epost = 'anna.svensson@example.se';\n"
		set := "INSERT INTO k3 SET epost='" + tEmail + "';\n"
		ok := "INSERT INTO `k` VALUES " + other + ";\n"
		trig := "DELIMITER ;;\n/*!50003 CREATE TRIGGER t BEFORE INSERT ON k FOR EACH ROW BEGIN SET NEW.a = 1; END */;;\nDELIMITER ;\n"
		data := hdr + ok + upd + trig + sel + "-- a comment\n" + set + ok
		res := wantRecords(t, "dump.sql", data, upd, sel, set)
		if res.NumRecords != 7 { // SET NAMES, two tuples, upd, trig, sel, set
			t.Errorf("%d records", res.NumRecords)
		}
	})
	t.Run("pg dollar quotes", func(t *testing.T) {
		fn := "CREATE FUNCTION f() RETURNS text AS $body$ SELECT 'x;'; $body$ LANGUAGE sql;\n"
		ins := "INSERT INTO public.k VALUES (1, '" + tEmail + "');\n"
		data := "-- PostgreSQL database dump\n" + fn + ins
		wantRedacted(t, "x.sql", data, "-- PostgreSQL database dump\n"+fn, "(1, '"+tEmail+"')")
	})
}

func TestUTF16Structured(t *testing.T) {
	u := func(s string) string { return "\xff\xfe" + utf16Bytes(s, false) }
	be := func(s string) string { return "\xfe\xff" + utf16Bytes(s, true) }
	t.Run("json", func(t *testing.T) {
		hit := "{\r\n  \"namn\": \"Anna Ö\",\r\n  \"avdelning\": \"Ekonomi 😀\",\r\n  \"epost\": \"" + tEmail + "\"\r\n}"
		other := "{\r\n  \"namn\": \"Per Å\",\r\n  \"epost\": \"per@example.se\"\r\n}"
		for name, enc := range map[string]func(string) string{"le": u, "be": be} {
			data := enc("[\r\n" + other + ",\r\n" + hit + "\r\n]\r\n")
			res := ScanBytes("kunder.json", []byte(data), allMatcher(t), nil)
			if res.Format != FormatJSON || res.Whole || len(res.Records) != 1 {
				t.Fatalf("%s: %+v", name, res)
			}
			r := res.Records[0]
			if got := data[r.Offset : r.Offset+r.Length]; got != enc(hit)[2:] {
				t.Errorf("%s: record %q", name, got)
			}
			out, _ := RedactBytes([]byte(data), res, res.Records)
			if want := enc("[\r\n" + other + "\r\n]\r\n"); string(out) != want {
				t.Errorf("%s: redacted %q", name, out)
			}
		}
	})
	t.Run("csv", func(t *testing.T) {
		hdr := "Namn\tAvdelning\tTelefon\r\n"
		hit := "Anna S\t\"Ekonomi\r\noch lön\"\t" + tPhone + "\r\n"
		other := "Per\tIT\t070-123 45 68\r\n"
		for _, name := range []string{"export.csv", "Unicode text.txt"} {
			if strings.HasSuffix(name, ".txt") {
				hit = "Anna S\t\"Ekonomi\"\t" + tPhone + "\r\n" // Excel quotes, without line breaks
			}
			data := u(hdr + other + hit + other)
			res := ScanBytes(name, []byte(data), allMatcher(t), nil)
			if res.Format != FormatCSV || res.Whole || len(res.Records) != 1 || res.NumRecords != 3 {
				t.Fatalf("%s: %+v", name, res)
			}
			out, _ := RedactBytes([]byte(data), res, res.Records)
			if want := u(hdr + other + other); string(out) != want {
				t.Errorf("%s: redacted %q", name, out)
			}
		}
	})
	t.Run("long json without a name", func(t *testing.T) {
		hit := "{\"epost\": \"" + tEmail + "\"}"
		data := u("[" + strings.Repeat("{\"a\": 1},\r\n", sniffLen) + hit + "]")
		res := ScanBytes("", []byte(data), allMatcher(t), nil)
		if res.Format != FormatJSON || len(res.Records) != 1 || res.NumRecords != sniffLen+1 {
			t.Errorf("format %s, %d records of %d", res.Format, len(res.Records), res.NumRecords)
		}
	})
	t.Run("text stays lines", func(t *testing.T) {
		hit := "Kvitto 1;Kund Anna;Tel " + tPhone + "\r\n"
		data := u("Kvitto 0;Kund Per;Tel 070-123 45 68\r\n" + hit)
		res := ScanBytes("kassa.txt", []byte(data), allMatcher(t), nil)
		if res.Format != FormatText || len(res.Records) != 1 || data[res.Records[0].Offset:] != u(hit)[2:] {
			t.Errorf("%+v", res)
		}
	})
	t.Run("broken json is lines", func(t *testing.T) {
		hit := "\"" + tEmail + "\"\r\n"
		data := u("[1,\r\n" + hit)
		res := ScanBytes("x.json", []byte(data), allMatcher(t), nil)
		if res.Whole || len(res.Records) != 1 || data[res.Records[0].Offset:] != u(hit)[2:] || res.Tried != FormatJSON || res.Fallback == "" {
			t.Errorf("%+v", res)
		}
	})
}

func TestOutlookMsg(t *testing.T) {
	// The head of a compound file, then a UTF-16 property stream: no
	// valid compound file (msg_test.go has those), so the fallback reads it.
	msg := "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + strings.Repeat("\x00", 504) + utf16Bytes("Från: "+tEmail, false) + strings.Repeat("\x00", 300)
	res := ScanBytes("Offert.msg", []byte(msg), allMatcher(t), nil)
	if res.Format != FormatFallback || res.Tried != FormatMsg || res.Fallback == "" || !res.Whole || len(res.Records) != 1 {
		t.Errorf("%+v", res)
	}
	if out, gone := RedactBytes([]byte(msg), res, res.Records); !gone || out != nil {
		t.Error("a hit in a .msg does not remove the file")
	}
}
