package gen

import (
	"fmt"
	"strings"

	"lethe/tombstones"
)

var firstNames = []string{"Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per",
	"Lena", "Mikael", "Emma", "Karl", "Elin", "Nils", "Ingrid", "Oskar", "Maja", "Gustav", "Linnéa", "Axel",
	"Sofia", "Fredrik", "Åsa", "Björn", "Märta", "Jörgen", "Ebba", "Olle", "Hanna", "Ulf", "Agnes", "Göran"}

var lastNames = []string{"Svensson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
	"Persson", "Andersson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist", "Åberg", "Öberg",
	"Ekström", "Bergström", "Holm", "Sandberg", "Sjöberg", "Wallin", "Engström", "Lundgren"}

// subjectNames are the people a data set's subjects are; every one has
// namesakes (same surname) among the decoys and the crowd.
var subjectNames = [][2]string{{"Anna", "Svensson"}, {"Björn", "Åberg"}, {"Märta", "Lindqvist"},
	{"Johan", "Karlsson"}, {"Elin", "Öberg"}, {"Gustav", "Nilsson"}}

var domains = []string{"example.se", "exempel.se", "mail.example.com", "kund.example.net", "posten.example"}

var streets = []string{"Storgatan", "Kungsgatan", "Drottninggatan", "Vasagatan", "Sveavägen", "Järnvägsgatan",
	"Skolgatan", "Kyrkogatan", "Industrivägen", "Åsgatan"}

var cities = [][2]string{{"Stockholm", "114 32"}, {"Göteborg", "411 05"}, {"Malmö", "211 20"}, {"Uppsala", "753 20"},
	{"Västerås", "722 11"}, {"Örebro", "702 10"}, {"Linköping", "582 24"}, {"Umeå", "903 26"}, {"Luleå", "972 31"}}

type person struct {
	First, Last string
	Email       string
	Phone       string // ten national digits, 07xxxxxxxx
	Pnr         string // twelve digits
	Orgnr       string // ten digits or ""
	CustNo      string
	Street      string
	City, Zip   string
}

func (p *person) name() string { return p.First + " " + p.Last }

func (p *person) subject() Subject {
	s := Subject{Name: p.name(), Email: p.Email, Phone: phoneForm(p.Phone, 0),
		Personnummer: p.Pnr[:8] + "-" + p.Pnr[8:], CustomerNo: p.CustNo}
	if p.Orgnr != "" {
		s.Orgnr = p.Orgnr[:6] + "-" + p.Orgnr[6:]
	}
	return s
}

// ascii folds Swedish letters for email local parts.
func ascii(s string) string {
	r := strings.NewReplacer("å", "a", "ä", "a", "ö", "o", "é", "e", "Å", "A", "Ä", "A", "Ö", "O", "É", "E")
	return r.Replace(s)
}

// claim reserves an identifier; false if someone already has it.
func (g *generator) claim(s string) bool {
	if g.used[s] {
		return false
	}
	g.used[s] = true
	return true
}

func (g *generator) newPnr() string {
	for {
		y := 1940 + g.pick(65)
		m := 1 + g.pick(12)
		d := 1 + g.pick(28)
		base := fmt.Sprintf("%02d%02d%02d%03d", y%100, m, d, g.pick(1000))
		p := fmt.Sprintf("%d", y/100) + base + string(tombstones.LuhnDigit(base))
		if g.claim("pnr" + p) {
			return p
		}
	}
}

func (g *generator) newPhone() string {
	prefixes := []string{"070", "072", "073", "076", "079"}
	for {
		p := prefixes[g.pick(len(prefixes))] + fmt.Sprintf("%07d", g.pick(10000000))
		// Keep neighbours free so decoys one digit off are nobody else's.
		if !g.used["tel"+p] && !g.used["tel"+neighbour(p, 1)] && !g.used["tel"+neighbour(p, -1)] {
			g.used["tel"+p] = true
			return p
		}
	}
}

func neighbour(p string, d int) string {
	last := int(p[len(p)-1]-'0') + d
	last = (last + 10) % 10
	return p[:len(p)-1] + string(byte('0'+last))
}

func (g *generator) newOrgnr() string {
	for {
		base := fmt.Sprintf("55%d%06d", 6+g.pick(4), g.pick(1000000))
		o := base + string(tombstones.LuhnDigit(base))
		if g.claim("org" + o) {
			return o
		}
	}
}

func (g *generator) newCustNo() string {
	for {
		c := fmt.Sprintf("K-%05d", 10000+g.pick(90000))
		if g.claim(c) {
			return c
		}
	}
}

func (g *generator) newPerson(first, last string) *person {
	p := &person{First: first, Last: last}
	for i := 0; ; i++ {
		local := strings.ToLower(ascii(first) + "." + ascii(last))
		if i > 0 {
			local += fmt.Sprint(i)
		}
		e := local + "@" + domains[g.pick(len(domains))]
		if g.claim("mail" + e) {
			p.Email = e
			break
		}
	}
	p.Phone = g.newPhone()
	p.Pnr = g.newPnr()
	p.CustNo = g.newCustNo()
	p.Street = fmt.Sprintf("%s %d", streets[g.pick(len(streets))], 1+g.pick(80))
	c := cities[g.pick(len(cities))]
	p.City, p.Zip = c[0], c[1]
	return p
}

// people creates subjects, their decoys, the crowd and the staff.
func (g *generator) people() {
	g.claim("org5566778899") // the business's own number on every invoice
	subjectFull := make(map[string]bool)
	for i := 0; i < g.cfg.Subjects; i++ {
		n := subjectNames[i]
		p := g.newPerson(n[0], n[1])
		if i == 0 {
			p.Orgnr = g.newOrgnr()
		}
		g.subjects = append(g.subjects, p)
		subjectFull[p.name()] = true
	}
	for _, s := range g.subjects {
		// Same surname, a phone one digit off, addresses containing the
		// subject's, a personnummer with the wrong check digit.
		first := s.First
		for first == s.First {
			first = firstNames[g.pick(len(firstNames))]
		}
		d := g.newPerson(first, s.Last)
		d.Phone = neighbour(s.Phone, 1)
		g.used["tel"+d.Phone] = true
		wrong := s.Pnr[:11] + string(byte('0'+(int(s.Pnr[11]-'0')+3)%10))
		d.Pnr = wrong
		if s.Orgnr != "" {
			d.Orgnr = s.Orgnr[:9] + string(byte('0'+(int(s.Orgnr[9]-'0')+5)%10))
		}
		g.decoys = append(g.decoys, d)
	}
	n := g.cfg.Customers
	for i := 0; i < n; i++ {
		var first, last string
		for {
			first, last = firstNames[g.pick(len(firstNames))], lastNames[g.pick(len(lastNames))]
			if !subjectFull[first+" "+last] {
				break
			}
		}
		p := g.newPerson(first, last)
		if g.chance(0.1) {
			p.Orgnr = g.newOrgnr()
		}
		g.crowd = append(g.crowd, p)
	}
	for _, n := range [][2]string{{"Kerstin", "Holm"}, {"Magnus", "Ek"}, {"Lisa", "Wallin"}} {
		p := g.newPerson(n[0], n[1])
		p.Email = strings.ToLower(ascii(n[0])) + "@foretaget.se"
		g.staff = append(g.staff, p)
	}
}

// decoyEmails are addresses that contain the subject's but are not it.
func decoyEmails(s *person) []string {
	local, domain, _ := strings.Cut(s.Email, "@")
	return []string{"x" + s.Email, s.Email + ".evil.com", local + "@sub." + domain, local + "x@" + domain}
}

// phoneForm spells a ten-digit national number in one of several styles.
func phoneForm(p string, style int) string {
	n := p[1:] // without the trunk 0
	switch style % 8 {
	case 0:
		return p[:3] + "-" + p[3:6] + " " + p[6:8] + " " + p[8:]
	case 1:
		return p[:3] + " " + p[3:6] + " " + p[6:8] + " " + p[8:]
	case 2:
		return "+46 " + n[:2] + " " + n[2:5] + " " + n[5:7] + " " + n[7:]
	case 3:
		return "+46 (0)" + n[:2] + "-" + n[2:]
	case 4:
		return "0046" + n
	case 5:
		return p
	case 6:
		return "+46" + n
	default:
		return p[:3] + "-" + p[3:]
	}
}

// pnrForm spells a twelve-digit personnummer in one of several styles.
func pnrForm(p string, style int) string {
	switch style % 4 {
	case 0:
		return p[:8] + "-" + p[8:]
	case 1:
		return p
	case 2:
		return p[2:8] + "-" + p[8:]
	default:
		return p[2:]
	}
}

// emailForm spells an address in mixed or lower case.
func emailForm(e string, style int) string {
	if style%2 == 0 {
		return e
	}
	local, domain, _ := strings.Cut(e, "@")
	parts := strings.Split(local, ".")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, ".") + "@" + strings.ToUpper(domain[:1]) + domain[1:]
}
