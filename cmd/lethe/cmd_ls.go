package main

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/formats"
	"lethe/agent/repository"
)

func newLsCommand(g *globalOptions) *cobra.Command {
	var (
		long bool
		o    reapplyOptions
	)
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [DIR...]",
		Short: "List the files of a snapshot",
		Long: `ls lists the files of a snapshot. Files and folders that a restore would
withhold as wholly an erased subject's (named after them, or theirs by a
path rule) are not listed, as a restore does not write them.`,
		Args: argsOf(1, -1, `a snapshot (an ID, a unique prefix or "latest"), and optionally directories in it`),
		RunE: g.withRepository(false, true, func(ctx context.Context, repo *repository.Repository, args []string) error {
			sn, err := repo.FindSnapshot(ctx, args[0])
			if err != nil {
				return err
			}
			ra, _, err := g.reapplier(ctx, &o, repo, sn.Paths, false)
			if err != nil {
				return err
			}
			dirs := args[1:]
			if g.json {
				if err := printJSON(g.stdout, snapshotJSON{Snapshot: sn, ID: sn.ID.String(), ShortID: sn.ID.Str()}); err != nil {
					return err
				}
			} else {
				g.printf("snapshot %s of %v at %s:\n", sn.ID.Str(), sn.Paths, sn.Time.Local().Format(time.DateTime))
			}
			return repository.Walk(ctx, repo, *sn.Tree, func(_ repository.ID, p string, n *repository.Node, err error) error {
				if err != nil {
					id := *sn.Tree
					if n != nil {
						id = *n.Subtree
					}
					return fmt.Errorf("loading tree %s: %w", id.Str(), err)
				}
				if ra != nil {
					if d, _, err := ra.filter.Decide(ctx, p, n); err != nil {
						return err
					} else if d == formats.Drop {
						if n.Type == repository.NodeDir {
							return repository.ErrSkipDir
						}
						return nil
					}
				}
				if !selected(p, dirs) {
					return nil
				}
				if g.json {
					return printJSON(g.stdout, newLsNode(p, n))
				}
				if long {
					fmt.Fprintf(g.stdout, "%-10s %5d %5d %12d %s %s", n.Mode, n.UID, n.GID, n.Size, n.ModTime.Local().Format(time.DateTime), p)
					if n.Type == repository.NodeSymlink {
						fmt.Fprintf(g.stdout, " -> %s", n.LinkTarget)
					}
					fmt.Fprintln(g.stdout)
					return nil
				}
				fmt.Fprintln(g.stdout, p)
				return nil
			})
		}),
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show mode, owner, size and mtime")
	o.addFlags(cmd)
	o.readOnly = true // listing writes no key: see reapplier
	return cmd
}

// lsNode is a node as `restic ls --json` prints it.
type lsNode struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Path       string    `json:"path"`
	UID        uint32    `json:"uid"`
	GID        uint32    `json:"gid"`
	Size       uint64    `json:"size,omitempty"`
	Mode       uint32    `json:"mode,omitempty"`
	Permission string    `json:"permissions,omitempty"`
	ModTime    time.Time `json:"mtime,omitempty"`
	AccessTime time.Time `json:"atime,omitempty"`
	ChangeTime time.Time `json:"ctime,omitempty"`
	StructType string    `json:"struct_type"`
}

func newLsNode(p string, n *repository.Node) lsNode {
	return lsNode{Name: n.Name, Type: n.Type, Path: p, UID: n.UID, GID: n.GID, Size: n.Size,
		Mode: uint32(n.Mode), Permission: n.Mode.String(), ModTime: n.ModTime, AccessTime: n.AccessTime,
		ChangeTime: n.ChangeTime, StructType: "node"}
}

// selected reports whether p is one of dirs or below one (no dirs: all).
func selected(p string, dirs []string) bool {
	if len(dirs) == 0 {
		return true
	}
	for _, d := range dirs {
		d = path.Clean("/" + d)
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}
