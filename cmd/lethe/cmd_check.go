package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"lethe/agent/repository"
	"lethe/tombstones"
)

func newCheckCommand(g *globalOptions) *cobra.Command {
	var readData bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the repository's structure (and with --read-data all data)",
		Args:  cobra.NoArgs,
		// Check loads the index itself, to report each damaged file.
		RunE: g.withRepository(false, false, func(ctx context.Context, repo *repository.Repository, args []string) error {
			if caps, err := s3Capabilities(ctx, repo.Backend()); err != nil {
				g.warnf("warning: cannot read the bucket's deletion settings: %v\n", err)
			} else if caps != nil && caps.ObjectLock {
				g.warnf("warning: the bucket has Object Lock enabled (%s): objects under retention cannot be deleted, so prune and erasure in mode rewrite cannot remove them\n", caps.DefaultRetention)
			}
			p := g.newProgress("check")
			res, err := repo.Check(ctx, repository.CheckOptions{ReadData: readData, Progress: p.count, MaskName: g.nameMask(ctx, repo)})
			p.stop()
			if err != nil {
				return err
			}
			if g.json {
				if err := printCheckJSON(g, res); err != nil {
					return err
				}
			} else {
				printCheck(g, res)
			}
			if len(res.Errors) > 0 {
				return fmt.Errorf("check found %d errors", len(res.Errors))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&readData, "read-data", false, "also read and verify all data")
	return cmd
}

// printCheck prints what check found and, as restic does, what repairs
// it.
func printCheck(g *globalOptions, res *repository.CheckResult) {
	for _, w := range res.Warnings {
		g.warnf("warning: %v\n", w)
	}
	for _, e := range res.Errors {
		g.warnf("error: %v\n", e)
	}
	if res.SuggestPrune {
		g.warnf("packs no index lists are left over from an interrupted backup: this is harmless, run `lethe prune` to remove them\n")
	}
	if res.SuggestRepairIndex {
		g.warnf("the index is damaged or incomplete: run `lethe repair index`\n")
	}
	if len(res.BrokenPacks) > 0 {
		ids := make([]string, len(res.BrokenPacks))
		for i, id := range res.BrokenPacks {
			ids[i] = id.String()
		}
		g.warnf("damaged packs: salvage them with `lethe repair packs %s`\n", strings.Join(ids, " "))
	}
	if res.SuggestRepairSnapshots {
		g.warnf("snapshots reference damaged or missing data: after the steps above, run `lethe repair snapshots`\n")
	}
	if res.SuggestUnlock {
		g.warnf("damaged lock files are ignored: run `lethe unlock` to remove them\n")
	}
	for _, id := range res.UnloadableSnapshots {
		g.warnf("snapshot %s cannot be loaded: remove it with `lethe forget %s`\n", id.Str(), id.Str())
	}
	if res.OK() {
		g.printf("no errors were found\n")
	}
}

// checkMessage is one line of `check --json`: an error or warning, or
// the summary, with restic's field names.
type checkMessage struct {
	MessageType string `json:"message_type"`
	Message     string `json:"message,omitempty"`
}

type checkSummary struct {
	MessageType            string   `json:"message_type"`
	NumErrors              int      `json:"num_errors"`
	BrokenPacks            []string `json:"broken_packs"`
	SuggestRepairIndex     bool     `json:"suggest_repair_index"`
	SuggestPrune           bool     `json:"suggest_prune"`
	SuggestRepairSnapshots bool     `json:"suggest_repair_snapshots"`
	UnloadableSnapshots    []string `json:"unloadable_snapshots"`
	SuggestUnlock          bool     `json:"suggest_unlock"`
}

func printCheckJSON(g *globalOptions, res *repository.CheckResult) error {
	for _, w := range res.Warnings {
		if err := printJSON(g.stdout, checkMessage{MessageType: "warning", Message: w.Error()}); err != nil {
			return err
		}
	}
	for _, e := range res.Errors {
		if err := printJSON(g.stdout, checkMessage{MessageType: "error", Message: e.Error()}); err != nil {
			return err
		}
	}
	sum := checkSummary{
		MessageType:            "summary",
		NumErrors:              len(res.Errors),
		BrokenPacks:            []string{},
		SuggestRepairIndex:     res.SuggestRepairIndex,
		SuggestPrune:           res.SuggestPrune,
		SuggestRepairSnapshots: res.SuggestRepairSnapshots,
		UnloadableSnapshots:    []string{},
		SuggestUnlock:          res.SuggestUnlock,
	}
	for _, id := range res.BrokenPacks {
		sum.BrokenPacks = append(sum.BrokenPacks, id.String())
	}
	for _, id := range res.UnloadableSnapshots {
		sum.UnloadableSnapshots = append(sum.UnloadableSnapshots, id.String())
	}
	return printJSON(g.stdout, sum)
}

// nameMask returns how check quotes file and directory names: masked
// where they name an erased subject. When the repository's erasures cannot
// be loaded, every name is withheld.
func (g *globalOptions) nameMask(ctx context.Context, repo *repository.Repository) func(string) string {
	withheld := func(string) string { return "[name withheld]" }
	set, err := tombstones.LoadRepoSet(ctx, repo)
	if err != nil {
		return withheld
	}
	if len(set.Active()) == 0 {
		return nil
	}
	o := &reapplyOptions{}
	o.region, o.stateDir = "SE", tombstones.StateDirFromEnv()
	r, _, err := g.reapplier(ctx, o, repo, nil, false)
	if err != nil || r == nil {
		return withheld
	}
	return r.maskPath
}
