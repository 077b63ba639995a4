// Package gen generates a deterministic, realistic data set of a small
// Swedish business server — customer registers, mail (Maildir and mbox in
// mixed encodings), contacts, a calendar, database dumps, logs, office
// documents and invoices — with chosen subjects spread across all of it and
// decoys that look like them but are other people. It returns the subjects
// and, for tests, where each subject's records are.
package gen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Config sizes a data set. Zero fields take the defaults of DefaultConfig.
type Config struct {
	Seed      uint64
	Subjects  int // people to be erased, at most len(subjectNames)
	Customers int // rows of each customer register
	Messages  int // mail messages, split between Maildir and mbox
	Contacts  int // vCards
	Events    int // calendar events and tasks
	SQLRows   int // rows per dump table
	LogLines  int // lines per log
}

// DefaultConfig is a data set for demos: a few thousand messages.
func DefaultConfig(seed uint64) Config {
	return Config{Seed: seed, Subjects: 3, Customers: 2000, Messages: 3000, Contacts: 500,
		Events: 400, SQLRows: 3000, LogLines: 30000}
}

// SmallConfig is a data set for unit tests.
func SmallConfig(seed uint64) Config {
	return Config{Seed: seed, Subjects: 3, Customers: 150, Messages: 240, Contacts: 60,
		Events: 40, SQLRows: 200, LogLines: 1500}
}

// Scale multiplies the bulk of a config (for benchmarks).
func (c Config) Scale(n int) Config {
	c.Customers *= n
	c.Messages *= n
	c.Contacts *= n
	c.Events *= n
	c.SQLRows *= n
	c.LogLines *= n
	return c
}

func (c Config) withDefaults() Config {
	d := DefaultConfig(c.Seed)
	if c.Subjects <= 0 {
		c.Subjects = d.Subjects
	}
	if c.Subjects > len(subjectNames) {
		c.Subjects = len(subjectNames)
	}
	for _, p := range []struct{ v, d *int }{{&c.Customers, &d.Customers}, {&c.Messages, &d.Messages},
		{&c.Contacts, &d.Contacts}, {&c.Events, &d.Events}, {&c.SQLRows, &d.SQLRows}, {&c.LogLines, &d.LogLines}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return c
}

// Subject is a person to be erased, by all their identifiers.
type Subject struct {
	Name         string
	Email        string
	Phone        string // national form, e.g. 070-123 45 67
	Personnummer string // YYYYMMDD-NNNN
	Orgnr        string // their one-person company's, or ""
	CustomerNo   string // the business's customer number, e.g. K-10234
}

// Owner values of a Placement other than a subject index.
const (
	Decoy = -1 // looks like a subject but is someone else: must survive
)

// Placement is one record in the generated tree.
type Placement struct {
	Path    string // slash-separated, relative to the data set root
	Format  string // the format a scanner should report ("csv", "mail", "name", ...)
	Offset  int64  // the record's bytes; a SQLite row has none (0 and 0)
	Length  int64
	Whole   bool // the whole file (or, for "name"/"path", file or directory) is the record
	Subject int  // index into Dataset.Subjects, or Decoy
}

// Dataset describes a generated tree.
type Dataset struct {
	Root     string
	Subjects []Subject
	// Records are the subjects' records; Decoys are records that resemble
	// a subject's but belong to no subject.
	Records []Placement
	Decoys  []Placement
	// Files are all generated files, slash-separated relative paths.
	Files []string
	// NameColumns are the CSV columns holding people's names.
	NameColumns []string
	// CustomKind and CustomPattern describe the customer number kind.
	CustomKind    string
	CustomPattern string
	// PathRule gives a customer's folder to the customer.
	PathRule string
}

// Generate writes a data set into dir (which is created) and describes it.
func Generate(dir string, cfg Config) (*Dataset, error) {
	cfg = cfg.withDefaults()
	g := &generator{
		cfg:  cfg,
		rnd:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6c657468652d6765)),
		used: make(map[string]bool),
		ds: &Dataset{Root: dir, NameColumns: []string{"namn", "Namn", "name"},
			CustomKind: "kundnr", CustomPattern: `K-[0-9]{5}`, PathRule: "kunder/{kundnr}/**"},
		files: make(map[string][]byte),
	}
	g.people()
	steps := []func() error{g.customerCSV, g.excelCSV, g.mail, g.vcards, g.calendar, g.pgDump, g.mysqlDump,
		g.logs, g.utf16Log, g.jsonl, g.jsonDoc, g.office, g.gzipExport, g.invoices, g.named,
		g.bracketLog, g.accessLog, g.bomJSON, g.unicodeText, g.phpMyAdmin, g.rfc2231Mail, g.tarArchive, g.evilFolder, g.sqliteDB, g.outlookMsgs}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(g.files))
	for n := range g.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("generating %s: %w", n, err)
		}
		if err := os.WriteFile(p, g.files[n], 0o644); err != nil {
			return nil, fmt.Errorf("generating %s: %w", n, err)
		}
	}
	g.ds.Files = names
	for i := range g.subjects {
		g.ds.Subjects = append(g.ds.Subjects, g.subjects[i].subject())
	}
	return g.ds, nil
}

type generator struct {
	cfg      Config
	rnd      *rand.Rand
	used     map[string]bool // identifiers handed out, to keep people distinct
	ds       *Dataset
	files    map[string][]byte
	subjects []*person
	decoys   []*person // decoys[i] resembles subjects[i]
	crowd    []*person // everyone else
	staff    []*person
}

// file collects one generated file and the placements of its records.
type file struct {
	g      *generator
	path   string
	format string
	buf    bytes.Buffer
}

func (g *generator) newFile(path, format string) *file {
	return &file{g: g, path: path, format: format}
}

func (f *file) write(s string) { f.buf.WriteString(s) }

// rec writes one record; owner is an index into the subjects, Decoy, or
// nobody.
func (f *file) rec(owner int, s string) {
	off := f.buf.Len()
	f.buf.WriteString(s)
	f.place(owner, off, len(s))
}

const nobody = -2

func (f *file) place(owner, off, n int) {
	p := Placement{Path: f.path, Format: f.format, Offset: int64(off), Length: int64(n), Subject: owner}
	switch {
	case owner >= 0:
		f.g.ds.Records = append(f.g.ds.Records, p)
	case owner == Decoy:
		f.g.ds.Decoys = append(f.g.ds.Decoys, p)
	}
}

// close stores the file; whole, if not nobody, makes the file one record.
func (f *file) close(whole int) {
	f.g.files[f.path] = f.buf.Bytes()
	if whole != nobody {
		p := Placement{Path: f.path, Format: f.format, Length: int64(f.buf.Len()), Whole: true, Subject: whole}
		if whole >= 0 {
			f.g.ds.Records = append(f.g.ds.Records, p)
		} else {
			f.g.ds.Decoys = append(f.g.ds.Decoys, p)
		}
	}
}

func (g *generator) pick(n int) int { return g.rnd.IntN(n) }

func (g *generator) chance(p float64) bool { return g.rnd.Float64() < p }

// spread returns the sorted positions in [0,n) at which k special records go.
func (g *generator) spread(n, k int) []int {
	if n < 1 {
		n = 1
	}
	pos := make([]int, k)
	for i := range pos {
		pos[i] = g.pick(n + 1)
	}
	sort.Ints(pos)
	return pos
}

// insertions maps a position to the special records placed before it.
func (g *generator) insertions(n, k int) map[int][]int {
	m := make(map[int][]int)
	for i, p := range g.spread(n, k) {
		m[p] = append(m[p], i)
	}
	return m
}

func lines(ss ...string) string { return strings.Join(ss, "\n") + "\n" }

// IDs returns the subject's identifiers as KIND=VALUE pairs, as `lethe
// scan --id` and `lethe erase --id` take them; customKind names the kind of
// CustomerNo (Dataset.CustomKind).
func (s Subject) IDs(customKind string) []string {
	ids := []string{"email=" + s.Email, "phone=" + s.Phone, "personnummer=" + s.Personnummer, "name=" + s.Name}
	if s.Orgnr != "" {
		ids = append(ids, "orgnr="+s.Orgnr)
	}
	if s.CustomerNo != "" && customKind != "" {
		ids = append(ids, customKind+"="+s.CustomerNo)
	}
	return ids
}
