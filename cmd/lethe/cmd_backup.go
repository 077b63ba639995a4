package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/archiver"
	"lethe/agent/erasure/subjects"
	"lethe/agent/jobs"
	"lethe/agent/repository"
)

type backupOptions struct {
	host        string
	tags        []string
	timeStamp   string
	parent      string
	force       bool
	excludes    []string
	ignoreInode bool
	ignoreCtime bool
	subjects    reapplyOptions
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup [flags] PATH...",
		Short: "Back up files and directories into a new snapshot",
		Long: `Back up files and directories into a new snapshot.

Items that cannot be read are reported and left out; the snapshot is still
saved and lethe exits with status 3, as restic does.

Every active erasure is applied: the records of erased subjects are removed
before they are stored, and files and folders wholly a subject's are left
out, also when they are unchanged since the parent snapshot. When that
happens the live source still holds erased subjects: the snapshot is saved,
lethe says so and exits with status 4 (` + "`lethe scan --tombstones PATH`" + `
shows where they are).`,
		Args: argsOf(1, -1, "at least one source path, a file or directory to back up"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.host, "host", "H", "", "`hostname` to record in the snapshot (default: this host)")
	f.StringSliceVar(&o.tags, "tag", nil, "add `tags` to the snapshot (comma-separated, repeatable)")
	f.StringVar(&o.timeStamp, "time", "", "record `time` (\"2006-01-02 15:04:05\") instead of now")
	f.StringVar(&o.parent, "parent", "", "use this `snapshot` as parent instead of the latest one of the same host and paths")
	f.BoolVarP(&o.force, "force", "f", false, "read every file, ignoring the parent snapshot")
	f.StringArrayVarP(&o.excludes, "exclude", "e", nil, "leave out items matching `pattern` (repeatable)")
	f.BoolVar(&o.ignoreInode, "ignore-inode", false, "ignore inode changes when comparing with the parent")
	f.BoolVar(&o.ignoreCtime, "ignore-ctime", false, "ignore ctime changes when comparing with the parent")
	o.subjects.addFlags(cmd)
	return cmd
}

func runBackup(ctx context.Context, g *globalOptions, o backupOptions, args []string) error {
	// Refuse a mistyped path or time before the repository is opened.
	targets, err := jobs.BackupTargets(args)
	if err != nil {
		return err
	}
	var ts time.Time
	if o.timeStamp != "" {
		ts, err = time.ParseInLocation(time.DateTime, o.timeStamp, time.Local)
		if err != nil {
			return fmt.Errorf("invalid --time %q: want \"2006-01-02 15:04:05\"", o.timeStamp)
		}
	}

	repo, ctx, release, err := g.lockedRepository(ctx, adding, true)
	if err != nil {
		return err
	}
	defer release()

	ra, si, err := g.reapplier(ctx, &o.subjects, repo, targets, true)
	if err != nil {
		return err
	}
	p := g.newProgress("backup")
	aopts := archiver.Options{
		Progress: backupProgress{p},
		Error: func(path string, err error) error {
			g.warnf("error: %v\n", err)
			return nil
		},
		IgnoreInode: o.ignoreInode,
		IgnoreCtime: o.ignoreCtime,
	}
	if ra != nil {
		aopts.Filter = ra.filter
		aopts.MaskPath = ra.maskPath
	}
	start := time.Now()
	res, err := jobs.Backup(ctx, repo, jobs.BackupOptions{
		Targets:        targets,
		Host:           o.host,
		Tags:           o.tags,
		Excludes:       o.excludes,
		Time:           ts,
		Parent:         o.parent,
		NoParent:       o.force,
		ProgramVersion: "lethe " + version,
		Archiver:       aopts,
		Subjects:       subjects.NewRecorder(ctx, repo, si.indexer, si.index),
	})
	p.stop()
	if err != nil {
		return err
	}
	sn, st := res.Snapshot, res.Stats
	if res.IndexErr != nil {
		g.warnf("warning: %v; the snapshot is complete, but restores with erasures scan the files it did not index (`lethe index` completes it)\n", res.IndexErr)
	}
	w := newWithheld(st.FilesRedacted, st.FilesDropped, st.DirsDropped, st.RecordsRemoved)
	if g.json {
		sum := backupSummary(sn, st, time.Since(start))
		if ra != nil {
			sum["erasures_applied"] = ra.active
			sum["kept_out"] = w
			sum["files_scanned"] = ra.filter.scanned.Load()
		}
		if err := printJSON(g.stdout, sum); err != nil {
			return err
		}
	} else {
		if res.Parent != nil {
			g.printf("using parent snapshot %s\n", res.Parent.ID.Str())
		}
		if res.ParentErr != nil {
			g.warnf("warning: the parent snapshot's trees are damaged (%v); every file was read\n", res.ParentErr)
		}
		g.printf("\nFiles:       %6d new, %6d changed, %6d unmodified\n", st.FilesNew, st.FilesChanged, st.FilesUnmodified)
		g.printf("Dirs:        %6d new, %6d changed, %6d unmodified\n", st.DirsNew, st.DirsChanged, st.DirsUnmodified)
		g.printf("Added to the repository: %s\n\n", fmtBytes(st.DataAdded))
		g.printf("processed %d files, %s in %s\n", st.TotalFiles, fmtBytes(st.TotalBytes), fmtDuration(time.Since(start)))
		g.printf("snapshot %s saved\n", sn.ID.Str())
		if w.any() {
			g.printf("kept %d records of erased subjects out of %d files and folders (%s)\n", w.Records, w.files(), w.formats())
		}
	}
	if w.any() {
		g.warnf("warning: the live source still holds records of erased subjects; `lethe scan --tombstones PATH` shows where\n")
	}
	if st.Incomplete() {
		return &exitCodeError{code: exitIncomplete, err: fmt.Errorf("snapshot %s is incomplete: %d items could not be read", sn.ID.Str(), st.Errors)}
	}
	if w.any() {
		return &exitCodeError{code: exitErasedKeptOut}
	}
	return nil
}

// backupProgress feeds the archiver's reports into the progress display.
type backupProgress struct{ p *progress }

func (b backupProgress) Total(files, dirs, bytes uint64, done bool) {
	b.p.totalFiles.Store(int64(files))
	b.p.totalBytes.Store(int64(bytes))
}
func (b backupProgress) Start(string)   {}
func (b backupProgress) Bytes(n uint64) { b.p.bytes.Add(int64(n)) }
func (b backupProgress) Done(path string) {
	b.p.files.Add(1)
}

func backupSummary(sn *repository.Snapshot, st archiver.Stats, d time.Duration) map[string]any {
	return map[string]any{
		"message_type":          "summary",
		"files_new":             st.FilesNew,
		"files_changed":         st.FilesChanged,
		"files_unmodified":      st.FilesUnmodified,
		"dirs_new":              st.DirsNew,
		"dirs_changed":          st.DirsChanged,
		"dirs_unmodified":       st.DirsUnmodified,
		"data_blobs":            st.DataBlobs,
		"tree_blobs":            st.TreeBlobs,
		"data_added":            st.DataAdded,
		"total_files_processed": st.TotalFiles,
		"total_bytes_processed": st.TotalBytes,
		"total_duration":        d.Seconds(),
		"errors":                st.Errors,
		"snapshot_id":           sn.ID.String(),
		"paths":                 strings.Join(sn.Paths, ","),
	}
}
