package main

import (
	"github.com/spf13/cobra"

	"lethe/agent/jobs"
)

func newUnlockCommand(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "unlock",
		Short: "Remove stale locks (or, with --remove-all, every lock)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := g.openRepository(ctx)
			if err != nil {
				return err
			}
			defer jobs.Close(repo)
			var n int
			if all {
				n, err = repo.RemoveAllLocks(ctx)
			} else {
				n, err = repo.RemoveStaleLocks(ctx)
			}
			if err != nil {
				return err
			}
			g.printf("removed %d locks\n", n)
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "remove-all", false, "remove all locks, also those of running processes")
	return cmd
}
