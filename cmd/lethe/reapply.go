package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"lethe/agent/erasure"
	"lethe/agent/erasure/subjects"
	"lethe/agent/formats"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// ruleOptions are the flags that say what else makes a record a subject's:
// CSV columns holding names, and path rules. scan, redact, backup and
// restore share them.
type ruleOptions struct {
	nameColumns []string
	pathRules   []string
}

func (o *ruleOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.nameColumns, "name-column", nil, "CSV `header` whose values are matched as names (repeatable)")
	f.StringArrayVar(&o.pathRules, "path-rule", nil, "path `template` that makes a folder one subject's, e.g. kunder/{customer}/** (repeatable)")
}

// formatsOptions returns the scanning options the rules give.
func (o *ruleOptions) formatsOptions() (*formats.Options, error) {
	opts, err := jobs.FormatsOptions(o.nameColumns, o.pathRules)
	if err != nil {
		return nil, fmt.Errorf("--path-rule: %w", err)
	}
	return opts, nil
}

// reapplyOptions are the flags of restore and backup that decide how
// erasures are reapplied.
type reapplyOptions struct {
	subjectOptions
	ruleOptions
}

func (o *reapplyOptions) addFlags(cmd *cobra.Command) {
	o.addSettingsFlags(cmd, true)
	o.ruleOptions.addFlags(cmd)
}

// reapplier holds what restore and backup need to keep erased subjects
// out: the filter for the seams and the redactor's path mask. A nil
// *reapplier means no tombstone is active.
type reapplier struct {
	filter *scanFilter
	red    *formats.Redactor
	mask   *erasure.PathMask
	active int
}

// scanFilter is the erasure filter; it counts the files whose content it
// reads through the redactor, which the subject index did not rule out.
type scanFilter struct {
	*erasure.Filter
	scanned atomic.Uint64
}

func (f *scanFilter) FilterContent(ctx context.Context, p string, node *repository.Node, open func() (io.ReadCloser, error)) (io.ReadCloser, formats.Findings, error) {
	f.scanned.Add(1)
	return f.Filter.FilterContent(ctx, p, node, open)
}

// subjectIndex is the repository's subject index as restore and backup
// use it: the indexer of this profile and, when loaded, the index.
type subjectIndex struct {
	indexer *subjects.Indexer
	index   *subjects.Index
}

// reapplier loads the active tombstones from the repository and the state
// directory (their union; the repository's are enough on a fresh machine)
// and returns the filter that removes their subjects' records, or nil when
// no tombstone is active. A tombstone that cannot be read is an error: going
// on without it would let an erased subject's records through.
//
// With o.readOnly it makes no subject key; where there is none yet it
// returns no filter and an empty subjectIndex (no indexer).
//
// It also returns the subject index: loaded when a tombstone is active or
// loadIndex is set. The filter screens files by it, so that files whose
// entries hold no erased subject keep the fast path; files without a
// trusted entry are filtered. An index that cannot be loaded is reported
// and not used, which costs time, not correctness.
func (g *globalOptions) reapplier(ctx context.Context, o *reapplyOptions, repo *repository.Repository, roots []string, loadIndex bool) (*reapplier, *subjectIndex, error) {
	n, err := o.normalizer()
	if err != nil {
		return nil, nil, err
	}
	fopts, err := o.formatsOptions()
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
		Repos:      []tombstones.Repo{{Name: repo.Backend().Location(), Store: repo}},
	}
	set, key, _, err := svc.Sync(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the erasures to reapply: %w (lethe does not go on without them: "+
			"it could not withhold the erased subjects' records; `lethe check` names damaged objects)", err)
	}
	if key == nil {
		// Read-only, and no key anywhere: no tombstone and no index.
		return nil, &subjectIndex{}, nil
	}
	si := &subjectIndex{indexer: subjects.NewIndexer(n, key, fopts)}
	active := set.Active()
	if len(active) > 0 || loadIndex {
		si.index, err = subjects.Load(ctx, repo, si.indexer)
		if err != nil {
			g.warnf("warning: %v; going on without it (every file is scanned; `lethe check` names damaged objects)\n", err)
			si.index = subjects.New(si.indexer)
		}
	}
	if len(active) == 0 {
		return nil, si, nil
	}
	m, err := tombstones.NewMatcher(n, key, set)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the erasures to reapply: %w", err)
	}
	red := formats.NewRedactor(m, fopts)
	filter := &scanFilter{Filter: erasure.NewFilter(red, roots, si.index.Screen(active))}
	return &reapplier{filter: filter, red: red, mask: erasure.NewPathMask(red.MaskPath), active: len(active)}, si, nil
}

// maskPath masks the path components that name an erased subject.
func (r *reapplier) maskPath(p string) string {
	if r == nil {
		return p
	}
	return r.mask.Mask(p)
}

// withheld counts what the seams kept out of a restore or a backup.
type withheld struct {
	FilesRedacted uint64                    `json:"files_redacted"`
	FilesDropped  uint64                    `json:"files_withheld"`
	DirsDropped   uint64                    `json:"dirs_withheld"`
	Records       uint64                    `json:"records_withheld"`
	PerFormat     map[formats.Format]uint64 `json:"records_per_format,omitempty"`
}

func newWithheld(filesRedacted, filesDropped, dirsDropped uint64, perFormat map[formats.Format]uint64) withheld {
	w := withheld{FilesRedacted: filesRedacted, FilesDropped: filesDropped, DirsDropped: dirsDropped, PerFormat: perFormat}
	for _, n := range perFormat {
		w.Records += n
	}
	return w
}

func (w withheld) any() bool { return w.Records > 0 || w.FilesDropped > 0 || w.DirsDropped > 0 }

// files is the number of files and folders the records were in.
func (w withheld) files() uint64 { return w.FilesRedacted + w.FilesDropped + w.DirsDropped }

// formats lists the per-format counts, "csv 1, mbox 2".
func (w withheld) formats() string {
	var parts []string
	for f, n := range w.PerFormat {
		parts = append(parts, fmt.Sprintf("%s %d", f, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
