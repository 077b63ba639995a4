package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
	"lethe/backends"
)

func newCatCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cat config|snapshot ID|index ID|tree ID|key ID|lock ID",
		Short: "Print an object of the repository as JSON",
		Args:  cobra.RangeArgs(1, 2),
		RunE: g.withRepository(false, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			if args[0] == "config" {
				return printIndented(g, repo.Config())
			}
			if len(args) != 2 {
				return fmt.Errorf("cat %s needs an ID", args[0])
			}
			switch args[0] {
			case "snapshot":
				sn, err := repo.FindSnapshot(ctx, args[1])
				if err != nil {
					return err
				}
				return printIndented(g, sn)
			case "tree":
				if err := repo.LoadIndex(ctx); err != nil {
					return fmt.Errorf("loading index: %w", err)
				}
				id, err := repository.ParseID(args[1])
				if err != nil {
					return err
				}
				t, err := repo.LoadTree(ctx, id)
				if err != nil {
					return err
				}
				return printIndented(g, t)
			case "index", "lock":
				t := map[string]backends.FileType{"index": backends.IndexFile, "lock": backends.LockFile}[args[0]]
				id, err := repository.ParseID(args[1])
				if err != nil {
					return err
				}
				buf, err := repo.LoadUnpacked(ctx, t, id)
				if err != nil {
					return err
				}
				var out bytes.Buffer
				if err := json.Indent(&out, buf, "", "  "); err != nil {
					return fmt.Errorf("%s %s is not JSON: %w", args[0], id.Str(), err)
				}
				out.WriteByte('\n')
				_, err = g.stdout.Write(out.Bytes())
				return err
			}
			return fmt.Errorf("cannot cat %q: want config, snapshot, tree, index or lock", args[0])
		}),
	}
}

func printIndented(g *globalOptions, v any) error {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = g.stdout.Write(append(buf, '\n'))
	return err
}
