package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/erasure/subjects"
	"lethe/agent/repository"
)

func newIndexCommand(g *globalOptions) *cobra.Command {
	var o reapplyOptions
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Complete the subject index by scanning every file no backup indexed",
		Long: `Complete the subject index by scanning every file no backup indexed.

lethe's backups record, for every file they read, keyed tags of the
identifiers in it (the subject index), so that restores and erasures touch
only the files that can hold an erased subject and ` + "`lethe find`" + ` needs no
full scan. A repository restic wrote, or one backed up with other rules
(--kind, --name-column, --phone-region) or an older lethe, lacks entries
for some files; this command scans those files in every snapshot. It saves
its work as it goes: run it again after it was stopped and it goes on.
Give the same rules as to backup and restore.`,
		Args: cobra.NoArgs,
		RunE: g.withAccess(adding, true, func(ctx context.Context, repo *repository.Repository, _ []string) error {
			return runIndex(ctx, g, &o, repo)
		}),
	}
	o.addFlags(cmd)
	return cmd
}

func runIndex(ctx context.Context, g *globalOptions, o *reapplyOptions, repo *repository.Repository) error {
	_, si, err := g.reapplier(ctx, o, repo, nil, true)
	if err != nil {
		return err
	}
	snaps, damaged, err := repo.LoadAllSnapshots(ctx)
	if err != nil {
		return err
	}
	for _, d := range damaged {
		g.warnf("warning: %v; its files are not indexed\n", d)
	}
	before := si.index.Len()
	p := g.newProgress("indexing")
	start := time.Now()
	st, err := subjects.Build(ctx, repo, repo, snaps, si.indexer, si.index, func(done, total int, bytes, totalBytes uint64) {
		p.files.Store(int64(done))
		p.totalFiles.Store(int64(total))
		p.bytes.Store(int64(bytes))
		p.totalBytes.Store(int64(totalBytes))
	})
	p.stop()
	if err != nil {
		return fmt.Errorf("building the subject index (what was scanned is saved; run lethe index again to go on): %w", err)
	}
	if g.json {
		return printJSON(g.stdout, map[string]any{
			"message_type":    "summary",
			"snapshots":       len(snaps),
			"files_missing":   st.Files,
			"files_indexed":   st.Indexed,
			"bytes_scanned":   st.Bytes,
			"files_too_large": st.TooLarge,
			"entries_before":  before,
			"entries":         si.index.Len(),
			"total_duration":  time.Since(start).Seconds(),
		})
	}
	g.printf("%d snapshots: %d files lacked an entry, %d indexed (%s) in %s\n", len(snaps), st.Files, st.Indexed, fmtBytes(st.Bytes), fmtDuration(time.Since(start)))
	if st.TooLarge > 0 {
		g.printf("%d files are larger than the scanners parse whole; restores and erasures always scan them\n", st.TooLarge)
	}
	g.printf("the subject index holds %d entries (%d before)\n", si.index.Len(), before)
	return nil
}
