package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
)

func newCheckCommand(g *globalOptions) *cobra.Command {
	var readData bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the repository's structure (and with --read-data all data)",
		Args:  cobra.NoArgs,
		RunE: g.withRepository(false, true, func(ctx context.Context, repo *repository.Repository, args []string) error {
			if caps, err := s3Capabilities(ctx, repo.Backend()); err != nil {
				g.warnf("warning: cannot read the bucket's deletion settings: %v\n", err)
			} else if caps != nil && caps.ObjectLock {
				g.warnf("warning: the bucket has Object Lock enabled (%s): objects under retention cannot be deleted, so prune and erasure in mode rewrite cannot remove them\n", caps.DefaultRetention)
			}
			p := g.newProgress("check")
			res, err := repo.Check(ctx, repository.CheckOptions{ReadData: readData, Progress: p.count})
			p.stop()
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				g.warnf("warning: %v\n", w)
			}
			for _, e := range res.Errors {
				g.warnf("error: %v\n", e)
			}
			if len(res.Errors) > 0 {
				return fmt.Errorf("check found %d errors", len(res.Errors))
			}
			g.printf("no errors were found\n")
			return nil
		}),
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "also read and verify all data")
	return cmd
}
