package gen

import (
	"archive/tar"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// unicodeSpaces are the spaces word processors and web pages put between
// the groups of a phone number.
var unicodeSpaces = []string{"\u00a0", "\u202f", "\u2009", "&nbsp;"}

// spaced is a phone number in national form with sp between its groups.
func spaced(p, sp string) string {
	return p[:3] + "-" + p[3:6] + sp + p[6:8] + sp + p[8:]
}

// bracketLog is a log whose lines begin with "[": its lines are records,
// not one JSON document. Phone numbers are written with Unicode spaces; a
// subject's number with a digit group after it is another number.
func (g *generator) bracketLog() error {
	f := g.newFile("logs/syslog-export.log", "text")
	n := max(g.cfg.LogLines/10, 20)
	ins := g.insertions(n, len(g.subjects))
	t := base
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(1+g.pick(60000)) * time.Millisecond)
		ts := "[" + t.Format("2006-01-02 15:04:05") + "]"
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			f.rec(si, fmt.Sprintf("%s crm[%d]: callback requested tel=%s\n", ts, 100+g.pick(900), spaced(s.Phone, unicodeSpaces[si%len(unicodeSpaces)])))
			f.rec(si, fmt.Sprintf("%s crm[%d]: newsletter signup %s\n", ts, 100+g.pick(900), emailForm(s.Email, si)))
			f.rec(Decoy, fmt.Sprintf("%s crm[%d]: callback requested tel=%s\n", ts, 100+g.pick(900), spaced(d.Phone, unicodeSpaces[(si+1)%len(unicodeSpaces)])))
			f.rec(Decoy, fmt.Sprintf("%s pbx[%d]: call from %s %d\n", ts, 100+g.pick(900), phoneForm(s.Phone, 0), 1+g.pick(9)))
		}
		f.write(fmt.Sprintf("%s cron[%d]: (root) CMD (run-parts /etc/cron.hourly)\n", ts, 1000+g.pick(9000)))
	}
	f.close(nobody)
	return nil
}

// accessLog holds percent-encoded addresses in query strings and mailto:
// links.
func (g *generator) accessLog() error {
	f := g.newFile("logs/access.log", "text")
	n := max(g.cfg.LogLines/10, 20)
	ins := g.insertions(n, len(g.subjects))
	t := base
	line := func(owner int, path string) {
		f.rec(owner, fmt.Sprintf("192.0.2.%d - - [%s] \"GET %s HTTP/1.1\" 200 %d \"-\" \"Mozilla/5.0\"\n",
			g.pick(255), t.Format("02/Jan/2006:15:04:05 -0700"), path, 200+g.pick(5000)))
	}
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(1+g.pick(60000)) * time.Millisecond)
		for _, si := range ins[i] {
			s := g.subjects[si]
			line(si, "/nyhetsbrev/avregistrera?epost="+url.QueryEscape(emailForm(s.Email, si)))
			line(si, "/kontakt?till="+url.PathEscape("mailto:"+s.name()+" <"+s.Email+">"))
			line(Decoy, "/nyhetsbrev/avregistrera?epost="+url.QueryEscape(decoyEmails(s)[0]))
		}
		p := g.crowd[g.pick(len(g.crowd))]
		if g.chance(0.2) {
			line(nobody, "/nyhetsbrev/avregistrera?epost="+url.QueryEscape(p.Email))
		} else {
			line(nobody, fmt.Sprintf("/produkter/%d?sida=%d", g.pick(500), 1+g.pick(9)))
		}
	}
	f.close(nobody)
	return nil
}

// bomJSON is a customer register exported as JSON with a UTF-8 byte order
// mark, and again as UTF-16 (PowerShell's Out-File).
func (g *generator) bomJSON() error {
	for _, c := range []struct {
		path string
		enc  func(string) string
		bom  string
	}{{"data/kunder-bom.json", func(s string) string { return s }, "\uFEFF"}, {"data/kunder-utf16.json", utf16le, "\xff\xfe"}} {
		f := g.newFile(c.path, "json")
		f.write(c.bom + c.enc("[\r\n"))
		n := min(g.cfg.Customers/10, len(g.crowd))
		ins := g.insertions(n, len(g.subjects))
		first := true
		elem := func(owner int, p *person, email string) {
			if !first {
				f.write(c.enc(",\r\n"))
			}
			first = false
			f.write(c.enc("  "))
			f.rec(owner, c.enc(fmt.Sprintf("{\r\n    \"Namn\": %q,\r\n    \"Avdelning\": \"Kundtjänst\",\r\n    \"Epost\": %q\r\n  }", p.name(), email)))
		}
		for i := 0; i < n; i++ {
			for _, si := range ins[i] {
				s := g.subjects[si]
				elem(si, s, emailForm(s.Email, si))
				elem(Decoy, g.decoys[si], decoyEmails(s)[3])
			}
			elem(nobody, g.crowd[i], g.crowd[i].Email)
		}
		f.write(c.enc("\r\n]\r\n"))
		f.close(nobody)
	}
	return nil
}

// unicodeText is a register saved by Excel as "Unicode text": UTF-16LE,
// tab-separated, named .txt.
func (g *generator) unicodeText() error {
	f := g.newFile("exporter/kunder-unicode.txt", "csv")
	f.write("\xff\xfe" + utf16le("Kundnr\tNamn\tTelefon\tAvdelning\r\n"))
	n := min(g.cfg.Customers/10, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	row := func(owner int, p *person, phone string) {
		f.rec(owner, utf16le(p.CustNo+"\t"+p.name()+"\t"+phone+"\tEkonomi\r\n"))
	}
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			row(si, s, phoneForm(s.Phone, si+1))
			row(Decoy, d, phoneForm(d.Phone, si+1))
		}
		row(nobody, g.crowd[i], phoneForm(g.crowd[i].Phone, i))
	}
	f.close(nobody)
	return nil
}

// phpMyAdmin is a dump with INSERT IGNORE, multi-line inserts with column
// lists, ON DUPLICATE KEY UPDATE and an UPDATE statement, each a record.
func (g *generator) phpMyAdmin() error {
	f := g.newFile("db/phpmyadmin.sql", "sql")
	f.write(lines("-- phpMyAdmin SQL Dump", "-- version 5.2.1", "", "SET SQL_MODE = \"NO_AUTO_VALUE_ON_ZERO\";",
		"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;", "",
		"CREATE TABLE `kunder` (", "  `id` int(11) NOT NULL,", "  `namn` varchar(100) NOT NULL,", "  `epost` varchar(100) NOT NULL",
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;", ""))
	n := min(g.cfg.SQLRows/4, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	tuple := func(owner, id int, p *person, email string) {
		f.rec(owner, fmt.Sprintf("(%d, '%s', '%s')", id, strings.ReplaceAll(p.name(), "'", "''"), email))
	}
	for _, stmt := range []string{"INSERT INTO `kunder` (`id`, `namn`, `epost`) VALUES\n", "INSERT IGNORE INTO `kunder` (`id`, `namn`, `epost`) VALUES\n"} {
		f.write(stmt)
		first := true
		sep := func() {
			if !first {
				f.write(",\n")
			}
			first = false
		}
		for i := 0; i < n; i++ {
			for _, si := range ins[i] {
				s := g.subjects[si]
				sep()
				tuple(si, 100000+si, s, emailForm(s.Email, si))
				sep()
				tuple(Decoy, 200000+si, g.decoys[si], decoyEmails(s)[1])
			}
			sep()
			tuple(nobody, i+1, g.crowd[i], g.crowd[i].Email)
		}
		f.write("\nON DUPLICATE KEY UPDATE `epost` = VALUES(`epost`);\n\n")
	}
	for si, s := range g.subjects {
		f.rec(si, fmt.Sprintf("UPDATE `kunder` SET `epost` = '%s' WHERE `id` = %d;\n", s.Email, 100000+si))
		f.rec(Decoy, fmt.Sprintf("UPDATE `kunder` SET `epost` = '%s' WHERE `id` = %d;\n", decoyEmails(s)[2], 200000+si))
	}
	f.write(lines("", "COMMIT;"))
	f.close(nobody)
	return nil
}

// rfc2231Mail is a message whose only trace of the subject is the name of
// an attachment, written in RFC 2231 form with continuations.
func (g *generator) rfc2231Mail() error {
	s := g.subjects[0]
	name := strings.NewReplacer(" ", "%20", "@", "%40").Replace("avtal " + s.Email + ".pdf")
	half := len(name) / 2
	for half > 0 && (name[half-1] == '%' || half > 1 && name[half-2] == '%') {
		half--
	}
	f := g.newFile("mail/bilagor/avtal.eml", "mail")
	f.write(lines("From: Kerstin Holm <kerstin@foretaget.se>", "To: arkiv@foretaget.se", "Subject: Avtal",
		"Date: Mon, 3 Mar 2025 08:00:00 +0100", "Message-ID: <avtal-1@foretaget.se>", "MIME-Version: 1.0",
		"Content-Type: multipart/mixed; boundary=\"b\"", "", "--b", "Content-Type: text/plain; charset=utf-8", "", "Se bilaga.",
		"--b", "Content-Type: application/pdf", "Content-Disposition: attachment;",
		" filename*0*=UTF-8''"+name[:half]+";", " filename*1*="+name[half:], "Content-Transfer-Encoding: base64", "",
		"JVBERi0xLjQK", "--b--"))
	f.close(0)
	return nil
}

// tarArchive is a project archive: a member is a record.
func (g *generator) tarArchive() error {
	f := g.newFile("exporter/projekt.tar", "tar")
	tw := tar.NewWriter(&f.buf)
	member := func(owner int, name, body string) error {
		off := f.buf.Len()
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: base, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		f.place(owner, off, f.buf.Len()-off)
		return nil
	}
	if err := member(nobody, "projekt/", ""); err != nil {
		return err
	}
	for si, s := range g.subjects {
		d := g.decoys[si]
		var b strings.Builder
		b.WriteString("Offert\n\n")
		for i := 0; i < 20; i++ {
			b.WriteString(fmt.Sprintf("Rad %d: %d timmar à 950 kr\n", i, 1+g.pick(40)))
		}
		for _, m := range []struct {
			owner      int
			name, body string
		}{
			{nobody, fmt.Sprintf("projekt/%d/offert.txt", si), b.String()},
			{si, fmt.Sprintf("projekt/%d/kontakt.txt", si), "Kontakt: " + s.name() + "\nPersonnummer: " + pnrForm(s.Pnr, si) + "\n"},
			{si, fmt.Sprintf("projekt/%d/%s.pdf", si, s.Email), "%PDF-1.4\n"},
			{Decoy, fmt.Sprintf("projekt/%d/kontakt-2.txt", si), "Kontakt: " + d.name() + "\nPersonnummer: " + pnrForm(d.Pnr, si) + "\n"},
			{Decoy, fmt.Sprintf("projekt/%d/%s.pdf", si, decoyEmails(s)[1]), "%PDF-1.4\n"},
		} {
			if err := member(m.owner, m.name, m.body); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	f.close(nobody)
	return nil
}

// evilFolder is a folder named like a subject's address with more domain
// labels: another address, not the subject's.
func (g *generator) evilFolder() error {
	s := g.subjects[0]
	dir := "inskannat/" + decoyEmails(s)[1]
	f := g.newFile(dir+"/skanning.txt", "text")
	f.write("Skannat 2025-03-03.\n")
	f.close(nobody)
	g.ds.Decoys = append(g.ds.Decoys, Placement{Path: dir, Format: "name", Whole: true, Subject: Decoy})
	return nil
}
