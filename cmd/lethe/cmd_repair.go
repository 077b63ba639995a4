package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
)

func newRepairCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Repair a damaged repository",
		Long: `repair fixes what check reports, as restic's repair commands do. Run them
in this order: repair index, repair packs (for packs check found damaged),
repair snapshots; then check again.`,
	}
	cmd.AddCommand(newRepairIndexCommand(g), newRepairSnapshotsCommand(g), newRepairPacksCommand(g))
	return cmd
}

func newRepairIndexCommand(g *globalOptions) *cobra.Command {
	var readAll bool
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Build a new index from the packs",
		Long: `repair index writes a new index: the entries of the index files that can be
read are kept for packs that exist with the right size, every other pack's
blobs are read from its header. All old index files are then removed.`,
		Args: cobra.NoArgs,
		RunE: g.withRepository(true, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			st, err := repo.RepairIndex(ctx, repository.RepairIndexOptions{ReadAllPacks: readAll})
			for _, e := range st.PackErrors {
				g.warnf("warning: %v\n", e)
			}
			if err != nil {
				return err
			}
			for _, id := range st.MissingPacks {
				g.printf("removed missing pack %s from the index\n", id.Str())
			}
			g.printf("read %d pack headers, indexed %d packs, replaced %d index files\n", st.PacksRead, st.PacksIndexed, st.IndexFilesRemoved)
			if len(st.UnreadablePacks) > 0 {
				g.warnf("%d packs could not be read and are not in the index; salvage their blobs with `lethe repair packs %s`\n", len(st.UnreadablePacks), st.UnreadablePacks[0].Str())
			}
			if len(st.MissingPacks) > 0 {
				g.printf("snapshots may now reference missing data: run `lethe check`, then `lethe repair snapshots`\n")
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&readAll, "read-all-packs", false, "read every pack's header instead of trusting the index files that load")
	return cmd
}

func newRepairSnapshotsCommand(g *globalOptions) *cobra.Command {
	var forget bool
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "Rewrite snapshots that reference missing data",
		Long: `repair snapshots rewrites every snapshot whose trees reference data that is
not in the index, as restic's repair snapshots does: a file loses the
missing parts (its size is corrected), a directory that cannot be read
becomes empty, a snapshot whose root cannot be read is removed. A repaired
snapshot keeps time, host, paths and tags, gets the tag "repaired" and
names the damaged one as its original, which stays unless --forget is
given. Run repair index first.`,
		Args: cobra.NoArgs,
		RunE: g.withRepository(true, true, func(ctx context.Context, repo *repository.Repository, args []string) error {
			res, err := repo.RepairSnapshots(ctx, repository.RepairSnapshotsOptions{
				Forget: forget,
				Report: func(sn *repository.Snapshot, change string) {
					g.printf("snapshot %s: %s\n", sn.ID.Str(), change)
				},
			})
			for id, n := range res.Repaired {
				switch {
				case n == nil:
					g.printf("removed snapshot %s: nothing of it is left\n", id.Str())
				case n.ID.IsNull():
					// Not saved: err says why.
				default:
					g.printf("saved snapshot %s as the repair of %s\n", n.ID.Str(), id.Str())
				}
			}
			for _, e := range res.Unloadable {
				g.warnf("warning: %v; remove it with `lethe forget %s`\n", e, e.ID.Str())
			}
			if err != nil {
				return err
			}
			if len(res.Repaired) == 0 {
				g.printf("no snapshots were modified\n")
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&forget, "forget", false, "remove each damaged original once its repaired version is saved")
	return cmd
}

func newRepairPacksCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "packs ID...",
		Short: "Salvage the readable blobs of damaged packs",
		Long: `repair packs copies the blobs of the named packs that can still be read
into new packs, removes the damaged packs from the index and deletes them.
Run repair snapshots afterwards to drop what was lost from the snapshots.`,
		Args: argsOf(1, -1, "the IDs of the damaged packs (lethe check names them)"),
		RunE: g.withRepository(true, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			var ids repository.IDs
			for _, a := range args {
				id, err := repository.ParseID(a)
				if err != nil {
					return fmt.Errorf("pack %q: want a full pack ID, as check prints it: %w", a, err)
				}
				ids = append(ids, id)
			}
			st, err := repo.RepairPacks(ctx, ids)
			if err != nil {
				return err
			}
			g.printf("salvaged %d blobs, lost %d; removed %d packs\n", st.Salvaged, st.Lost, len(ids))
			if st.Lost > 0 {
				g.printf("run `lethe repair snapshots` to remove the lost data from the snapshots\n")
			}
			return nil
		}),
	}
}
