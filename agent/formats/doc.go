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
// elements take a neighbouring separator along, and the last tuple of an
// INSERT takes the statement. A file that cannot be split (one mail
// message, a zip or gzip file, the fallback for unknown or broken files)
// is one record, and so is any file with an identifier outside its records
// (a CSV header, say).
//
// # Identifiers
//
// Candidates are found in decoded text with token boundaries — an address
// inside a longer address or domain, or a number inside a longer digit run,
// is not a candidate — and passed to a Matcher (the tombstones matcher),
// which normalizes, fingerprints and looks them up. Names are matched only
// where a rule says a value is a name: configured CSV columns, the FN and N
// of a vCard, and path rules.
//
// # Use
//
// The archiver and restorer use one Scanner per goroutine:
//
//	sc := formats.NewScanner(matcher, &formats.Options{NameColumns: ...})
//	res := sc.Scan(path, data)          // files up to Options.MaxSize
//	out, gone := formats.RedactBytes(data, res, res.Records)
//	kinds, err := sc.ScanReader(r)      // larger files: fallback, streamed
//	kinds = sc.MatchName(filepath.Base(path))
//
// The matcher names what matched with a ref (a tombstone ID); every
// record carries the refs of the identifiers in it (Record.Refs), also
// when the scanner answered from its cache of verdicts. With
// Options.AllCandidates and a matcher whose refs are fingerprints, they
// are the subject index of a file.
// Scan and Redact walk files and directories for `lethe scan` and
// `lethe redact`.
package formats
