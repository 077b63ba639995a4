// Package config reads the agent's YAML config file: what to back up,
// where to, when, what to keep, what erasures must leave in place and
// why, and where the agent listens.
//
// Parse checks everything it can without touching storage or the
// network: unknown keys, wrong types and invalid values are errors that
// name the file, line and key. It fills in the defaults, and it hands out
// the values the jobs, the formats and the tombstones packages take, so
// the agent and the command line use them as they are.
//
// Secrets are not in the file: it names files that hold them, typically
// systemd credentials under $CREDENTIALS_DIRECTORY (see ExpandCredentials).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"lethe/agent/formats"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/backends/location"
	"lethe/tombstones"
)

// DefaultPath is where the agent looks for its config unless told
// otherwise.
const DefaultPath = "/etc/lethe/lethe.yaml"

// The defaults of keys that have one.
const (
	DefaultBackupSchedule = "0 2 * * *"
	DefaultForgetSchedule = AfterBackup
	DefaultCheckSchedule  = "0 4 * * 0"
	DefaultVerifySchedule = "0 5 * * 0"
	DefaultKeepDaily      = 7
	DefaultDeadline       = "1m"
	DefaultAPISocket      = "/run/lethe/lethe.sock"
	DefaultAPISocketMode  = fs.FileMode(0o660)
	DefaultPhoneRegion    = tombstones.DefaultRegion
	DefaultStateDir       = tombstones.DefaultStateDir
)

// Config is a checked config with its defaults filled in.
type Config struct {
	// File is the name the config was read from, for messages.
	File string
	// StateDir is the local state directory (tombstone log, subject key
	// copy).
	StateDir string
	// SubjectKeyFile, if set, names a file holding the subject key,
	// typically a systemd credential; it may start with
	// $CREDENTIALS_DIRECTORY (see ExpandCredentials). Empty: the copy in
	// the state directory.
	SubjectKeyFile string
	Business       Business
	Sources        []Source
	Repositories   []Repository
	Schedules      Schedules
	Retention      Retention
	Holds          []Hold
	Identifiers    Identifiers
	// Deadline is how long the business has to answer an erasure
	// request, from its receipt.
	Deadline Period
	API      API
	// MetricsAddress is the loopback host:port Prometheus metrics are
	// served on; empty: none.
	MetricsAddress string
}

// Business is who answers erasure requests, as receipts name them.
type Business struct {
	Name    string
	Contact string
}

// Source is one thing to back up: directories, or the output of a
// command stored as one file.
type Source struct {
	Name string
	// Paths are absolute, cleaned directories or files; Excludes are
	// patterns as jobs.BackupOptions takes them.
	Paths    []string
	Excludes []string
	// Command is the program and its arguments (run without a shell)
	// whose standard output is backed up as the file Filename.
	Command  []string
	Filename string
}

// IsCommand reports whether the source is a command's output.
func (s *Source) IsCommand() bool { return len(s.Command) > 0 }

// Repository is one repository the agent writes to.
type Repository struct {
	Name string
	// Location and Options are as location.Parse and jobs.Repo take them;
	// Options are "s3.key=value" in the order the file gives them.
	Location string
	Options  []string
	// Parsed is Location parsed with its Options.
	Parsed location.Location
	// PasswordFile names the file holding the password; it may start with
	// $CREDENTIALS_DIRECTORY (see ExpandCredentials).
	PasswordFile string
}

// JobsRepo returns the repository as the jobs package opens it. The
// password is read from PasswordFile when the job needs it, with
// $CREDENTIALS_DIRECTORY taken from the environment at that time.
func (r *Repository) JobsRepo() jobs.Repo {
	file := r.PasswordFile
	return jobs.Repo{
		Location: r.Location,
		Options:  append([]string(nil), r.Options...),
		Password: func() (string, error) {
			p, err := ExpandCredentials(file)
			if err != nil {
				return "", fmt.Errorf("password file: %w", err)
			}
			return jobs.ReadPasswordFile(p)
		},
	}
}

// Schedules say when each job runs.
type Schedules struct {
	Backup Schedule
	// Forget forgets by the retention policy and prunes; by default right
	// after each backup.
	Forget Schedule
	// Check checks the repositories' structure.
	Check Schedule
	// Verify is the deep verification: every snapshot's content against
	// every tombstone.
	Verify Schedule
}

// The schedule words besides cron expressions.
const (
	// AfterBackup runs a job when a backup has finished (forget only).
	AfterBackup = "after-backup"
	// Off never runs a job (not for backup).
	Off = "off"
)

// Schedule is when one job runs: a cron expression, AfterBackup or Off.
type Schedule struct {
	// Spec is the schedule as written (or its default).
	Spec string
	// Cron is the parsed cron expression; nil for AfterBackup and Off.
	Cron cron.Schedule
}

// AfterBackup reports whether the job runs after each backup.
func (s Schedule) AfterBackup() bool { return s.Spec == AfterBackup }

// Off reports whether the job never runs on its own.
func (s Schedule) Off() bool { return s.Spec == Off }

// Next returns the first time after t the job runs on its own schedule,
// or the zero time when it has none (Off, AfterBackup).
func (s Schedule) Next(t time.Time) time.Time {
	if s.Cron == nil {
		return time.Time{}
	}
	return s.Cron.Next(t)
}

// Retention is what forget keeps and how prune runs after it.
type Retention struct {
	Policy  repository.ExpirePolicy
	GroupBy repository.GroupBy
	Prune   repository.PruneOptions
}

// ForgetOptions returns the options of the forget job that applies the
// policy and prunes.
func (r *Retention) ForgetOptions() jobs.ForgetOptions {
	return jobs.ForgetOptions{
		Policy:       r.Policy,
		GroupBy:      r.GroupBy,
		Prune:        true,
		PruneOptions: r.Prune,
	}
}

// Hold keeps matching records despite an erasure, for Duration after
// the record's time, on a legal Basis that receipts cite. A record is
// held when its file matches one of Paths (if any are given) and is of
// one of Formats (if any are given).
type Hold struct {
	Name string
	// Paths are patterns in the syntax of excludes: filepath.Match per
	// path component, "**" for any number of components, anchored at the
	// root when they start with "/".
	Paths    []string
	Formats  []formats.Format
	Basis    string
	Duration Period
}

// Identifiers is how identifiers are recognised.
type Identifiers struct {
	// PhoneRegion is the ISO 3166 region of phone numbers written without
	// a country code.
	PhoneRegion string
	CustomKinds []tombstones.CustomKind
	// NameColumns are CSV header names whose values are names.
	NameColumns []string
	// PathRules make whole folders one subject's.
	PathRules []formats.PathRule
}

// Normalizer returns the normalizer for these identifiers. Parse has
// built one already, so it fails only for an Identifiers changed since.
func (id *Identifiers) Normalizer() (*tombstones.Normalizer, error) {
	return tombstones.NewNormalizer(id.PhoneRegion, id.CustomKinds)
}

// FormatOptions returns the scanning options for these identifiers.
func (id *Identifiers) FormatOptions() *formats.Options {
	return &formats.Options{
		NameColumns: append([]string(nil), id.NameColumns...),
		PathRules:   append([]formats.PathRule(nil), id.PathRules...),
	}
}

// API is where the local API listens.
type API struct {
	// Socket is the unix socket's path; SocketMode its permissions.
	Socket     string
	SocketMode fs.FileMode
}

// Load reads and checks the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse checks the config in data; name is the file it came from, for
// messages. Its errors are Errors, one for each problem found.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{file: name}
	root, ok := d.document(data)
	if !ok {
		return nil, d.err()
	}
	c := &Config{File: name}
	d.config(root, c)
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// document decodes the one YAML document in data into its root mapping.
func (d *decoder) document(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Msg: "the config is empty"})
			return nil, false
		}
		d.syntaxError(err)
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			d.syntaxError(err)
		} else {
			d.errs = append(d.errs, &Error{File: d.file, Line: next.Line, Msg: "a second YAML document: the config is one document"})
		}
		return nil, false
	}
	if len(doc.Content) != 1 {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Msg: "the config is empty"})
		return nil, false
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "(top)", "want a mapping of keys, got %s", describe(root))
		return nil, false
	}
	return root, true
}
