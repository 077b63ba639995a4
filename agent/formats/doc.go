// Package formats finds the records of a file (a mail message, a CSV row, a
// vCard, a calendar event, a SQL row, a line of text) and the identifiers in
// each after decoding what hides them, and removes chosen records while
// leaving every other byte of the file unchanged.
//
// # Records
//
// A record is the smallest part of a file that belongs to one subject and
// can be removed without breaking the file. Records are byte ranges of the
// original file; Record.Index numbers all records of a file from 0 (the
// CSV header, the calendar wrapper and other text between records are not
// records). Redaction cuts whole records out of the original bytes, so
// everything else stays byte-identical; only SQL tuples and JSON array
// elements take a neighbouring separator along, and removing every tuple
// of an INSERT removes the statement. A tar archive's members are its
// records; a compressed one is cut in its decompressed form and compressed
// again, so its members stay byte-identical but its compressed bytes do
// not. A SQLite database's table rows are its records (they have no byte
// range: Offset and Length are 0); redaction deletes them through SQLite
// and vacuums, so every other row stays identical but the file's bytes do
// not. An Outlook .msg (any compound file) is one record. UTF-16 JSON, CSV and other structured text is split like its UTF-8
// form. A file that cannot be split (one mail message, a zip or gzip file,
// the fallback for unknown or broken files) is one record, and so is any
// file with an identifier outside its records (a CSV header, say). Content
// sniffing never makes a line-oriented file one record: text that only
// begins like JSON is text.
//
// # Identifiers
//
// Candidates are found in decoded text with token boundaries — an address
// inside a longer address or domain, or a number inside a longer digit run,
// is not a candidate — and passed to a Matcher (the tombstones matcher),
// which normalizes, fingerprints and looks them up. Names are matched only
// where a rule says a value is a name: configured CSV columns, the FN and N
// of a vCard, and path rules (and MaskPath looks up whole path components
// as names, to keep them out of error lines).
//
// # Use
//
// Backup, restore and snapshot rewriting share one Redactor (safe for
// concurrent use) and ask it about every item before its content moves:
//
//	r := formats.NewRedactor(matcher, &formats.Options{NameColumns: ...})
//	if f, drop := r.DecidePath(rel, isDir); drop { ... }  // a name or a path rule
//	rc, f, err := r.Redact(ctx, rel, open)                // content from any source
//	out, f := r.RedactBytes(rel, data)                    // content already in memory
//
// Findings say what was found and removed, by refs, never by identifier;
// MaskPath keeps identifiers in file names out of error lines. Scan and
// Redact walk files and directories for `lethe scan` and `lethe redact`
// through the same Redactor code. A Scanner (one per goroutine) gives the
// records themselves, with their byte ranges:
//
//	sc := formats.NewScanner(matcher, opts)
//	res := sc.Scan(path, data)          // files up to Options.MaxSize
//	out, gone := formats.RedactBytes(data, res, res.Records)
//
// The matcher names what matched with a ref (a tombstone ID); every
// record carries the refs of the identifiers in it (Record.Refs), also
// when the scanner answered from its cache of verdicts. With
// Options.AllCandidates and a matcher whose refs are fingerprints, they
// are the subject index of a file.
package formats
