package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/config"
	"lethe/agent/erasure"
	"lethe/agent/formats"
	"lethe/agent/jobs"
	"lethe/agent/receipts"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// holdOptions are the flags that define one hold for an erasure.
type holdOptions struct {
	paths   []string
	formats []string
	basis   string
	period  string
}

func (o *holdOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&o.paths, "hold-path", nil, "keep the subject's records in files matching `pattern` (exclude syntax, relative to the snapshot's paths; repeatable)")
	f.StringArrayVar(&o.formats, "hold-format", nil, "keep the subject's records in files of `format` (csv, mbox, ...; repeatable)")
	f.StringVar(&o.basis, "hold-basis", "", "the legal `basis` of the hold, e.g. \"Bokföringslagen 7 kap. 2 §\"")
	f.StringVar(&o.period, "hold-for", "", "how long the hold lasts from each snapshot's time, a `period` such as 7y, 18m, 30d")
}

// holds returns the hold the flags define, if any.
func (o *holdOptions) holds() ([]erasure.Hold, error) {
	if len(o.paths) == 0 && len(o.formats) == 0 && o.basis == "" && o.period == "" {
		return nil, nil
	}
	if o.basis == "" || o.period == "" {
		return nil, errors.New("a hold needs --hold-basis and --hold-for (and --hold-path or --hold-format to say what it keeps)")
	}
	if len(o.paths) == 0 && len(o.formats) == 0 {
		return nil, errors.New("a hold needs --hold-path or --hold-format: a hold of everything would erase nothing")
	}
	p, err := config.ParsePeriod(o.period)
	if err != nil {
		return nil, fmt.Errorf("--hold-for: %w", err)
	}
	h := erasure.Hold{Paths: o.paths, Basis: o.basis, Years: p.Years, Months: p.Months, Days: p.Days}
	for _, f := range o.formats {
		h.Formats = append(h.Formats, formats.Format(strings.ToLower(f)))
	}
	return []erasure.Hold{h}, nil
}

// eraseRunOptions are the flags of the commands that carry out erasures.
type eraseRunOptions struct {
	ruleOptions
	hold     holdOptions
	deep     bool
	business receipts.Business
}

func (o *eraseRunOptions) addFlags(cmd *cobra.Command) {
	o.ruleOptions.addFlags(cmd)
	o.hold.addFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.deep, "deep", false, "verify by scanning every file of every snapshot, not only the rewritten ones")
	f.StringVar(&o.business.Name, "business-name", "", "the business `name` the erasure receipt is issued in (no receipt without it)")
	f.StringVar(&o.business.Contact, "business-contact", "", "how the customer reaches the business (`contact`), for the receipt")
}

// rules returns the erasure rules the flags give.
func (o *eraseRunOptions) rules(so *subjectOptions) (erasure.Rules, error) {
	holds, err := o.hold.holds()
	if err != nil {
		return erasure.Rules{}, err
	}
	if _, err := o.formatsOptions(); err != nil {
		return erasure.Rules{}, err
	}
	return erasure.Rules{
		Region: so.region, Kinds: so.customKinds,
		NameColumns: o.nameColumns, PathRules: o.pathRules,
		Holds: holds, Deep: o.deep,
	}, nil
}

// eraser carries out erasures in one exclusively locked repository and
// shows their progress.
type eraser struct {
	*jobs.Eraser
	g *globalOptions
}

// newEraser loads the tombstones and the subject key of the repository
// (merged with the state directory's).
func (g *globalOptions) newEraser(ctx context.Context, repo *repository.Repository, stateDir string) (*eraser, error) {
	e, err := jobs.NewEraser(ctx, repo, stateDir)
	if err != nil {
		return nil, err
	}
	return &eraser{Eraser: e, g: g}, nil
}

// run carries out (or resumes) the erasure of tombstone id with rules
// (those journaled win over rules when the erasure was started before)
// in the repository named name, through c, which issues the receipt.
func (e *eraser) run(ctx context.Context, c *jobs.CarryOut, name, id string, rules erasure.Rules) (*erasure.Result, *receipts.Receipt, error) {
	progress := e.g.newProgress("erasing: snapshots")
	defer progress.stop()
	return c.Erase(ctx, e.Eraser, name, id, jobs.EraseOptions{
		Rules: rules,
		Event: func(ev erasure.Event) {
			if ev.Step == erasure.StepRewritten {
				progress.count(ev.Done, ev.Total)
			}
		},
		Warn: func(err error) { e.g.warnf("warning: %v\n", err) },
	})
}

// resumeStarted finishes the erasures a crash or an error left half done
// in a repository the command holds exclusively, as every command taking
// the exclusive lock does, and runs again those due to after a hold
// ended. It only warns when that fails: the command's own work goes on,
// and the erasure stays pending.
func (g *globalOptions) resumeStarted(ctx context.Context, repo *repository.Repository) {
	ids, err := erasure.ListJournals(ctx, repo)
	if err != nil || len(ids) == 0 {
		return
	}
	var open []string
	var done []*erasure.Journal
	for _, id := range ids {
		j, err := erasure.LoadJournal(ctx, repo, id)
		switch {
		case err != nil:
		case j.Complete():
			done = append(done, j)
		default:
			open = append(open, id)
		}
	}
	due, err := erasure.RerunsDue(ctx, repo, done, time.Now())
	if err != nil {
		g.warnf("warning: %v\n", err)
	}
	if len(open)+len(due) == 0 {
		return
	}
	if err := repo.LoadIndex(ctx); err != nil {
		g.warnf("warning: %d erasures are unfinished and cannot be resumed now: %v\n", len(open), err)
		return
	}
	e, err := g.newEraser(ctx, repo, tombstones.StateDirFromEnv())
	if err != nil {
		g.warnf("warning: %d erasures are unfinished and cannot be resumed now: %v\n", len(open), err)
		return
	}
	for _, id := range open {
		g.warnf("resuming the unfinished erasure %s\n", id)
		if _, _, err := e.run(ctx, &jobs.CarryOut{}, repo.Backend().Location(), id, erasure.Rules{}); err != nil {
			g.warnf("warning: %v (it stays pending; `lethe erasures resume` retries)\n", err)
		}
	}
	for _, id := range due {
		if t, ok := e.Tombstone(id); !ok || t.Revoked() {
			continue
		}
		g.warnf("running the erasure %s again: a hold ended, or held snapshots are gone\n", id)
		if _, _, err := e.run(ctx, &jobs.CarryOut{}, repo.Backend().Location(), id, erasure.Rules{}); err != nil {
			g.warnf("warning: %v (`lethe erasures resume` retries)\n", err)
		}
	}
}

// erasureReport is the JSON form of an erasure's outcome in a repository.
type erasureReport struct {
	Repository string          `json:"repository"`
	Result     *erasure.Result `json:"result"`
	Receipt    string          `json:"receipt,omitempty"`
}

// writeErasureResult prints an erasure's outcome in plain words.
func writeErasureResult(w io.Writer, loc string, r *erasure.Result) {
	rewritten := 0
	for _, s := range r.Snapshots {
		if s.New != nil {
			rewritten++
		}
	}
	again := ""
	if r.Rerun > 0 {
		again = ", run again after a hold"
	}
	fmt.Fprintf(w, "erasure %s in %s (%s%s):\n", r.Tombstone, loc, r.Mode, again)
	switch {
	case r.FoundNowhere:
		fmt.Fprintf(w, "  found nowhere: %d snapshots examined, none holds the subject\n", len(r.Snapshots))
	case r.ExpiresAt != nil:
		fmt.Fprintf(w, "  snapshots stay sealed; every restore withholds the subject; the last copy ages out on %s\n", r.ExpiresAt.Format(time.DateOnly))
	default:
		rm := r.Removed
		fmt.Fprintf(w, "  %d of %d snapshots rewritten\n", rewritten, len(r.Snapshots))
		fmt.Fprintf(w, "  removed %d records (%s); %d files redacted, %d files and %d folders removed, %s less content\n",
			rm.RecordsTotal(), formatCounts(rm.Records), rm.FilesRedacted, rm.FilesDropped, rm.DirsDropped, fmtBytes(uint64(max(rm.Bytes, 0))))
	}
	for _, h := range r.Held {
		fmt.Fprintf(w, "  held: %d records in %d files on the basis of %s, until %s\n", h.Records, h.Files, h.Basis, h.Until.Format(time.DateOnly))
	}
	if p := r.Prune; p != nil {
		fmt.Fprintf(w, "  pruned: %d packs repacked, %d removed, %s freed\n", p.PacksRepacked, p.PacksRemoved, fmtBytes(uint64(p.RemovedBytes)))
	}
	if v := r.Verify; v != nil && v.Kind != erasure.VerifyNone {
		verdict := "nothing of the subject left"
		if !v.OK {
			verdict = fmt.Sprintf("%d problems", v.Problems)
		}
		files := fmt.Sprintf("%d files in %d snapshots rescanned", v.FilesChecked, v.SnapshotsChecked)
		if v.FilesByEntry > 0 {
			files = fmt.Sprintf("%d files in %d snapshots checked (%d by the index entry of their new content, %d rescanned)", v.FilesChecked, v.SnapshotsChecked, v.FilesByEntry, v.FilesChecked-v.FilesByEntry)
		}
		fmt.Fprintf(w, "  verified (%s): %s, %d erased blobs checked: %s\n", v.Kind, files, v.BlobsChecked, verdict)
	}
}

// formatCounts writes per-format counts as "csv 3, mbox 1".
func formatCounts(m map[formats.Format]int) string {
	keys := make([]string, 0, len(m))
	for f := range m {
		keys = append(keys, string(f))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[formats.Format(k)])
	}
	return strings.Join(parts, ", ")
}

// Phrases of the progress note of an erasure whose snapshots still hold
// held records; erasures list marks such erasures by them.
const (
	noteHeld     = "; records held "
	noteDueAgain = "; due again since "
)

// heldNote says, for a finished erasure whose snapshots still hold held
// records, what is held on what basis until when and when the erasure
// runs again, or that it is due to.
func heldNote(st erasure.Status) string {
	if st.HeldUntil == nil || st.Result == nil {
		return ""
	}
	next := st.HeldUntil.UTC().Format(time.DateOnly)
	if st.Due {
		return noteDueAgain + next + ": a hold ended; the next exclusive lethe command or the agent runs it again (lethe erasures resume)"
	}
	var holds []string
	for _, h := range st.Result.Held {
		holds = append(holds, fmt.Sprintf("%d on the basis of %s until %s", h.Records, h.Basis, h.Until.UTC().Format(time.DateOnly)))
	}
	return noteHeld + "(" + strings.Join(holds, "; ") + "); runs again on " + next
}

// rerunNote says, for an erasure run again after holds, what its last
// run did and what its verification found.
func rerunNote(st erasure.Status) string {
	r := st.Result
	if st.State != erasure.StateVerified || r == nil || r.Rerun == 0 {
		return ""
	}
	times := "once"
	if r.Rerun > 1 {
		times = fmt.Sprintf("%d times", r.Rerun)
	}
	note := fmt.Sprintf("; run again after a hold (%s), last on %s: %d records removed", times, r.Completed.UTC().Format(time.DateOnly), r.Removed.RecordsTotal())
	if v := r.Verify; v != nil {
		verdict := "nothing of the subject left"
		if !v.OK {
			verdict = fmt.Sprintf("%d problems", v.Problems)
		}
		note += fmt.Sprintf(", verified (%s): %s", v.Kind, verdict)
	}
	return note
}

// withJournals sets each tombstone's progress in the service's
// repositories from their erasure journals, which are the truth there
// (also on a machine whose state directory never saw the erasure).
func withJournals(ctx context.Context, svc *tombstones.Service, ts []tombstones.Tombstone) error {
	now := time.Now().UTC()
	for _, r := range svc.Repos {
		for i := range ts {
			j, err := erasure.LoadJournal(ctx, r.Store, ts[i].ID)
			if err != nil {
				return err
			}
			st := j.Status(now)
			p := tombstones.Progress{Tombstone: ts[i].ID, Repository: r.Name, Note: string(st.State)}
			switch st.State {
			case erasure.StatePending:
				p.State = tombstones.ProgressPending
			case erasure.StateVerified:
				p.State = tombstones.ProgressComplete
			case erasure.StateFailed:
				p.State = tombstones.ProgressFailed
			default:
				p.State = tombstones.ProgressRunning
			}
			if st.Until != nil {
				p.Note += " until " + st.Until.Format(time.DateOnly)
			}
			p.Note += rerunNote(st) + heldNote(st)
			if n := len(j.Steps); n > 0 {
				p.Updated = j.Steps[n-1].Time
			}
			if ts[i].Progress == nil {
				ts[i].Progress = map[string]tombstones.Progress{}
			}
			ts[i].Progress[r.Name] = p
		}
	}
	if len(svc.Repos) == 0 {
		return nil
	}
	// The journals may have completed what the state directory did not
	// know of: the deadline follows them.
	names := make([]string, len(svc.Repos))
	for i, r := range svc.Repos {
		names[i] = r.Name
	}
	for i := range ts {
		d := tombstones.DeadlineOf(ts[i], svc.Deadline, names, now)
		ts[i].Deadline = &d
	}
	return nil
}
