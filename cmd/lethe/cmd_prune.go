package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/jobs"
	"lethe/agent/repository"
)

func newPruneCommand(g *globalOptions) *cobra.Command {
	var (
		maxUnused string
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove data no snapshot references",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mu, err := repository.ParseMaxUnused(maxUnused)
			if err != nil {
				return fmt.Errorf("--max-unused %w", err)
			}
			repo, ctx, release, err := g.lockedRepository(ctx, removing, false)
			if err != nil {
				return err
			}
			defer release()
			p := g.newProgress("prune")
			st, err := jobs.Prune(ctx, repo, repository.PruneOptions{MaxUnused: mu, DryRun: dryRun, Progress: p.count})
			p.stop()
			if err != nil {
				return err
			}
			return printPruneStats(g, st, dryRun)
		},
	}
	cmd.Flags().StringVar(&maxUnused, "max-unused", "5%", "tolerated unused space in partly used packs (`percent` or \"unlimited\")")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "only show what would be done")
	return cmd
}

func printPruneStats(g *globalOptions, st repository.PruneStats, dryRun bool) error {
	if g.json {
		return printJSON(g.stdout, map[string]any{"message_type": "summary", "dry_run": dryRun,
			"used_blobs": st.UsedBlobs, "unused_blobs": st.UnusedBlobs, "repacked_blobs": st.RepackedBlobs,
			"used_bytes": st.UsedBytes, "unused_bytes": st.UnusedBytes, "removed_bytes": st.RemovedBytes,
			"packs_kept": st.PacksKept, "packs_repacked": st.PacksRepacked, "packs_removed": st.PacksRemoved,
			"packs_unindexed": st.PacksUnindexed, "unindexed_bytes": st.UnindexedBytes})
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	g.printf("used:    %d blobs, %s\n", st.UsedBlobs, fmtBytes(uint64(st.UsedBytes)))
	g.printf("unused:  %d blobs, %s\n", st.UnusedBlobs, fmtBytes(uint64(st.UnusedBytes)))
	g.printf("packs:   %d kept, %d repacked, %d %s\n", st.PacksKept, st.PacksRepacked, st.PacksRemoved+st.PacksUnindexed, verb)
	if st.PacksUnindexed > 0 {
		// Left by an interrupted backup: no snapshot can refer to them.
		g.printf("         of them %d in no index, %s\n", st.PacksUnindexed, fmtBytes(uint64(st.UnindexedBytes)))
	}
	g.printf("%s %s, wrote %d new packs and %d index files\n", verb, fmtBytes(uint64(st.RemovedBytes)), st.NewPacks, st.NewIndexFiles)
	return nil
}
