package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
	"lethe/agent/restorer"
)

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var (
		target   string
		includes []string
		hosts    []string
		sparse   bool
		so       reapplyOptions
	)
	cmd := &cobra.Command{
		Use:   "restore SNAPSHOT --target DIR",
		Short: "Restore a snapshot (ID, unique prefix or \"latest\") into a directory",
		Long: `Restore a snapshot (ID, unique prefix or "latest") into a directory.

Every active erasure is reapplied: the records of erased subjects are
removed from the restored files, and files and folders that are wholly a
subject's are not restored. The erasures come from the repository and the
state directory, so this holds on a fresh machine too. There is no way to
turn it off.`,
		Args: argsOf(1, 1, `one snapshot: an ID, a unique prefix or "latest"`),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if target == "" {
				return fmt.Errorf("please give a target directory with --target")
			}
			repo, ctx, release, err := g.lockedRepository(ctx, reading, true)
			if err != nil {
				return err
			}
			defer release()
			sn, err := findSnapshot(ctx, repo, args[0], hosts)
			if err != nil {
				return err
			}
			ra, _, err := g.reapplier(ctx, &so, repo, sn.Paths, false)
			if err != nil {
				return err
			}
			p := g.newProgress("restore")
			var nerr atomic.Uint64
			opts := restorer.Options{
				Include:  includes,
				Progress: restoreProgress{p},
				Sparse:   sparse,
				Error: func(path string, err error) error {
					nerr.Add(1)
					g.warnf("error: %s: %v\n", path, err)
					return nil
				},
			}
			if ra != nil {
				opts.Filter = ra.filter
				opts.MaskPath = ra.maskPath
			}
			r := restorer.New(repo, sn, opts)
			start := time.Now()
			st, err := r.RestoreTo(ctx, target)
			p.stop()
			if err != nil {
				return fmt.Errorf("restoring snapshot %s: %w", sn.ID.Str(), err)
			}
			w := newWithheld(st.FilesRedacted, st.FilesDropped, st.DirsDropped, st.RecordsRemoved)
			if len(includes) > 0 && st.Files+st.Dirs+st.Symlinks+st.Others+st.Errors == 0 && !w.any() && st.OthersDropped == 0 {
				// A restore of nothing is a mistyped path, not a success.
				masked := make([]string, len(includes))
				for i, inc := range includes {
					masked[i] = ra.maskPath(inc)
				}
				return fmt.Errorf("nothing in snapshot %s matches --include %s (its paths are %s; see lethe ls %s)",
					sn.ID.Str(), strings.Join(masked, ", --include "), strings.Join(sn.Paths, ", "), sn.ID.Str())
			}
			if g.json {
				sum := map[string]any{"message_type": "summary", "snapshot_id": sn.ID.String(), "files_restored": st.Files, "dirs_restored": st.Dirs, "bytes_restored": st.Bytes, "errors": st.Errors, "total_duration": time.Since(start).Seconds()}
				if ra != nil {
					sum["erasures_applied"] = ra.active
					sum["withheld"] = w
					sum["files_scanned"] = ra.filter.scanned.Load()
				}
				return printJSON(g.stdout, sum)
			}
			g.printf("restored snapshot %s to %s: %d files, %d dirs, %s in %s\n", sn.ID.Str(), target, st.Files, st.Dirs, fmtBytes(st.Bytes), fmtDuration(time.Since(start)))
			if ra != nil {
				if w.any() {
					g.printf("withheld %d records of erased subjects in %d files and folders (%s)\n", w.Records, w.files(), w.formats())
				} else {
					g.printf("%d erasures reapplied: no record of an erased subject in what was restored\n", ra.active)
				}
			}
			if n := max(nerr.Load(), st.Errors); n > 0 {
				return fmt.Errorf("%d items could not be restored", n)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&target, "target", "t", "", "restore into `directory`")
	f.StringArrayVarP(&includes, "include", "i", nil, "restore only this snapshot `path` and what is below it (repeatable)")
	f.StringArrayVarP(&hosts, "host", "H", nil, "with \"latest\": only snapshots of this `host`")
	f.BoolVar(&sparse, "sparse", false, "restore all-zero blocks as holes")
	so.addFlags(cmd)
	so.readOnly = true // a restore writes no key: see reapplier
	return cmd
}

// findSnapshot resolves an ID, a unique prefix or "latest" (optionally of
// given hosts).
func findSnapshot(ctx context.Context, repo *repository.Repository, s string, hosts []string) (*repository.Snapshot, error) {
	if s != "latest" || len(hosts) == 0 {
		return repo.FindSnapshot(ctx, s)
	}
	snaps, err := repo.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if contains(hosts, snaps[i].Hostname) {
			return snaps[i], nil
		}
	}
	return nil, fmt.Errorf("latest snapshot of host %v: %w", hosts, repository.ErrSnapshotNotFound)
}

type restoreProgress struct{ p *progress }

func (r restoreProgress) Total(files, bytes uint64) {
	r.p.totalFiles.Store(int64(files))
	r.p.totalBytes.Store(int64(bytes))
}
func (r restoreProgress) Bytes(n uint64) { r.p.bytes.Add(int64(n)) }
func (r restoreProgress) Done(string)    { r.p.files.Add(1) }
