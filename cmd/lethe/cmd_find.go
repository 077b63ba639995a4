package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/erasure"
	"lethe/agent/erasure/subjects"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/tombstones"
)

type findOptions struct {
	subjectOptions
	ruleOptions
	tombstone string
	verify    bool
}

func newFindCommand(g *globalOptions) *cobra.Command {
	var o findOptions
	cmd := &cobra.Command{
		Use:   "find [identifier flags | --tombstone ID]",
		Short: "Show every snapshot and file where a person occurs, from the subject index",
		Long: `Show every snapshot and file where a person occurs, from the subject index.

Name the person by identifiers (--email, --phone, ...) or by an erasure
(--tombstone ID). lethe looks the person up in the subject index the
backups recorded, so nothing is scanned, and lists per snapshot each file
with its format and how many records hold the person, and each file or
folder named after them. No identifier is printed: path components that
carry one are masked. The index can name a file that does not hold the
person (rarely; see docs/subject-index.md): --verify scans the files
listed and says which are confirmed.

Files the index has no entry for (backed up by restic, by an older lethe,
or with other rules) are counted, not scanned: run ` + "`lethe index`" + ` first to
include them. Give the same rules (--kind, --name-column, --path-rule,
--phone-region) as to backup and restore.`,
		Args: cobra.NoArgs,
		RunE: g.withRepository(false, true, func(ctx context.Context, repo *repository.Repository, _ []string) error {
			return runFind(ctx, g, &o, repo)
		}),
	}
	o.addIdentifierFlags(cmd)
	o.addSettingsFlags(cmd, true)
	o.ruleOptions.addFlags(cmd)
	cmd.Flags().StringVar(&o.tombstone, "tombstone", "", "find the subject of this erasure `id` (or a unique prefix of it)")
	cmd.Flags().BoolVar(&o.verify, "verify", false, "scan the files found to confirm them")
	return cmd
}

// findHit is one line of find's answer.
type findHit struct {
	Snapshot string    `json:"snapshot"`
	Time     time.Time `json:"time"`
	Host     string    `json:"hostname"`
	Path     string    `json:"path"`
	Format   string    `json:"format"`
	// Records is, from the index, the least number of records holding the
	// subject; after --verify, the number found.
	Records  uint32 `json:"records"`
	Verified string `json:"verified,omitempty"`

	node *repository.Node
}

const (
	verifiedYes = "confirmed"
	verifiedNo  = "not confirmed"
)

func runFind(ctx context.Context, g *globalOptions, o *findOptions, repo *repository.Repository) error {
	if o.ids.Empty() == (o.tombstone == "") {
		return errors.New("name the person by identifier flags or by --tombstone ID, not both")
	}
	n, err := o.normalizer()
	if err != nil {
		return err
	}
	fopts, err := o.formatsOptions()
	if err != nil {
		return err
	}
	st, err := tombstones.OpenState(o.stateDir)
	if err != nil {
		return fmt.Errorf("opening state directory: %w", err)
	}
	svc := &tombstones.Service{State: st, Normalizer: n, ReadOnly: true, Repos: []tombstones.Repo{{Name: repo.Backend().Location(), Store: repo}}}
	set, key, _, err := svc.Sync(ctx)
	if err != nil {
		return fmt.Errorf("loading the erasures and the subject key: %w", err)
	}
	if key == nil {
		// The index is keyed by the subject key, which the first lethe
		// backup or index makes.
		return errors.New("this repository has no subject index yet (no lethe backup or index ran in it): run `lethe index` first")
	}
	var (
		entries []tombstones.Entry
		m       formats.Matcher
	)
	if o.tombstone != "" {
		t, err := set.Find(strings.ToUpper(strings.TrimSpace(o.tombstone)))
		if err != nil {
			return fmt.Errorf("%w in the state directory or the repository", err)
		}
		one := tombstones.NewSet()
		t.Revocations = nil
		if err := one.AddTombstone(t); err != nil {
			return err
		}
		if m, err = tombstones.NewMatcher(n, key, one); err != nil {
			return err
		}
		entries = t.Entries
	} else {
		ids, err := o.ids.Identifiers(n)
		if err != nil {
			return err
		}
		if entries, err = tombstones.EntriesOf(n, key, ids); err != nil {
			return err
		}
		if m, err = tombstones.NewIdentifierMatcher(n, ids); err != nil {
			return err
		}
	}
	red := formats.NewRedactor(m, fopts)
	ix := subjects.NewIndexer(n, key, fopts)
	idx, err := subjects.Load(ctx, repo, ix)
	if err != nil {
		return err
	}
	snaps, damaged, err := repo.LoadAllSnapshots(ctx)
	if err != nil {
		return err
	}
	for _, d := range damaged {
		g.warnf("warning: %v; it was not looked at\n", d)
	}

	var hits []*findHit
	hit := func(sn *repository.Snapshot, p, format string, recs uint32, node *repository.Node) *findHit {
		h := &findHit{Snapshot: sn.ID.Str(), Time: sn.Time, Host: sn.Hostname, Path: red.MaskPath(p), Format: format, Records: recs, node: node}
		hits = append(hits, h)
		return h
	}
	filters := make(map[*repository.Snapshot]*erasure.Filter)
	visit := func(sn *repository.Snapshot, p string, node *repository.Node) bool {
		f := filters[sn]
		if f == nil {
			f = erasure.NewFilter(red, sn.Paths, nil)
			filters[sn] = f
		}
		d, fnd, err := f.Decide(ctx, p, node)
		if err != nil || d != formats.Drop {
			return false
		}
		h := hit(sn, p, string(fnd.Format), uint32(max(fnd.Removed, 1)), nil)
		h.Verified = verifiedYes // decided by the name, as restores do
		return true
	}
	fst, err := subjects.Find(ctx, repo, snaps, idx, tombstones.ProbeOf(entries), visit, func(oc subjects.Occurrence) error {
		hit(oc.Snapshot, oc.Path, string(oc.Entry.Format), oc.Records, oc.Node)
		return nil
	})
	if err != nil {
		return err
	}
	if o.verify {
		if err := verifyHits(ctx, repo, red, ix, hits); err != nil {
			return err
		}
	}
	return printFind(g, hits, fst, idx.Other())
}

// verifyHits scans the content of every file hit, each content once.
func verifyHits(ctx context.Context, repo *repository.Repository, red *formats.Redactor, ix *subjects.Indexer, hits []*findHit) error {
	type verdict struct {
		records uint32
		ok      bool
	}
	done := make(map[subjects.ContentKey]verdict)
	var buf []byte
	for _, h := range hits {
		if h.node == nil {
			continue
		}
		k := ix.Key(h.node.Name, h.node.Content)
		v, seen := done[k]
		if !seen {
			data, err := subjects.LoadContent(ctx, repo, h.node, buf[:0], ix.MaxSize())
			if err != nil {
				return fmt.Errorf("verifying %s: %w", h.Path, err)
			}
			buf = data
			_, fnd := red.RedactBytes(h.node.Name, data)
			v = verdict{records: uint32(fnd.Removed), ok: fnd.Removed > 0}
			done[k] = v
		}
		h.Records, h.Verified = v.records, verifiedNo
		if v.ok {
			h.Verified = verifiedYes
		}
	}
	return nil
}

func printFind(g *globalOptions, hits []*findHit, st subjects.FindStats, other int) error {
	if g.json {
		if hits == nil {
			hits = []*findHit{}
		}
		return printJSON(g.stdout, map[string]any{
			"message_type":      "summary",
			"occurrences":       hits,
			"snapshots":         st.Snapshots,
			"files":             st.Files,
			"files_not_indexed": st.NotIndexed,
		})
	}
	for _, h := range hits {
		line := fmt.Sprintf("%s  %s  %s  %s  %s  %d record%s", h.Snapshot, h.Time.Format(time.DateTime), h.Host, h.Path, h.Format, h.Records, plural(int(h.Records)))
		if h.Verified != "" && h.node != nil {
			line += "  " + h.Verified
		}
		g.printf("%s\n", line)
	}
	if len(hits) == 0 {
		g.printf("found in none of the %d files of %d snapshots that are indexed\n", st.Files-st.NotIndexed, st.Snapshots)
	} else {
		g.printf("found %d times in %d snapshots\n", len(hits), st.Snapshots)
	}
	if st.NotIndexed > 0 {
		g.warnf("%d files have no entry in the subject index and were not looked at; run `lethe index` and find again\n", st.NotIndexed)
		if other > 0 {
			g.warnf("(%d entries were made with other rules, an other --phone-region or an older lethe)\n", other)
		}
	}
	return nil
}
