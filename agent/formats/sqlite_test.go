package formats

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
)

// makeSQLite builds a database file with the statements and returns its
// bytes.
func makeSQLite(t testing.TB, stmts ...string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// customerDB is a small business's customer database: the subject
// (tEmail, tPhone) in two tables, decoys, a trigger, an index, a WITHOUT
// ROWID table, and a deleted row of another person (tSamord) left in the
// file's free space.
var customerDB = []string{
	"PRAGMA secure_delete = OFF",
	`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone INTEGER, born DATE, note BLOB)`,
	`CREATE INDEX customers_email ON customers (email)`,
	`CREATE TABLE orders (order_no TEXT PRIMARY KEY, customer TEXT, amount REAL) WITHOUT ROWID`,
	`CREATE TABLE audit (what TEXT)`,
	`CREATE TRIGGER customers_gone AFTER DELETE ON customers BEGIN INSERT INTO audit VALUES ('deleted ' || old.email); END`,
	`INSERT INTO customers VALUES (1, 'Bo Ek', 'bo.ek@example.com', 198001011232, '1970-01-01', x'00ff')`,
	`INSERT INTO customers VALUES (2, 'Anna Svensson', '` + tEmail + `', 198001011231, '1980-01-01', NULL)`,
	`INSERT INTO customers VALUES (3, 'Xanna', 'x` + tEmail + `', NULL, NULL, CAST('tel 070-1234568' AS BLOB))`,
	`INSERT INTO orders VALUES ('A-1', 'bo.ek@example.com', 10.5)`,
	`INSERT INTO orders VALUES ('A-2', '` + tEmail + `', 99)`,
	`INSERT INTO orders VALUES ('A-3', 'Xanna', 1)`,
	`INSERT INTO customers VALUES (4, 'Old', 'old@example.org', NULL, NULL, CAST('pnr ` + tSamord + `.' AS BLOB))`,
	`DELETE FROM audit`,
	`DROP TRIGGER customers_gone`,
	`DELETE FROM customers WHERE id = 4`,
	`CREATE TRIGGER customers_gone AFTER DELETE ON customers BEGIN INSERT INTO audit VALUES ('deleted ' || old.email); END`,
}

// sqliteDump is the real sqlite3 shell's .dump of a database.
func sqliteDump(t *testing.T, data []byte) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dump.sqlite")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sqlite3", p, ".dump").Output()
	if err != nil {
		t.Fatalf("sqlite3 .dump: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// withoutLines drops the lines containing any of subs.
func withoutLines(lines []string, subs ...string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		for _, s := range subs {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	})
}

func TestSQLiteRedact(t *testing.T) {
	data := makeSQLite(t, customerDB...)
	if f := Detect("kunder.db", data); f != FormatSQLite {
		t.Fatalf("detected %s", f)
	}
	m := newMatcher(t, "email="+tEmail)
	res := ScanBytes("kunder.db", data, m, nil)
	if res.Format != FormatSQLite || res.Fallback != "" || res.Whole {
		t.Fatalf("result %+v", res)
	}
	// 3 customers, 3 orders, no audit rows.
	if res.NumRecords != 6 || len(res.Records) != 2 {
		t.Fatalf("%d records, %d matching, want 6 and 2", res.NumRecords, len(res.Records))
	}
	out, gone := RedactBytes(data, res, res.Records)
	if gone {
		t.Fatal("database gone")
	}
	if n := bytes.Count(out, []byte(tEmail)); n != bytes.Count(out, []byte("x"+tEmail)) {
		t.Fatalf("the subject's address is still in the file's bytes (%d times)", n-bytes.Count(out, []byte("x"+tEmail)))
	}
	if bytes.Contains(out, []byte(tSamord)) {
		t.Fatal("a deleted row's bytes survived the vacuum")
	}
	// Every other row identical, triggers kept and not fired.
	before := withoutLines(sqliteDump(t, data), "'"+tEmail+"'")
	after := sqliteDump(t, out)
	if !slices.Equal(before, after) {
		t.Fatalf("dump differs:\nbefore %q\nafter  %q", before, after)
	}
	if res := ScanBytes("kunder.db", out, m, nil); len(res.Records) != 0 || res.NumRecords != 4 {
		t.Fatalf("after redaction: %d records, %d matching", res.NumRecords, len(res.Records))
	}
}

// TestSQLiteFreeSpace: an identifier only in the leftovers of a deleted
// row is a record of its own, whose removal vacuums them away.
func TestSQLiteFreeSpace(t *testing.T) {
	data := makeSQLite(t, customerDB...)
	if !bytes.Contains(data, []byte(tSamord)) {
		t.Fatal("fixture: the deleted row is not in the free space")
	}
	res := ScanBytes("kunder.db", data, newMatcher(t, "personnummer="+tSamord), nil)
	if len(res.Records) != 1 || res.Records[0].Index != res.NumRecords-1 || res.Whole {
		t.Fatalf("result %+v", res)
	}
	out, gone := RedactBytes(data, res, res.Records)
	if gone || bytes.Contains(out, []byte(tSamord)) {
		t.Fatalf("gone %v, personnummer left %v", gone, bytes.Contains(out, []byte(tSamord)))
	}
	if before, after := sqliteDump(t, data), sqliteDump(t, out); !slices.Equal(before, after) {
		t.Fatalf("dump differs:\nbefore %q\nafter  %q", before, after)
	}
}

func TestSQLiteKinds(t *testing.T) {
	data := makeSQLite(t, customerDB...)
	cases := []struct {
		name string
		m    Matcher
		opts *Options
		want int
	}{
		{"integer", newMatcher(t, "personnummer=198001011231"), nil, 1},
		{"blob", newMatcher(t, "phone=070-1234568"), nil, 1},
		{"name column", newMatcher(t, "name="+tName), &Options{NameColumns: []string{"NAME"}}, 1},
		{"name elsewhere", newMatcher(t, "name=Xanna"), &Options{NameColumns: []string{"name"}}, 1},
		{"no name columns", newMatcher(t, "name="+tName), nil, 0},
	}
	for _, c := range cases {
		res := ScanBytes("kunder.db", data, c.m, c.opts)
		if res.Fallback != "" || len(res.Records) != c.want {
			t.Errorf("%s: %d records (fallback %q), want %d", c.name, len(res.Records), res.Fallback, c.want)
		}
	}
}

// TestSQLiteSchemaHit: an identifier in the schema is outside every row.
func TestSQLiteSchemaHit(t *testing.T) {
	data := makeSQLite(t, `CREATE TABLE t (a TEXT DEFAULT '`+tEmail+`')`, `INSERT INTO t VALUES ('x')`)
	res := ScanBytes("x.db", data, newMatcher(t, "email="+tEmail), nil)
	if !res.Whole || len(res.Records) != 1 {
		t.Fatalf("result %+v", res)
	}
	if _, gone := RedactBytes(data, res, res.Records); !gone {
		t.Fatal("not gone")
	}
}

func TestSQLiteWAL(t *testing.T) {
	data := makeSQLite(t, "PRAGMA journal_mode = WAL", `CREATE TABLE t (a TEXT)`,
		`INSERT INTO t VALUES ('`+tEmail+`'), ('other@example.com')`, "PRAGMA wal_checkpoint(TRUNCATE)")
	if data[18] != 2 {
		t.Fatal("fixture: not in WAL mode")
	}
	res := ScanBytes("x.db", data, newMatcher(t, "email="+tEmail), nil)
	if res.Fallback != "" || len(res.Records) != 1 {
		t.Fatalf("result %+v", res)
	}
	out, _ := RedactBytes(data, res, res.Records)
	if out[18] != 2 || out[19] != 2 || bytes.Contains(out, []byte(tEmail)) {
		t.Fatalf("WAL bytes %d %d, address left %v", out[18], out[19], bytes.Contains(out, []byte(tEmail)))
	}
	if d := sqliteDump(t, out); !slices.Contains(d, "INSERT INTO t VALUES('other@example.com');") {
		t.Fatalf("dump %q", d)
	}
}

// TestSQLiteCorrupt: a database that does not read is scanned by the
// fallback and reported, never a panic.
func TestSQLiteCorrupt(t *testing.T) {
	data := makeSQLite(t, customerDB...)
	m := newMatcher(t, "email="+tEmail)
	for _, c := range [][]byte{
		data[:100],
		data[:len(data)/2],
		append(bytes.Clone(data[:100]), bytes.Repeat([]byte{0xff}, len(data)-100)...),
		func() []byte { d := bytes.Clone(data); d[16], d[17] = 0, 3; return d }(), // page size 3
	} {
		res := ScanBytes("x.db", c, m, nil)
		if res.Fallback == "" && res.Format == FormatSQLite {
			continue // SQLite read what was left
		}
		if res.Tried != FormatSQLite || !strings.Contains(res.Fallback, "sqlite") {
			t.Errorf("%d bytes: %+v", len(c), res)
		}
		if strings.Contains(res.Fallback, tEmail) {
			t.Error("the reason quotes content")
		}
	}
}

// checkSQLiteRedaction checks a redacted database of the data set: n rows
// fewer, no subject left in its rows or its bytes, every other row as it
// was.
func checkSQLiteRedaction(t *testing.T, f string, src, dst []byte, n int, ds *gen.Dataset) {
	t.Helper()
	m := subjectMatcher(t, ds)
	before := ScanBytes(f, src, nil, nil)
	after := ScanBytes(f, dst, m, nil)
	if after.Format != FormatSQLite || after.Fallback != "" {
		t.Fatalf("%s: redacted database does not read: %+v", f, after)
	}
	if after.NumRecords != before.NumRecords-n || len(after.Records) != 0 {
		t.Errorf("%s: %d rows (%d of a subject) after redaction, want %d", f, after.NumRecords, len(after.Records), before.NumRecords-n)
	}
	if raw, _ := ScanFormat(FormatFallback, dst, m, nil); len(raw.Records) != 0 {
		t.Errorf("%s: a subject's identifier is in the redacted file's bytes", f)
	}
	b, a := sqliteDump(t, src), sqliteDump(t, dst)
	if len(a) != len(b)-n {
		t.Errorf("%s: dump has %d lines, want %d", f, len(a), len(b)-n)
	}
	kept := slices.DeleteFunc(slices.Clone(b), func(l string) bool { return !slices.Contains(a, l) })
	if !slices.Equal(kept, a) {
		t.Errorf("%s: rows changed or reordered by the redaction", f)
	}
}

// TestSQLiteGeneratedColumns: a virtual generated column is computed by
// the schema, not stored: it is not read (a hostile one could take any
// amount of memory), the columns it is computed from are.
func TestSQLiteGeneratedColumns(t *testing.T) {
	data := makeSQLite(t, `CREATE TABLE g (a TEXT, b BLOB GENERATED ALWAYS AS (zeroblob(900000000)) VIRTUAL, c TEXT GENERATED ALWAYS AS (upper(a)) STORED)`,
		`INSERT INTO g (a) VALUES ('`+tEmail+`'), ('x')`)
	res := ScanBytes("x.db", data, newMatcher(t, "email="+tEmail), nil)
	if res.Fallback != "" || res.NumRecords != 2 || len(res.Records) != 1 {
		t.Fatalf("result %+v", res)
	}
	out, gone := RedactBytes(data, res, res.Records)
	if gone || !slices.Contains(sqliteDump(t, out), "INSERT INTO g VALUES('x');") {
		t.Fatalf("gone %v, dump %q", gone, sqliteDump(t, out))
	}
}

// TestSQLiteMutated reads damaged copies of a database (bytes replaced by
// the values that break a page header or a cell pointer): every one is
// read or fails as a parse error, and redacting what was read leaves a
// database that reads. FuzzSQLite does the same, at random.
func TestSQLiteMutated(t *testing.T) {
	seed := makeSQLite(t, customerDB...)
	vals := []uint32{0, 1, 2, 100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff}
	rnd := rand.New(rand.NewPCG(13, 17))
	x := newExtractor(everything{})
	for i := 0; i < 300; i++ {
		d := bytes.Clone(seed)
		for range 1 + rnd.IntN(3) {
			p := rnd.IntN(len(d) - 4)
			binary.BigEndian.PutUint32(d[p:], vals[rnd.IntN(len(vals))])
		}
		res, err := parseFormat(FormatSQLite, "", d, x, nil, 0)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("mutation %d: %v", i, err)
			}
			continue
		}
		if out, gone := RedactBytes(d, res, res.Records); !gone && len(res.Records) > 0 {
			if _, err := parseFormat(FormatSQLite, "", out, newExtractor(nil), nil, 0); err != nil {
				t.Fatalf("mutation %d: the redacted database does not read: %v", i, err)
			}
		}
	}
}

func BenchmarkScanSQLite(b *testing.B) { benchFiles(b, "program/bokning/kunder.db") }
