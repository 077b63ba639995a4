package formats

import (
	"errors"
	"testing"

	"lethe/agent/formats/gen"
)

// FuzzSQLite reads arbitrary database files: no panic (parseFormat has no
// recover), and a database whose records are removed still reads, with
// as many rows fewer.
func FuzzSQLite(f *testing.F) {
	f.Add(makeSQLite(f, customerDB...))
	f.Add(makeSQLite(f, `CREATE TABLE t (a TEXT PRIMARY KEY, b BLOB) WITHOUT ROWID`, `INSERT INTO t VALUES ('a@b.se', x'00')`))
	f.Add(makeSQLite(f, "PRAGMA journal_mode = WAL", `CREATE TABLE t (rowid TEXT, oid TEXT, _rowid_ TEXT)`, `INSERT INTO t VALUES ('1', '2', '3')`))
	f.Add([]byte("SQLite format 3\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parseFormat(FormatSQLite, "", data, newExtractor(everything{}), &Options{NameColumns: []string{"namn"}}, 0)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error not marked as a parse error: %v", err)
			}
			return
		}
		if res.Whole || len(res.Records) == 0 {
			return
		}
		rows := 0
		for _, r := range res.Records {
			if _, ok := res.sqlite.keys[r.Index]; ok {
				rows++
			}
		}
		out, gone := RedactBytes(data, res, res.Records)
		if gone {
			return // the database could not be rewritten: it goes whole
		}
		after, err := parseFormat(FormatSQLite, "", out, newExtractor(nil), nil, 0)
		if err != nil {
			t.Fatalf("redacted database does not read: %v", err)
		}
		if after.NumRecords != res.NumRecords-rows-(len(res.Records)-rows) {
			// The record for the leftovers of deleted rows counts too.
			t.Fatalf("%d rows after removing %d of %d", after.NumRecords, rows, res.NumRecords)
		}
	})
}

// FuzzMsg reads arbitrary compound files: no panic, no hang, and the
// result is the whole file.
func FuzzMsg(f *testing.F) {
	f.Add(gen.Msg(testMsg()))
	f.Add(gen.Msg(gen.OutlookMessage{Subject: "a@b.se"}))
	f.Add(gen.CompoundFile([]gen.Stream{{Path: []string{"a", "b", "__substg1.0_10090102"}, Data: []byte("\x10\x00\x00\x00\x20\x00\x00\x00LZFu\x00\x00\x00\x00\x01\x00\x04")}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parseFormat(FormatMsg, "x.msg", data, newExtractor(everything{}), &Options{MaxSize: 1 << 20}, 0)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error not marked as a parse error: %v", err)
			}
			return
		}
		if !res.Whole || res.NumRecords != 1 {
			t.Fatalf("%+v", res)
		}
	})
}

func FuzzDecompressRTF(f *testing.F) {
	f.Add([]byte("\x10\x00\x00\x00\x20\x00\x00\x00LZFu\x00\x00\x00\x00\x01\x00\x04\x00\x00"), int64(100))
	f.Add([]byte("\x10\x00\x00\x00\x20\x00\x00\x00MELA\x00\x00\x00\x00{\\rtf1}"), int64(3))
	f.Fuzz(func(t *testing.T, data []byte, limit int64) {
		limit = max(0, min(limit, 1<<16))
		if out := decompressRTF(data, limit); int64(len(out)) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
	})
}
