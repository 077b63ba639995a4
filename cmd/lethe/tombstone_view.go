package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"lethe/tombstones"
)

// writeTombstoneList writes one line per tombstone for `lethe erasures
// list`.
func writeTombstoneList(w io.Writer, ts []tombstones.Tombstone) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tMODE\tSTATUS\tDEADLINE\tDAYS LEFT\tIDENTIFIERS\tREASON")
	for _, t := range ts {
		due, left := "-", "-"
		if d := t.Deadline; d != nil {
			due = d.Due.UTC().Format("2006-01-02")
			left = daysLeft(*d)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Created.UTC().Format("2006-01-02 15:04"), t.Mode,
			t.Status()+heldMark(t), due, left, strings.Join(t.Masked(), ", "), t.Reason)
	}
	return tw.Flush()
}

// heldMark marks in erasures list an erasure whose snapshots still hold
// held records in some repository (", held"), or that is due to run
// again there because a hold ended (", due again").
func heldMark(t tombstones.Tombstone) string {
	mark := ""
	for _, p := range t.Progress {
		switch {
		case strings.Contains(p.Note, noteDueAgain):
			return ", due again"
		case strings.Contains(p.Note, noteHeld):
			mark = ", held"
		}
	}
	return mark
}

// daysLeft says how a request stands against its deadline: "12 (pending)",
// "3 (at risk)", "overdue by 2 days", "complete".
func daysLeft(d tombstones.Deadline) string {
	switch d.Status {
	case tombstones.DeadlineComplete, tombstones.DeadlineRevoked:
		return string(d.Status)
	case tombstones.DeadlineOverdue:
		if d.DaysLeft >= 0 {
			return "overdue (due today)"
		}
		if d.DaysLeft == -1 {
			return "overdue by 1 day"
		}
		return fmt.Sprintf("overdue by %d days", -d.DaysLeft)
	case tombstones.DeadlineAtRisk:
		return fmt.Sprintf("%d (at risk)", d.DaysLeft)
	}
	return fmt.Sprintf("%d", d.DaysLeft)
}

// anyOverdue reports whether a request is past its deadline and not done.
func anyOverdue(ts []tombstones.Tombstone) bool {
	for _, t := range ts {
		if t.Deadline != nil && t.Deadline.Status == tombstones.DeadlineOverdue {
			return true
		}
	}
	return false
}

// writeTombstone writes one tombstone for `lethe erasures show`.
func writeTombstone(w io.Writer, t tombstones.Tombstone) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", t.ID)
	fmt.Fprintf(tw, "created:\t%s\n", t.Created.UTC().Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(tw, "status:\t%s\n", t.Status())
	fmt.Fprintf(tw, "mode:\t%s\n", t.Mode)
	if d := t.Deadline; d != nil {
		fmt.Fprintf(tw, "deadline:\t%s (%s)\n", d.Due.UTC().Format("2006-01-02 15:04 MST"), daysLeft(*d))
	}
	fmt.Fprintf(tw, "reason:\t%s\n", tombstones.DescribeReason(t.Reason))
	if t.Reference != "" {
		fmt.Fprintf(tw, "reference:\t%s\n", t.Reference)
	}
	for _, e := range t.Entries {
		fmt.Fprintf(tw, "identifier:\t%s %s\n", e.Kind, e.Masked)
	}
	for _, r := range t.Revocations {
		ref := ""
		if r.Reference != "" {
			ref = " (" + r.Reference + ")"
		}
		fmt.Fprintf(tw, "revoked:\t%s %s: %s%s\n", r.Created.UTC().Format("2006-01-02 15:04"), r.ID, r.Reason, ref)
	}
	if len(t.Progress) == 0 {
		fmt.Fprintf(tw, "progress:\tpending in every repository\n")
	}
	repos := make([]string, 0, len(t.Progress))
	for repo := range t.Progress {
		repos = append(repos, repo)
	}
	sort.Strings(repos)
	for _, repo := range repos {
		p := t.Progress[repo]
		note := ""
		if p.Note != "" && p.Note != string(p.State) {
			note = ": " + p.Note
		}
		fmt.Fprintf(tw, "progress:\t%s: %s (%s)%s\n", repo, p.State, p.Updated.UTC().Format("2006-01-02 15:04"), note)
	}
	return tw.Flush()
}

// writeCheck writes the result of `lethe erasures check`, one line per
// identifier, and reports whether any identifier belongs to an active
// tombstone (the command exits 0 then, 1 otherwise).
func writeCheck(w io.Writer, results []tombstones.CheckResult) (matched bool, err error) {
	for _, r := range results {
		switch {
		case len(r.Tombstones) > 0:
			matched = true
			_, err = fmt.Fprintf(w, "%s %s: erased by %s\n", r.Kind, r.Masked, strings.Join(r.Tombstones, ", "))
		case len(r.Revoked) > 0:
			_, err = fmt.Fprintf(w, "%s %s: not erased (revoked: %s)\n", r.Kind, r.Masked, strings.Join(r.Revoked, ", "))
		default:
			_, err = fmt.Fprintf(w, "%s %s: not erased\n", r.Kind, r.Masked)
		}
		if err != nil {
			return matched, err
		}
	}
	return matched, nil
}
