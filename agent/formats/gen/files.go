package gen

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

var notes = []string{"", "", "", "Ring efter kl 10", "Faktura via e-post", "Stamkund sedan 2015",
	"Vill ha offert på nytt tak", "Betalar alltid i tid", "Har fått rabatt 10 %"}

func csvQuote(s string, delim byte) string {
	if strings.ContainsAny(s, "\"\n\r"+string(delim)) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func csvRow(delim byte, eol string, fields ...string) string {
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = csvQuote(f, delim)
	}
	return strings.Join(q, string(delim)) + eol
}

// customerCSV is the comma-separated customer register.
func (g *generator) customerCSV() error {
	f := g.newFile("kunder/kundregister.csv", "csv")
	f.write("kundnr,namn,epost,telefon,personnummer,adress,postnr,ort,anteckning\n")
	row := func(p *person, phone, pnr, email, note string) string {
		return csvRow(',', "\n", p.CustNo, p.name(), email, phone, pnr, p.Street, p.Zip, p.City, note)
	}
	ins := g.insertions(len(g.crowd), len(g.subjects))
	for i, p := range g.crowd {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			f.rec(si, row(s, phoneForm(s.Phone, si+2), pnrForm(s.Pnr, si), emailForm(s.Email, si+1), "Kontakt via \"mejl\",\nhelst förmiddag"))
			// Found only by the name column.
			f.rec(si, csvRow(',', "\n", "", s.name(), "", "", "", "", "", "", "Ny adress kommer"))
			f.rec(Decoy, row(d, phoneForm(d.Phone, si), pnrForm(d.Pnr, si), decoyEmails(s)[si%4], "Namne, ej samma kund"))
		}
		note := notes[g.pick(len(notes))]
		if g.chance(0.05) {
			note = "Flera rader:\nrad två, med komma"
		}
		f.write(row(p, phoneForm(p.Phone, i), pnrForm(p.Pnr, i), p.Email, note))
	}
	f.close(nobody)
	return nil
}

// excelCSV is a semicolon-separated export as Swedish spreadsheets write
// it: a byte order mark and CRLF line ends.
func (g *generator) excelCSV() error {
	f := g.newFile("kunder/export_excel.csv", "csv")
	f.write("\uFEFFKundnr;Namn;E-post;Telefon;Personnummer;Ort;Omsättning\r\n")
	ins := g.insertions(len(g.crowd), len(g.subjects))
	for i, p := range g.crowd {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			f.rec(si, csvRow(';', "\r\n", s.CustNo, s.name(), "", phoneForm(s.Phone, si+5), "", s.City, "12 500,00"))
			f.rec(Decoy, csvRow(';', "\r\n", d.CustNo, d.name(), "x"+s.Email, phoneForm(neighbour(s.Phone, -1), si), "", d.City, "1 000,00"))
		}
		f.write(csvRow(';', "\r\n", p.CustNo, p.name(), p.Email, phoneForm(p.Phone, i+1), pnrForm(p.Pnr, i+2), p.City,
			fmt.Sprintf("%d %03d,%02d", g.pick(900), g.pick(1000), g.pick(100))))
	}
	f.close(nobody)
	return nil
}

// fold folds a content line at 75 octets (RFC 5545/6350), at positions
// that may split an address.
func fold(line string) string {
	var b strings.Builder
	for len(line) > 75 {
		b.WriteString(line[:75])
		b.WriteString("\r\n ")
		line = line[75:]
	}
	b.WriteString(line)
	b.WriteString("\r\n")
	return b.String()
}

func vescape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`)
	return r.Replace(s)
}

func (g *generator) vcard(p *person, version int, style int) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\n")
	switch version {
	case 2:
		b.WriteString("VERSION:2.1\r\n")
		b.WriteString("N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:" + qpLatin1(p.Last) + ";" + qpLatin1(p.First) + ";;;\r\n")
		b.WriteString("FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:" + qpLatin1(p.name()) + "\r\n")
		// A quoted-printable soft break inside the address.
		e := p.Email
		b.WriteString("EMAIL;INTERNET;ENCODING=QUOTED-PRINTABLE:" + e[:len(e)/2] + "=\r\n" + e[len(e)/2:] + "\r\n")
		b.WriteString("TEL;CELL:" + phoneForm(p.Phone, style) + "\r\n")
	case 3:
		b.WriteString("VERSION:3.0\r\n")
		b.WriteString("N:" + vescape(p.Last) + ";" + vescape(p.First) + ";;;\r\n")
		b.WriteString("FN:" + vescape(p.name()) + "\r\n")
		b.WriteString("EMAIL;TYPE=INTERNET,HOME:" + emailForm(p.Email, style) + "\r\n")
		b.WriteString("TEL;TYPE=CELL:" + phoneForm(p.Phone, style) + "\r\n")
		b.WriteString("ADR;TYPE=HOME:;;" + vescape(p.Street) + ";" + vescape(p.City) + ";;" + p.Zip + ";Sverige\r\n")
	default:
		b.WriteString("VERSION:4.0\r\n")
		b.WriteString("FN:" + vescape(p.name()) + "\r\n")
		b.WriteString("N:" + vescape(p.Last) + ";" + vescape(p.First) + ";;;\r\n")
		// Long enough to fold inside the address.
		b.WriteString(fold("EMAIL;TYPE=work;PREF=1;LABEL=\"Arbete, huvudadress för fakturor och avtal\":" + p.Email))
		b.WriteString("TEL;VALUE=uri;TYPE=\"voice,cell\":tel:" + phoneForm(p.Phone, 6) + "\r\n")
		b.WriteString(fold("NOTE:Kund sedan 2019\\, personnummer " + pnrForm(p.Pnr, style) + "\\; kontaktas helst per telefon."))
	}
	b.WriteString("END:VCARD\r\n")
	return b.String()
}

func (g *generator) vcards() error {
	f := g.newFile("kontakter/kontakter.vcf", "vcard")
	n := min(g.cfg.Contacts, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			f.rec(si, g.vcard(g.subjects[si], 2+si%3, si))
			d := *g.decoys[si]
			d.Email = decoyEmails(g.subjects[si])[si%4]
			f.rec(Decoy, g.vcard(&d, 2+(si+1)%3, si))
		}
		f.write(g.vcard(g.crowd[i], 2+i%3, i))
	}
	f.close(nobody)
	// A single card as a contact export: the card is the whole file.
	one := g.newFile("kontakter/export/"+strings.ToLower(ascii(g.subjects[0].Last))+"-kort.vcf", "vcard")
	one.rec(0, g.vcard(g.subjects[0], 3, 1))
	one.close(nobody)
	return nil
}

const vtimezone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Stockholm\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"

var base = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

func (g *generator) event(i int, p *person, todo bool, style int) string {
	start := base.Add(time.Duration(i) * 7 * time.Hour)
	var b strings.Builder
	comp := "VEVENT"
	if todo {
		comp = "VTODO"
	}
	b.WriteString("BEGIN:" + comp + "\r\n")
	fmt.Fprintf(&b, "UID:%d-%s@foretaget.se\r\n", 1000+i, start.Format("20060102"))
	fmt.Fprintf(&b, "DTSTAMP:%s\r\n", start.Format("20060102T150405Z"))
	fmt.Fprintf(&b, "DTSTART;TZID=Europe/Stockholm:%s\r\n", start.Format("20060102T150405"))
	b.WriteString(fold("SUMMARY:" + vescape("Möte med "+p.name()+", offert")))
	b.WriteString(fold("ATTENDEE;CN=\"" + p.name() + "\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + emailForm(p.Email, style)))
	b.WriteString(fold("DESCRIPTION:" + vescape("Ring först, tel "+phoneForm(p.Phone, style)+"\nTa med ritningar; pris enligt offert.")))
	if !todo {
		b.WriteString("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Påminnelse\r\nEND:VALARM\r\n")
	}
	b.WriteString("END:" + comp + "\r\n")
	return b.String()
}

func (g *generator) calendar() error {
	f := g.newFile("kalender/kalender.ics", "icalendar")
	f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Foretaget AB//Kalender 1.0//SV\r\nCALSCALE:GREGORIAN\r\n" + vtimezone)
	n := g.cfg.Events
	ins := g.insertions(n, len(g.subjects))
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			f.rec(si, g.event(i, g.subjects[si], si%2 == 1, si+1))
			d := *g.decoys[si]
			d.Email = decoyEmails(g.subjects[si])[(si+1)%4]
			f.rec(Decoy, g.event(i, &d, false, si))
		}
		f.write(g.event(i, g.crowd[g.pick(len(g.crowd))], i%5 == 4, i))
	}
	f.write("END:VCALENDAR\r\n")
	f.close(nobody)
	return nil
}

// copyEscape writes a value in pg_dump's COPY text format.
func copyEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
	return r.Replace(s)
}

func sqlQuote(s string, mysql bool) string {
	if mysql {
		r := strings.NewReplacer(`\`, `\\`, "'", `\'`, "\n", `\n`, "\r", `\r`, "\"", `\"`)
		return "'" + r.Replace(s) + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func (g *generator) pgDump() error {
	f := g.newFile("db/pg_dump.sql", "sql")
	f.write(lines("--", "-- PostgreSQL database dump", "--", "", "-- Dumped from database version 16.4",
		"", "SET statement_timeout = 0;", "SET client_encoding = 'UTF8';", "SET standard_conforming_strings = on;", "",
		"CREATE TABLE public.kunder (", "    id integer NOT NULL,", "    kundnr text,", "    namn text,", "    epost text,",
		"    telefon text,", "    personnummer text,", "    anteckning text", ");", "",
		"ALTER TABLE public.kunder OWNER TO foretaget;", "",
		"COPY public.kunder (id, kundnr, namn, epost, telefon, personnummer, anteckning) FROM stdin;"))
	n := min(g.cfg.SQLRows, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	id := 1
	row := func(p *person, email, phone, pnr, note string) string {
		id++
		return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\n", id, p.CustNo, copyEscape(p.name()), email, phone, pnr, note)
	}
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			// The phone follows an escaped tab: raw bytes read "\t070...".
			f.rec(si, row(s, `\N`, `\N`, `\N`, copyEscape("Ny kontakt:\t"+strings.ReplaceAll(phoneForm(s.Phone, 5), " ", "")+"\nmejl "+s.Email)))
			f.rec(Decoy, row(d, decoyEmails(s)[2], phoneForm(d.Phone, 1), pnrForm(d.Pnr, 0), `\N`))
		}
		p := g.crowd[i]
		note := `\N`
		if g.chance(0.2) {
			note = copyEscape(notes[g.pick(len(notes))] + "\nrad 2")
		}
		f.write(row(p, p.Email, phoneForm(p.Phone, i), pnrForm(p.Pnr, i), note))
	}
	f.write("\\.\n\n\n")
	// pg_dump --inserts: one statement per row.
	f.write(lines("CREATE TABLE public.ordrar (", "    id integer,", "    kundnr text,", "    kontakt text,", "    belopp numeric", ");", ""))
	m := n / 4
	ins = g.insertions(m, len(g.subjects))
	stmt := func(owner int, p *person, contact string) {
		id++
		f.write("INSERT INTO public.ordrar VALUES (")
		f.write(fmt.Sprint(id) + ", ")
		start := f.buf.Len() - len(fmt.Sprint(id)) - 3
		f.write(sqlQuote(p.CustNo, false) + ", " + sqlQuote(contact, false) + ", " + fmt.Sprintf("%d.%02d", g.pick(90000), g.pick(100)) + ")")
		f.place(owner, start, f.buf.Len()-start)
		f.write(";\n")
	}
	for i := 0; i < m; i++ {
		for _, si := range ins[i] {
			s := g.subjects[si]
			stmt(si, s, "O'Connor-kontakt "+pnrForm(s.Pnr, si+1))
			stmt(Decoy, g.decoys[si], "Ordernr 9"+s.Phone) // the number inside a longer digit run
		}
		p := g.crowd[g.pick(len(g.crowd))]
		stmt(nobody, p, p.name()+" <"+p.Email+">")
	}
	f.write(lines("", "--", "-- PostgreSQL database dump complete", "--"))
	f.close(nobody)
	return nil
}

func (g *generator) mysqlDump() error {
	f := g.newFile("db/mysqldump.sql", "sql")
	f.write(lines("-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)", "--", "-- Host: localhost    Database: butik",
		"-- ------------------------------------------------------", "-- Server version\t8.0.36", "",
		"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;", "/*!40101 SET NAMES utf8mb4 */;", "",
		"DROP TABLE IF EXISTS `kunder`;", "CREATE TABLE `kunder` (", "  `id` int NOT NULL AUTO_INCREMENT,",
		"  `kundnr` varchar(16) DEFAULT NULL,", "  `namn` varchar(255) DEFAULT NULL,", "  `epost` varchar(255) DEFAULT NULL,",
		"  `telefon` varchar(32) DEFAULT NULL,", "  `anteckning` text,", "  PRIMARY KEY (`id`)",
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;", "", "LOCK TABLES `kunder` WRITE;",
		"/*!40000 ALTER TABLE `kunder` DISABLE KEYS */;"))
	n := min(g.cfg.SQLRows, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	id := 0
	inStmt := 0
	tuple := func(owner int, p *person, email, phone, note string) {
		id++
		if inStmt == 0 {
			f.write("INSERT INTO `kunder` VALUES ")
		} else {
			f.write(",")
		}
		f.rec(owner, fmt.Sprintf("(%d,%s,%s,%s,%s,%s)", id, sqlQuote(p.CustNo, true), sqlQuote(p.name(), true),
			sqlQuote(email, true), sqlQuote(phone, true), note))
		inStmt++
		if inStmt == 40 {
			f.write(";\n")
			inStmt = 0
		}
	}
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			// An escaped newline directly before the number: raw bytes read "\n070...".
			tuple(si, s, "", "", sqlQuote("Kund säger \"hej\"\n"+phoneForm(s.Phone, 7)+"\nO'Brien", true))
			tuple(Decoy, d, decoyEmails(s)[3], phoneForm(d.Phone, 2), "NULL")
		}
		p := g.crowd[i]
		note := "NULL"
		if g.chance(0.2) {
			note = sqlQuote(notes[g.pick(len(notes))]+"\n'citat'", true)
		}
		tuple(nobody, p, p.Email, phoneForm(p.Phone, i), note)
	}
	if inStmt > 0 {
		f.write(";\n")
		inStmt = 0
	}
	f.write(lines("/*!40000 ALTER TABLE `kunder` ENABLE KEYS */;", "UNLOCK TABLES;", "",
		"DROP TABLE IF EXISTS `nyhetsbrev`;", "CREATE TABLE `nyhetsbrev` (`epost` varchar(255));"))
	// A statement holding only subjects' rows: it goes as a whole.
	f.write("INSERT INTO `nyhetsbrev` VALUES ")
	for si, s := range g.subjects {
		if si > 0 {
			f.write(",")
		}
		f.rec(si, "("+sqlQuote(emailForm(s.Email, 1), true)+")")
	}
	f.write(";\n")
	f.write(lines("INSERT INTO `nyhetsbrev` VALUES ('"+g.crowd[0].Email+"'),('"+g.crowd[1].Email+"');", "",
		"-- Dump completed on 2025-11-20  2:00:01"))
	f.close(nobody)
	return nil
}

func (g *generator) logs() error {
	f := g.newFile("logs/app.log", "text")
	m := g.newFile("logs/mail.log", "text")
	n := g.cfg.LogLines
	ins := g.insertions(n, len(g.subjects))
	t := base
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(1+g.pick(20000)) * time.Millisecond)
		ts := t.Format("2006-01-02T15:04:05.000Z")
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			f.rec(si, fmt.Sprintf("%s INFO  order.created customer=%s email=%s total=1299.00\n", ts, s.CustNo, emailForm(s.Email, si)))
			f.rec(si, fmt.Sprintf("%s WARN  sms.failed to=%s reason=\"timeout\"\n", ts, phoneForm(s.Phone, si+3)))
			f.rec(Decoy, fmt.Sprintf("%s INFO  login user=%s ip=10.0.%d.%d\n", ts, decoyEmails(s)[1], g.pick(255), g.pick(255)))
			f.rec(Decoy, fmt.Sprintf("%s WARN  sms.failed to=%s reason=\"timeout\"\n", ts, phoneForm(d.Phone, si)))
			m.rec(si, fmt.Sprintf("%s mail postfix/smtp[%d]: %X: to=<%s>, relay=mx.example.net[192.0.2.%d]:25, delay=0.4, status=sent (250 OK)\n",
				t.Format("Jan  2 15:04:05"), 1000+g.pick(9000), g.rnd.Uint32(), s.Email, g.pick(255)))
			m.rec(Decoy, fmt.Sprintf("%s mail postfix/smtp[%d]: %X: to=<%s>, relay=mx.example.net[192.0.2.%d]:25, delay=0.4, status=sent (250 OK)\n",
				t.Format("Jan  2 15:04:05"), 1000+g.pick(9000), g.rnd.Uint32(), decoyEmails(s)[0], g.pick(255)))
		}
		p := g.crowd[g.pick(len(g.crowd))]
		switch g.pick(6) {
		case 0:
			f.write(fmt.Sprintf("%s INFO  order.created customer=%s email=%s total=%d.00\n", ts, p.CustNo, p.Email, g.pick(10000)))
		case 1:
			f.write(fmt.Sprintf("%s DEBUG http GET /api/v1/products/%d 200 %dms\n", ts, g.pick(5000), g.pick(900)))
		case 2:
			f.write(fmt.Sprintf("%s INFO  payment.received invoice=%d amount=%d.%02d ref=%d\n", ts, 10000+g.pick(90000), g.pick(90000), g.pick(100), g.rnd.Int64N(1e12)))
		case 3:
			f.write(fmt.Sprintf("%s WARN  sms.failed to=%s reason=\"timeout\"\n", ts, phoneForm(p.Phone, i)))
		default:
			f.write(fmt.Sprintf("%s INFO  worker heartbeat queue=%d lag=%dms\n", ts, g.pick(8), g.pick(3000)))
		}
		if i%4 == 0 {
			m.write(fmt.Sprintf("%s mail postfix/smtpd[%d]: connect from unknown[198.51.100.%d]\n", t.Format("Jan  2 15:04:05"), 1000+g.pick(9000), g.pick(255)))
		}
	}
	f.close(nobody)
	m.close(nobody)
	return nil
}

func utf16le(s string) string {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		_ = binary.Write(&b, binary.LittleEndian, u)
	}
	return b.String()
}

// utf16Log is a log exported by a Windows tool: UTF-16LE with a BOM.
func (g *generator) utf16Log() error {
	f := g.newFile("logs/kassa-export.txt", "text")
	f.write("\xff\xfe")
	n := max(g.cfg.LogLines/20, 10)
	ins := g.insertions(n, len(g.subjects))
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			s := g.subjects[si]
			f.rec(si, utf16le(fmt.Sprintf("Kvitto %d;Kund %s;Tel %s;Belopp 349,00\r\n", 5000+i, s.name(), phoneForm(s.Phone, si))))
			f.rec(Decoy, utf16le(fmt.Sprintf("Kvitto %d;Kund %s;Tel %s;Belopp 99,00\r\n", 5000+i, g.decoys[si].name(), phoneForm(g.decoys[si].Phone, si))))
		}
		p := g.crowd[g.pick(len(g.crowd))]
		f.write(utf16le(fmt.Sprintf("Kvitto %d;Kund %s;Tel %s;Belopp %d,00\r\n", 5000+i, p.name(), phoneForm(p.Phone, i), g.pick(5000))))
	}
	f.close(nobody)
	return nil
}

// jsonEscapeAll writes every '@', '.' and '+' of s as a \u escape.
func jsonEscapeAll(s string) string {
	r := strings.NewReplacer("@", `\u0040`, ".", `\u002e`, "+", `\u002b`)
	return r.Replace(s)
}

func (g *generator) jsonl() error {
	f := g.newFile("data/events.jsonl", "jsonl")
	n := max(g.cfg.LogLines/4, 20)
	ins := g.insertions(n, len(g.subjects))
	t := base
	for i := 0; i < n; i++ {
		t = t.Add(time.Duration(g.pick(60000)) * time.Millisecond)
		for _, si := range ins[i] {
			s := g.subjects[si]
			f.rec(si, fmt.Sprintf(`{"ts":"%s","event":"newsletter.signup","email":"%s","source":"web"}`+"\n", t.Format(time.RFC3339), jsonEscapeAll(s.Email)))
			f.rec(si, fmt.Sprintf(`{"ts":"%s","event":"callback.requested","phone":"%s","note":"Ring\n\"snart\""}`+"\n", t.Format(time.RFC3339), jsonEscapeAll(phoneForm(s.Phone, 2))))
			f.rec(Decoy, fmt.Sprintf(`{"ts":"%s","event":"newsletter.signup","email":"%s","source":"web"}`+"\n", t.Format(time.RFC3339), jsonEscapeAll(decoyEmails(s)[2])))
		}
		p := g.crowd[g.pick(len(g.crowd))]
		f.write(fmt.Sprintf(`{"ts":"%s","event":"page.view","user":"%s","path":"/produkter/%d"}`+"\n", t.Format(time.RFC3339), p.Email, g.pick(500)))
	}
	f.close(nobody)
	return nil
}

func (g *generator) jsonDoc() error {
	f := g.newFile("data/kunder.json", "json")
	f.write("[\n")
	n := min(g.cfg.Customers/2, len(g.crowd))
	ins := g.insertions(n, len(g.subjects))
	first := true
	elem := func(owner int, p *person, email, phone string) {
		if !first {
			f.write(",\n")
		}
		first = false
		f.write("  ")
		f.rec(owner, fmt.Sprintf("{\n    \"kundnr\": %q,\n    \"namn\": %q,\n    \"epost\": \"%s\",\n    \"telefon\": \"%s\"\n  }", p.CustNo, p.name(), email, phone))
	}
	for i := 0; i < n; i++ {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			elem(si, s, jsonEscapeAll(emailForm(s.Email, 1)), jsonEscapeAll(phoneForm(s.Phone, 6)))
			elem(Decoy, d, decoyEmails(s)[1], phoneForm(d.Phone, 6))
		}
		p := g.crowd[i]
		elem(nobody, p, p.Email, phoneForm(p.Phone, i))
	}
	f.write("\n]\n")
	f.close(nobody)
	return nil
}

func zipFile(members [][2]string) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range members {
		h := &zip.FileHeader{Name: m[0], Method: zip.Deflate, Modified: base}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(m[1])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

const contentTypesDocx = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`

// docx returns a Word document whose paragraphs are split into runs, the
// way Word splits text where formatting or spell checking changed.
func docx(paras []string) ([]byte, error) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		b.WriteString("<w:p>")
		for _, run := range strings.Split(p, "|") {
			b.WriteString(`<w:r><w:rPr><w:lang w:val="sv-SE"/></w:rPr><w:t xml:space="preserve">` + xmlEscape(run) + "</w:t></w:r>")
		}
		b.WriteString("</w:p>")
	}
	b.WriteString("</w:body></w:document>")
	return zipFile([][2]string{{"[Content_Types].xml", contentTypesDocx}, {"word/document.xml", b.String()}})
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

func xlsx(cells [][]string) ([]byte, error) {
	var ss, sheet strings.Builder
	ss.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	sheet.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	k := 0
	for r, row := range cells {
		fmt.Fprintf(&sheet, `<row r="%d">`, r+1)
		for c, v := range row {
			ss.WriteString("<si><t>" + xmlEscape(v) + "</t></si>")
			fmt.Fprintf(&sheet, `<c r="%c%d" t="s"><v>%d</v></c>`, 'A'+c, r+1, k)
			k++
		}
		sheet.WriteString("</row>")
	}
	ss.WriteString("</sst>")
	sheet.WriteString("</sheetData></worksheet>")
	return zipFile([][2]string{{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{"xl/sharedStrings.xml", ss.String()}, {"xl/worksheets/sheet1.xml", sheet.String()}})
}

func (g *generator) office() error {
	for si, s := range g.subjects {
		e := s.Email
		at := strings.IndexByte(e, '@')
		doc, err := docx([]string{"Offert|", "Till: " + s.name(), "E-post: " + e[:at+1] + "|" + e[at+1:], "Tel: 0" + s.Phone[1:3] + "|-" + s.Phone[3:],
			"Vi tackar för förfrågan och återkommer."})
		if err != nil {
			return fmt.Errorf("generating docx: %w", err)
		}
		f := g.newFile(fmt.Sprintf("dokument/offert-%d.docx", 2025100+si), "zip")
		f.write(string(doc))
		f.close(si)
	}
	d := g.decoys[0]
	doc, err := docx([]string{"Offert", "Till: " + d.name(), "E-post: " + decoyEmails(g.subjects[0])[0], "Tel: " + phoneForm(d.Phone, 0)})
	if err != nil {
		return fmt.Errorf("generating docx: %w", err)
	}
	f := g.newFile("dokument/offert-2025200.docx", "zip")
	f.write(string(doc))
	f.close(Decoy)

	var rows [][]string
	rows = append(rows, []string{"Kundnr", "Namn", "E-post", "Telefon"})
	for _, p := range g.crowd[:min(50, len(g.crowd))] {
		rows = append(rows, []string{p.CustNo, p.name(), p.Email, phoneForm(p.Phone, 0)})
	}
	for si, s := range g.subjects {
		rows = append(rows, []string{g.decoys[si].CustNo, g.decoys[si].name(), decoyEmails(s)[3], phoneForm(g.decoys[si].Phone, 1)})
	}
	x, err := xlsx(rows)
	if err != nil {
		return fmt.Errorf("generating xlsx: %w", err)
	}
	f = g.newFile("dokument/kundlista.xlsx", "zip")
	f.write(string(x))
	f.close(Decoy)
	return nil
}

func gz(b []byte) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	zw.ModTime = base
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (g *generator) gzipExport() error {
	var b strings.Builder
	b.WriteString("kundnr,namn,epost\n")
	for _, p := range g.crowd[:min(100, len(g.crowd))] {
		b.WriteString(csvRow(',', "\n", p.CustNo, p.name(), p.Email))
	}
	clean, err := gz([]byte(b.String()))
	if err != nil {
		return err
	}
	f := g.newFile("exporter/kunder-2023.csv.gz", "gzip")
	f.write(string(clean))
	f.close(nobody)
	s := g.subjects[len(g.subjects)-1]
	b.WriteString(csvRow(',', "\n", s.CustNo, s.name(), emailForm(s.Email, 1)))
	dirty, err := gz([]byte(b.String()))
	if err != nil {
		return err
	}
	f = g.newFile("exporter/kunder-2024.csv.gz", "gzip")
	f.write(string(dirty))
	f.close(len(g.subjects) - 1)
	return nil
}

// invoices are text files; the lines with a subject's identifiers are
// records (names alone are never matched in free text).
func (g *generator) invoices() error {
	n := max(g.cfg.Customers/20, len(g.subjects)+2)
	who := g.spread(n, len(g.subjects))
	for i := 0; i < n; i++ {
		f := g.newFile(fmt.Sprintf("fakturor/2025/faktura-%d.txt", 10000+i), "text")
		owner := nobody
		p := g.crowd[g.pick(len(g.crowd))]
		for si, w := range who {
			if w == i {
				owner, p = si, g.subjects[si]
				break
			}
		}
		f.write(lines("FAKTURA "+fmt.Sprint(10000+i), "Företaget AB, org.nr 556677-8899 (fiktivt)", "Fakturadatum: 2025-03-01", ""))
		f.write("Kund: " + p.name() + "\n")
		f.write(p.Street + "\n" + p.Zip + " " + p.City + "\n")
		f.rec(owner, "E-post: "+emailForm(p.Email, i)+"\n")
		if p.Orgnr != "" {
			f.rec(owner, "Kundens org.nr: "+p.Orgnr[:6]+"-"+p.Orgnr[6:]+"\n")
		}
		f.write(lines("", "Artikel                 Antal   Pris", fmt.Sprintf("Konsulttimme           %5d   %d,00", 1+g.pick(40), 950),
			"", fmt.Sprintf("Att betala: %d,00 kr", 950*(1+g.pick(40))), "Bankgiro 123-4567, OCR "+fmt.Sprint(1000000000+g.pick(900000000))))
		f.close(nobody)
	}
	return nil
}

// named are files and folders that belong to a subject by name alone.
func (g *generator) named() error {
	s := g.subjects[0]
	pdf := "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + strings.Repeat("\x00\x17\x88stream", 40) + "\n%%EOF\n"
	f := g.newFile("inskannat/"+s.Email+".pdf", "name")
	f.write(pdf)
	f.close(0)
	f = g.newFile("inskannat/"+s.Pnr[:8]+"-"+s.Pnr[8:]+"_id-kort.pdf", "name")
	f.write(pdf)
	f.close(0)
	f = g.newFile("inskannat/"+g.decoys[0].Pnr[:8]+"-"+g.decoys[0].Pnr[8:]+"_id-kort.pdf", "fallback")
	f.write(pdf)
	f.close(Decoy)
	// Binary with a UTF-16 string inside: the fallback finds it.
	bin := "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 24) + utf16le("Kontakt: "+phoneForm(g.subjects[1%len(g.subjects)].Phone, 1)) + "\x00\x00" + strings.Repeat("\x00\x01", 16)
	f = g.newFile("bilagor/kassaregister.dat", "fallback")
	f.write(bin)
	f.close(1 % len(g.subjects))
	// Customer folders: the path rule gives the whole folder to the customer.
	for i, p := range []*person{g.subjects[len(g.subjects)-1], g.crowd[0], g.decoys[0]} {
		for _, name := range []string{"avtal.txt", "ritning.txt"} {
			f = g.newFile("kunder/"+p.CustNo+"/"+name, "text")
			f.write("Avtal mellan Företaget AB och kunden.\nGäller från 2025-01-01.\n")
			f.close(nobody)
		}
		switch i {
		case 0:
			g.ds.Records = append(g.ds.Records, Placement{Path: "kunder/" + p.CustNo, Format: "path", Whole: true, Subject: len(g.subjects) - 1})
		case 2:
			g.ds.Decoys = append(g.ds.Decoys, Placement{Path: "kunder/" + p.CustNo, Format: "path", Whole: true, Subject: Decoy})
		}
	}
	return nil
}
