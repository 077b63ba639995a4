package formats

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// MatchName is NewScanner(m, nil).MatchName(name).
func MatchName(name string, m Matcher) []Kind {
	return NewScanner(m, nil).MatchName(name)
}

func (x *extractor) scanNameKinds(name string) kindSet {
	base := filepath.Base(filepath.FromSlash(name))
	k := x.scan([]byte(base))
	// "anna@example.se.pdf": without the extension the token ends where
	// the address does; '_' joins words in names but is an address byte.
	// Only a file extension is taken off: in
	// "anna@example.se.evil.com" the name is one token, a longer domain.
	stem := base
	for i := 0; i < 2; i++ {
		if ext := filepath.Ext(stem); ext != "" && fileExts[strings.ToLower(ext[1:])] {
			stem = strings.TrimSuffix(stem, ext)
			k |= x.scan([]byte(stem))
		}
	}
	if strings.ContainsAny(base, "_") {
		k |= x.scan([]byte(strings.ReplaceAll(stem, "_", " ")))
	}
	return k
}

// fileExts are the extensions a name may end in after an identifier.
var fileExts = func() map[string]bool {
	m := make(map[string]bool)
	for _, e := range strings.Fields(`pdf txt doc docx xls xlsx ppt pptx odt ods odp rtf csv tsv json jsonl xml html htm
		eml msg mbox vcf ics ical jpg jpeg png gif tif tiff heic bmp webp svg mp3 mp4 m4a mov wav
		zip gz tgz tar 7z rar bz2 xz zst sql db sqlite log md bak old orig tmp sig p7s asc key pem lnk url`) {
		m[e] = true
	}
	return m
}()

// PathRule makes every folder that matches a template one subject's, e.g.
// "kunder/{customer}/**": the folder kunder/<value> belongs to whoever
// <value> identifies as the kind named in braces (email, phone,
// personnummer, orgnr, name, or a custom kind). Segments are literal, "*"
// (any one segment) or one placeholder; "**" may end the template. The
// template is matched against a path relative to the scanned root; a
// leading "**/" lets it match at any depth.
type PathRule struct {
	Template string
	segs     []string
	any      bool // leading **/
}

// ParsePathRule checks a path template.
func ParsePathRule(template string) (PathRule, error) {
	r := PathRule{Template: template}
	t := strings.Trim(filepath.ToSlash(template), "/")
	if rest, ok := strings.CutPrefix(t, "**/"); ok {
		r.any = true
		t = rest
	}
	segs := strings.Split(t, "/")
	if len(segs) > 0 && segs[len(segs)-1] == "**" {
		segs = segs[:len(segs)-1]
	}
	placeholders := 0
	for _, s := range segs {
		switch {
		case s == "" || s == "." || s == "..":
			return PathRule{}, fmt.Errorf("path rule %q: empty or relative segment", template)
		case s == "**":
			return PathRule{}, fmt.Errorf("path rule %q: ** only at the start or end", template)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if len(s) < 3 {
				return PathRule{}, fmt.Errorf("path rule %q: empty placeholder", template)
			}
			placeholders++
		case strings.ContainsAny(s, "{}"):
			return PathRule{}, fmt.Errorf("path rule %q: a placeholder must be a whole segment", template)
		}
	}
	if placeholders != 1 {
		return PathRule{}, fmt.Errorf("path rule %q: needs exactly one {kind} placeholder", template)
	}
	r.segs = segs
	return r, nil
}

// placeholderKind maps a placeholder name to an identifier kind.
func placeholderKind(name string) Kind {
	switch k := Kind(name); k {
	case KindEmail, KindPhone, KindPersonnummer, KindOrgnr, KindName:
		return k
	}
	return Kind("custom:" + name)
}

// Match reports whether rel (slash- or OS-separated, relative to the
// scanned root) lies in a folder the rule gives to a subject known to m.
// folder is that folder's path (a prefix of rel), and ref the matcher's
// ref of the folder's identifier.
func (r PathRule) Match(rel string, m Matcher) (folder string, kind Kind, ref string, ok bool) {
	if m == nil || len(r.segs) == 0 {
		return "", "", "", false
	}
	parts := strings.Split(strings.Trim(filepath.ToSlash(rel), "/"), "/")
	starts := []int{0}
	if r.any {
		starts = starts[:0]
		for i := range parts {
			starts = append(starts, i)
		}
	}
	for _, st := range starts {
		if st+len(r.segs) > len(parts) {
			break
		}
		if k, ref, ok := r.matchAt(parts[st:st+len(r.segs)], m); ok {
			return path.Join(parts[:st+len(r.segs)]...), k, ref, true
		}
	}
	return "", "", "", false
}

func (r PathRule) matchAt(parts []string, m Matcher) (Kind, string, bool) {
	var kind Kind
	var value string
	for i, s := range r.segs {
		switch {
		case s == "*":
		case strings.HasPrefix(s, "{"):
			kind = placeholderKind(s[1 : len(s)-1])
			value = parts[i]
		case s != parts[i]:
			return "", "", false
		}
	}
	if ref, ok := m.Lookup(kind, value); ok {
		return kind, ref, true
	}
	return "", "", false
}

// kind returns the kind of the rule's placeholder.
func (r PathRule) kind() Kind {
	for _, s := range r.segs {
		if strings.HasPrefix(s, "{") {
			return placeholderKind(s[1 : len(s)-1])
		}
	}
	return ""
}
