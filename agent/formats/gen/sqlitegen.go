package gen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// sqliteDB is the customer database of the business's booking program: a
// table of customers (the subjects' rows among them, and decoys), and a
// WITHOUT ROWID table of bookings. Its rows are its records; a row has no
// byte range, so the placements have none.
func (g *generator) sqliteDB() error {
	const path = "program/bokning/kunder.db"
	stmts := []string{
		`CREATE TABLE kund (id INTEGER PRIMARY KEY, kundnr TEXT, namn TEXT, epost TEXT, telefon TEXT, ort TEXT, anteckning TEXT)`,
		`CREATE INDEX kund_epost ON kund (epost)`,
		`CREATE TABLE bokning (nr TEXT PRIMARY KEY, kund TEXT, datum TEXT, tjanst TEXT) WITHOUT ROWID`,
	}
	var args [][]any
	kund := func(p *person, email, phone, note string) {
		stmts = append(stmts, `INSERT INTO kund (kundnr, namn, epost, telefon, ort, anteckning) VALUES (?, ?, ?, ?, ?, ?)`)
		args = append(args, []any{p.CustNo, p.name(), email, phone, p.City, note})
	}
	crowd := g.crowd[:min(len(g.crowd), 120)]
	ins := g.insertions(len(crowd), len(g.subjects))
	place := func(owner int) {
		p := Placement{Path: path, Format: "sqlite", Subject: owner}
		if owner >= 0 {
			g.ds.Records = append(g.ds.Records, p)
		} else {
			g.ds.Decoys = append(g.ds.Decoys, p)
		}
	}
	for i, p := range crowd {
		for _, si := range ins[i] {
			s, d := g.subjects[si], g.decoys[si]
			kund(s, emailForm(s.Email, si), phoneForm(s.Phone, si+3), "Bokar helst fredagar")
			place(si)
			kund(d, decoyEmails(s)[(si+1)%4], phoneForm(d.Phone, si), "Namne, ej samma kund")
			place(Decoy)
		}
		kund(p, p.Email, phoneForm(p.Phone, i), notes[g.pick(len(notes))])
	}
	for i, p := range crowd[:min(len(crowd), 30)] {
		stmts = append(stmts, `INSERT INTO bokning VALUES (?, ?, ?, ?)`)
		args = append(args, []any{fmt.Sprintf("B-%04d", i), p.Email, fmt.Sprintf("2025-%02d-%02d", 1+i%12, 1+i%28), "Konsultation"})
	}
	s := g.subjects[0]
	stmts = append(stmts, `INSERT INTO bokning VALUES (?, ?, ?, ?)`)
	args = append(args, []any{"B-9999", s.Email, "2025-06-01", "Konsultation"})
	place(0)

	db, err := buildSQLite(stmts, args)
	if err != nil {
		return fmt.Errorf("generating %s: %w", path, err)
	}
	f := g.newFile(path, "sqlite")
	f.write(string(db))
	f.close(nobody)
	return nil
}

// buildSQLite runs the statements (the first ones without arguments, the
// last len(args) with them) in an in-memory database and returns its file.
func buildSQLite(stmts []string, args [][]any) ([]byte, error) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	plain := len(stmts) - len(args)
	for i, s := range stmts {
		var a []any
		if i >= plain {
			a = args[i-plain]
		}
		if _, err := conn.ExecContext(ctx, s, a...); err != nil {
			return nil, err
		}
	}
	var out []byte
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(interface{ Serialize() ([]byte, error) })
		if !ok {
			return errors.New("the driver cannot serialize a database")
		}
		out, err = d.Serialize()
		return err
	})
	return out, err
}
