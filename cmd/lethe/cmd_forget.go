package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"lethe/agent/jobs"
	"lethe/agent/repository"
)

type forgetOptions struct {
	last, hourly, daily, weekly, monthly, yearly int
	within                                       string
	keepTags                                     []string
	groupBy                                      string
	dryRun                                       bool
	prune                                        bool
	maxUnused                                    string
}

func newForgetCommand(g *globalOptions) *cobra.Command {
	var o forgetOptions
	cmd := &cobra.Command{
		Use:   "forget [flags] [SNAPSHOT...]",
		Short: "Remove snapshots by ID or by a keep policy",
		Long: `Remove snapshots by ID, or keep only those a policy selects per group
(host and paths by default). The data stays until prune (or --prune).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForget(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.last, "keep-last", "l", 0, "keep the last `n` snapshots")
	f.IntVarP(&o.hourly, "keep-hourly", "H", 0, "keep the last `n` hourly snapshots")
	f.IntVarP(&o.daily, "keep-daily", "d", 0, "keep the last `n` daily snapshots")
	f.IntVarP(&o.weekly, "keep-weekly", "w", 0, "keep the last `n` weekly snapshots")
	f.IntVarP(&o.monthly, "keep-monthly", "m", 0, "keep the last `n` monthly snapshots")
	f.IntVarP(&o.yearly, "keep-yearly", "y", 0, "keep the last `n` yearly snapshots")
	f.StringVar(&o.within, "keep-within", "", "keep snapshots newer than `duration` (e.g. 7d, 1y2m3d4h) before the latest")
	f.StringArrayVar(&o.keepTags, "keep-tag", nil, "keep snapshots with these `tags` (comma-separated: all of them)")
	f.StringVarP(&o.groupBy, "group-by", "g", "host,paths", "group snapshots by `list` of host, paths, tags")
	f.BoolVarP(&o.dryRun, "dry-run", "n", false, "only show what would be removed")
	f.BoolVar(&o.prune, "prune", false, "run prune afterwards")
	f.StringVar(&o.maxUnused, "max-unused", "5%", "with --prune: tolerated unused space (`percent` or \"unlimited\")")
	return cmd
}

func runForget(ctx context.Context, g *globalOptions, o forgetOptions, ids []string) error {
	within, err := parseKeepDuration(o.within)
	if err != nil {
		return err
	}
	by, err := repository.ParseGroupBy(o.groupBy)
	if err != nil {
		return fmt.Errorf("--group-by %w", err)
	}
	policy := repository.ExpirePolicy{Last: o.last, Hourly: o.hourly, Daily: o.daily, Weekly: o.weekly, Monthly: o.monthly, Yearly: o.yearly, Within: within}
	for _, t := range o.keepTags {
		policy.Tags = append(policy.Tags, strings.Split(t, ","))
	}
	maxUnused, err := repository.ParseMaxUnused(o.maxUnused)
	if err != nil {
		return fmt.Errorf("--max-unused %w", err)
	}
	if len(ids) > 0 && !policy.Empty() {
		return fmt.Errorf("give either snapshot IDs or a keep policy, not both")
	}
	if len(ids) == 0 && policy.Empty() {
		return fmt.Errorf("no policy given: nothing to forget (use --keep-* flags or snapshot IDs)")
	}

	repo, ctx, release, err := g.lockedRepository(ctx, removing, false)
	if err != nil {
		return err
	}
	defer release()

	// The forgotten snapshots are printed before prune starts, and prune
	// shows its progress once it does.
	printed := false
	var p *progress
	report := func(res jobs.ForgetResult) {
		printed = true
		if len(ids) > 0 {
			for _, sn := range res.Removed {
				g.printf("removed snapshot %s\n", sn.ID.Str())
			}
		} else if g.json {
			if err := printJSON(g.stdout, forgetJSON(res.Groups)); err != nil {
				g.warnf("error: %v\n", err)
			}
		} else {
			for _, gr := range res.Groups {
				printForgetGroup(g, gr)
			}
		}
		if o.prune && !o.dryRun && len(res.Removed) > 0 {
			p = g.newProgress("prune")
		}
	}
	res, err := jobs.Forget(ctx, repo, jobs.ForgetOptions{
		IDs:     ids,
		Policy:  policy,
		GroupBy: by,
		DryRun:  o.dryRun,
		Prune:   o.prune,
		PruneOptions: repository.PruneOptions{MaxUnused: maxUnused, Progress: func(done, total int) {
			p.count(done, total)
		}},
		Forgotten: report,
	})
	if p != nil {
		p.stop()
	}
	if !printed && len(ids) > 0 {
		// The snapshots removed before the error.
		report(res)
	}
	if err != nil {
		return err
	}
	if o.dryRun {
		g.printf("dry run: %d snapshots would be removed\n", len(res.Removed))
		return nil
	}
	if res.Pruned {
		return printPruneStats(g, res.Prune, false)
	}
	return nil
}

func printForgetGroup(g *globalOptions, gr repository.ForgetGroup) {
	g.printf("snapshots for (host [%s], paths %v, tags %v):\n", gr.Key.Hostname, gr.Key.Paths, gr.Key.Tags)
	reasons := map[repository.ID][]string{}
	for _, r := range gr.Reasons {
		reasons[r.Snapshot.ID] = r.Matches
	}
	if g.quiet {
		return
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "keep %d snapshots:\n", len(gr.Keep))
	for _, sn := range gr.Keep {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", sn.ID.Str(), sn.Time.Local().Format(time.DateTime), strings.Join(reasons[sn.ID], ", "))
	}
	fmt.Fprintf(tw, "remove %d snapshots:\n", len(gr.Remove))
	for _, sn := range gr.Remove {
		fmt.Fprintf(tw, "%s\t%s\t\n", sn.ID.Str(), sn.Time.Local().Format(time.DateTime))
	}
	_ = tw.Flush()
	g.printf("\n")
}

func forgetJSON(groups []repository.ForgetGroup) []map[string]any {
	out := make([]map[string]any, 0, len(groups))
	list := func(l []*repository.Snapshot) []snapshotJSON {
		r := make([]snapshotJSON, 0, len(l))
		for _, sn := range l {
			r = append(r, snapshotJSON{Snapshot: sn, ID: sn.ID.String(), ShortID: sn.ID.Str()})
		}
		return r
	}
	for _, gr := range groups {
		reasons := make([]map[string]any, 0, len(gr.Reasons))
		for _, r := range gr.Reasons {
			reasons = append(reasons, map[string]any{"snapshot": snapshotJSON{Snapshot: r.Snapshot, ID: r.Snapshot.ID.String(), ShortID: r.Snapshot.ID.Str()}, "matches": r.Matches})
		}
		out = append(out, map[string]any{"host": gr.Key.Hostname, "paths": gr.Key.Paths, "tags": gr.Key.Tags,
			"keep": list(gr.Keep), "remove": list(gr.Remove), "reasons": reasons})
	}
	return out
}

// parseKeepDuration reads restic's duration syntax: a sequence of numbers
// with units y, m (months), d and h. Years and months count 365 and 30 days.
func parseKeepDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	rest := s
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsDigit(r) })
		if i <= 0 || i == len(rest) {
			return 0, fmt.Errorf("invalid duration %q: want numbers with units y, m, d, h (e.g. 1y2m7d)", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		unit := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour}[rest[i]]
		if unit == 0 {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q", s, rest[i])
		}
		d += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	return d, nil
}
