package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"lethe/agent/jobs"
	"lethe/tombstones"
)

// subjectOptions are the flags that name subjects and how identifiers are
// read: shared by erase, erasures, scan and redact.
type subjectOptions struct {
	ids         tombstones.IdentifierFlags
	region      string
	customKinds []string
	stateDir    string

	// readOnly is set by the commands that only read erasures: they
	// never make a subject key (see tombstones.Service.ReadOnly).
	readOnly bool
}

func (o *subjectOptions) addIdentifierFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.ids.Emails, "email", nil, "an email `address` of the subject (repeatable)")
	f.StringArrayVar(&o.ids.Phones, "phone", nil, "a phone `number` of the subject (repeatable)")
	f.StringArrayVar(&o.ids.Personnummer, "personnummer", nil, "a personnummer or samordningsnummer (`number`, repeatable)")
	f.StringArrayVar(&o.ids.Orgnr, "orgnr", nil, "an organisationsnummer (`number`, repeatable)")
	f.StringArrayVar(&o.ids.Names, "name", nil, "the subject's `name` (weak: matched only where a rule says so)")
	f.StringArrayVar(&o.ids.IDs, "id", nil, "an identifier as `KIND=VALUE` (a built-in or --kind kind)")
}

func (o *subjectOptions) addSettingsFlags(cmd *cobra.Command, state bool) {
	f := cmd.Flags()
	f.StringVar(&o.region, "phone-region", "SE", "`region` of phone numbers written without country code")
	f.StringArrayVar(&o.customKinds, "kind", nil, "define a custom identifier kind as `NAME=REGEXP` (e.g. customer=K-[0-9]{5})")
	if state {
		o.addStateFlag(cmd)
	}
}

// addStateFlag adds --state-dir alone, for the commands that read no
// identifier.
func (o *subjectOptions) addStateFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.stateDir, "state-dir", tombstones.StateDirFromEnv(), "local state `directory` (env LETHE_STATE_DIR)")
}

func (o *subjectOptions) normalizer() (*tombstones.Normalizer, error) {
	n, err := jobs.NormalizerFor(o.region, o.customKinds)
	if err != nil && len(o.customKinds) > 0 {
		return nil, fmt.Errorf("--kind: %w", err)
	}
	return n, err
}

// tombstoneService opens the state directory and, when --repo is given, the
// repository under a shared lock, and returns the tombstone service.
func (g *globalOptions) tombstoneService(ctx context.Context, o *subjectOptions) (*tombstones.Service, func(), error) {
	n, err := o.normalizer()
	if err != nil {
		return nil, nil, err
	}
	st, err := tombstones.OpenState(o.stateDir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening state directory: %w", err)
	}
	svc := &tombstones.Service{
		State:      st,
		Normalizer: n,
		ReadOnly:   o.readOnly,
		Warn: func(repo string, err error) {
			g.warnf("warning: repository %s: %v (the erasure is kept in the state directory and synced later)\n", repo, err)
		},
	}
	done := func() {}
	if g.repo != "" {
		// The service's callers run under their own context, not the
		// lock's: losing the lock does not stop them.
		repo, _, release, err := g.lockedRepository(ctx, adding, false)
		if err != nil {
			return nil, nil, err
		}
		svc.Repos = []tombstones.Repo{{Name: repo.Backend().Location(), Store: repo}}
		done = func() { _ = release() }
	}
	return svc, done, nil
}
