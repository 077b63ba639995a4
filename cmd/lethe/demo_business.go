package main

import (
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lethe/agent/formats/gen"
)

// demoNewCustomers are the customers the business gains during the
// demo's week, one a day. They are made up and nobody asks to be erased.
var demoNewCustomers = []struct{ name, email, city string }{
	{"Greta Lund", "greta.lund@kund.example.net", "Umeå"},
	{"Hugo Ek", "hugo.ek@kund.example.net", "Örebro"},
	{"Maja Holm", "maja.holm@kund.example.net", "Västerås"},
	{"Olle Berg", "olle.berg@kund.example.net", "Gävle"},
	{"Saga Björk", "saga.bjork@kund.example.net", "Karlstad"},
	{"Vera Dahl", "vera.dahl@kund.example.net", "Växjö"},
	{"Nils Strand", "nils.strand@kund.example.net", "Kalmar"},
}

// demoSetTimes gives every file and folder of the generated server the
// time t, so that the server looks as it did before the demo's first
// night rather than as when it was generated.
func demoSetTimes(root string, t time.Time) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return os.Chtimes(p, t, t)
	})
}

// demoDayOfWork changes the server as day `day` (from 1) of business
// would, at time at: a new customer in the register and a mail from them.
// On the day the erasure request is written, subject writes in to ask
// for it. It returns what changed, in words that name no one.
func demoDayOfWork(ds *gen.Dataset, day int, at time.Time, subject *gen.Subject) (string, error) {
	c := demoNewCustomers[(day-1)%len(demoNewCustomers)]
	register := filepath.Join(ds.Root, "kunder", "kundregister.csv")
	row := fmt.Sprintf("K-%05d,%s,%s,,,Storgatan %d,,%s,Ny kund\n", day, c.name, c.email, day, c.city)
	if err := demoAppend(register, row, at); err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(c.name, " ")
	mails := []string{demoMail(day, at, c.name, c.email, "Offertförfrågan",
		fmt.Sprintf("Hej!\n\nJag vill gärna ha en offert på ett nytt tak.\n\nMed vänliga hälsningar\n%s\n", first))}
	what := "a new customer in kunder/kundregister.csv and a mail from them in mail/Maildir/new"
	if subject != nil {
		mails = append(mails, demoMail(day+100, at.Add(time.Hour), subject.Name, subject.Email, "Radera mina uppgifter",
			fmt.Sprintf("Hej!\n\nJag vill att ni raderar alla uppgifter om mig, även i era säkerhetskopior.\nMitt kundnummer är %s och mitt telefonnummer %s.\n\nMed vänliga hälsningar\n%s\n",
				subject.CustomerNo, subject.Phone, subject.Name)))
		what += "; and a long-standing customer writes to ask that all their data be erased, also from the backups"
	}
	for i, m := range mails {
		at := at.Add(time.Duration(i) * time.Hour)
		name := fmt.Sprintf("%d.M9%05dP%d.mail.foretaget.se,S=%d", at.Unix(), day*10+i, day, len(m))
		p := filepath.Join(ds.Root, "mail", "Maildir", "new", name)
		if err := demoWrite(p, m, at); err != nil {
			return "", err
		}
	}
	return what, nil
}

// demoMail is a plain mail to the business.
func demoMail(n int, at time.Time, name, email, subject, body string) string {
	date := at.UTC().Format(time.RFC1123Z)
	return strings.ReplaceAll(fmt.Sprintf(`Return-Path: <%[2]s>
Date: %[3]s
From: %[1]s <%[2]s>
To: Kerstin Holm <kerstin@foretaget.se>
Subject: %[4]s
Message-ID: <demo.%[5]d@kund.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

%[6]s`, mimeWord(name), email, date, mimeWord(subject), n, body), "\n", "\r\n")
}

// mimeWord encodes a header text that is not ASCII as a MIME word, as
// mail programs do.
func mimeWord(s string) string { return mime.BEncoding.Encode("utf-8", s) }

func demoAppend(path, s string, at time.Time) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chtimes(path, at, at)
}

func demoWrite(path, s string, at time.Time) error {
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(path, at, at); err != nil {
		return err
	}
	return os.Chtimes(filepath.Dir(path), at, at)
}
