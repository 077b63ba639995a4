package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/config"
	"lethe/agent/jobs"
	"lethe/agent/repository"
)

// snapshotJSON is a snapshot as `restic snapshots --json` prints it.
type snapshotJSON struct {
	*repository.Snapshot
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
}

func newSnapshotsCommand(g *globalOptions) *cobra.Command {
	var hosts, tags []string
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List snapshots",
		Args:  cobra.NoArgs,
		Long: `List snapshots.

With --config, the snapshots of every repository the agent's config
file names are listed, one repository after the other; --repo then
chooses one by its name (or location).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.configFile != "" {
				repos, err := g.configRepos()
				if err != nil {
					return err
				}
				if len(repos) > 0 {
					return configSnapshots(cmd.Context(), g, repos, g.repo == "", hosts, tags)
				}
			}
			return g.withRepository(false, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
				list, err := listSnapshots(ctx, repo, hosts, tags)
				if err != nil {
					return err
				}
				return printSnapshots(g, list)
			})(cmd, args)
		},
	}
	cmd.Flags().StringArrayVar(&hosts, "host", nil, "only snapshots of this `host` (repeatable)")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "only snapshots with this `tag` (repeatable)")
	return cmd
}

// listSnapshots returns the repository's snapshots of the hosts and
// tags.
func listSnapshots(ctx context.Context, repo *repository.Repository, hosts, tags []string) ([]*repository.Snapshot, error) {
	all, err := repo.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	var list []*repository.Snapshot
	for _, sn := range all {
		if matchSnapshot(sn, hosts, tags) {
			list = append(list, sn)
		}
	}
	return list, nil
}

func snapshotsJSON(list []*repository.Snapshot) []snapshotJSON {
	out := make([]snapshotJSON, 0, len(list))
	for _, sn := range list {
		out = append(out, snapshotJSON{Snapshot: sn, ID: sn.ID.String(), ShortID: sn.ID.Str()})
	}
	return out
}

func printSnapshots(g *globalOptions, list []*repository.Snapshot) error {
	if g.json {
		return printJSON(g.stdout, snapshotsJSON(list))
	}
	printSnapshotTable(g.stdout, list)
	return nil
}

func matchSnapshot(sn *repository.Snapshot, hosts, tags []string) bool {
	if len(hosts) > 0 && !contains(hosts, sn.Hostname) {
		return false
	}
	for _, t := range tags {
		if !sn.HasTag(t) {
			return false
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func printSnapshotTable(w io.Writer, list []*repository.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tPaths")
	fmt.Fprintln(tw, "--------\t-------------------\t----\t----\t-----")
	for _, sn := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sn.ID.Str(), sn.Time.Local().Format(time.DateTime), sn.Hostname, strings.Join(sn.Tags, ","), strings.Join(sn.Paths, ","))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d snapshots\n", len(list))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

// repoSnapshotsJSON is one configured repository's snapshots in the JSON
// of `lethe snapshots --config`.
type repoSnapshotsJSON struct {
	Repository string         `json:"repository"`
	Location   string         `json:"location"`
	Snapshots  []snapshotJSON `json:"snapshots"`
}

// configSnapshots lists the snapshots of configured repositories. all
// says every repository of the config is listed; for one chosen with
// --repo the output is that of a plain `snapshots`.
func configSnapshots(ctx context.Context, g *globalOptions, repos []config.Repository, all bool, hosts, tags []string) error {
	mode := jobs.Shared
	if g.noLock {
		mode = jobs.NoLock
	}
	var out []repoSnapshotsJSON
	for i := range repos {
		r := &repos[i]
		list, err := func() ([]*repository.Snapshot, error) {
			repo, jobCtx, release, err := jobs.OpenLocked(ctx, g.configRepoSpec(r), mode, false)
			if err != nil {
				return nil, suggestInit(err)
			}
			defer release()
			return listSnapshots(jobCtx, repo, hosts, tags)
		}()
		if err != nil {
			return fmt.Errorf("repository %s: %w", r.Name, err)
		}
		switch {
		case !all:
			return printSnapshots(g, list)
		case g.json:
			out = append(out, repoSnapshotsJSON{Repository: r.Name, Location: r.Location, Snapshots: snapshotsJSON(list)})
		default:
			if i > 0 {
				fmt.Fprintln(g.stdout)
			}
			fmt.Fprintf(g.stdout, "repository %s (%s)\n", r.Name, r.Location)
			printSnapshotTable(g.stdout, list)
		}
	}
	if g.json {
		return printJSON(g.stdout, out)
	}
	return nil
}
