package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/tombstones"
)

func newEraseCommand(g *globalOptions) *cobra.Command {
	var (
		o         subjectOptions
		reason    string
		reference string
		mode      string
	)
	cmd := &cobra.Command{
		Use:   "erase --reason REASON [identifier flags]",
		Short: "Record an erasure request (a tombstone) for a subject",
		Long: `Record an erasure request: the subject's identifiers are normalized and
kept only as keyed fingerprints in the state directory and in the
repository, and the tombstone's ID is printed. Every later restore and
backup keeps the subject's records out.

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
			svc, done, err := g.tombstoneService(ctx, &o)
			if err != nil {
				return err
			}
			defer done()
			ids, err := o.ids.Identifiers(svc.Normalizer)
			if err != nil {
				return err
			}
			if g.repo == "" {
				g.warnf("warning: no repository given: the erasure is recorded in the state directory only\n")
			}
			t, err := svc.Record(ctx, tombstones.Request{Identifiers: ids, Reason: reason, Reference: reference, Mode: m})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, t)
			}
			fmt.Fprintln(g.stdout, t.ID)
			return nil
		},
	}
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
	var lo subjectOptions
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tombstones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, done, err := g.tombstoneService(cmd.Context(), &lo)
			if err != nil {
				return err
			}
			defer done()
			ts, err := svc.List(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, ts)
			}
			return writeTombstoneList(g.stdout, ts)
		},
	}
	lo.addSettingsFlags(list, true)

	var so subjectOptions
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one tombstone",
		Args:  cobra.ExactArgs(1),
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
			if g.json {
				return printJSON(g.stdout, t)
			}
			return writeTombstone(g.stdout, t)
		},
	}
	so.addSettingsFlags(show, true)

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
	ro.addSettingsFlags(revoke, true)
	revoke.Flags().StringVar(&rreason, "reason", "", "why the erasure is revoked")
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
	co.addIdentifierFlags(check)
	co.addSettingsFlags(check, true)
	cmd.AddCommand(list, show, revoke, check)
	return cmd
}
