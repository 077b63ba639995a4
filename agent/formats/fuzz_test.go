package formats

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// fuzzParser checks a parser on arbitrary input: no panic (parseFormat has
// no recover), records inside the file, in order and disjoint, redacting
// no records returns the input unchanged, and redacting every record works.
func fuzzParser(f *testing.F, format Format, seeds ...string) {
	fuzzParserNamed(f, format, "", seeds...)
}

// fuzzParserNamed is fuzzParser for a file of the given name.
func fuzzParserNamed(f *testing.F, format Format, name string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range []Matcher{nil, everything{}} {
			res, err := parseFormat(format, name, data, newExtractor(m), &Options{NameColumns: []string{"namn"}, MaxSize: 1 << 20}, 0)
			if err != nil {
				if !errors.Is(err, ErrParse) {
					t.Fatalf("error not marked as a parse error: %v", err)
				}
				continue
			}
			if res.NumRecords < len(res.Records) {
				t.Fatalf("%d records, %d matching", res.NumRecords, len(res.Records))
			}
			end := int64(0)
			sum := int64(0)
			for i, r := range res.Records {
				if r.Offset < end || r.Length < 0 || r.Offset+r.Length > int64(len(data)) {
					t.Fatalf("record %d out of place: %+v (file %d bytes)", i, r, len(data))
				}
				if i > 0 && r.Index <= res.Records[i-1].Index {
					t.Fatalf("record indexes out of order")
				}
				end = r.Offset + r.Length
				sum += r.Length
			}
			out, gone := RedactBytes(data, res, nil)
			if gone || !bytes.Equal(out, data) {
				t.Fatalf("redacting no records changed the input")
			}
			out, gone = RedactBytes(data, res, res.Records)
			if res.Whole || len(res.lists) > 0 || len(res.Records) == 0 {
				continue
			}
			if gone {
				if sum != int64(len(data)) {
					t.Fatalf("file reported gone with bytes left")
				}
				continue
			}
			if int64(len(out)) != int64(len(data))-sum {
				t.Fatalf("redacted %d bytes, want %d", len(out), int64(len(data))-sum)
			}
		}
	})
}

const (
	seedMail  = mailHead + "Subject: =?UTF-8?B?SGVq?=\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>a&#64;b.se 070-123 45 67=\n</p>\n--b\nContent-Type: text/csv; name=\"a.csv\"\nContent-Transfer-Encoding: base64\n\nYSxiCjEsMgo=\n--b--\n"
	seedVCard = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:Svensson;Anna=\r\n\r\nFN:Anna\r\nEMAIL:a@b.se\r\n  x\r\nEND:VCARD\r\n"
	seedICal  = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nATTENDEE;CN=\"a:b\":mailto:a@b.se\r\nBEGIN:VALARM\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	seedMysql = "-- MySQL dump\nINSERT INTO `t` VALUES (1,'a\\'b','c@d.se'),(2,'0701234567',NULL);\nINSERT INTO t (a) VALUES ('x') ON DUPLICATE KEY UPDATE a='y';\n"
	seedPg    = "-- PostgreSQL database dump\nCOPY t (a, b) FROM stdin;\n1\ta\\tb\\\\c\\101\\x41\n\\.\nINSERT INTO t VALUES (1, E'a\\'b'), (2, 'c''d');\n"
)

func FuzzMail(f *testing.F) {
	fuzzParser(f, FormatMail, seedMail, "From: a\n\nb", "Content-Type: multipart/mixed; boundary=x\n\n--x\n\n--x--", "\n\n", "")
}

func FuzzMbox(f *testing.F) {
	fuzzParser(f, FormatMbox, "From a Mon\n"+seedMail+"\nFrom b Tue\nFrom: x\n\n>From y\n", "From ", "x\nFrom a\n")
}

func FuzzCSV(f *testing.F) {
	fuzzParser(f, FormatCSV, "namn;epost\r\nAnna;a@b.se\r\n\"x\"\"y\";\"1\n2\"\r\n", "a,b\n1,\"2", "\ufeffa\tb\n\n1\t2", "")
}

func FuzzJSONL(f *testing.F) {
	fuzzParser(f, FormatJSONL, "{\"a\":\"b\\u0040c.se\"}\n\n{\"p\":\"\\ud83d\\ude00 070\"}\n", "\\u00", "\\")
}

func FuzzJSON(f *testing.F) {
	fuzzParser(f, FormatJSON, "[{\"a\":1}, 2, \"x\\u0040y.se\"]", "{\"a\":[1]}", "[]", "[1,", " [ 1 ] ")
}

func FuzzVCard(f *testing.F) {
	fuzzParser(f, FormatVCard, seedVCard, "BEGIN:VCARD\nEND:VCARD", "END:VCARD", "BEGIN:VCARD\r\nN:;\r\n")
}

func FuzzICal(f *testing.F) {
	fuzzParser(f, FormatICal, seedICal, "BEGIN:VEVENT\nBEGIN:VEVENT\nEND:VEVENT\nEND:VEVENT\n")
}

func FuzzSQL(f *testing.F) {
	fuzzParser(f, FormatSQL, seedMysql, seedPg, "DELIMITER ;;\nCREATE TRIGGER t BEGIN SET a = 1; END;;\nDELIMITER ;\nINSERT IGNORE INTO t VALUE (1);\n", "SELECT $a$ ; $a$; /* x */ UPDATE t SET a = 'b';", "INSERT INTO t VALUES (", "INSERT INTO t VALUES ((1),(2));", "COPY x FROM stdin;\n")
}

func FuzzText(f *testing.F) {
	fuzzParser(f, FormatText, "a\nb@c.se\r\n070-123 45 67", "\xff\xfea\x00\n\x00b\x00", "\xfe\xff\x00a\x00\n\x00", "\xff\xfe\x00")
}

func FuzzGzip(f *testing.F) {
	fuzzParser(f, FormatGzip, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x4a\x4c\x72\x48\xd2\x2b\x4e\x05\x04\x00\x00\xff\xff\x03\x00", "\x1f\x8b")
}

func FuzzZip(f *testing.F) {
	fuzzParser(f, FormatZip, "PK\x03\x04", "PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
}

func FuzzFallback(f *testing.F) {
	fuzzParser(f, FormatFallback, "\x00a\x00@\x00b\x00.\x00s\x00e\x00", "\x00")
}

// FuzzScanBytes runs detection and the whole scan path, fallback included.
func FuzzScanBytes(f *testing.F) {
	for _, s := range []string{seedMail, seedVCard, seedICal, seedMysql, seedPg, "[1]", "a,b\n1,2\n", "\x1f\x8b"} {
		f.Add("x", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		res := ScanBytes(name, data, everything{}, nil)
		if out, gone := RedactBytes(data, res, nil); gone || !bytes.Equal(out, data) {
			t.Fatal("redacting no records changed the input")
		}
		RedactBytes(data, res, res.Records)
		MatchName(name, everything{})
	})
}

// FuzzExtract checks candidate extraction on arbitrary text.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{"a@b.se", "+46 (0)70-123 45 67", "19800101-1231", "@@..@", "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", "\xff@\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		newExtractor(everything{}).scan(data)
		newExtractor(nil).scan(data)
	})
}

// FuzzRedactor runs content through a Redactor as bytes and as a stream,
// whole and over MaxSize: both ways agree, content without hits comes back
// unchanged, and what is kept is the input without the removed records.
func FuzzRedactor(f *testing.F) {
	for _, s := range []string{seedMail, seedVCard, seedICal, seedMysql, seedPg, "[1, \"a@b.se\"]", "a,b\n1,a@b.se\n2,x\n",
		"x\na@b.se\n", "\x1f\x8b", "\xff\xfea\x00@\x00b\x00.\x00s\x00e\x00", ""} {
		f.Add("x", []byte(s), false)
		f.Add("x.txt", []byte(s), true)
	}
	rs := map[bool][]*Redactor{}
	for _, small := range []bool{false, true} {
		opts := &Options{NameColumns: []string{"namn"}}
		if small {
			opts.MaxSize = 16
		}
		rs[small] = []*Redactor{NewRedactor(nil, opts), NewRedactor(everything{}, opts), NewRedactor(atMatcher{}, opts)}
	}
	f.Fuzz(func(t *testing.T, name string, data []byte, small bool) {
		for _, r := range rs[small] {
			out, fb := r.RedactBytes(name, data)
			rc, fr, err := r.Redact(context.Background(), name, func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			})
			if err != nil {
				t.Fatalf("Redact: %v", err)
			}
			var streamed []byte
			if rc != nil {
				if streamed, err = io.ReadAll(rc); err != nil {
					t.Fatalf("reading: %v", err)
				}
				rc.Close()
			}
			if !bytes.Equal(out, streamed) || (out == nil) != (rc == nil) || !findingsEqual(fb, fr) {
				t.Fatalf("bytes and stream differ: %d/%d bytes, %+v / %+v", len(out), len(streamed), fb, fr)
			}
			if fb.Dropped != (out == nil) || fb.Removed > fb.Records || (fb.Removed > 0) != (len(fb.Refs) > 0) {
				t.Fatalf("findings %+v for %d bytes kept", fb, len(out))
			}
			if fb.Removed == 0 && !bytes.Equal(out, data) {
				t.Fatalf("changed without a hit")
			}
			if len(out) > len(data) && !(fb.Format == FormatTar && bytes.HasPrefix(data, []byte{0x1f, 0x8b})) {
				// (A compressed archive is compressed again, which may
				// take more bytes.)
				t.Fatalf("redaction added bytes")
			}
		}
	})
}

// atMatcher matches every email address whose local part is a single
// letter: some records match, others do not.
type atMatcher struct{}

func (atMatcher) Lookup(k Kind, c string) (string, bool) {
	if k == KindEmail && len(c) > 1 && c[1] == '@' {
		return "at:" + c[:1], true
	}
	return "", false
}
func (atMatcher) CustomKinds() []CustomKind { return nil }
