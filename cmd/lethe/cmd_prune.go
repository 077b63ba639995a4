package main

import (
	"context"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
	"lethe/backends"
)

const snapshotFile = backends.SnapshotFile

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
			mu, err := parseMaxUnused(maxUnused)
			if err != nil {
				return err
			}
			repo, unlock, err := g.lockedRepository(ctx, true, false)
			if err != nil {
				return err
			}
			defer unlock()
			return runPrune(ctx, g, repo, repository.PruneOptions{MaxUnused: mu, DryRun: dryRun})
		},
	}
	cmd.Flags().StringVar(&maxUnused, "max-unused", "5%", "tolerated unused space in partly used packs (`percent` or \"unlimited\")")
	cmd.Flags().BoolVarP(&dryRun, "dry-run", "n", false, "only show what would be done")
	return cmd
}

func runPrune(ctx context.Context, g *globalOptions, repo *repository.Repository, opts repository.PruneOptions) error {
	p := g.newProgress("prune")
	opts.Progress = func(done, total int) {
		p.files.Store(int64(done))
		p.totalFiles.Store(int64(total))
	}
	st, err := repo.Prune(ctx, opts)
	p.stop()
	if err != nil {
		return err
	}
	if g.json {
		return printJSON(g.stdout, map[string]any{"message_type": "summary", "dry_run": opts.DryRun,
			"used_blobs": st.UsedBlobs, "unused_blobs": st.UnusedBlobs, "repacked_blobs": st.RepackedBlobs,
			"used_bytes": st.UsedBytes, "unused_bytes": st.UnusedBytes, "removed_bytes": st.RemovedBytes,
			"packs_kept": st.PacksKept, "packs_repacked": st.PacksRepacked, "packs_removed": st.PacksRemoved})
	}
	verb := "removed"
	if opts.DryRun {
		verb = "would remove"
	}
	g.printf("used:    %d blobs, %s\n", st.UsedBlobs, fmtBytes(uint64(st.UsedBytes)))
	g.printf("unused:  %d blobs, %s\n", st.UnusedBlobs, fmtBytes(uint64(st.UnusedBytes)))
	g.printf("packs:   %d kept, %d repacked, %d %s\n", st.PacksKept, st.PacksRepacked, st.PacksRemoved, verb)
	g.printf("%s %s, wrote %d new packs and %d index files\n", verb, fmtBytes(uint64(st.RemovedBytes)), st.NewPacks, st.NewIndexFiles)
	return nil
}
