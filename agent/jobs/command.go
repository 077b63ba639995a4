package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/repository"
)

// CommandBackupOptions describe the backup of a command's output.
type CommandBackupOptions struct {
	// Command is run; its standard output is stored as the file Filename
	// at the snapshot's root, so the snapshot's path is "/"+Filename.
	Command  archiver.Command
	Filename string
	// Host, Tags, Time, NoParent, ProgramVersion and Archiver are as in
	// BackupOptions. The parent is the latest snapshot of the same host
	// and path.
	Host           string
	Tags           []string
	Time           time.Time
	NoParent       bool
	ProgramVersion string
	Archiver       archiver.Options
}

// BackupCommand runs a command and backs up its output into a new
// snapshot, as restic's --stdin-from-command does. ctx must be the
// context of the repository's (shared) lock. A command that fails saves
// no snapshot.
func BackupCommand(ctx context.Context, repo BackupRepo, opts CommandBackupOptions) (BackupResult, error) {
	var res BackupResult
	if len(opts.Command.Args) == 0 {
		return res, errors.New("command backup: no command given")
	}
	ts := opts.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	host := opts.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	var err error
	if !opts.NoParent {
		if res.Parent, err = FindParent(ctx, repo, "", host, []string{"/" + opts.Filename}, ts); err != nil {
			return res, err
		}
	}
	arch := archiver.New(repo, opts.Archiver)
	snapshot := func(parent *repository.Snapshot) (*repository.Snapshot, archiver.Stats, error) {
		return arch.SnapshotCommand(ctx, opts.Command, opts.Filename, archiver.SnapshotOptions{
			Time:           ts,
			Hostname:       host,
			Tags:           opts.Tags,
			Parent:         parent,
			ProgramVersion: opts.ProgramVersion,
		})
	}
	res.Snapshot, res.Stats, err = snapshot(res.Parent)
	if err != nil && res.Parent != nil && errors.Is(err, repository.ErrDamaged) {
		// The parent's tree is damaged; without a parent the command
		// runs again and nothing of the damaged tree is used.
		res.ParentErr = err
		res.Parent = nil
		res.Snapshot, res.Stats, err = snapshot(nil)
	}
	if err != nil {
		return res, fmt.Errorf("backup of command output failed, no snapshot was saved: %w", err)
	}
	return res, nil
}
