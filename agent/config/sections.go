package config

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/backends/location"
	"lethe/tombstones"
)

// config decodes the top-level mapping into c.
func (d *decoder) config(root *yaml.Node, c *Config) {
	top, _ := d.mapping(root, "", "state-dir", "subject-key-file", "business", "sources",
		"repositories", "schedules", "retention", "holds", "identifiers", "erasure", "api", "metrics")
	get := func(name string) (field, bool) { return sub(top, name, root, "") }

	c.StateDir = DefaultStateDir
	if f, ok := get("state-dir"); ok {
		if s, ok := d.absPath(f); ok {
			c.StateDir = s
		}
	}
	if f, ok := get("subject-key-file"); ok {
		if s, ok := d.credentialPath(f); ok {
			c.SubjectKeyFile = s
		}
	}
	f, _ := get("business")
	d.business(f, &c.Business)
	f, _ = get("sources")
	c.Sources = d.sources(f)
	f, _ = get("repositories")
	c.Repositories = d.repositories(f)
	f, _ = get("schedules")
	c.Schedules = d.schedules(f)
	f, _ = get("retention")
	c.Retention = d.retention(f)
	f, _ = get("holds")
	c.Holds = d.holds(f)
	f, _ = get("identifiers")
	c.Identifiers = d.identifiers(f)
	f, _ = get("erasure")
	c.Deadline = d.erasure(f)
	f, _ = get("api")
	c.API = d.api(f)
	f, _ = get("metrics")
	c.MetricsAddress = d.metrics(f)
}

// nameRE is what names of sources, repositories and holds may be: they
// are chosen on the command line and label metrics.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// names checks that each name of a list is valid and used once.
type names struct {
	d    *decoder
	seen map[string]int
}

func (d *decoder) names() *names { return &names{d: d, seen: map[string]int{}} }

func (n *names) check(f field) (string, bool) {
	s, ok := n.d.nonEmpty(f)
	if !ok {
		return "", false
	}
	if !nameRE.MatchString(s) {
		n.d.errorf(f.val, f.path, "want letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64")
		return "", false
	}
	if line, dup := n.seen[s]; dup {
		n.d.errorf(f.val, f.path, "name %s is used twice (first at line %d)", s, line)
		return "", false
	}
	n.seen[s] = f.val.Line
	return s, true
}

// required returns the field name of fields, reporting it when absent.
func (d *decoder) required(fields map[string]field, name string, parent field) (field, bool) {
	f, ok := sub(fields, name, parent.val, parent.path)
	if !ok {
		d.errorf(at(parent), f.path, "missing")
	}
	return f, ok
}

func (d *decoder) absPath(f field) (string, bool) {
	s, ok := d.nonEmpty(f)
	if !ok {
		return "", false
	}
	if !filepath.IsAbs(s) {
		d.errorf(f.val, f.path, "want an absolute path")
		return "", false
	}
	return filepath.Clean(s), true
}

// credentialsVar is the variable systemd sets to the directory of a
// service's credentials (LoadCredential=, LoadCredentialEncrypted=).
const credentialsVar = "CREDENTIALS_DIRECTORY"

// splitCredentials returns the rest of p after a leading
// $CREDENTIALS_DIRECTORY or ${CREDENTIALS_DIRECTORY}.
func splitCredentials(p string) (rest string, ok bool) {
	for _, v := range []string{"${" + credentialsVar + "}", "$" + credentialsVar} {
		if r, ok := strings.CutPrefix(p, v); ok {
			return r, true
		}
	}
	return "", false
}

// checkCredentialPath checks a path that may start with
// $CREDENTIALS_DIRECTORY: then a file name must follow; else it must be
// absolute. No other variable is expanded.
func checkCredentialPath(p string) error {
	if rest, ok := splitCredentials(p); ok {
		name := strings.TrimPrefix(rest, "/")
		if !strings.HasPrefix(rest, "/") || name == "" || strings.Contains(name, "/") || name == "." || name == ".." {
			return fmt.Errorf("want $%s/NAME, NAME a credential's name", credentialsVar)
		}
		return nil
	}
	if strings.Contains(p, "$") {
		return fmt.Errorf("only $%s is expanded, at the start", credentialsVar)
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("want an absolute path or $%s/NAME", credentialsVar)
	}
	return nil
}

// ExpandCredentials returns the file a path names, with a leading
// $CREDENTIALS_DIRECTORY or ${CREDENTIALS_DIRECTORY} replaced by the
// environment's value, which systemd sets for a service with credentials.
// Other paths are returned as they are.
func ExpandCredentials(p string) (string, error) {
	rest, ok := splitCredentials(p)
	if !ok {
		return p, nil
	}
	dir := os.Getenv(credentialsVar)
	if dir == "" {
		return "", fmt.Errorf("%s names a systemd credential, but $%s is not set (not running as a service with LoadCredential=?)", p, credentialsVar)
	}
	return filepath.Join(dir, rest), nil
}

func (d *decoder) credentialPath(f field) (string, bool) {
	s, ok := d.nonEmpty(f)
	if !ok {
		return "", false
	}
	if err := checkCredentialPath(s); err != nil {
		d.errorf(f.val, f.path, "%v", err)
		return "", false
	}
	return s, true
}

func (d *decoder) business(f field, b *Business) {
	fields, ok := d.mapping(f.val, f.path, "name", "contact")
	if !ok {
		return
	}
	if isNull(f.val) {
		d.errorf(f.val, f.path, "missing: receipts name the business and how to reach it")
		return
	}
	if nf, ok := d.required(fields, "name", f); ok {
		b.Name, _ = d.nonEmpty(nf)
	}
	if cf, ok := d.required(fields, "contact", f); ok {
		b.Contact, _ = d.nonEmpty(cf)
	}
}

func (d *decoder) sources(f field) []Source {
	items, ok := d.list(f)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(f.val, f.path, "missing: give at least one source to back up")
		return nil
	}
	var out []Source
	seen := d.names()
	for i, n := range items {
		it := item(f, i, n)
		fields, ok := d.mapping(n, it.path, "name", "paths", "exclude", "command", "filename")
		if !ok {
			continue
		}
		var s Source
		if nf, ok := d.required(fields, "name", it); ok {
			s.Name, _ = seen.check(nf)
		}
		pf, hasPaths := fields["paths"]
		cf, hasCmd := fields["command"]
		switch {
		case hasPaths && hasCmd:
			d.errorf(cf.key, cf.path, "a source has paths or a command, not both")
		case !hasPaths && !hasCmd:
			d.errorf(n, it.path, "give paths (directories to back up) or a command (whose output is backed up)")
		case hasPaths:
			s.Paths = d.sourcePaths(pf)
			if ef, ok := fields["exclude"]; ok {
				s.Excludes = d.patterns(ef)
			}
			if ff, ok := fields["filename"]; ok {
				d.errorf(ff.key, ff.path, "only a command source has a filename")
			}
		case hasCmd:
			s.Command = d.command(cf)
			if ef, ok := fields["exclude"]; ok {
				d.errorf(ef.key, ef.path, "only a source with paths has excludes")
			}
			s.Filename = s.Name
			if ff, ok := fields["filename"]; ok {
				s.Filename, _ = d.filename(ff)
			}
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) sourcePaths(f field) []string {
	list, items, ok := d.strings(f)
	if ok && len(list) == 0 {
		d.errorf(f.val, f.path, "give at least one path")
	}
	var out []string
	for _, it := range items {
		if p, ok := d.absPath(it); ok {
			out = append(out, p)
		}
	}
	return out
}

// patterns checks exclude and hold patterns: filepath.Match syntax per
// component, "**" for any number of components.
func (d *decoder) patterns(f field) []string {
	list, items, _ := d.strings(f)
	var out []string
	for i, p := range list {
		if err := checkPattern(p); err != nil {
			d.errorf(items[i].val, items[i].path, "%v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

func checkPattern(p string) error {
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "**" {
			continue
		}
		if _, err := filepath.Match(c, ""); err != nil {
			return fmt.Errorf("invalid pattern %q: %v", p, err)
		}
	}
	return nil
}

func (d *decoder) command(f field) []string {
	if f.val.Kind == yaml.ScalarNode && !isNull(f.val) {
		d.errorf(f.val, f.path, "want a list of the program and its arguments, e.g. [pg_dump, -Fp, shop]; it runs without a shell")
		return nil
	}
	args, _, ok := d.strings(f)
	if ok && len(args) == 0 {
		d.errorf(f.val, f.path, "give the program to run")
	}
	return args
}

func (d *decoder) filename(f field) (string, bool) {
	s, ok := d.nonEmpty(f)
	if !ok {
		return "", false
	}
	if strings.ContainsAny(s, `/\`) || s == "." || s == ".." {
		d.errorf(f.val, f.path, "want a file name without directories")
		return "", false
	}
	return s, true
}

func (d *decoder) repositories(f field) []Repository {
	items, ok := d.list(f)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(f.val, f.path, "missing: give at least one repository to back up to")
		return nil
	}
	var out []Repository
	seen := d.names()
	locations := map[string]int{}
	for i, n := range items {
		it := item(f, i, n)
		fields, ok := d.mapping(n, it.path, "name", "location", "options", "password-file")
		if !ok {
			continue
		}
		var r Repository
		if nf, ok := d.required(fields, "name", it); ok {
			r.Name, _ = seen.check(nf)
		}
		if pf, ok := d.required(fields, "password-file", it); ok {
			r.PasswordFile, _ = d.credentialPath(pf)
		}
		lf, ok := d.required(fields, "location", it)
		if !ok {
			continue
		}
		loc, ok := d.nonEmpty(lf)
		if !ok {
			continue
		}
		parsed, ok := d.location(lf, loc)
		if !ok {
			continue
		}
		if of, ok := fields["options"]; ok {
			r.Options, ok = d.options(of, loc)
			if !ok {
				continue
			}
			var err error
			if parsed, err = location.Parse(loc, r.Options); err != nil {
				d.errorf(of.val, of.path, "%v", err)
				continue
			}
		}
		r.Location, r.Parsed = loc, parsed
		key := parsed.String()
		if line, dup := locations[key]; dup {
			d.errorf(lf.val, lf.path, "the same repository as at line %d", line)
			continue
		}
		locations[key] = lf.val.Line
		out = append(out, r)
	}
	return out
}

// hasUserinfo reports whether an S3 location carries credentials before
// its host, which must not be in a config file (nor repeated in errors).
func hasUserinfo(loc string) bool {
	rest, ok := strings.CutPrefix(loc, "s3:")
	if !ok {
		return false
	}
	for _, p := range []string{"https://", "http://", "//"} {
		if r, ok := strings.CutPrefix(rest, p); ok {
			rest = r
			break
		}
	}
	host, _, _ := strings.Cut(rest, "/")
	return strings.Contains(host, "@")
}

// location checks a location without its options, so that an error is
// reported at the location's line and the options' errors at theirs.
func (d *decoder) location(f field, loc string) (location.Location, bool) {
	if hasUserinfo(loc) {
		d.errorf(f.val, f.path, "credentials in the location are not supported: give them through the environment or the AWS configuration files")
		return location.Location{}, false
	}
	parsed, err := location.Parse(loc, nil)
	if err != nil {
		d.errorf(f.val, f.path, "%v", err)
		return location.Location{}, false
	}
	if parsed.Kind == location.Local {
		if !filepath.IsAbs(parsed.Dir) {
			d.errorf(f.val, f.path, "a local repository must be an absolute path")
			return location.Location{}, false
		}
		parsed.Dir = filepath.Clean(parsed.Dir)
	}
	return parsed, true
}

// options turns a mapping of backend options into "key=value" in file
// order, each checked on its own so its error has its line.
func (d *decoder) options(f field, loc string) ([]string, bool) {
	m := resolve(f.val)
	if isNull(m) {
		return nil, true
	}
	if m.Kind != yaml.MappingNode {
		d.errorf(m, f.path, "want a mapping of option: value, got %s", describe(m))
		return nil, false
	}
	if !strings.HasPrefix(loc, "s3:") {
		d.errorf(m, f.path, "a local repository takes no options")
		return nil, false
	}
	var out []string
	ok := true
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, f.path, "a key must be a plain string, got %s", describe(k))
			ok = false
			continue
		}
		p := join(f.path, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, p, "given twice (first at line %d)", line)
			ok = false
			continue
		}
		seen[k.Value] = k.Line
		val, good := d.scalar(field{val: v, path: p})
		if !good {
			ok = false
			continue
		}
		opt := k.Value + "=" + val
		// The location parsed without options, so an error is this
		// option's; Parse's errors name it.
		if _, err := location.Parse(loc, []string{opt}); err != nil {
			d.errorf(k, p, "%v", err)
			ok = false
			continue
		}
		out = append(out, opt)
	}
	return out, ok
}

func (d *decoder) schedules(f field) Schedules {
	s := Schedules{
		Backup: mustSchedule(DefaultBackupSchedule),
		Forget: Schedule{Spec: DefaultForgetSchedule},
		Check:  mustSchedule(DefaultCheckSchedule),
		Verify: mustSchedule(DefaultVerifySchedule),
	}
	fields, ok := d.mapping(f.val, f.path, "backup", "forget", "check", "verify")
	if !ok {
		return s
	}
	for _, j := range []struct {
		name  string
		dst   *Schedule
		words []string
	}{
		{"backup", &s.Backup, nil},
		{"forget", &s.Forget, []string{AfterBackup, Off}},
		{"check", &s.Check, []string{Off}},
		{"verify", &s.Verify, []string{Off}},
	} {
		jf, ok := fields[j.name]
		if !ok {
			continue
		}
		spec, ok := d.nonEmpty(jf)
		if !ok {
			continue
		}
		if contains(j.words, spec) {
			*j.dst = Schedule{Spec: spec}
			continue
		}
		sched, err := parseCron(spec)
		if err != nil {
			hint := ""
			if len(j.words) > 0 {
				hint = fmt.Sprintf(" or %s", strings.Join(j.words, " or "))
			}
			d.errorf(jf.val, jf.path, "want a cron expression%s: %v", hint, err)
			continue
		}
		*j.dst = Schedule{Spec: spec, Cron: sched}
	}
	return s
}

func mustSchedule(spec string) Schedule {
	sched, err := parseCron(spec)
	if err != nil {
		panic(fmt.Sprintf("default schedule %q: %v", spec, err))
	}
	return Schedule{Spec: spec, Cron: sched}
}

// neverProbe is where parseCron starts looking for a first run; from it,
// the cron library searches five years, which covers 29 February.
var neverProbe = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// parseCron reads a standard cron expression (five fields, or a
// descriptor such as @daily, optionally after CRON_TZ=Zone) and refuses
// one that never fires.
func parseCron(spec string) (sched cron.Schedule, err error) {
	// The library slices past a time zone prefix that no expression
	// follows and panics.
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		if !strings.Contains(spec, " ") {
			return nil, fmt.Errorf("%q: no expression after the time zone", spec)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q: cannot be parsed", spec)
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if sched.Next(neverProbe).IsZero() {
		return nil, fmt.Errorf("%q never runs", spec)
	}
	return sched, nil
}

func (d *decoder) retention(f field) Retention {
	r := Retention{
		Policy:  repository.ExpirePolicy{Daily: DefaultKeepDaily},
		GroupBy: repository.DefaultGroupBy,
	}
	fields, ok := d.mapping(f.val, f.path, "keep-last", "keep-hourly", "keep-daily", "keep-weekly",
		"keep-monthly", "keep-yearly", "keep-within", "keep-tag", "group-by", "max-unused")
	if !ok {
		return r
	}
	var p repository.ExpirePolicy
	rules, errsBefore := 0, len(d.errs)
	for _, k := range []struct {
		name string
		dst  *int
	}{
		{"keep-last", &p.Last}, {"keep-hourly", &p.Hourly}, {"keep-daily", &p.Daily},
		{"keep-weekly", &p.Weekly}, {"keep-monthly", &p.Monthly}, {"keep-yearly", &p.Yearly},
	} {
		kf, ok := fields[k.name]
		if !ok {
			continue
		}
		rules++
		n, ok := d.integer(kf)
		if !ok {
			continue
		}
		if n < -1 {
			d.errorf(kf.val, kf.path, "want a count, or -1 for unlimited")
			continue
		}
		*k.dst = n
	}
	if wf, ok := fields["keep-within"]; ok {
		rules++
		if s, ok := d.nonEmpty(wf); ok {
			w, err := parseKeepWithin(s)
			if err != nil {
				d.errorf(wf.val, wf.path, "%q: %v", s, err)
			}
			p.Within = w
		}
	}
	if tf, ok := fields["keep-tag"]; ok {
		rules++
		tags, _, _ := d.strings(tf)
		for _, t := range tags {
			p.Tags = append(p.Tags, strings.Split(t, ","))
		}
	}
	if rules > 0 {
		if p.Empty() && len(d.errs) == errsBefore {
			d.errorf(at(f), f.path, "the rules keep every snapshot: give a keep-* rule above zero, or set schedules.forget to off")
		}
		r.Policy = p
	}
	if gf, ok := fields["group-by"]; ok {
		if s, ok := d.str(gf); ok {
			by, err := repository.ParseGroupBy(s)
			if err != nil {
				d.errorf(gf.val, gf.path, "%v", err)
			}
			r.GroupBy = by
		}
	}
	if mf, ok := fields["max-unused"]; ok {
		if s, ok := d.scalar(mf); ok {
			mu, err := repository.ParseMaxUnused(s)
			if err != nil {
				d.errorf(mf.val, mf.path, "%v", err)
			}
			r.Prune.MaxUnused = mu
		}
	}
	return r
}

// holdFormats are the formats a hold may name: the file formats records
// are found in.
var holdFormats = []formats.Format{
	formats.FormatMail, formats.FormatMbox, formats.FormatCSV, formats.FormatJSONL,
	formats.FormatJSON, formats.FormatVCard, formats.FormatICal, formats.FormatSQL,
	formats.FormatText, formats.FormatGzip, formats.FormatZip, formats.FormatFallback,
	formats.FormatSQLite, formats.FormatMsg,
}

func (d *decoder) holds(f field) []Hold {
	items, ok := d.list(f)
	if !ok {
		return nil
	}
	var out []Hold
	seen := d.names()
	for i, n := range items {
		it := item(f, i, n)
		fields, ok := d.mapping(n, it.path, "name", "paths", "formats", "basis", "duration")
		if !ok {
			continue
		}
		var h Hold
		if nf, ok := d.required(fields, "name", it); ok {
			h.Name, _ = seen.check(nf)
		}
		pf, hasPaths := fields["paths"]
		ff, hasFormats := fields["formats"]
		if hasPaths {
			h.Paths = d.patterns(pf)
		}
		if hasFormats {
			h.Formats = d.holdFormats(ff)
		}
		if !hasPaths && !hasFormats {
			d.errorf(n, it.path, "give paths and/or formats: what the hold keeps")
		}
		if bf, ok := d.required(fields, "basis", it); ok {
			h.Basis, _ = d.nonEmpty(bf)
		}
		if df, ok := d.required(fields, "duration", it); ok {
			if s, ok := d.nonEmpty(df); ok {
				p, err := ParsePeriod(s)
				if err != nil {
					d.errorf(df.val, df.path, "%q: %v", s, err)
				}
				h.Duration = p
			}
		}
		out = append(out, h)
	}
	return out
}

func (d *decoder) holdFormats(f field) []formats.Format {
	list, items, _ := d.strings(f)
	var out []formats.Format
	for i, s := range list {
		ff := formats.Format(s)
		known := false
		for _, k := range holdFormats {
			known = known || k == ff
		}
		if !known {
			names := make([]string, len(holdFormats))
			for j, k := range holdFormats {
				names[j] = string(k)
			}
			d.errorf(items[i].val, items[i].path, "unknown format %q: want one of %s", s, strings.Join(names, ", "))
			continue
		}
		out = append(out, ff)
	}
	return out
}

func (d *decoder) identifiers(f field) Identifiers {
	id := Identifiers{PhoneRegion: DefaultPhoneRegion}
	fields, ok := d.mapping(f.val, f.path, "phone-region", "custom-kinds", "name-columns", "path-rules")
	if !ok {
		return id
	}
	if rf, ok := fields["phone-region"]; ok {
		if s, ok := d.nonEmpty(rf); ok {
			if _, err := tombstones.NewNormalizer(s, nil); err != nil {
				d.errorf(rf.val, rf.path, "%q: want an ISO 3166 region code such as SE", s)
			} else {
				id.PhoneRegion = strings.ToUpper(s)
			}
		}
	}
	if kf, ok := fields["custom-kinds"]; ok {
		id.CustomKinds = d.customKinds(kf)
	}
	if nf, ok := fields["name-columns"]; ok {
		id.NameColumns, _, _ = d.strings(nf)
	}
	if pf, ok := fields["path-rules"]; ok {
		id.PathRules = d.pathRules(pf, id.CustomKinds)
	}
	return id
}

func (d *decoder) customKinds(f field) []tombstones.CustomKind {
	items, ok := d.list(f)
	if !ok {
		return nil
	}
	var out []tombstones.CustomKind
	seen := map[string]int{}
	for i, n := range items {
		it := item(f, i, n)
		fields, ok := d.mapping(n, it.path, "name", "pattern")
		if !ok {
			continue
		}
		nf, hasName := d.required(fields, "name", it)
		pf, hasPattern := d.required(fields, "pattern", it)
		if !hasName || !hasPattern {
			continue
		}
		name, ok1 := d.nonEmpty(nf)
		pattern, ok2 := d.nonEmpty(pf)
		if !ok1 || !ok2 {
			continue
		}
		if contains(builtinKinds(), name) {
			d.errorf(nf.val, nf.path, "%s is a built-in kind", name)
			continue
		}
		if line, dup := seen[name]; dup {
			d.errorf(nf.val, nf.path, "kind %s is defined twice (first at line %d)", name, line)
			continue
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			d.errorf(pf.val, pf.path, "invalid regular expression: %v", err)
			continue
		}
		k := tombstones.CustomKind{Name: name, Pattern: re}
		// The normalizer has the last word on names and patterns (one
		// that matches the empty string, say).
		if _, err := tombstones.NewNormalizer("", []tombstones.CustomKind{k}); err != nil {
			d.errorf(nf.val, it.path, "%v", err)
			continue
		}
		seen[name] = nf.val.Line
		out = append(out, k)
	}
	return out
}

func builtinKinds() []string {
	out := make([]string, len(tombstones.BuiltinKinds))
	for i, k := range tombstones.BuiltinKinds {
		out[i] = string(k)
	}
	return out
}

func (d *decoder) pathRules(f field, custom []tombstones.CustomKind) []formats.PathRule {
	list, items, _ := d.strings(f)
	known := builtinKinds()
	for _, c := range custom {
		known = append(known, c.Name)
	}
	var out []formats.PathRule
	for i, s := range list {
		it := items[i]
		r, err := formats.ParsePathRule(s)
		if err != nil {
			d.errorf(it.val, it.path, "%v", err)
			continue
		}
		if k := placeholder(s); !contains(known, k) {
			d.errorf(it.val, it.path, "path rule %q: unknown kind {%s}: want one of %s or a custom kind", s, k, strings.Join(builtinKinds(), ", "))
			continue
		}
		out = append(out, r)
	}
	return out
}

// placeholder returns the kind named in a valid path rule's {kind}.
func placeholder(template string) string {
	for _, s := range strings.Split(filepath.ToSlash(template), "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			return s[1 : len(s)-1]
		}
	}
	return ""
}

func (d *decoder) erasure(f field) Period {
	deadline, _ := ParsePeriod(DefaultDeadline)
	fields, ok := d.mapping(f.val, f.path, "deadline")
	if !ok {
		return deadline
	}
	if df, ok := fields["deadline"]; ok {
		if s, ok := d.nonEmpty(df); ok {
			p, err := ParsePeriod(s)
			if err != nil {
				d.errorf(df.val, df.path, "%q: %v", s, err)
			}
			deadline = p
		}
	}
	return deadline
}

func (d *decoder) api(f field) API {
	a := API{Socket: DefaultAPISocket, SocketMode: DefaultAPISocketMode}
	fields, ok := d.mapping(f.val, f.path, "socket", "socket-mode")
	if !ok {
		return a
	}
	if sf, ok := fields["socket"]; ok {
		if s, ok := d.absPath(sf); ok {
			a.Socket = s
		}
	}
	if mf, ok := fields["socket-mode"]; ok {
		if s, ok := d.scalar(mf); ok {
			m, err := parseMode(s)
			if err != nil {
				d.errorf(mf.val, mf.path, "%v", err)
			}
			a.SocketMode = m
		}
	}
	return a
}

// parseMode reads an octal permission such as 0660. Others may not
// connect: whoever can reach the API can file erasures and read receipts.
func parseMode(s string) (fs.FileMode, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v > 0o777 {
		return 0, fmt.Errorf("%q: want octal permissions such as 0660", s)
	}
	m := fs.FileMode(v)
	if m&0o007 != 0 {
		return 0, fmt.Errorf("%q: must not give others access; use a group", s)
	}
	if m&0o600 != 0o600 {
		return 0, fmt.Errorf("%q: the owner needs read and write", s)
	}
	return m, nil
}

func (d *decoder) metrics(f field) string {
	fields, ok := d.mapping(f.val, f.path, "address")
	if !ok {
		return ""
	}
	af, ok := fields["address"]
	if !ok {
		return ""
	}
	s, ok := d.nonEmpty(af)
	if !ok {
		return ""
	}
	if err := checkLoopback(s); err != nil {
		d.errorf(af.val, af.path, "%v", err)
		return ""
	}
	return s
}

// checkLoopback accepts host:port with a loopback host: metrics are for
// a local scraper or a proxy in front of it, never the network.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port, e.g. 127.0.0.1:9134", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: want a port from 1 to 65535", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: must be a loopback address (127.0.0.1, [::1] or localhost)", addr)
	}
	return nil
}
