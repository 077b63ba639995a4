package subjects

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"

	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// Indexer builds entries: it scans a file's bytes with a tombstones
// TagMatcher and every candidate offered (formats.Options.AllCandidates),
// so an entry's tags cover everything a tombstone matcher with the same
// profile could match. It is safe for concurrent use.
type Indexer struct {
	key      *tombstones.SubjectKey
	opts     formats.Options
	profile  string
	legacy   string    // the profile of entries with fingerprint tags
	pool     sync.Pool // *formats.Scanner
	versions *formats.Versions
}

// NewIndexer returns an indexer under the subject key. opts are the
// scanning options restores and backups use (name columns, size limit);
// path rules play no part, since a path is always decided on by its name.
func NewIndexer(n *tombstones.Normalizer, key *tombstones.SubjectKey, opts *formats.Options) *Indexer {
	ix := &Indexer{key: key}
	if opts != nil {
		ix.opts.MaxSize = opts.MaxSize
		ix.opts.NameColumns = opts.NameColumns
	}
	ix.opts.AllCandidates = true
	m := tombstones.NewTagMatcher(n, key)
	ix.legacy = profileOf(m, &ix.opts)
	ix.profile = ix.legacy + ";" + tagScheme
	ix.pool.New = func() any { return formats.NewScanner(m, &ix.opts) }
	return ix
}

// tagScheme ends the profile of entries holding quick tags; without it a
// profile's entries hold fingerprint tags. An older lethe sees the new
// profile as another one, and scans rather than misread the tags.
const tagScheme = "tags=quick"

// profileOf names everything besides the content that decides what an
// entry holds.
func profileOf(m *tombstones.TagMatcher, opts *formats.Options) string {
	cols := make([]string, len(opts.NameColumns))
	for i, c := range opts.NameColumns {
		cols[i] = strings.ToLower(c)
	}
	slices.Sort(cols)
	maxSize := opts.MaxSize
	if maxSize <= 0 {
		maxSize = formats.DefaultMaxSize
	}
	return fmt.Sprintf("formats=%d;%s;maxsize=%d;namecols=%q", formats.Version, m.ProfileOf(), maxSize, cols)
}

// Profile names what the indexer's entries were built with; an entry of
// another profile is not trusted.
func (ix *Indexer) Profile() string { return ix.profile }

// MaxSize is the largest content the indexer makes an entry for; larger
// contents are scanned as a stream by the redactor and have none.
func (ix *Indexer) MaxSize() int64 {
	if ix.opts.MaxSize <= 0 {
		return formats.DefaultMaxSize
	}
	return ix.opts.MaxSize
}

// Key returns the content key of a file named name (its last element
// counts) with the given content.
func (ix *Indexer) Key(name string, content repository.IDs) ContentKey {
	return contentKey(ix.key, name, content)
}

func contentKey(key *tombstones.SubjectKey, name string, content repository.IDs) ContentKey {
	buf := make([]byte, 0, len(content)*len(repository.ID{}))
	for _, id := range content {
		buf = append(buf, id[:]...)
	}
	return ContentKey(key.ContentKey(nameClass(name), buf))
}

// nameClass is the part of a file name that decides how formats reads the
// file: the extensions (from the first dot on), and the whole name when it
// is one formats knows (mbox, inbox). Files that differ in it get
// different entries even with equal content.
func nameClass(name string) string {
	base := path.Base(name)
	stem, ext, _ := strings.Cut(base, ".")
	switch strings.ToLower(stem) {
	case "mbox", "inbox":
		return base
	}
	if ext == "" {
		return ""
	}
	return "." + ext
}

// Entry scans data, the whole content of a file named name, and returns
// its entry; nil when data is larger than MaxSize.
func (ix *Indexer) Entry(name string, content repository.IDs, data []byte) *Entry {
	if int64(len(data)) > ix.MaxSize() {
		return nil
	}
	sc := ix.pool.Get().(*formats.Scanner)
	// An entry needs the tags of each record's refs, not the records:
	// ScanKeys keeps those alone, as they are found, in a fraction of
	// the memory of a whole result or of the refs.
	res := ix.versions.ScanKeys(sc, path.Base(name), data, tagKey)
	ix.pool.Put(sc)
	return ix.entryOfTags(name, content, res, res.RecordKeys, res.Flagged > 0)
}

// KeepVersions makes the indexer scan each content after the last
// version of the file of the same name that v keeps: for indexing every
// version of files, as an erasure's rewrite does. Call it before the
// indexer is used; v must serve this indexer alone.
func (ix *Indexer) KeepVersions(v *formats.Versions) { ix.versions = v }

// tagKey is the key of a ref of the tag matcher: its tag, flagged for
// the tail of a plain phone number. Other refs have none.
func tagKey(ref string) (uint64, bool, bool) {
	t, phone, err := tombstones.ParseTagRef(ref)
	return uint64(t), phone, err == nil
}

// entryOfTags builds the entry of a content scanned to res, whose
// records' tags (each record's once) are tags, which it overwrites.
func (ix *Indexer) entryOfTags(name string, content repository.IDs, res *formats.Result, tags []uint64, plainPhones bool) *Entry {
	e := newEntry(ix.Key(name, content), tags)
	e.Format = res.Format
	e.Fallback = res.Fallback != ""
	e.Records = res.NumRecords
	e.PlainPhones = plainPhones
	e.Quick = true
	return e
}
