package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a config file, at the line of the key or value
// it is about.
type Error struct {
	File string
	Line int
	// Key is the dotted path of the key, e.g. "repositories[1].location";
	// empty for errors of YAML syntax.
	Key string
	// Msg says what is wrong. It never repeats a value that could be a
	// secret.
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// Errors are all problems found in a config file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// decoder walks a YAML document and collects every problem instead of
// stopping at the first, so one run of "config check" shows them all.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems sorted by line, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
	return d.errs
}

// yamlLineRE finds the line in yaml.v3's syntax errors ("yaml: line 3: …").
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parse error into an Error with its line.
func (d *decoder) syntaxError(err error) {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// resolve follows aliases, so anchors can be used anywhere.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "no value"
		case "!!int":
			return "a number"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a string"
	}
	return "something else"
}

// field is one key of a mapping as the decoder saw it.
type field struct {
	name     string
	key, val *yaml.Node
	path     string
}

// mapping checks that n is a mapping whose keys are all in known and each
// appears once, and returns its fields by name. Unknown and duplicate keys
// are reported; a null node is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) (map[string]field, bool) {
	n = resolve(n)
	out := map[string]field{}
	if isNull(n) {
		return out, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of keys, got %s", describe(n))
		return nil, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "a key must be a plain string, got %s", describe(k))
			continue
		}
		name := k.Value
		p := join(path, name)
		if !contains(known, name) {
			d.errorf(k, p, "unknown key%s", suggest(name, known))
			continue
		}
		if prev, dup := out[name]; dup {
			d.errorf(k, p, "given twice (first at line %d)", prev.key.Line)
			continue
		}
		out[name] = field{name: name, key: k, val: v, path: p}
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns a "did you mean" hint for a mistyped key: the known key
// that differs only in '_' for '-' or case, or within two edits.
func suggest(name string, known []string) string {
	norm := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	best, bestD := "", 3
	for _, k := range known {
		if k == norm {
			return fmt.Sprintf(" (did you mean %s?)", k)
		}
		if d := editDistance(norm, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns the text of a scalar node; anything else, and a null,
// is reported.
func (d *decoder) scalar(f field) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || isNull(f.val) {
		d.errorf(f.val, f.path, "want a value, got %s", describe(f.val))
		return "", false
	}
	return f.val.Value, true
}

// str is scalar for string values: numbers and booleans are refused, so
// that a value YAML would read differently than it looks (yes, 010) is
// quoted.
func (d *decoder) str(f field) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!str" {
		d.errorf(f.val, f.path, "want a string, got %s", describe(f.val))
		return "", false
	}
	return f.val.Value, true
}

// nonEmpty is str that also refuses an empty or blank string.
func (d *decoder) nonEmpty(f field) (string, bool) {
	s, ok := d.str(f)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(f.val, f.path, "must not be empty")
		return "", false
	}
	return s, ok
}

func (d *decoder) integer(f field) (int, bool) {
	if f.val.Kind != yaml.ScalarNode || f.val.ShortTag() != "!!int" {
		d.errorf(f.val, f.path, "want a whole number, got %s", describe(f.val))
		return 0, false
	}
	n, err := strconv.Atoi(f.val.Value)
	if err != nil {
		d.errorf(f.val, f.path, "want a whole number")
		return 0, false
	}
	return n, true
}

// list returns the items of a sequence; a null is an empty list.
func (d *decoder) list(f field) ([]*yaml.Node, bool) {
	if isNull(f.val) {
		return nil, true
	}
	if f.val.Kind != yaml.SequenceNode {
		d.errorf(f.val, f.path, "want a list, got %s", describe(f.val))
		return nil, false
	}
	items := make([]*yaml.Node, len(f.val.Content))
	for i, n := range f.val.Content {
		items[i] = resolve(n)
	}
	return items, true
}

// strings returns a list of non-empty strings, and the field of each so
// that later checks report the item's line and index.
func (d *decoder) strings(f field) ([]string, []field, bool) {
	items, ok := d.list(f)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	fields := make([]field, 0, len(items))
	good := true
	for i, n := range items {
		it := item(f, i, n)
		s, ok := d.nonEmpty(it)
		if !ok {
			good = false
			continue
		}
		out = append(out, s)
		fields = append(fields, it)
	}
	return out, fields, good
}

// at is the node an error about a whole field is reported at: its key,
// where the field has one, so that "retention:" rather than its first
// rule is named.
func at(f field) *yaml.Node {
	if f.key != nil {
		return f.key
	}
	return f.val
}

// item is a field for the i-th element of a list.
func item(f field, i int, n *yaml.Node) field {
	return field{val: n, path: index(f.path, i)}
}

// sub is the field for a key of a mapping that may be absent; absent is
// a null node at the mapping's line, so required keys can be reported
// where their mapping is.
func sub(fields map[string]field, name string, parent *yaml.Node, parentPath string) (field, bool) {
	f, ok := fields[name]
	if ok {
		return f, true
	}
	return field{name: name, val: &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: parent.Line}, path: join(parentPath, name)}, false
}
