package formats

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// sniffLen is how much of a file detection looks at.
const sniffLen = 8 << 10

// Detect guesses a file's format from its content first and its name second.
func Detect(name string, data []byte) Format {
	if f := sniffStrong(data); f != "" {
		return f
	}
	if f := byExtension(name); f != "" {
		return f
	}
	return sniffWeak(data)
}

func head(data []byte) []byte {
	if len(data) > sniffLen {
		return data[:sniffLen]
	}
	return data
}

var (
	utf8BOM  = []byte{0xEF, 0xBB, 0xBF}
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

// sniffStrong recognizes formats with unmistakable content.
func sniffStrong(data []byte) Format {
	return sniffHead(head(data), len(data) > sniffLen)
}

// sniffHead is sniffStrong on the head h of a file; cut says the file goes
// on after it.
func sniffHead(h []byte, cut bool) Format {
	switch {
	case len(h) >= 2 && h[0] == 0x1f && h[1] == 0x8b:
		return FormatGzip
	case bytes.HasPrefix(h, []byte("PK\x03\x04")) || bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return FormatZip
	case len(h) >= 2 && (h[0] == 0xFF && h[1] == 0xFE || h[0] == 0xFE && h[1] == 0xFF):
		return FormatText
	case len(h) >= 263 && bytes.Equal(h[257:262], []byte("ustar")):
		return FormatTar
	case bytes.HasPrefix(h, sqliteMagic):
		return FormatSQLite
	case bytes.HasPrefix(h, oleMagic):
		// A compound file (Outlook .msg, old Office): read stream by
		// stream; a hit is the whole file.
		return FormatMsg
	}
	h = bytes.TrimPrefix(h, utf8BOM)
	t := bytes.TrimLeft(h, " \t\r\n")
	switch {
	case bytes.HasPrefix(h, []byte("From ")) && looksMboxFrom(h):
		return FormatMbox
	case hasPrefixFold(t, "BEGIN:VCARD"):
		return FormatVCard
	case hasPrefixFold(t, "BEGIN:VCALENDAR"):
		return FormatICal
	case bytes.Contains(h, []byte("-- PostgreSQL database dump")) ||
		bytes.Contains(h, []byte("-- MySQL dump")) || bytes.Contains(h, []byte("-- MariaDB dump")) ||
		bytes.Contains(h, []byte("-- phpMyAdmin SQL Dump")):
		return FormatSQL
	case len(t) > 0 && (t[0] == '[' || t[0] == '{'):
		// Log lines often begin with "[" (a timestamp, a level) or "{":
		// only what reads as JSON is JSON, so that a line-oriented file
		// is never taken for one document.
		if f := sniffJSON(t, cut); f != "" {
			return f
		}
	case looksMail(h):
		return FormatMail
	}
	return ""
}

// sniffJSON tells a JSON document from JSON Lines and from text that only
// begins like JSON. t starts with '[' or '{'; cut says t is the head of a
// longer file, so a value may run past its end.
func sniffJSON(t []byte, cut bool) Format {
	line := t
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		line = t[:i]
	}
	if t[0] == '{' && len(line) < len(t) && validJSON(line) && len(bytes.TrimSpace(t[len(line):])) > 0 {
		return FormatJSONL
	}
	if t[0] == '[' && len(line) < len(t) && validJSON(line) {
		// One array per line, and more lines: JSON Lines of arrays.
		if rest := bytes.TrimSpace(t[len(line):]); len(rest) > 0 && (rest[0] == '[' || rest[0] == '{') {
			return FormatJSONL
		}
	}
	switch jsonPrefix(t) {
	case jsonValid:
		return FormatJSON
	case jsonCut:
		if cut {
			return FormatJSON
		}
	}
	return ""
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p)
}

// looksMboxFrom checks the first line is an mbox separator "From addr date".
func looksMboxFrom(h []byte) bool {
	line := h
	if i := bytes.IndexByte(h, '\n'); i >= 0 {
		line = h[:i]
	}
	return len(bytes.Fields(line)) >= 3
}

// mailHeaders are header names that make a header block a mail message.
var mailHeaders = []string{"from", "to", "subject", "date", "received", "return-path",
	"message-id", "mime-version", "delivered-to", "x-mailer", "content-type", "reply-to", "cc"}

// looksMail checks for an RFC 5322 header block with mail headers in it.
func looksMail(h []byte) bool {
	known := 0
	lines := 0
	for len(h) > 0 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			break // the header block did not end inside the sniffed head
		}
		line := bytes.TrimRight(h[:i], "\r")
		h = h[i+1:]
		if len(line) == 0 {
			return lines > 0 && known >= 2
		}
		lines++
		if line[0] == ' ' || line[0] == '\t' {
			if lines == 1 {
				return false
			}
			continue
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			return false
		}
		for _, b := range line[:c] {
			if b <= ' ' || b >= 0x7f {
				return false
			}
		}
		name := strings.ToLower(string(line[:c]))
		for _, m := range mailHeaders {
			if name == m {
				known++
				break
			}
		}
	}
	return lines > 0 && known >= 2
}

// byExtension maps file name extensions to formats.
func byExtension(name string) Format {
	base := strings.ToLower(filepath.Base(name))
	switch filepath.Ext(base) {
	case ".eml", ".msg":
		return FormatMail
	case ".mbox", ".mbx":
		return FormatMbox
	case ".csv", ".tsv", ".tab":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".json":
		return FormatJSON
	case ".vcf", ".vcard":
		return FormatVCard
	case ".ics", ".ical", ".ifb":
		return FormatICal
	case ".sql":
		return FormatSQL
	case ".txt", ".log", ".md", ".text":
		return FormatText
	case ".html", ".htm", ".xhtml", ".xml", ".svg":
		// Markup cannot be split into records: the whole file is one,
		// scanned with tags stripped and entities decoded.
		return FormatFallback
	case ".gz", ".tgz":
		return FormatGzip
	case ".tar":
		return FormatTar
	case ".zip", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp":
		return FormatZip
	}
	// Maildir messages have names like 1700000000.M1P2.host,S=123:2,S.
	dir := filepath.Base(filepath.Dir(name))
	if dir == "cur" || dir == "new" {
		return FormatMail
	}
	if base == "mbox" || base == "inbox" {
		return FormatMbox
	}
	return ""
}

// sniffWeak decides between CSV, text and the fallback.
func sniffWeak(data []byte) Format {
	h := head(data)
	if bytes.IndexByte(h, 0) >= 0 {
		return FormatFallback
	}
	v := h
	if len(data) > sniffLen {
		// Do not fail UTF-8 on a rune cut by the sniff window.
		for i := 0; i < utf8.UTFMax && len(v) > 0 && !utf8.Valid(v); i++ {
			v = v[:len(v)-1]
		}
	}
	if !utf8.Valid(v) || isMarkup(v) {
		return FormatFallback
	}
	if sniffDelimiter(h) != 0 {
		return FormatCSV
	}
	return FormatText
}

// sniffDelimiter finds a delimiter occurring equally often (and at least
// once) in each of the first few lines, preferring tab, semicolon, comma.
func sniffDelimiter(h []byte) byte {
	var lines [][]byte
	for len(h) > 0 && len(lines) < 6 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			break // ignore a line cut by the sniff window
		}
		if l := bytes.TrimRight(h[:i], "\r"); len(l) > 0 {
			lines = append(lines, l)
		}
		h = h[i+1:]
	}
	if len(lines) < 2 {
		return 0
	}
	for _, d := range []byte{'\t', ';', ','} {
		n := bytes.Count(lines[0], []byte{d})
		if n == 0 {
			continue
		}
		ok := true
		for _, l := range lines[1:] {
			if bytes.Count(l, []byte{d}) != n {
				ok = false
				break
			}
		}
		if ok {
			return d
		}
	}
	return 0
}

// isMarkup reports HTML or XML content.
func isMarkup(h []byte) bool {
	t := bytes.TrimLeft(bytes.TrimPrefix(h, utf8BOM), " \t\r\n")
	return hasPrefixFold(t, "<!DOCTYPE") || hasPrefixFold(t, "<html") || hasPrefixFold(t, "<?xml")
}
