package formats

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// sqliteRows says which row each matching record of a SQLite database is:
// redaction deletes them through SQLite and writes a new database, so
// there row-identity holds, not byte-identity.
type sqliteRows struct {
	keys map[int]rowKey // by Record.Index
}

// rowKey names one row: its table and the values of its rowid or, in a
// WITHOUT ROWID table, of its primary key columns.
type rowKey struct {
	table string
	cols  []string
	vals  []any
}

// scanSQLite scans a SQLite database: every row of every ordinary table is
// a record, its text and blob values (and integers, which may be phone or
// personal numbers) are scanned, and values in Options.NameColumns are
// matched as names. The schema, internal tables (sqlite_sequence, the
// shadow tables of virtual tables) and the bytes outside live rows (free
// pages, deleted cells) are no record: a hit in the schema or an internal
// table makes the whole file the record; one in the leftover bytes of
// deleted rows is a record of its own, whose removal rewrites the file
// without them.
func scanSQLite(data []byte, x *extractor, opts *Options, depth int) (*Result, error) {
	ctx := context.Background()
	from := len(x.refs)
	db, conn, err := openSQLite(ctx, data)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer conn.Close()

	// A damaged database can read row by row and still not be one
	// SQLite can rewrite: only a sound one is split into rows.
	if err := sqliteCheck(ctx, conn); err != nil {
		return nil, err
	}
	res := &Result{Format: FormatSQLite}
	rows := &sqliteRows{keys: make(map[int]rowKey)}
	var gap kindSet
	schema, err := queryStrings(ctx, conn, "SELECT sql FROM main.sqlite_schema WHERE sql IS NOT NULL")
	if err != nil {
		return nil, sqliteErr("reading the schema", err)
	}
	for _, s := range schema {
		gap |= x.scan([]byte(s))
	}
	tables, err := sqliteTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	var nameCols []string
	if opts != nil && x.want&bitName != 0 {
		nameCols = opts.NameColumns
	}
	var buf []byte
	for ti, t := range tables {
		q, key, names, err := t.query(ctx, conn)
		if err != nil {
			return nil, err
		}
		isName := make([]bool, len(names))
		for i, n := range names {
			for _, c := range nameCols {
				isName[i] = isName[i] || strings.EqualFold(n, c)
			}
		}
		r, err := conn.QueryContext(ctx, q)
		if err != nil {
			return nil, sqliteErr(fmt.Sprintf("reading table %d", ti), err)
		}
		vals := make([]any, len(key)+len(names))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for r.Next() {
			if err := r.Scan(ptrs...); err != nil {
				r.Close()
				return nil, sqliteErr(fmt.Sprintf("reading table %d", ti), err)
			}
			mark := len(x.refs)
			x.startRefs(mark)
			var k kindSet
			for i, v := range vals[len(key):] {
				buf = appendValue(buf[:0], v)
				if len(buf) == 0 {
					continue
				}
				if b, ok := v.([]byte); ok {
					k |= x.scanContent("", b, opts, depth)
				} else {
					k |= x.scan(buf)
				}
				if isName[i] {
					k |= x.name(buf)
				}
			}
			if !t.record {
				gap |= k
				continue
			}
			if k != 0 {
				res.addRecord(x, Record{Index: res.NumRecords}, k, mark)
				rows.keys[res.NumRecords] = rowKey{table: t.name, cols: key, vals: cloneValues(vals[:len(key)])}
			} else {
				x.dropRefs(mark)
			}
			res.NumRecords++
		}
		if err := r.Err(); err != nil {
			r.Close()
			return nil, sqliteErr(fmt.Sprintf("reading table %d", ti), err)
		}
		r.Close()
	}
	if gap != 0 {
		return wholeResult(FormatSQLite, data, x, gap|res.recordKinds(x), from), nil
	}
	// Deleted rows stay in the file's free space until it is vacuumed:
	// an identifier found in the raw bytes but in no live row is there.
	mark := len(x.refs)
	x.startRefs(mark)
	raw := x.scanRaw(data)
	extra := x.takeRefs(mark)
	live := res.Refs()
	extra = slices.DeleteFunc(extra, func(ref string) bool { return slices.Contains(live, ref) })
	if raw != 0 && (res.matching() == 0 || len(extra) > 0) {
		// The record of the free space holds the refs no live row does.
		x.refs = append(x.refs[:mark], extra...)
		res.addRecord(x, Record{Index: res.NumRecords}, raw, mark)
		res.NumRecords++
	} else {
		x.dropRefs(mark)
	}
	res.sqlite = rows
	return res, nil
}

// appendValue appends the text of a column value: text and blobs as they
// are, integers in decimal; other values (NULL, floats) add nothing.
func appendValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return append(buf, v...)
	case []byte:
		return append(buf, v...)
	case int64:
		return strconv.AppendInt(buf, v, 10)
	}
	return buf
}

// cloneValues copies key values: the driver may reuse blob buffers.
func cloneValues(vs []any) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b)
		}
		out[i] = v
	}
	return out
}

// openSQLite loads a copy of data into an in-memory database on one
// connection: nothing is written to disk, and SQLite reads a corrupt or
// hostile file as corrupt, with an error.
func openSQLite(ctx context.Context, data []byte) (*sql.DB, *sql.Conn, error) {
	if !bytes.HasPrefix(data, sqliteMagic) || len(data) < 100 {
		return nil, nil, parseErr("sqlite: not a database")
	}
	img := bytes.Clone(data)
	if img[18] == 2 && img[19] == 2 {
		// WAL mode: an in-memory database has no WAL, so read the
		// file as the rollback-journal database it is without one.
		img[18], img[19] = 1, 1
	}
	// Defensive mode keeps statements from writing to the file's
	// structures directly; the schema is not trusted to call functions
	// with side effects.
	db, err := sql.Open("sqlite", "file::memory:?_defensive=1&_pragma=trusted_schema(0)")
	if err != nil {
		return nil, nil, sqliteErr("opening", err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, sqliteErr("opening", err)
	}
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(interface{ Deserialize([]byte) error })
		if !ok {
			return errors.New("driver cannot load a database from memory")
		}
		return d.Deserialize(img)
	})
	if err == nil {
		// No value is longer than the file, except one a hostile
		// schema computes (an expression index in a redaction).
		_, err = sqlite.Limit(conn, sqlite3.SQLITE_LIMIT_LENGTH, max(len(data), 1<<20))
	}
	if err == nil {
		// Reading the schema is where a broken header shows.
		_, err = conn.ExecContext(ctx, "SELECT count(*) FROM main.sqlite_schema")
	}
	if err != nil {
		conn.Close()
		db.Close()
		return nil, nil, sqliteErr("loading", err)
	}
	return db, conn, nil
}

// sqliteCheck runs SQLite's structural check of the database (b-trees,
// free list, not the contents of indexes).
func sqliteCheck(ctx context.Context, conn *sql.Conn) error {
	res, err := queryStrings(ctx, conn, "PRAGMA main.quick_check(1)")
	if err != nil {
		return sqliteErr("checking", err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return parseErr("sqlite: damaged database")
	}
	return nil
}

// sqliteErr is a parse error naming what failed. SQLite's messages name
// tables and columns at most, never values; still, only its result code
// text is kept, since a schema name may be anything.
func sqliteErr(what string, err error) error {
	msg := err.Error()
	if i := strings.IndexByte(msg, ':'); i > 0 {
		msg = msg[:i]
	}
	return parseErr("sqlite: %s: %s", what, msg)
}

// sqliteTable is one table of a database.
type sqliteTable struct {
	name         string
	withoutRowid bool
	// record says its rows are records: an ordinary table, not an
	// internal one (sqlite_sequence, sqlite_stat1) or a virtual table's
	// shadow table, whose rows only SQLite itself may delete.
	record bool
}

// sqliteTables lists the tables of the main database whose rows hold
// data; virtual tables are read through their shadow tables (an unknown
// module could not be read anyway).
func sqliteTables(ctx context.Context, conn *sql.Conn) ([]sqliteTable, error) {
	r, err := conn.QueryContext(ctx, "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' ORDER BY name")
	if err != nil {
		return nil, sqliteErr("listing tables", err)
	}
	defer r.Close()
	var ts []sqliteTable
	for r.Next() {
		var name, typ string
		var wr int
		if err := r.Scan(&name, &typ, &wr); err != nil {
			return nil, sqliteErr("listing tables", err)
		}
		switch typ {
		case "table", "shadow":
		default:
			continue // views, virtual tables
		}
		internal := strings.HasPrefix(strings.ToLower(name), "sqlite_")
		if internal && strings.EqualFold(name, "sqlite_schema") {
			continue // read above
		}
		ts = append(ts, sqliteTable{name: name, withoutRowid: wr != 0, record: typ == "table" && !internal})
	}
	if err := r.Err(); err != nil {
		return nil, sqliteErr("listing tables", err)
	}
	return ts, nil
}

// query returns the statement that reads every row of t: first the key
// (rowid or primary key), then every stored column, and their names.
func (t sqliteTable) query(ctx context.Context, conn *sql.Conn) (q string, key, names []string, err error) {
	r, err := conn.QueryContext(ctx, "SELECT name, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid", t.name)
	if err != nil {
		return "", nil, nil, sqliteErr("reading columns", err)
	}
	defer r.Close()
	pk := map[int]string{}
	for r.Next() {
		var name string
		var p, hidden int
		if err := r.Scan(&name, &p, &hidden); err != nil {
			return "", nil, nil, sqliteErr("reading columns", err)
		}
		if hidden == 1 || hidden == 2 {
			// A virtual table's hidden column; a virtual generated
			// column, computed from the stored ones (which are read)
			// by an expression of the schema, not to be run.
			continue
		}
		names = append(names, name)
		if p > 0 {
			pk[p] = name
		}
	}
	if err := r.Err(); err != nil {
		return "", nil, nil, sqliteErr("reading columns", err)
	}
	if t.withoutRowid {
		for i := 1; i <= len(pk); i++ {
			c, ok := pk[i]
			if !ok {
				return "", nil, nil, parseErr("sqlite: a primary key without its columns")
			}
			key = append(key, c)
		}
		if len(key) == 0 {
			return "", nil, nil, parseErr("sqlite: a WITHOUT ROWID table without a primary key")
		}
	} else {
		alias := rowidAlias(names)
		if alias == "" {
			return "", nil, nil, parseErr("sqlite: a table whose columns hide its rowid")
		}
		key = []string{alias}
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range key {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c))
	}
	for _, c := range names {
		// An expression, not a column: the driver converts the values
		// of columns declared DATE or TIME, which would change them.
		b.WriteString(", +")
		b.WriteString(quoteIdent(c))
	}
	b.WriteString(" FROM main.")
	b.WriteString(quoteIdent(t.name))
	return b.String(), key, names, nil
}

// rowidAlias returns a name of the rowid that no column of the table
// takes.
func rowidAlias(cols []string) string {
	for _, a := range []string{"rowid", "_rowid_", "oid"} {
		taken := false
		for _, c := range cols {
			taken = taken || strings.EqualFold(c, a)
		}
		if !taken {
			return a
		}
	}
	return ""
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func queryStrings(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	r, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, r.Err()
}

// redact deletes the rows of recs from the database data in one
// transaction, vacuums it so that nothing of them is left in free pages,
// and returns the new database file. Triggers do not fire: they are taken
// out for the deletion and put back as they were (after the other schema
// entries), so that no trigger copies a deleted row elsewhere. If the
// database cannot be rewritten, which the scan that found the records
// makes unlikely, the whole file goes: an erased row must not be kept.
func (s *sqliteRows) redact(data []byte, recs []Record) (out []byte, gone bool) {
	out, err := s.rewrite(context.Background(), data, recs)
	if err != nil {
		return nil, true
	}
	return out, false
}

func (s *sqliteRows) rewrite(ctx context.Context, data []byte, recs []Record) ([]byte, error) {
	db, conn, err := openSQLite(ctx, data)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := tx.QueryContext(ctx, "SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY rowid")
	if err != nil {
		return nil, err
	}
	var triggers [][2]string
	for r.Next() {
		var t [2]string
		if err := r.Scan(&t[0], &t[1]); err != nil {
			r.Close()
			return nil, err
		}
		triggers = append(triggers, t)
	}
	r.Close()
	if err := r.Err(); err != nil {
		return nil, err
	}
	for _, t := range triggers {
		if _, err := tx.ExecContext(ctx, "DROP TRIGGER main."+quoteIdent(t[0])); err != nil {
			return nil, err
		}
	}
	for _, rec := range recs {
		k, ok := s.keys[rec.Index]
		if !ok {
			continue // the leftovers of deleted rows: VACUUM removes them
		}
		var q strings.Builder
		q.WriteString("DELETE FROM main.")
		q.WriteString(quoteIdent(k.table))
		for i, c := range k.cols {
			if i == 0 {
				q.WriteString(" WHERE ")
			} else {
				q.WriteString(" AND ")
			}
			q.WriteString(quoteIdent(c))
			q.WriteString(" IS ?")
		}
		if _, err := tx.ExecContext(ctx, q.String(), k.vals...); err != nil {
			return nil, err
		}
	}
	for _, t := range triggers {
		if _, err := tx.ExecContext(ctx, t[1]); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "VACUUM"); err != nil {
		return nil, err
	}
	if err := sqliteCheck(ctx, conn); err != nil {
		return nil, err
	}
	var img []byte
	err = conn.Raw(func(dc any) error {
		d, ok := dc.(interface{ Serialize() ([]byte, error) })
		if !ok {
			return errors.New("driver cannot write a database to memory")
		}
		var err error
		img, err = d.Serialize()
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(img) < 100 {
		return nil, errors.New("empty database")
	}
	if data[18] == 2 && data[19] == 2 {
		img[18], img[19] = 2, 2 // the application opens it in WAL mode, as before
	}
	return img, nil
}
