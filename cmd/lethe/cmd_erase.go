package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

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
		noWait    bool
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

With a config (--config or LETHE_CONFIG) whose agent runs, the request
goes to the agent over its API socket instead: the agent records it and
carries it out in every configured repository with the config's rules,
holds and business, and erase waits for the outcome in each repository
(--no-wait: only files it) and says where the receipt is. Nothing is then
done here, so a request is never run twice. Flags the API cannot carry
(--record-only, --repo, --state-dir, rule, hold and business flags) are
refused while the agent runs. Without an agent listening, erase works
directly.

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
			c, err := g.agentClient(ctx)
			if err != nil {
				return err
			}
			if c != nil {
				if err := refuseFlags(cmd, "the agent carries the request out with its config's rules, holds and business in every repository",
					"record-only", "repo", "state-dir", "kind", "phone-region", "name-column", "path-rule",
					"hold-path", "hold-format", "hold-basis", "hold-for", "deep", "business-name", "business-contact"); err != nil {
					return err
				}
				return g.eraseViaAgent(ctx, c, o.ids, req, noWait)
			}
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
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "with the agent running: file the request and do not wait for its outcome")
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
		Long: `List, show, revoke and check recorded erasures, and carry out pending ones.

With a config (--config or LETHE_CONFIG) whose agent runs, list and show
ask the agent over its API socket: its requests and their progress in
every configured repository.`,
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
			c, err := g.agentClient(cmd.Context())
			if err != nil {
				return err
			}
			if c != nil {
				if err := refuseFlags(cmd, "the agent's config sets the deadline and the state directory", "deadline", "state-dir", "repo"); err != nil {
					return err
				}
				return g.listViaAgent(cmd.Context(), c, "")
			}
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
			c, err := g.agentClient(cmd.Context())
			if err != nil {
				return err
			}
			if c != nil {
				if err := refuseFlags(cmd, "the agent's config sets the state directory", "state-dir", "repo"); err != nil {
					return err
				}
				return g.listViaAgent(cmd.Context(), c, args[0])
			}
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

// carryOut runs the erasures ids (nil: every pending one, those due to
// run again included) in the repository under an exclusive lock and
// prints each outcome. It locks without the resume other commands run
// first, which would finish the pending erasures without printing them.
func (g *globalOptions) carryOut(ctx context.Context, stateDir string, ids []string, rules erasure.Rules, biz receipts.Business) ([]erasureReport, error) {
	spec, err := g.repoSpec()
	if err != nil {
		return nil, err
	}
	repo, ctx, release, err := jobs.OpenLocked(ctx, spec, jobs.Exclusive, true)
	if err != nil {
		return nil, suggestInit(err)
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
		if ids, err = e.Pending(ctx, false, time.Now()); err != nil {
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

// agentClient returns the client of the agent that the config in use
// names, when it runs; nil when no config is in use or no agent listens
// on its socket (after saying so for a stale socket): the command then
// works directly. A socket the command cannot reach is an error: the
// agent may be running, and working beside it could run a request twice.
func (g *globalOptions) agentClient(ctx context.Context) (*daemon.Client, error) {
	if g.configFile == "" {
		return nil, nil
	}
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, err
	}
	c, err := daemon.Dial(ctx, cfg.API.Socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, daemon.ErrStaleSocket):
		g.warnf("the agent's API socket %s does not answer (the agent is not running): working directly\n", cfg.API.Socket)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w (the agent may be running: use its API as a member of group %s, or stop it)", err, daemon.SocketGroup)
	}
	return c, nil
}

// refuseFlags returns an error naming the first of the flags given, which
// the API cannot carry.
func refuseFlags(cmd *cobra.Command, why string, names ...string) error {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return fmt.Errorf("--%s cannot be used while the agent runs: %s", n, why)
		}
	}
	return nil
}

// apiIdentifiers are the identifier flags as the API takes them: kind
// and value as given, normalized by the agent with its config.
func apiIdentifiers(f tombstones.IdentifierFlags) ([]tombstones.Identifier, error) {
	var out []tombstones.Identifier
	for _, g := range []struct {
		kind   tombstones.Kind
		values []string
	}{
		{tombstones.KindEmail, f.Emails},
		{tombstones.KindPhone, f.Phones},
		{tombstones.KindPersonnummer, f.Personnummer},
		{tombstones.KindOrgnr, f.Orgnr},
		{tombstones.KindName, f.Names},
	} {
		for _, v := range g.values {
			out = append(out, tombstones.Identifier{Kind: g.kind, Value: v})
		}
	}
	for i, kv := range f.IDs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--id #%d: want KIND=VALUE", i+1)
		}
		// As ParseKindValue reads it: a kind that is not built in is
		// one of the config's custom kinds.
		kind := tombstones.Kind(strings.ToLower(strings.TrimSpace(k)))
		switch kind {
		case tombstones.KindEmail, tombstones.KindPhone, tombstones.KindPersonnummer, tombstones.KindOrgnr, tombstones.KindName:
		default:
			if !kind.IsCustom() {
				kind = tombstones.CustomKindOf(string(kind))
			}
		}
		out = append(out, tombstones.Identifier{Kind: kind, Value: v})
	}
	return out, nil
}

// pollInterval is how often erase asks the agent how its request is
// going.
const pollInterval = 500 * time.Millisecond

// eraseViaAgent files the request with the agent, which records it and
// carries it out in every repository, and unless noWait waits for the
// outcome in each.
func (g *globalOptions) eraseViaAgent(ctx context.Context, c *daemon.Client, ids tombstones.IdentifierFlags, req tombstones.Request, noWait bool) error {
	idents, err := apiIdentifiers(ids)
	if err != nil {
		return err
	}
	st, err := c.FileErasure(ctx, daemon.ErasureRequest{Identifiers: idents, Reason: req.Reason, Reference: req.Reference, Mode: string(req.Mode)})
	if err != nil {
		return fmt.Errorf("filing the erasure with the agent: %w", err)
	}
	if !g.json {
		fmt.Fprintf(g.stdout, "erasure %s filed with the agent, which carries it out in %d repositories\n", st.ID, len(st.Repositories))
	}
	if noWait {
		if g.json {
			return printJSON(g.stdout, st)
		}
		fmt.Fprintf(g.stdout, "lethe erasures show %s --config %s follows it\n", st.ID, g.configFile)
		return nil
	}
	for st.State == "pending" && failedIn(st) == "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
		next, err := c.Erasure(ctx, st.ID)
		if err != nil {
			return fmt.Errorf("asking the agent about erasure %s: %w", st.ID, err)
		}
		st = next
	}
	rc, hasReceipt, err := c.Receipt(ctx, st.ID)
	if err != nil {
		g.warnf("warning: reading the receipt of %s: %v\n", st.ID, err)
	}
	if g.json {
		var receipt json.RawMessage
		if hasReceipt {
			receipt = rc
		}
		if err := printJSON(g.stdout, struct {
			Erasure daemon.ErasureStatus `json:"erasure"`
			Receipt json.RawMessage      `json:"receipt,omitempty"`
		}{st, receipt}); err != nil {
			return err
		}
	} else {
		writeErasureStatus(g.stdout, st)
		if hasReceipt {
			writeReceiptLocation(g.stdout, rc)
		}
	}
	if r := failedIn(st); r != "" {
		return fmt.Errorf("erasure %s failed in repository %s; the agent retries it (its log says why; lethe erasures show %s follows it)", st.ID, r, st.ID)
	}
	return nil
}

// failedIn returns the first repository where the erasure failed.
func failedIn(st daemon.ErasureStatus) string {
	for _, r := range st.Repositories {
		if r.State == string(tombstones.ProgressFailed) {
			return r.Repository
		}
	}
	return ""
}

// writeErasureStatus prints an erasure request as the agent reports it.
func writeErasureStatus(w io.Writer, st daemon.ErasureStatus) {
	state := st.State
	switch {
	case st.Overdue:
		state += ", overdue"
	case st.AtRisk:
		state += ", at risk"
	}
	fmt.Fprintf(w, "erasure %s: %s (%s mode), received %s, answer due %s\n", st.ID, state, st.Mode,
		st.Created.Local().Format(time.DateTime), st.Deadline.Local().Format(time.DateOnly))
	fmt.Fprintf(w, "  identifiers: %s\n", strings.Join(st.Masked, ", "))
	fmt.Fprintf(w, "  reason: %s", st.Reason)
	if st.Reference != "" {
		fmt.Fprintf(w, ", reference %s", st.Reference)
	}
	fmt.Fprintln(w)
	for _, r := range st.Repositories {
		fmt.Fprintf(w, "  repository %s: %s", r.Repository, r.State)
		if !r.Updated.IsZero() {
			fmt.Fprintf(w, " (%s)", r.Updated.Local().Format(time.DateTime))
		}
		if r.Note != "" {
			fmt.Fprintf(w, ": %s", r.Note)
		}
		fmt.Fprintln(w)
	}
}

// writeReceiptLocation says which receipt the agent serves and where.
func writeReceiptLocation(w io.Writer, file []byte) {
	var env struct {
		Receipt struct {
			ReceiptID string `json:"receipt_id"`
			Final     bool   `json:"final"`
		} `json:"receipt"`
	}
	if json.Unmarshal(file, &env) != nil || env.Receipt.ReceiptID == "" {
		return
	}
	final := "final"
	if !env.Receipt.Final {
		final = "not final: the erasure is not complete in every repository"
	}
	id := env.Receipt.ReceiptID
	fmt.Fprintf(w, "receipt %s (%s): GET /v1/receipts/%s on the agent's socket, or lethe receipts show %s -r REPOSITORY\n", id, final, id, id)
}

// erasuresViaAgent returns the agent's erasure requests: all, or the one
// id names (a full id or a unique prefix).
func erasuresViaAgent(ctx context.Context, c *daemon.Client, id string) ([]daemon.ErasureStatus, error) {
	if id != "" && tombstones.ValidID(strings.ToUpper(id)) {
		st, err := c.Erasure(ctx, id)
		if err != nil {
			return nil, err
		}
		return []daemon.ErasureStatus{st}, nil
	}
	all, err := c.Erasures(ctx)
	if err != nil || id == "" {
		return all, err
	}
	var match []daemon.ErasureStatus
	for _, st := range all {
		if strings.HasPrefix(st.ID, strings.ToUpper(id)) {
			match = append(match, st)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("the agent has no erasure %s", id)
	case 1:
		return match, nil
	}
	return nil, fmt.Errorf("%d erasures start with %s: give more of the id", len(match), id)
}

// listViaAgent prints the agent's erasure requests (or the one id names);
// exit 5 when one is overdue.
func (g *globalOptions) listViaAgent(ctx context.Context, c *daemon.Client, id string) error {
	all, err := erasuresViaAgent(ctx, c, id)
	if err != nil {
		return err
	}
	if g.json {
		if id != "" {
			err = printJSON(g.stdout, all[0])
		} else {
			if all == nil {
				all = []daemon.ErasureStatus{}
			}
			err = printJSON(g.stdout, all)
		}
	} else {
		if len(all) == 0 {
			fmt.Fprintln(g.stdout, "no erasure requests")
		}
		for _, st := range all {
			writeErasureStatus(g.stdout, st)
		}
	}
	if err != nil {
		return err
	}
	for _, st := range all {
		if st.Overdue && id == "" {
			return &exitCodeError{code: exitOverdue}
		}
	}
	return nil
}
