package formats

import (
	"bytes"
	"compress/gzip"
	"testing"

	"lethe/agent/formats/gen"
)

// testMsg is an Outlook message without any test identifier.
func testMsg() gen.OutlookMessage {
	return gen.OutlookMessage{
		Subject: "Offert på nytt tak", Body: "Hej!\r\nHär kommer offerten.\r\n",
		SenderName: "Bo Ek", SenderEmail: "bo.ek@example.com",
		Headers:     "From: Bo Ek <bo.ek@example.com>\r\nTo: kontoret@example.com\r\nSubject: Offert\r\n\r\n",
		Recipients:  []gen.Recipient{{Name: "Kontoret", Email: "kontoret@example.com"}},
		Attachments: []gen.Attachment{{Name: "offert.txt", Data: bytes.Repeat([]byte("Pris: 10 000 kr\n"), 400)}},
	}
}

func TestMsg(t *testing.T) {
	m := allMatcher(t)
	clean := gen.Msg(testMsg())
	if f := Detect("Offert.msg", clean); f != FormatMsg {
		t.Fatalf("detected %s", f)
	}
	if res := ScanBytes("Offert.msg", clean, m, nil); res.Format != FormatMsg || res.Fallback != "" || len(res.Records) != 0 {
		t.Fatalf("clean message: %+v", res)
	}
	gzipped := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	cases := map[string]func(*gen.OutlookMessage){
		"subject":      func(g *gen.OutlookMessage) { g.Subject = "Re: " + tCust },
		"body":         func(g *gen.OutlookMessage) { g.Body = "Ring mig på " + tPhone },
		"sender":       func(g *gen.OutlookMessage) { g.SenderEmail = tEmail },
		"recipient":    func(g *gen.OutlookMessage) { g.Recipients = append(g.Recipients, gen.Recipient{Email: tEmail}) },
		"display name": func(g *gen.OutlookMessage) { g.Recipients[0].Name = "Anna (" + tPnr + ")" },
		"encoded header": func(g *gen.OutlookMessage) {
			g.Headers = "Subject: =?utf-8?b?YW5uYS5zdmVuc3NvbkBleGFtcGxlLnNl?=\r\n" + g.Headers
		},
		"attachment name": func(g *gen.OutlookMessage) {
			g.Attachments[0].Name = tEmail + ".pdf"
		},
		// A big attachment lies in sectors that need not follow each
		// other; a compressed one is found by its own format only.
		"attachment data": func(g *gen.OutlookMessage) {
			g.Attachments[0].Data = append(g.Attachments[0].Data, "Kund: "+tOrgnr+"\n"...)
		},
		"gzip attachment": func(g *gen.OutlookMessage) {
			g.Attachments = append(g.Attachments, gen.Attachment{Name: "lista.csv.gz", Data: gzipped("epost\n" + tEmail + "\n")})
		},
	}
	for name, edit := range cases {
		msg := testMsg()
		edit(&msg)
		data := gen.Msg(msg)
		res := ScanBytes("Offert.msg", data, m, nil)
		if res.Format != FormatMsg || res.Fallback != "" || !res.Whole || len(res.Records) != 1 {
			t.Errorf("%s: %+v", name, res)
			continue
		}
		if out, gone := RedactBytes(data, res, res.Records); !gone || out != nil {
			t.Errorf("%s: a hit does not remove the file", name)
		}
	}
}

func TestDecompressRTF(t *testing.T) {
	if len(rtfPrebuf) != 207 {
		t.Fatalf("dictionary prefix of %d bytes", len(rtfPrebuf))
	}
	// A reference to the first 6 bytes of the dictionary ("{\rtf1"),
	// literals, then the end marker (a reference to the write position).
	lit := " " + tEmail + "}"
	tokens := [][]byte{{0x00, 0x04}} // offset 0, length 6
	for i := range len(lit) {
		tokens = append(tokens, []byte{lit[i]})
	}
	w := (207 + 6 + len(lit)) % 4096
	tokens = append(tokens, []byte{byte(w >> 4), byte(w << 4)})
	var in []byte
	for len(tokens) > 0 {
		group := tokens[:min(8, len(tokens))]
		tokens = tokens[len(group):]
		var ctrl byte
		for b, tk := range group {
			if len(tk) == 2 {
				ctrl |= 1 << b
			}
		}
		in = append(in, ctrl)
		for _, tk := range group {
			in = append(in, tk...)
		}
	}
	hdr := make([]byte, 16)
	copy(hdr[8:], "LZFu")
	hdr[4] = byte(6 + len(lit))
	got := string(decompressRTF(append(hdr, in...), 1<<20))
	if got != "{\\rtf1"+lit {
		t.Fatalf("%q", got)
	}
}

func BenchmarkScanMsg(b *testing.B) { benchFiles(b, "mejl/sparat/*.msg") }
