package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/config"
	"lethe/agent/daemon"
	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/receipts"
	"lethe/agent/repository"
	"lethe/tombstones"
)

func newEraseCommand(g *globalOptions) *cobra.Command {
	var (
		o         subjectOptions
		reason    string
		reference string
		mode      string
		ro        eraseRunOptions
		record    bool
	)
	cmd := &cobra.Command{
		Use:   "erase --reason REASON [identifier flags]",
		Short: "Record an erasure request (a tombstone) for a subject",
		Long: `Record an erasure request and carry it out: the subject's identifiers
are normalized and kept only as keyed fingerprints in the state directory
and in the repository (the tombstone), and every later restore and backup
keeps the subject's records out. Then, with a repository, the erasure runs
there in the tombstone's mode:

  rewrite (default): every snapshot holding the subject is rewritten
    without the subject's records (files redacted record by record, files
    and folders named after the subject removed), the old snapshots are
    removed, every pack holding erased data is rewritten or deleted, and
    the result is verified. Held records (--hold-*) are kept and reported.
  expire: snapshots stay as they are; restores withhold the subject until
    the last copy ages out of the retention window.

Each step is journaled in the repository: after a crash, ` + "`lethe erasures resume`" + `
(or the next command that locks the repository exclusively) finishes it.
--record-only records the tombstone and leaves the erasure pending.

REASON is a GDPR Art. 17(1) ground (a to f, e.g. "17(1)(b)") or free text.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if o.ids.Empty() {
				return errors.New("name the subject with at least one identifier flag (--email, --phone, --personnummer, --orgnr, --id, --name)")
			}
			if reason == "" {
				return errors.New("--reason is required")
			}
			m, err := tombstones.ParseMode(mode)
			if err != nil {
				return err
			}
			rules, err := ro.rules(&o)
			if err != nil {
				return err
			}
			req := tombstones.Request{Reason: reason, Reference: reference, Mode: m}
			if g.configFile != "" && !record {
				return g.eraseConfigured(ctx, &o, cmd.Flags().Changed("state-dir"), req, rules, ro.business)
			}
			if g.repo == "" || record {
				svc, done, err := g.tombstoneService(ctx, &o)
				if err != nil {
					return err
				}
				defer done()
				if req.Identifiers, err = o.ids.Identifiers(svc.Normalizer); err != nil {
					return err
				}
				if g.repo == "" {
					g.warnf("warning: no repository given: the erasure is recorded in the state directory only\n")
				}
				t, err := svc.Record(ctx, req)
				if err != nil {
					return err
				}
				if g.json {
					return printJSON(g.stdout, t)
				}
				fmt.Fprintln(g.stdout, t.ID)
				return nil
			}
			// Recording and carrying out share one exclusive lock: nothing
			// runs between them.
			n, err := o.normalizer()
			if err != nil {
				return err
			}
			if req.Identifiers, err = o.ids.Identifiers(n); err != nil {
				return err
			}
			repo, ctx, release, err := g.lockedRepository(ctx, removing, true)
			if err != nil {
				return err
			}
			defer release()
			st, err := tombstones.OpenState(o.stateDir)
			if err != nil {
				return fmt.Errorf("opening state directory: %w", err)
			}
			svc := &tombstones.Service{State: st, Normalizer: n, Repos: []tombstones.Repo{{Name: repo.Backend().Location(), Store: repo}}}
			t, err := svc.Record(ctx, req)
			if err != nil {
				return err
			}
			if !g.json {
				fmt.Fprintf(g.stdout, "recorded erasure %s\n", t.ID)
			}
			rep, err := g.carryOutIn(ctx, repo, o.stateDir, []string{t.ID}, rules, ro.business)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, struct {
					Tombstone tombstones.Tombstone `json:"tombstone"`
					Erasures  []erasureReport      `json:"erasures"`
				}{t, rep})
			}
			return nil
		},
	}
	ro.addFlags(cmd)
	cmd.Flags().BoolVar(&record, "record-only", false, "record the tombstone and leave the erasure pending")
	o.addIdentifierFlags(cmd)
	o.addSettingsFlags(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "legal ground or free-text `reason` of the request")
	cmd.Flags().StringVar(&reference, "reference", "", "your `reference` (ticket number)")
	cmd.Flags().StringVar(&mode, "mode", "rewrite", "`mode`: rewrite (remove from every snapshot) or expire (filter until the copies age out)")
	return cmd
}

func newErasuresCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "erasures",
		Short: "List, show, revoke and check recorded erasures",
	}
	var (
		lo       subjectOptions
		deadline string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tombstones and their deadlines (exit 5 when one is overdue)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := g.tombstoneService(cmd.Context(), &lo)
			if err != nil {
				return err
			}
			defer done()
			if deadline != "" {
				p, err := config.ParsePeriod(deadline)
				if err != nil {
					return fmt.Errorf("--deadline: %w", err)
				}
				svc.Deadline = p.After
			}
			ts, err := svc.List(cmd.Context())
			if err != nil {
				return err
			}
			if err := withJournals(cmd.Context(), svc, ts); err != nil {
				return err
			}
			if g.json {
				err = printJSON(g.stdout, ts)
			} else {
				err = writeTombstoneList(g.stdout, ts)
			}
			if err == nil && anyOverdue(ts) {
				return &exitCodeError{code: exitOverdue}
			}
			return err
		},
	}
	lo.readOnly = true
	lo.addStateFlag(list)
	list.Flags().StringVar(&deadline, "deadline", "", "`period` a request must be answered in (e.g. 1m, 30d; default 1m)")

	var so subjectOptions
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one tombstone (ID or a unique prefix of it)",
		Args:  argsOf(1, 1, "one tombstone ID or a unique prefix of it (see lethe erasures list)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := g.tombstoneService(cmd.Context(), &so)
			if err != nil {
				return err
			}
			defer done()
			t, err := svc.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			one := []tombstones.Tombstone{t}
			if err := withJournals(cmd.Context(), svc, one); err != nil {
				return err
			}
			t = one[0]
			if g.json {
				return printJSON(g.stdout, t)
			}
			return writeTombstone(g.stdout, t)
		},
	}
	so.readOnly = true
	so.addStateFlag(show)

	var (
		ro                  subjectOptions
		rreason, rreference string
	)
	revoke := &cobra.Command{
		Use:   "revoke ID --reason REASON",
		Short: "Revoke a tombstone (the customer consented again)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rreason == "" {
				return errors.New("--reason is required")
			}
			svc, done, err := g.tombstoneService(cmd.Context(), &ro)
			if err != nil {
				return err
			}
			defer done()
			r, err := svc.Revoke(cmd.Context(), args[0], rreason, rreference)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, r)
			}
			fmt.Fprintf(g.stdout, "revoked %s\n", args[0])
			return nil
		},
	}
	ro.addStateFlag(revoke)
	revoke.Flags().StringVar(&rreason, "reason", "", "why the erasure is revoked: a free-text `reason`")
	revoke.Flags().StringVar(&rreference, "reference", "", "your `reference` (ticket number)")

	var co subjectOptions
	check := &cobra.Command{
		Use:   "check [identifier flags]",
		Short: "Say whether identifiers are erased (exit 0 and the tombstone IDs; exit 1 when none match)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if co.ids.Empty() {
				return errors.New("give at least one identifier flag")
			}
			svc, done, err := g.tombstoneService(cmd.Context(), &co)
			if err != nil {
				return err
			}
			defer done()
			ids, err := co.ids.Identifiers(svc.Normalizer)
			if err != nil {
				return err
			}
			res, err := svc.Check(cmd.Context(), ids)
			if err != nil {
				return err
			}
			matched := false
			if g.json {
				for _, r := range res {
					matched = matched || len(r.Tombstones) > 0
				}
				err = printJSON(g.stdout, res)
			} else {
				matched, err = writeCheck(g.stdout, res)
			}
			if err != nil {
				return err
			}
			if !matched {
				return &exitCodeError{code: exitError}
			}
			return nil
		},
	}
	co.readOnly = true
	co.addIdentifierFlags(check)
	co.addSettingsFlags(check, true)

	var (
		rso subjectOptions
		rsr eraseRunOptions
	)
	resume := &cobra.Command{
		Use:   "resume [ID...]",
		Short: "Carry out pending erasures in the repository (all, or those named)",
		Long: `Carry out every erasure that is not complete in the repository: those
never started there (recorded without a repository, or with --record-only)
and those a crash or an error left half done, which resume where they
stopped with the rules they were started with.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rules, err := rsr.rules(&rso)
			if err != nil {
				return err
			}
			rep, err := g.carryOut(cmd.Context(), rso.stateDir, args, rules, rsr.business)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, rep)
			}
			if len(rep) == 0 {
				fmt.Fprintln(g.stdout, "no pending erasures")
			}
			return nil
		},
	}
	rso.addSettingsFlags(resume, true)
	rsr.addFlags(resume)
	cmd.AddCommand(list, show, revoke, check, resume)
	return cmd
}

// carryOut runs the erasures ids (nil: every pending one) in the
// repository under an exclusive lock and prints each outcome.
func (g *globalOptions) carryOut(ctx context.Context, stateDir string, ids []string, rules erasure.Rules, biz receipts.Business) ([]erasureReport, error) {
	repo, ctx, release, err := g.lockedRepository(ctx, removing, true)
	if err != nil {
		return nil, err
	}
	defer release()
	return g.carryOutIn(ctx, repo, stateDir, ids, rules, biz)
}

// carryOutIn is carryOut in a repository the caller locked exclusively.
func (g *globalOptions) carryOutIn(ctx context.Context, repo *repository.Repository, stateDir string, ids []string, rules erasure.Rules, biz receipts.Business) ([]erasureReport, error) {
	e, err := g.newEraser(ctx, repo, stateDir)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		if ids, err = e.Pending(ctx, false); err != nil {
			return nil, err
		}
	}
	loc := repo.Backend().Location()
	c := &jobs.CarryOut{Business: biz}
	var out []erasureReport
	for _, id := range ids {
		res, rc, err := e.run(ctx, c, loc, id, rules)
		if err != nil {
			return out, err
		}
		rep := erasureReport{Repository: loc, Result: res}
		if rc != nil {
			rep.Receipt = rc.Facts.ReceiptID
		}
		out = append(out, rep)
		if !g.json {
			writeErasureResult(g.stdout, loc, res)
			if rep.Receipt != "" {
				fmt.Fprintf(g.stdout, "  receipt %s issued: lethe receipts show %s --lang sv\n", rep.Receipt, rep.Receipt)
			}
		}
	}
	return out, nil
}

// eraseConfigured records the request in every repository of the config
// (or the one --repo names) and carries it out in each in turn, with the
// config's identifier rules, holds and business besides the flags'. The
// receipt, issued in the last repository, states them all.
func (g *globalOptions) eraseConfigured(ctx context.Context, o *subjectOptions, stateSet bool, req tombstones.Request, flagRules erasure.Rules, biz receipts.Business) error {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return err
	}
	repos, err := g.configRepos()
	if err != nil {
		return err
	}
	if len(repos) == 0 {
		return fmt.Errorf("%s has no repository %q", g.configFile, g.repo)
	}
	stateDir := cfg.StateDir
	if stateSet {
		stateDir = o.stateDir
	}
	rules := daemon.RulesOf(cfg)
	rules.Holds = append(rules.Holds, flagRules.Holds...)
	rules.Deep = flagRules.Deep
	if biz.Name == "" {
		biz = receipts.Business{Name: cfg.Business.Name, Contact: cfg.Business.Contact}
	}
	n, err := cfg.Identifiers.Normalizer()
	if err != nil {
		return err
	}
	if req.Identifiers, err = o.ids.Identifiers(n); err != nil {
		return err
	}

	// The tombstone goes to every repository first.
	st, err := tombstones.OpenState(stateDir)
	if err != nil {
		return fmt.Errorf("opening state directory: %w", err)
	}
	svc := &tombstones.Service{State: st, Normalizer: n}
	var releases []func() error
	defer func() {
		for _, r := range releases {
			_ = r()
		}
	}()
	for i := range repos {
		repo, _, release, err := jobs.OpenLocked(ctx, g.configRepoSpec(&repos[i]), jobs.Shared, false)
		if err != nil {
			return fmt.Errorf("repository %s: %w", repos[i].Name, err)
		}
		releases = append(releases, release)
		svc.Repos = append(svc.Repos, tombstones.Repo{Name: repo.Backend().Location(), Store: repo})
	}
	t, err := svc.Record(ctx, req)
	if err != nil {
		return err
	}
	for _, r := range releases {
		_ = r()
	}
	releases = nil
	if !g.json {
		fmt.Fprintf(g.stdout, "recorded erasure %s in %d repositories\n", t.ID, len(repos))
	}

	c := &jobs.CarryOut{Business: biz}
	for i := range repos {
		c.Repos = append(c.Repos, repos[i].Name)
	}
	var reports []erasureReport
	for i := range repos {
		err := func() error {
			repo, jctx, release, err := jobs.OpenLocked(ctx, g.configRepoSpec(&repos[i]), jobs.Exclusive, true)
			if err != nil {
				return err
			}
			defer release()
			e, err := g.newEraser(jctx, repo, stateDir)
			if err != nil {
				return err
			}
			res, rc, err := e.run(jctx, c, repos[i].Name, t.ID, rules)
			if err != nil {
				return err
			}
			loc := repo.Backend().Location()
			rep := erasureReport{Repository: loc, Result: res}
			if !g.json {
				writeErasureResult(g.stdout, loc, res)
			}
			if rc != nil {
				rep.Receipt = rc.Facts.ReceiptID
				if !g.json {
					final := "final"
					if !rc.Facts.Final {
						final = "not final until the erasure is complete in every repository"
					}
					fmt.Fprintf(g.stdout, "receipt %s issued in %s (%s): lethe receipts show %s --lang sv\n", rep.Receipt, repos[i].Name, final, rep.Receipt)
				}
			}
			reports = append(reports, rep)
			return nil
		}()
		if err != nil {
			return fmt.Errorf("repository %s: %w (the erasure stays pending there; lethe erasures resume retries)", repos[i].Name, err)
		}
	}
	if g.json {
		return printJSON(g.stdout, struct {
			Tombstone tombstones.Tombstone `json:"tombstone"`
			Erasures  []erasureReport      `json:"erasures"`
		}{t, reports})
	}
	return nil
}
