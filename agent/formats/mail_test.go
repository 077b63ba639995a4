package formats

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

const mailHead = "From: Kerstin Holm <kerstin@foretaget.se>\nTo: Magnus <magnus@foretaget.se>\nDate: Mon, 3 Mar 2025 08:00:00 +0100\nMessage-ID: <1@foretaget.se>\nMIME-Version: 1.0\n"

func b64lines(s string) string {
	e := base64.StdEncoding.EncodeToString([]byte(s))
	var b strings.Builder
	for len(e) > 76 {
		b.WriteString(e[:76] + "\n")
		e = e[76:]
	}
	return b.String() + e + "\n"
}

func TestMail(t *testing.T) {
	m := allMatcher(t)
	cases := []struct {
		name string
		msg  string
		want []Kind
	}{
		{"plain", mailHead + "Subject: Hej\nContent-Type: text/plain\n\nRing 070-123 45 67.\n", kindsOf(KindPhone)},
		{"quoted-printable soft break inside the address", mailHead + "Subject: Hej\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"H=E4r =E4r min adress: anna.sven=\nsson@example.se tack\n", kindsOf(KindEmail)},
		{"quoted-printable encoded at sign", mailHead + "Subject: Hej\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			"anna.svensson=40example.se\n", kindsOf(KindEmail)},
		{"base64", mailHead + "Subject: Hej\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
			b64lines("Mitt personnummer är 19800101-1231."), kindsOf(KindPersonnummer)},
		{"html entity", mailHead + "Subject: Hej\nContent-Type: text/html; charset=utf-8\n\n<p>Svara till anna.svensson&#64;example.se</p>\n", kindsOf(KindEmail)},
		{"html split by markup", mailHead + "Subject: Hej\nContent-Type: text/html; charset=utf-8\n\n<p>Ring <b>070</b>-123 45 67</p>\n", kindsOf(KindPhone)},
		{"html attribute", mailHead + "Subject: Hej\nContent-Type: text/html\n\n<a href=\"mailto:anna.svensson@example.se\">mejla</a>\n", kindsOf(KindEmail)},
		{"encoded-word subject, latin-1 Q", mailHead + "Subject: =?ISO-8859-1?Q?Fr=E5ga_fr=E5n_anna=2Esvensson=40example=2Ese?=\nContent-Type: text/plain\n\nSe ämnet.\n", kindsOf(KindEmail)},
		{"encoded-word subject, utf-8 B", mailHead + "Subject: =?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte("Från Anna 070-123 45 67")) + "?=\n\nx\n", kindsOf(KindPhone)},
		{"header address", "From: Anna <Anna.Svensson@example.se>\nTo: kerstin@foretaget.se\nSubject: x\n\nHej\n", kindsOf(KindEmail)},
		{"windows-1252", mailHead + "Subject: x\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\nRing p=E5 070-123 45 67 =96 tack\n", kindsOf(KindPhone)},
		{"csv attachment", mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nBifogar.\n--b\nContent-Type: text/csv; name=\"k.csv\"\nContent-Disposition: attachment; filename=\"k.csv\"\nContent-Transfer-Encoding: base64\n\n" +
			b64lines("namn,epost\nAnna Svensson,anna.svensson@example.se\n") + "--b--\n", kindsOf(KindEmail)},
		{"vcard attachment, name by FN", mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/vcard; name=\"a.vcf\"\nContent-Transfer-Encoding: base64\n\n" +
			b64lines("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Svensson\r\nEND:VCARD\r\n") + "--b--\n", kindsOf(KindName)},
		{"forwarded message", mailHead + "Subject: Fwd\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: message/rfc822\n\nFrom: x@y.se\nSubject: inner\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nnr 070-123 45=\n 67\n--b--\n", kindsOf(KindPhone)},
		{"binary attachment scanned as bytes", mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" +
			b64lines("\x00\x01bin K-12345 \x00") + "--b--\n", kindsOf(Kind("custom:kundnr"))},
		{"unterminated multipart", mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nRing 070-123 45 67\n", kindsOf(KindPhone)},
		{"unknown charset", mailHead + "Subject: x\nContent-Type: text/plain; charset=x-unknown-42\n\nanna.svensson@example.se\n", kindsOf(KindEmail)},
		{"no identifiers", mailHead + "Subject: Anna Svensson\nContent-Type: text/plain\n\nHej Anna Svensson, 070-123 45 68, xanna.svensson@example.se\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if f := Detect("", []byte(c.msg)); f != FormatMail {
				t.Errorf("detected as %s", f)
			}
			res := scanOK(t, FormatMail, c.msg, m, nil)
			if !slices.Equal(res.Kinds(), c.want) {
				t.Errorf("kinds %v, want %v", res.Kinds(), c.want)
			}
			if !res.Whole || res.NumRecords != 1 {
				t.Errorf("a message is one whole record: %+v", res)
			}
			if len(c.want) > 0 {
				if out, gone := redactAll(t, c.msg, res); !gone || out != "" {
					t.Errorf("message not removed")
				}
			}
		})
	}
}

// TestMailAttachmentContainer finds an identifier in a gzip attachment.
func TestMailAttachmentContainer(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("logg\nkund 19800101-1231\n"))
	zw.Close()
	msg := mailHead + "Subject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: application/gzip; name=\"l.gz\"\nContent-Transfer-Encoding: base64\n\n" +
		b64lines(z.String()) + "--b--\n"
	res := scanOK(t, FormatMail, msg, allMatcher(t), nil)
	if !slices.Equal(res.Kinds(), kindsOf(KindPersonnummer)) {
		t.Errorf("kinds %v", res.Kinds())
	}
}

func TestMbox(t *testing.T) {
	m := allMatcher(t)
	msg1 := "From kerstin@foretaget.se Mon Mar  3 08:00:00 2025\n" + mailHead + "Subject: a\n\nHej\n>From the desk\n\n"
	msg2 := "From x@y.se Mon Mar  3 09:00:00 2025\n" + mailHead + "Subject: b\nContent-Transfer-Encoding: base64\n\n" + b64lines("ring 0701234567") + "\n"
	msg3 := "From kerstin@foretaget.se Mon Mar  3 10:00:00 2025\n" + mailHead + "Subject: c\n\nxanna.svensson@example.se\n"
	data := msg1 + msg2 + msg3
	if f := Detect("arkiv", []byte(data)); f != FormatMbox {
		t.Fatalf("detected %s", f)
	}
	res := scanOK(t, FormatMbox, data, m, nil)
	if res.NumRecords != 3 || len(res.Records) != 1 {
		t.Fatalf("records %+v", res)
	}
	r := res.Records[0]
	if r.Index != 1 || r.Offset != int64(len(msg1)) || r.Length != int64(len(msg2)) {
		t.Errorf("record %+v", r)
	}
	out, gone := redactAll(t, data, res)
	if gone || out != msg1+msg3 {
		t.Errorf("redacted:\n%s", out)
	}
}

// TestMailDeepNesting checks that forwarded messages nested far deeper
// than maxDepth are scanned without recursing into each.
func TestMailDeepNesting(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 5000; i++ {
		b.WriteString("Content-Type: message/rfc822\n\n")
	}
	b.WriteString("Subject: x\n\nanna.svensson@example.se\n")
	res := ScanBytes("x.eml", []byte("From: a@b.se\n"+b.String()), allMatcher(t), nil)
	if len(res.Records) != 1 {
		t.Errorf("%+v", res)
	}
}
