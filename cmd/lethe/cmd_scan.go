package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"lethe/agent/formats"
	"lethe/tombstones"
)

// scanOptions are the flags of scan and redact.
type scanOptions struct {
	subjectOptions
	ruleOptions
	useTombstones bool
}

func (o *scanOptions) addFlags(cmd *cobra.Command) {
	o.addIdentifierFlags(cmd)
	o.addSettingsFlags(cmd, true)
	f := cmd.Flags()
	f.BoolVar(&o.useTombstones, "tombstones", false, "match the recorded tombstones instead of identifier flags")
	o.ruleOptions.addFlags(cmd)
}

// matcher builds the matcher from the identifier flags or the tombstones.
func (o *scanOptions) matcher(ctx context.Context, g *globalOptions) (*tombstones.Matcher, func(), error) {
	if o.useTombstones == !o.ids.Empty() {
		return nil, nil, errors.New("give either identifier flags or --tombstones")
	}
	if o.useTombstones {
		o.readOnly = true
		svc, done, err := g.tombstoneService(ctx, &o.subjectOptions)
		if err != nil {
			return nil, nil, err
		}
		m, err := svc.Matcher(ctx)
		if err != nil {
			done()
			return nil, nil, err
		}
		return m, done, nil
	}
	n, err := o.normalizer()
	if err != nil {
		return nil, nil, err
	}
	ids, err := o.ids.Identifiers(n)
	if err != nil {
		return nil, nil, err
	}
	m, err := tombstones.NewIdentifierMatcher(n, ids)
	if err != nil {
		return nil, nil, err
	}
	return m, func() {}, nil
}

// prepare builds the matcher and the scanning options. Files that could not
// be read are counted in unreadable; files scanned by the fallback after
// their parser failed are only reported.
func (o *scanOptions) prepare(ctx context.Context, g *globalOptions, unreadable *atomic.Int64) (*tombstones.Matcher, *formats.Options, func(), error) {
	opts, err := o.formatsOptions()
	if err != nil {
		return nil, nil, nil, err
	}
	m, done, err := o.matcher(ctx, g)
	if err != nil {
		return nil, nil, nil, err
	}
	var red *formats.Redactor
	opts.Report = func(path string, format formats.Format, reason string) {
		// A path may name the subject (a folder named after them):
		// warnings must not.
		path = red.MaskPath(path)
		if format == "" {
			unreadable.Add(1)
			g.warnf("error: %s: %s\n", path, reason)
			return
		}
		g.warnf("warning: %s: not valid %s, scanned as bytes: %s\n", path, format, reason)
	}
	red = formats.NewRedactor(m, opts)
	return m, opts, done, nil
}

func newScanCommand(g *globalOptions) *cobra.Command {
	var o scanOptions
	cmd := &cobra.Command{
		Use:   "scan [identifier flags | --tombstones] PATH...",
		Short: "Find a subject's records in files (exit 0: none, 3: found, 1: error)",
		Long: `Find a subject's records in files and directories: one JSON object per
matching record on stdout, with path, format, record number, byte range and
identifier kinds, never the identifier itself.

Exit status: 0 when nothing matched, 3 when something did, 1 on errors.`,
		Args: argsOf(1, -1, "at least one file or directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var unreadable atomic.Int64
			m, opts, done, err := o.prepare(ctx, g, &unreadable)
			if err != nil {
				return err
			}
			defer done()
			hits := 0
			var werr error
			err = formats.Scan(ctx, args, m, opts, func(h formats.Hit) {
				hits++
				if werr == nil {
					werr = printJSON(g.stdout, h)
				}
			})
			if err == nil {
				err = werr
			}
			if err != nil {
				return err
			}
			if n := unreadable.Load(); n > 0 {
				return fmt.Errorf("%d files could not be read: the scan is incomplete", n)
			}
			if hits > 0 {
				return &exitCodeError{code: exitIncomplete}
			}
			return nil
		},
	}
	o.addFlags(cmd)
	return cmd
}

func newRedactCommand(g *globalOptions) *cobra.Command {
	var (
		o   scanOptions
		out string
	)
	cmd := &cobra.Command{
		Use:   "redact [identifier flags | --tombstones] --out DIR PATH...",
		Short: "Write copies of files with a subject's records removed",
		Long: `Write copies of files and directories under DIR with the subject's records
removed; everything else stays byte-identical. Files without records are
copied unchanged, files that are wholly the subject's are not written. The
input is never changed.`,
		Args: argsOf(1, -1, "at least one file or directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if out == "" {
				return errors.New("--out is required")
			}
			var unreadable atomic.Int64
			m, opts, done, err := o.prepare(ctx, g, &unreadable)
			if err != nil {
				return err
			}
			defer done()
			sum, err := formats.Redact(ctx, args, out, m, opts)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, sum)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "format\tfiles\tredacted\tremoved\trecords removed\tfallbacks\t")
			for _, f := range sum.SortedFormats() {
				s := sum.Formats[f]
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", f, s.Files, s.Redacted, s.Removed, s.RecordsRemoved, s.Fallbacks)
			}
			return tw.Flush()
		},
	}
	o.addFlags(cmd)
	cmd.Flags().StringVar(&out, "out", "", "write the redacted copies below `directory`")
	return cmd
}
