package gen

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// idents are the identifier spellings one message carries.
type idents struct {
	p     *person
	email string
	phone string
	pnr   string
}

func latin1(s string) string {
	b, err := charmap.ISO8859_1.NewEncoder().String(s)
	if err != nil {
		return ascii(s)
	}
	return b
}

func cp1252(s string) string {
	b, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		return ascii(s)
	}
	return b
}

// qp encodes already-charset-encoded text as quoted-printable. A '\x01'
// marks a place where a soft line break is forced (inside an address).
func qp(s string) string {
	var b strings.Builder
	col := 0
	brk := func() {
		b.WriteString("=\n")
		col = 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\x01':
			brk()
			continue
		case c == '\n':
			b.WriteByte('\n')
			col = 0
			continue
		}
		enc := string(c)
		if c == '=' || c >= 0x7f || c < ' ' && c != '\t' || (c == ' ' && i+1 < len(s) && s[i+1] == '\n') {
			enc = fmt.Sprintf("=%02X", c)
		}
		if col+len(enc) > 75 {
			brk()
		}
		b.WriteString(enc)
		col += len(enc)
	}
	return b.String()
}

// qpLatin1 is a single-line quoted-printable value in ISO-8859-1.
func qpLatin1(s string) string {
	return strings.ReplaceAll(qp(latin1(s)), "=\n", "")
}

func b64(b []byte) string {
	e := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(e) > 76 {
		out.WriteString(e[:76] + "\n")
		e = e[76:]
	}
	out.WriteString(e + "\n")
	return out.String()
}

// encodedWord is an RFC 2047 B-encoded word in UTF-8.
func encodedWord(s string) string {
	return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// splitMid inserts a forced soft-break marker in the middle of s.
func splitMid(s string) string { return s[:len(s)/2] + "\x01" + s[len(s)/2:] }

const numVariants = 12

var subjects = []string{"Offertförfrågan", "Angående faktura", "Bokning av tid", "Fråga om leverans",
	"Re: Offert", "Kvitto", "Välkommen som kund", "Reklamation", "Ändrade uppgifter", "Mötesanteckningar"}

// message builds one message of the given variant carrying id's identifiers
// in a place that only decoding reveals (where the variant has one).
func (g *generator) message(n int, v int, from, to *person, id idents, date time.Time) string {
	var h strings.Builder
	subj := subjects[g.pick(len(subjects))]
	fmt.Fprintf(&h, "Return-Path: <%s>\n", from.Email)
	fmt.Fprintf(&h, "Received: from mx.example.net (mx.example.net [192.0.2.%d])\n\tby mail.foretaget.se (Postfix) with ESMTPS id %X\n\tfor <%s>; %s\n",
		g.pick(255), g.rnd.Uint32(), to.Email, date.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Date: %s\n", date.Format(time.RFC1123Z))
	fromHdr := fmt.Sprintf("%s <%s>", encodedWord(from.name()), from.Email)
	toHdr := fmt.Sprintf("%s <%s>", to.name(), to.Email)
	var body string
	ct := "text/plain; charset=utf-8"
	cte := "8bit"
	greeting := "Hej " + to.First + "!\n\n"
	sign := "\n\nMed vänliga hälsningar\n" + from.name() + "\nFöretaget AB\n"
	switch v % numVariants {
	case 0: // plain text
		body = greeting + "Kunden ringde från " + id.phone + " och bad om offert.\nKontakta gärna via " + id.email + "." + sign
	case 1: // quoted-printable ISO-8859-1, a soft break inside the address
		ct, cte = "text/plain; charset=iso-8859-1", "quoted-printable"
		body = qp(latin1(greeting + "Här är min nya e-postadress som jag vill att ni använder för alla fakturor från och med nu: " + splitMid(id.email) + " tack så mycket." + sign))
	case 2: // base64 UTF-8
		cte = "base64"
		body = b64([]byte(greeting + "Mitt personnummer är " + id.pnr + " och min e-post " + id.email + "." + sign))
	case 3: // alternative: plain without identifiers, HTML with &#64;
		ct = "multipart/alternative; boundary=\"alt-b1\""
		html := strings.ReplaceAll(id.email, "@", "&#64;")
		body = "--alt-b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			qp("Se HTML-versionen.") + "\n--alt-b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			qp("<html><body><p>Hej!</p><p>Svara till <a href=\"#\">"+html+"</a> eller ring <b>"+id.phone[:3]+"</b>"+id.phone[3:]+"</p></body></html>") + "\n--alt-b1--\n"
	case 4: // CSV attachment in base64
		ct = "multipart/mixed; boundary=\"mix-b2\""
		csv := "kundnr,namn,epost,telefon\n" + csvRow(',', "\n", id.p.CustNo, id.p.name(), id.email, id.phone)
		body = "--mix-b2\nContent-Type: text/plain; charset=utf-8\n\nBifogar kundlistan.\n--mix-b2\nContent-Type: text/csv; name=\"kunder.csv\"\n" +
			"Content-Disposition: attachment; filename=\"kunder.csv\"\nContent-Transfer-Encoding: base64\n\n" + b64([]byte(csv)) + "--mix-b2--\n"
	case 5: // vCard attachment
		ct = "multipart/mixed; boundary=\"mix-b3\""
		p := *id.p
		p.Email = id.email
		body = "--mix-b3\nContent-Type: text/plain; charset=utf-8\n\nHär är mitt kontaktkort.\n--mix-b3\nContent-Type: text/vcard; charset=utf-8; name=\"kontakt.vcf\"\n" +
			"Content-Disposition: attachment; filename=\"kontakt.vcf\"\nContent-Transfer-Encoding: base64\n\n" + b64([]byte(g.vcard(&p, 3, 0))) + "--mix-b3--\n"
	case 6: // calendar invitation
		ct = "multipart/mixed; boundary=\"mix-b4\""
		p := *id.p
		p.Email = id.email
		ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nPRODID:-//Foretaget AB//SV\r\n" + g.event(n, &p, false, 0) + "END:VCALENDAR\r\n"
		body = "--mix-b4\nContent-Type: text/plain; charset=utf-8\n\nInbjudan till möte.\n--mix-b4\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n" +
			"Content-Transfer-Encoding: base64\n\n" + b64([]byte(ics)) + "--mix-b4--\n"
	case 7: // identifier only in an encoded-word in the Subject
		subj = encodedWord("Fråga från " + id.email)
		body = greeting + "Se ämnesraden." + sign
	case 8: // windows-1252 quoted-printable
		ct, cte = "text/plain; charset=windows-1252", "quoted-printable"
		body = qp(cp1252(greeting + "Ring mig på " + id.phone + " – gärna efter lunch." + sign))
	case 9: // the sender, with an encoded display name
		fromHdr = fmt.Sprintf("=?ISO-8859-1?Q?%s?= <%s>", strings.ReplaceAll(qpLatin1(id.p.name()), " ", "_"), id.email)
		body = greeting + "Tack för senast!" + sign
	case 10: // a Word document attachment
		ct = "multipart/mixed; boundary=\"mix-b5\""
		doc, err := docx([]string{"Uppgifter", "E-post: " + id.email, "Telefon: " + id.phone})
		if err != nil {
			panic(err) // writing to memory cannot fail
		}
		body = "--mix-b5\nContent-Type: text/plain; charset=utf-8\n\nSe bifogat dokument.\n--mix-b5\n" +
			"Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"uppgifter.docx\"\n" +
			"Content-Disposition: attachment; filename=\"uppgifter.docx\"\nContent-Transfer-Encoding: base64\n\n" + b64(doc) + "--mix-b5--\n"
	case 11: // a forwarded message
		ct = "multipart/mixed; boundary=\"mix-b6\""
		inner := "From: " + id.p.name() + " <" + id.email + ">\nTo: " + to.Email + "\nSubject: Hej\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" +
			qp("Mitt nummer: "+id.phone) + "\n"
		body = "--mix-b6\nContent-Type: text/plain; charset=utf-8\n\nVidarebefordrar.\n--mix-b6\nContent-Type: message/rfc822\n\n" + inner + "--mix-b6--\n"
	}
	fmt.Fprintf(&h, "From: %s\nTo: %s\nSubject: %s\n", fromHdr, toHdr, subj)
	fmt.Fprintf(&h, "Message-ID: <%d.%X@foretaget.se>\nMIME-Version: 1.0\nContent-Type: %s\n", n, g.rnd.Uint64(), ct)
	if !strings.HasPrefix(ct, "multipart/") {
		fmt.Fprintf(&h, "Content-Transfer-Encoding: %s\n", cte)
	}
	return h.String() + "\n" + body
}

// mboxEscape applies mboxrd quoting to body lines that look like From_ lines.
func mboxEscape(msg string) string {
	ls := strings.Split(msg, "\n")
	for i, l := range ls {
		t := strings.TrimLeft(l, ">")
		if strings.HasPrefix(t, "From ") {
			ls[i] = ">" + l
		}
	}
	return strings.Join(ls, "\n")
}

type mailItem struct {
	owner int
	text  string
}

func (g *generator) mail() error {
	staff := g.staff
	date := base
	var items []mailItem
	n := g.cfg.Messages
	// Every subject in every variant; decoys in the variants that decode.
	special := make(map[int][]mailItem)
	for si, s := range g.subjects {
		d := g.decoys[si]
		for v := 0; v < numVariants; v++ {
			id := idents{p: s, email: emailForm(s.Email, v), phone: phoneForm(s.Phone, v+si), pnr: pnrForm(s.Pnr, v)}
			at := g.pick(n + 1)
			special[at] = append(special[at], mailItem{si, g.message(at, v, staff[v%len(staff)], staff[(v+1)%len(staff)], id, date.Add(time.Duration(at)*time.Hour))})
			if v == 9 || v == 11 {
				continue // decoys with a subject's surname in the header are covered elsewhere
			}
			did := idents{p: d, email: decoyEmails(s)[v%4], phone: phoneForm(d.Phone, v), pnr: pnrForm(d.Pnr, v)}
			at = g.pick(n + 1)
			special[at] = append(special[at], mailItem{Decoy, g.message(at, v, staff[v%len(staff)], staff[(v+2)%len(staff)], did, date.Add(time.Duration(at)*time.Hour))})
		}
	}
	for i := 0; i < n; i++ {
		items = append(items, special[i]...)
		p := g.crowd[g.pick(len(g.crowd))]
		id := idents{p: p, email: p.Email, phone: phoneForm(p.Phone, i), pnr: pnrForm(p.Pnr, i)}
		v := 0
		if g.chance(0.5) {
			v = g.pick(numVariants)
		}
		from, to := p, staff[g.pick(len(staff))]
		if g.chance(0.5) {
			from, to = to, p
		}
		msg := g.message(i, v, from, to, id, date.Add(time.Duration(i)*time.Hour))
		if i%40 == 7 && v == 0 {
			msg += "\nFrom the desk of " + from.name() + "\n>From earlier mail\n"
		}
		items = append(items, mailItem{nobody, msg})
	}
	items = append(items, special[n]...)

	mbox := g.newFile("mail/arkiv.mbox", "mbox")
	for i, it := range items {
		date = base.Add(time.Duration(i) * time.Hour)
		if i%5 < 2 {
			env := "MAILER-DAEMON"
			if j := strings.Index(it.text, "Return-Path: <"); j >= 0 {
				env = it.text[j+14 : j+strings.IndexByte(it.text[j:], '>')]
			}
			mbox.rec(it.owner, "From "+env+" "+date.Format("Mon Jan _2 15:04:05 2006")+"\n"+mboxEscape(it.text)+"\n")
			continue
		}
		dir := "cur"
		flags := ":2,S"
		if i%10 == 9 {
			dir, flags = "new", ""
		}
		name := fmt.Sprintf("mail/Maildir/%s/%d.M%dP%d.mail.foretaget.se,S=%d%s", dir, date.Unix(), 100000+i, 2000+i%700, len(it.text), flags)
		f := g.newFile(name, "mail")
		f.write(it.text)
		if it.owner == nobody {
			f.close(nobody)
		} else {
			f.close(it.owner)
		}
	}
	mbox.close(nobody)
	return nil
}
