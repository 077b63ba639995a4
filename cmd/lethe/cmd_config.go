package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/config"
)

// configPathFromEnv is the config file --config defaults to: $LETHE_CONFIG,
// else config.DefaultPath.
func configPathFromEnv() string {
	if p := os.Getenv("LETHE_CONFIG"); p != "" {
		return p
	}
	return config.DefaultPath
}

func newConfigCommand(g *globalOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with the agent's config file",
		Args:  cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&file, "config", configPathFromEnv(), "the config `file` (env LETHE_CONFIG)")
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Check the config file and show what it sets up",
		Long: `Check reads the config file, reports every problem in it as
FILE:LINE: KEY: what is wrong, and exits with status 1 if there is one.
A good config is summarised: its repositories, sources and schedules with
their next run times. Check touches no repository.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigCheck(g, file, time.Now())
		},
	})
	return cmd
}

func runConfigCheck(g *globalOptions, file string, now time.Time) error {
	c, err := config.Load(file)
	var problems config.Errors
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Fprintln(g.stderr, p)
		}
		return &exitCodeError{code: exitError, err: fmt.Errorf("%s: %d problem%s", file, len(problems), plural(len(problems)))}
	}
	if err != nil {
		return err
	}
	if g.json {
		return json.NewEncoder(g.stdout).Encode(configSummaryJSON(c, now))
	}
	printConfigSummary(g, c, now)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// commandSummary names a command source's program and counts its
// arguments: arguments may carry a connection string with a password.
func commandSummary(s *config.Source) string {
	n := len(s.Command) - 1
	return fmt.Sprintf("%s (%d argument%s) > %s", s.Command[0], n, plural(n), s.Filename)
}

func printConfigSummary(g *globalOptions, c *config.Config, now time.Time) {
	if g.quiet {
		return
	}
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%s: OK\n", c.File)
	fmt.Fprintf(w, "repositories:\n")
	for _, r := range c.Repositories {
		fmt.Fprintf(w, "  %s\t%s\n", r.Name, r.Parsed)
	}
	fmt.Fprintf(w, "sources:\n")
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.IsCommand() {
			fmt.Fprintf(w, "  %s\t%s\n", s.Name, commandSummary(s))
			continue
		}
		desc := strings.Join(s.Paths, ", ")
		if n := len(s.Excludes); n > 0 {
			desc += fmt.Sprintf(" (%d exclude%s)", n, plural(n))
		}
		fmt.Fprintf(w, "  %s\t%s\n", s.Name, desc)
	}
	fmt.Fprintf(w, "schedules:\n")
	for _, j := range scheduleList(c) {
		next := ""
		if t := j.sched.Next(now); !t.IsZero() {
			next = "next " + t.Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", j.name, j.sched.Spec, next)
	}
	_ = w.Flush()
	// The padding of an empty last column is not output.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if body, ok := strings.CutSuffix(line, "\n"); ok {
			fmt.Fprintln(g.stdout, strings.TrimRight(body, " "))
		}
	}
	fmt.Fprintf(g.stdout, "retention: %s, prune after forget\n", policySummary(c))
	if len(c.Holds) > 0 {
		fmt.Fprintf(g.stdout, "holds:\n")
		for _, h := range c.Holds {
			fmt.Fprintf(g.stdout, "  %s: %s, for %s\n", h.Name, h.Basis, h.Duration)
		}
	}
	fmt.Fprintf(g.stdout, "erasure deadline: %s\n", c.Deadline)
	fmt.Fprintf(g.stdout, "api: %s (mode %04o)\n", c.API.Socket, uint32(c.API.SocketMode.Perm()))
	if c.MetricsAddress != "" {
		fmt.Fprintf(g.stdout, "metrics: http://%s/metrics\n", c.MetricsAddress)
	}
}

type namedSchedule struct {
	name  string
	sched config.Schedule
}

func scheduleList(c *config.Config) []namedSchedule {
	s := c.Schedules
	return []namedSchedule{{"backup", s.Backup}, {"forget", s.Forget}, {"check", s.Check}, {"verify", s.Verify}}
}

func policySummary(c *config.Config) string {
	p := c.Retention.Policy
	var parts []string
	for _, k := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"hourly", p.Hourly}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}, {"yearly", p.Yearly}} {
		switch {
		case k.n < 0:
			parts = append(parts, "keep-"+k.name+" unlimited")
		case k.n > 0:
			parts = append(parts, fmt.Sprintf("keep-%s %d", k.name, k.n))
		}
	}
	if p.Within > 0 {
		parts = append(parts, "keep-within "+p.Within.String())
	}
	for _, tags := range p.Tags {
		parts = append(parts, "keep-tag "+strings.Join(tags, ","))
	}
	return strings.Join(parts, ", ")
}

type configJSON struct {
	File         string                  `json:"file"`
	Repositories []configRepoJSON        `json:"repositories"`
	Sources      []configSourceJSON      `json:"sources"`
	Schedules    map[string]scheduleJSON `json:"schedules"`
}

type configRepoJSON struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

type configSourceJSON struct {
	Name     string   `json:"name"`
	Paths    []string `json:"paths,omitempty"`
	Excludes int      `json:"excludes,omitempty"`
	Program  string   `json:"program,omitempty"`
	Filename string   `json:"filename,omitempty"`
}

type scheduleJSON struct {
	Spec string     `json:"spec"`
	Next *time.Time `json:"next,omitempty"`
}

func configSummaryJSON(c *config.Config, now time.Time) configJSON {
	out := configJSON{File: c.File, Repositories: []configRepoJSON{}, Sources: []configSourceJSON{}, Schedules: map[string]scheduleJSON{}}
	for _, r := range c.Repositories {
		out.Repositories = append(out.Repositories, configRepoJSON{Name: r.Name, Location: r.Parsed.String()})
	}
	for _, s := range c.Sources {
		js := configSourceJSON{Name: s.Name, Paths: s.Paths, Excludes: len(s.Excludes)}
		if s.IsCommand() {
			js.Program, js.Filename = s.Command[0], s.Filename
		}
		out.Sources = append(out.Sources, js)
	}
	for _, j := range scheduleList(c) {
		sj := scheduleJSON{Spec: j.sched.Spec}
		if t := j.sched.Next(now); !t.IsZero() {
			sj.Next = &t
		}
		out.Schedules[j.name] = sj
	}
	return out
}
