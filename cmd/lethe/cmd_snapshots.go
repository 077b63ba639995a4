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
		RunE: g.withRepository(false, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			all, err := repo.Snapshots(ctx)
			if err != nil {
				return err
			}
			var list []*repository.Snapshot
			for _, sn := range all {
				if matchSnapshot(sn, hosts, tags) {
					list = append(list, sn)
				}
			}
			if g.json {
				out := make([]snapshotJSON, 0, len(list))
				for _, sn := range list {
					out = append(out, snapshotJSON{Snapshot: sn, ID: sn.ID.String(), ShortID: sn.ID.Str()})
				}
				return printJSON(g.stdout, out)
			}
			printSnapshotTable(g.stdout, list)
			return nil
		}),
	}
	cmd.Flags().StringArrayVar(&hosts, "host", nil, "only snapshots of this `host` (repeatable)")
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "only snapshots with this `tag` (repeatable)")
	return cmd
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
