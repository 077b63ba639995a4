package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lethe/agent/config"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/backends/location"
)

// minimal is the smallest valid config: everything else is a default.
const minimal = `business:
  name: Exempel AB
  contact: dataskydd@exempel.se
sources:
  - name: files
    paths: [/srv/data]
repositories:
  - name: local
    location: /var/backups/lethe
    password-file: /etc/lethe/password
`

func TestDefaults(t *testing.T) {
	c, err := config.Parse("test.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "test.yaml" || c.StateDir != "/var/lib/lethe" || c.SubjectKeyFile != "" {
		t.Errorf("file %q, state dir %q, subject key file %q", c.File, c.StateDir, c.SubjectKeyFile)
	}
	if c.Business != (config.Business{Name: "Exempel AB", Contact: "dataskydd@exempel.se"}) {
		t.Errorf("business %+v", c.Business)
	}
	wantSrc := []config.Source{{Name: "files", Paths: []string{"/srv/data"}}}
	if len(c.Sources) != 1 || c.Sources[0].Name != "files" || !reflect.DeepEqual(c.Sources[0].Paths, wantSrc[0].Paths) ||
		len(c.Sources[0].Excludes) != 0 || c.Sources[0].IsCommand() {
		t.Errorf("sources %+v", c.Sources)
	}
	if len(c.Repositories) != 1 {
		t.Fatalf("repositories %+v", c.Repositories)
	}
	r := c.Repositories[0]
	if r.Name != "local" || r.Location != "/var/backups/lethe" || len(r.Options) != 0 || r.PasswordFile != "/etc/lethe/password" ||
		r.Parsed.Kind != location.Local || r.Parsed.Dir != "/var/backups/lethe" {
		t.Errorf("repository %+v", r)
	}

	// Schedules: backup daily at 02:00, forget after it, check and deep
	// verify weekly on Sunday morning.
	loc := time.Local
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, loc) // a Tuesday
	for _, s := range []struct {
		name  string
		sched config.Schedule
		spec  string
		next  time.Time
	}{
		{"backup", c.Schedules.Backup, "0 2 * * *", time.Date(2025, 3, 5, 2, 0, 0, 0, loc)},
		{"check", c.Schedules.Check, "0 4 * * 0", time.Date(2025, 3, 9, 4, 0, 0, 0, loc)},
		{"verify", c.Schedules.Verify, "0 5 * * 0", time.Date(2025, 3, 9, 5, 0, 0, 0, loc)},
	} {
		if s.sched.Spec != s.spec || !s.sched.Next(now).Equal(s.next) || s.sched.Off() || s.sched.AfterBackup() {
			t.Errorf("%s: spec %q, next %v; want %q, %v", s.name, s.sched.Spec, s.sched.Next(now), s.spec, s.next)
		}
	}
	if f := c.Schedules.Forget; !f.AfterBackup() || f.Cron != nil || !f.Next(now).IsZero() {
		t.Errorf("forget: %+v, want after backup", f)
	}

	wantRet := config.Retention{Policy: repository.ExpirePolicy{Daily: 7}, GroupBy: repository.DefaultGroupBy}
	if !reflect.DeepEqual(c.Retention, wantRet) {
		t.Errorf("retention %+v, want %+v", c.Retention, wantRet)
	}
	fo := c.Retention.ForgetOptions()
	if !fo.Prune || fo.Policy.Daily != 7 || fo.GroupBy != repository.DefaultGroupBy || len(fo.IDs) != 0 {
		t.Errorf("forget options %+v", fo)
	}
	if c.Deadline != (config.Period{Months: 1}) {
		t.Errorf("deadline %v, want 1m", c.Deadline)
	}
	if c.API != (config.API{Socket: "/run/lethe/lethe.sock", SocketMode: 0o660}) {
		t.Errorf("api %+v", c.API)
	}
	if c.MetricsAddress != "" || len(c.Holds) != 0 {
		t.Errorf("metrics %q, holds %+v", c.MetricsAddress, c.Holds)
	}
	if c.Identifiers.PhoneRegion != "SE" || len(c.Identifiers.CustomKinds) != 0 || len(c.Identifiers.NameColumns) != 0 || len(c.Identifiers.PathRules) != 0 {
		t.Errorf("identifiers %+v", c.Identifiers)
	}
	n, err := c.Identifiers.Normalizer()
	if err != nil || n.Region() != "SE" {
		t.Errorf("normalizer: %v", err)
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "configs", "lethe.yaml"))
	if err != nil {
		t.Fatalf("the example config does not pass:\n%v", err)
	}
	// A few values from each section, so the example says what the
	// docs say it does.
	if len(c.Sources) != 2 || !c.Sources[1].IsCommand() || strings.Join(c.Sources[1].Command, " ") != "pg_dump -Fp shop" || c.Sources[1].Filename != "shop.sql" {
		t.Errorf("sources %+v", c.Sources)
	}
	if len(c.Repositories) != 2 || c.Repositories[1].Parsed.Kind != location.S3 ||
		!reflect.DeepEqual(c.Repositories[1].Options, []string{"s3.region=eu-north-1", "s3.storage-class=STANDARD_IA"}) ||
		c.Repositories[1].Parsed.S3Options.Region != "eu-north-1" {
		t.Errorf("repositories %+v", c.Repositories)
	}
	if c.Repositories[0].PasswordFile != "${CREDENTIALS_DIRECTORY}/repo-password" {
		t.Errorf("password file %q", c.Repositories[0].PasswordFile)
	}
	if len(c.Holds) != 1 || c.Holds[0].Duration != (config.Period{Years: 7}) || !strings.HasPrefix(c.Holds[0].Basis, "Bokföringslagen") {
		t.Errorf("holds %+v", c.Holds)
	}
	opts := c.Identifiers.FormatOptions()
	if !reflect.DeepEqual(opts.NameColumns, []string{"namn", "name"}) || len(opts.PathRules) != 1 || opts.PathRules[0].Template != "**/kunder/{customer}/**" {
		t.Errorf("format options %+v", opts)
	}
	n, err := c.Identifiers.Normalizer()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := n.Normalize("custom:customer", "K-12345"); err != nil || v != "K-12345" {
		t.Errorf("custom kind: %q, %v", v, err)
	}
	if c.MetricsAddress != "127.0.0.1:9134" {
		t.Errorf("metrics %q", c.MetricsAddress)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}

// withBase returns the minimal config with lines appended at the top
// level.
func withBase(extra string) string { return minimal + extra }

// TestErrors checks that every kind of mistake is reported at its file,
// line and key, with what is wrong.
func TestErrors(t *testing.T) {
	base := strings.Count(minimal, "\n") // the first appended line is base+1
	for _, tc := range []struct {
		name string
		yaml string
		line int
		key  string
		msg  string
	}{
		{"unknown key at depth", strings.Replace(minimal, "password-file:", "passwrd-file:", 1),
			10, "repositories[0].passwrd-file", "unknown key (did you mean password-file?)"},
		{"unknown top-level key", withBase("keep-daily: 7\n"), base + 1, "keep-daily", "unknown key"},
		{"underscore for dash", withBase("retention:\n  keep_daily: 7\n"), base + 2, "retention.keep_daily", "did you mean keep-daily?"},
		{"duplicate key", withBase("state-dir: /a\nstate-dir: /b\n"), base + 2, "state-dir", "given twice (first at line 11)"},
		{"list wanted", strings.Replace(minimal, "paths: [/srv/data]", "paths: /srv/data", 1), 6, "sources[0].paths", "want a list, got a string"},
		{"mapping wanted", withBase("retention: 7\n"), base + 1, "retention", "want a mapping of keys, got a number"},
		{"number wanted", withBase("retention:\n  keep-daily: seven\n"), base + 2, "retention.keep-daily", "want a whole number, got a string"},
		{"string wanted", withBase("state-dir: [a]\n"), base + 1, "state-dir", "want a string, got a list"},
		{"negative count", withBase("retention:\n  keep-daily: -2\n"), base + 2, "retention.keep-daily", "-1 for unlimited"},
		{"keeps everything", withBase("retention:\n  keep-daily: 0\n"), base + 1, "retention", "keep every snapshot"},
		{"bad keep-within", withBase("retention:\n  keep-within: 7x\n"), base + 2, "retention.keep-within", "want numbers with units"},
		{"bad group-by", withBase("retention:\n  group-by: host,path\n"), base + 2, "retention.group-by", `"path": want host, paths and/or tags`},
		{"bad max-unused", withBase("retention:\n  max-unused: 5\n"), base + 2, "retention.max-unused", "want a percentage"},
		{"bad cron", withBase("schedules:\n  backup: \"0 25 * * *\"\n"), base + 2, "schedules.backup", "want a cron expression"},
		{"cron with six fields", withBase("schedules:\n  check: \"0 0 2 * * *\"\n"), base + 2, "schedules.check", "want a cron expression or off"},
		{"cron that never runs", withBase("schedules:\n  verify: \"0 0 30 2 *\"\n"), base + 2, "schedules.verify", "never runs"},
		{"cron zone without expression", withBase("schedules:\n  backup: CRON_TZ=Europe/Stockholm\n"), base + 2, "schedules.backup", "no expression after the time zone"},
		{"cron unknown zone", withBase("schedules:\n  backup: CRON_TZ=Mars/Olympus 0 2 * * *\n"), base + 2, "schedules.backup", "bad location"},
		{"backup cannot be off", withBase("schedules:\n  backup: off\n"), base + 2, "schedules.backup", "want a cron expression"},
		{"check cannot be after backup", withBase("schedules:\n  check: after-backup\n"), base + 2, "schedules.check", "want a cron expression or off"},
		{"bad s3 location", strings.Replace(minimal, "location: /var/backups/lethe", "location: \"s3:\"", 1), 9, "repositories[0].location", "S3 URL"},
		{"relative local location", strings.Replace(minimal, "location: /var/backups/lethe", "location: backups", 1), 9, "repositories[0].location", "absolute path"},
		{"bad s3 option", strings.Replace(minimal, "location: /var/backups/lethe", "location: s3:host/bucket\n    options:\n      s3.connections: 0", 1),
			11, "repositories[0].options.s3.connections", "want a number from 1 to 1000"},
		{"unknown s3 option", strings.Replace(minimal, "location: /var/backups/lethe", "location: s3:host/bucket\n    options:\n      region: x", 1),
			11, "repositories[0].options.region", "s3.* options"},
		{"options of a local repository", strings.Replace(minimal, "location: /var/backups/lethe", "location: /b\n    options:\n      s3.region: x", 1),
			11, "repositories[0].options", "takes no options"},
		{"missing location", strings.Replace(minimal, "    location: /var/backups/lethe\n", "", 1), 8, "repositories[0].location", "missing"},
		{"relative password file", strings.Replace(minimal, "/etc/lethe/password", "password", 1), 10, "repositories[0].password-file", "absolute path"},
		{"other variable in password file", strings.Replace(minimal, "/etc/lethe/password", "$HOME/pw", 1), 10, "repositories[0].password-file", "only $CREDENTIALS_DIRECTORY"},
		{"credential without a name", strings.Replace(minimal, "/etc/lethe/password", "${CREDENTIALS_DIRECTORY}/", 1), 10, "repositories[0].password-file", "want $CREDENTIALS_DIRECTORY/NAME"},
		{"duplicate repository name", withBase("  - name: local\n    location: /b\n    password-file: /p\n"), base + 1, "repositories[1].name", "name local is used twice (first at line 8)"},
		{"same repository twice", withBase("  - name: other\n    location: /var/backups/lethe/\n    password-file: /p\n"), base + 2, "repositories[1].location", "the same repository as at line 9"},
		{"bad repository name", strings.Replace(minimal, "name: local", "name: my repo", 1), 8, "repositories[0].name", "want letters, digits"},
		{"no repositories", strings.Replace(minimal, "repositories:\n  - name: local\n    location: /var/backups/lethe\n    password-file: /etc/lethe/password\n", "repositories: []\n", 1),
			7, "repositories", "at least one repository"},
		{"no business", strings.Replace(minimal, "business:\n  name: Exempel AB\n  contact: dataskydd@exempel.se\n", "", 1), 1, "business", "missing"},
		{"no contact", strings.Replace(minimal, "  contact: dataskydd@exempel.se\n", "", 1), 1, "business.contact", "missing"},
		{"source with paths and command", strings.Replace(minimal, "paths: [/srv/data]", "paths: [/srv/data]\n    command: [ls]", 1), 7, "sources[0].command", "not both"},
		{"source with neither", strings.Replace(minimal, "    paths: [/srv/data]\n", "", 1), 5, "sources[0]", "give paths"},
		{"relative source path", strings.Replace(minimal, "[/srv/data]", "[/srv/data, data]", 1), 6, "sources[0].paths[1]", "absolute path"},
		{"bad exclude", strings.Replace(minimal, "paths: [/srv/data]", "paths: [/srv/data]\n    exclude: [\"[a\"]", 1), 7, "sources[0].exclude[0]", "invalid pattern"},
		{"command as a string", strings.Replace(minimal, "paths: [/srv/data]", "command: pg_dump shop", 1), 6, "sources[0].command", "want a list of the program"},
		{"filename with directory", strings.Replace(minimal, "paths: [/srv/data]", "command: [pg_dump]\n    filename: a/b.sql", 1), 7, "sources[0].filename", "without directories"},
		{"excludes of a command", strings.Replace(minimal, "paths: [/srv/data]", "command: [pg_dump]\n    exclude: [x]", 1), 7, "sources[0].exclude", "only a source with paths"},
		{"bad hold duration", withBase("holds:\n  - name: b\n    paths: [/x/**]\n    basis: BFL\n    duration: 7 years\n"), base + 5, "holds[0].duration", `"7 years": want numbers with units y, m, w, d`},
		{"zero hold duration", withBase("holds:\n  - name: b\n    paths: [/x/**]\n    basis: BFL\n    duration: 0d\n"), base + 5, "holds[0].duration", "longer than zero"},
		{"hold without basis", withBase("holds:\n  - name: b\n    paths: [/x/**]\n    duration: 7y\n"), base + 2, "holds[0].basis", "missing"},
		{"hold with empty basis", withBase("holds:\n  - name: b\n    paths: [/x/**]\n    basis: \" \"\n    duration: 7y\n"), base + 4, "holds[0].basis", "must not be empty"},
		{"hold without paths or formats", withBase("holds:\n  - name: b\n    basis: BFL\n    duration: 7y\n"), base + 2, "holds[0]", "give paths and/or formats"},
		{"hold with unknown format", withBase("holds:\n  - name: b\n    formats: [pdf]\n    basis: BFL\n    duration: 7y\n"), base + 3, "holds[0].formats[0]", `unknown format "pdf"`},
		{"bad regexp", withBase("identifiers:\n  custom-kinds:\n    - name: customer\n      pattern: K-[0-9\n"), base + 4, "identifiers.custom-kinds[0].pattern", "invalid regular expression"},
		{"pattern matching nothing", withBase("identifiers:\n  custom-kinds:\n    - name: customer\n      pattern: '[0-9]*'\n"), base + 3, "identifiers.custom-kinds[0]", "matches the empty string"},
		{"custom kind with built-in name", withBase("identifiers:\n  custom-kinds:\n    - name: email\n      pattern: x+\n"), base + 3, "identifiers.custom-kinds[0].name", "built-in kind"},
		{"bad custom kind name", withBase("identifiers:\n  custom-kinds:\n    - name: Kund\n      pattern: x+\n"), base + 3, "identifiers.custom-kinds[0]", "lower-case letters"},
		{"bad path rule", withBase("identifiers:\n  path-rules: [\"kunder/**/{email}\"]\n"), base + 2, "identifiers.path-rules[0]", "** only at the start or end"},
		{"path rule of unknown kind", withBase("identifiers:\n  path-rules: [\"kunder/{kund}/**\"]\n"), base + 2, "identifiers.path-rules[0]", "unknown kind {kund}"},
		{"bad phone region", withBase("identifiers:\n  phone-region: XX\n"), base + 2, "identifiers.phone-region", "ISO 3166"},
		{"bad deadline", withBase("erasure:\n  deadline: 1 month\n"), base + 2, "erasure.deadline", "want numbers with units"},
		{"relative socket", withBase("api:\n  socket: lethe.sock\n"), base + 2, "api.socket", "absolute path"},
		{"socket open to others", withBase("api:\n  socket-mode: \"0666\"\n"), base + 2, "api.socket-mode", "must not give others access"},
		{"metrics on all interfaces", withBase("metrics:\n  address: 0.0.0.0:9134\n"), base + 2, "metrics.address", "must be a loopback address"},
		{"metrics on the network", withBase("metrics:\n  address: 192.168.1.2:9134\n"), base + 2, "metrics.address", "must be a loopback address"},
		{"metrics without host", withBase("metrics:\n  address: \":9134\"\n"), base + 2, "metrics.address", "must be a loopback address"},
		{"metrics without port", withBase("metrics:\n  address: 127.0.0.1\n"), base + 2, "metrics.address", "want host:port"},
		{"yaml syntax", withBase("schedules:\n  backup: @daily\n"), base + 2, "", "invalid YAML"},
		{"bad indentation", withBase("api:\n  socket: /a\n socket-mode: \"0600\"\n"), base + 2, "", "invalid YAML"},
		{"two documents", withBase("---\nstate-dir: /x\n"), base + 1, "", "a second YAML document"},
		{"top is a list", "- a\n", 1, "(top)", "want a mapping of keys, got a list"},
		{"empty", "# nothing\n", 1, "", "the config is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("test.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("a config was returned with the error")
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not config.Errors", err, err)
			}
			var found *config.Error
			for _, e := range errs {
				if e.File != "test.yaml" {
					t.Errorf("error names file %q", e.File)
				}
				if e.Line == tc.line && e.Key == tc.key && strings.Contains(e.Msg, tc.msg) {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("want an error at line %d, key %q, containing %q; got:\n%v", tc.line, tc.key, tc.msg, err)
			}
			want := "test.yaml:" + strconv.Itoa(tc.line) + ": "
			if tc.key != "" {
				want += tc.key + ": "
			}
			if got := found.Error(); !strings.HasPrefix(got, want) {
				t.Errorf("error %q does not start with %q", got, want)
			}
		})
	}
}

// TestErrorsAll checks that one pass reports every problem, in file
// order, each in the FILE:LINE: KEY: form.
func TestErrorsAll(t *testing.T) {
	text := `sources:
  - name: a
    paths: [relative]
repositories:
  - name: r
    location: /r
    password-file: pw
schedules:
  backup: "61 * * * *"
metrics:
  address: 10.0.0.1:1
`
	_, err := config.Parse("x.yaml", []byte(text))
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v", err)
	}
	wantLines := []int{1, 3, 7, 9, 11} // business is missing at the top
	var lines []int
	form := regexp.MustCompile(`^x\.yaml:\d+: [a-z.\[\]0-9-]+: .+`)
	for _, e := range errs {
		lines = append(lines, e.Line)
		if !form.MatchString(e.Error()) {
			t.Errorf("error %q is not FILE:LINE: KEY: message", e.Error())
		}
	}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("errors at lines %v, want %v:\n%v", lines, wantLines, err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(wantLines) {
		t.Errorf("Error() has %d lines, want one per problem", n)
	}
}

// TestNoSecretsInErrors: values that may be secrets are not repeated in
// errors.
func TestNoSecretsInErrors(t *testing.T) {
	for _, text := range []string{
		strings.Replace(minimal, "location: /var/backups/lethe", "location: s3:https://AKIAEXAMPLE:hunter2@s3.example.com/bucket", 1),
		strings.Replace(minimal, "location: /var/backups/lethe", "location: s3:https://AKIAEXAMPLE:hun ter2@s3.example.com/bucket", 1),
		strings.Replace(minimal, "password-file: /etc/lethe/password", "password: hunter2", 1),
		withBase("  - name: x\n    location: /x\n    password-file: /p\n    secret-access-key: hunter2\n"),
	} {
		_, err := config.Parse("test.yaml", []byte(text))
		if err == nil {
			t.Fatalf("no error for\n%s", text)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "hun ter2") {
			t.Errorf("error repeats the secret: %v", err)
		}
	}
}

func TestSettings(t *testing.T) {
	text := withBase(`state-dir: /srv/lethe/state/
subject-key-file: $CREDENTIALS_DIRECTORY/subject-key
schedules:
  backup: "@daily"
  forget: "30 3 * * *"
  check: off
  verify: CRON_TZ=Europe/Stockholm 0 6 1 * *
retention:
  keep-last: 3
  keep-weekly: 4
  keep-monthly: -1
  keep-within: 1y2m3d4h
  keep-tag: [keep, "a,b"]
  group-by: host
  max-unused: 0%
holds:
  - name: sql-orders
    paths: ["/srv/shop/**", "*.sql"]
    formats: [sql, csv]
    basis: Bokföringslagen 7 kap. 2 §
    duration: 1y6m2w
erasure:
  deadline: 30d
api:
  socket: /run/lethe/api.sock
  socket-mode: 0600
`)
	c, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "/srv/lethe/state" || c.SubjectKeyFile != "$CREDENTIALS_DIRECTORY/subject-key" {
		t.Errorf("state dir %q, subject key %q", c.StateDir, c.SubjectKeyFile)
	}
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.Local)
	if got := c.Schedules.Backup.Next(now); !got.Equal(time.Date(2025, 3, 5, 0, 0, 0, 0, time.Local)) {
		t.Errorf("backup next %v", got)
	}
	if got := c.Schedules.Forget.Next(now); c.Schedules.Forget.AfterBackup() || !got.Equal(time.Date(2025, 3, 5, 3, 30, 0, 0, time.Local)) {
		t.Errorf("forget next %v", got)
	}
	if !c.Schedules.Check.Off() || !c.Schedules.Check.Next(now).IsZero() {
		t.Errorf("check %+v, want off", c.Schedules.Check)
	}
	sthlm, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	if got := c.Schedules.Verify.Next(now); !got.Equal(time.Date(2025, 4, 1, 6, 0, 0, 0, sthlm)) {
		t.Errorf("verify next %v", got)
	}
	day := 24 * time.Hour
	want := config.Retention{
		Policy: repository.ExpirePolicy{Last: 3, Weekly: 4, Monthly: -1,
			Within: 365*day + 60*day + 3*day + 4*time.Hour, Tags: [][]string{{"keep"}, {"a", "b"}}},
		GroupBy: repository.GroupBy{Host: true},
		Prune:   repository.PruneOptions{MaxUnused: -1},
	}
	if !reflect.DeepEqual(c.Retention, want) {
		t.Errorf("retention\n%+v, want\n%+v", c.Retention, want)
	}
	wantHold := config.Hold{Name: "sql-orders", Paths: []string{"/srv/shop/**", "*.sql"},
		Formats: []formats.Format{formats.FormatSQL, formats.FormatCSV}, Basis: "Bokföringslagen 7 kap. 2 §",
		Duration: config.Period{Years: 1, Months: 6, Days: 14}}
	if len(c.Holds) != 1 || !reflect.DeepEqual(c.Holds[0], wantHold) {
		t.Errorf("holds %+v", c.Holds)
	}
	if c.Deadline != (config.Period{Days: 30}) {
		t.Errorf("deadline %v", c.Deadline)
	}
	if c.API != (config.API{Socket: "/run/lethe/api.sock", SocketMode: 0o600}) {
		t.Errorf("api %+v", c.API)
	}
}

func TestMetricsLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:9134", "127.0.0.2:80", "[::1]:9134", "localhost:9134"} {
		c, err := config.Parse("test.yaml", []byte(withBase("metrics:\n  address: \""+addr+"\"\n")))
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		if c.MetricsAddress != addr {
			t.Errorf("%s: got %q", addr, c.MetricsAddress)
		}
	}
}

func TestAnchors(t *testing.T) {
	text := `business: {name: A, contact: a@example.se}
sources: [{name: s, paths: [/s]}]
repositories:
  - name: a
    location: /a
    password-file: &pw ${CREDENTIALS_DIRECTORY}/pw
  - name: b
    location: /b
    password-file: *pw
`
	c, err := config.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Repositories[1].PasswordFile != "${CREDENTIALS_DIRECTORY}/pw" {
		t.Errorf("alias not followed: %+v", c.Repositories[1])
	}
}

func TestJobsRepo(t *testing.T) {
	c, err := config.Parse("test.yaml", []byte(strings.Replace(minimal, "/etc/lethe/password", "${CREDENTIALS_DIRECTORY}/repo-password", 1)))
	if err != nil {
		t.Fatal(err)
	}
	jr := c.Repositories[0].JobsRepo()
	if jr.Location != "/var/backups/lethe" || len(jr.Options) != 0 {
		t.Errorf("jobs repo %+v", jr)
	}

	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := jr.Password(); err == nil || !strings.Contains(err.Error(), "CREDENTIALS_DIRECTORY is not set") {
		t.Errorf("without credentials: %v", err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "repo-password"), []byte("geheim\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	pw, err := jr.Password()
	if err != nil || pw != "geheim" {
		t.Errorf("password %q, %v", pw, err)
	}
}

func TestExpandCredentials(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/lethe.service")
	for in, want := range map[string]string{
		"${CREDENTIALS_DIRECTORY}/pw": "/run/credentials/lethe.service/pw",
		"$CREDENTIALS_DIRECTORY/pw":   "/run/credentials/lethe.service/pw",
		"/etc/lethe/pw":               "/etc/lethe/pw",
	} {
		got, err := config.ExpandCredentials(in)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPeriod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.Period
		str  string
	}{
		{"7y", config.Period{Years: 7}, "7y"},
		{"10y", config.Period{Years: 10}, "10y"},
		{"30d", config.Period{Days: 30}, "30d"},
		{"1m", config.Period{Months: 1}, "1m"},
		{"2w", config.Period{Days: 14}, "14d"},
		{"1y6m", config.Period{Years: 1, Months: 6}, "1y6m"},
	} {
		p, err := config.ParsePeriod(tc.in)
		if err != nil || p != tc.want || p.String() != tc.str {
			t.Errorf("%s: %+v %q, %v; want %+v %q", tc.in, p, p.String(), err, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"", "7", "y", "7 y", "7Y", "-1d", "0y", "1h", "99999999999999999999d", "7y1"} {
		if p, err := config.ParsePeriod(bad); err == nil {
			t.Errorf("%q: got %+v, want an error", bad, p)
		}
	}
}

func TestPeriodAfter(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 12, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		p        config.Period
		from, to time.Time
	}{
		{config.Period{Months: 1}, d(2025, 3, 4), d(2025, 4, 4)},
		// A month from the 31st ends on the last day of a shorter month.
		{config.Period{Months: 1}, d(2025, 1, 31), d(2025, 2, 28)},
		{config.Period{Months: 1}, d(2024, 1, 31), d(2024, 2, 29)},
		{config.Period{Months: 13}, d(2024, 12, 31), d(2026, 1, 31)},
		{config.Period{Years: 7}, d(2024, 2, 29), d(2031, 2, 28)},
		{config.Period{Years: 7}, d(2025, 6, 30), d(2032, 6, 30)},
		{config.Period{Days: 30}, d(2025, 1, 31), d(2025, 3, 2)},
		{config.Period{Months: 1, Days: 1}, d(2025, 1, 31), d(2025, 3, 1)},
	} {
		if got := tc.p.After(tc.from); !got.Equal(tc.to) {
			t.Errorf("%v after %v: %v, want %v", tc.p, tc.from, got, tc.to)
		}
	}
}
