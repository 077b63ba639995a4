package tombstones

import "time"

// AtRiskWithin is how close to its deadline a pending request is reported
// as at risk.
const AtRiskWithin = 7 * 24 * time.Hour

// DeadlineStatus is where a request stands against its deadline.
type DeadlineStatus string

// Deadline statuses.
const (
	DeadlinePending  DeadlineStatus = "pending"  // not done, more than AtRiskWithin left
	DeadlineAtRisk   DeadlineStatus = "at-risk"  // not done, due within AtRiskWithin
	DeadlineOverdue  DeadlineStatus = "overdue"  // not done, past due
	DeadlineComplete DeadlineStatus = "complete" // complete in every repository
	DeadlineRevoked  DeadlineStatus = "revoked"  // the request was withdrawn
)

// Deadline is a request's deadline and how it stands at a given time.
type Deadline struct {
	Due      time.Time      `json:"due"`
	DaysLeft int            `json:"days_left"` // calendar days (UTC) from today to the due date; negative once past
	Status   DeadlineStatus `json:"status"`
}

// OneMonthAfter returns t plus one calendar month, ending on the month's
// last day when it has no such day (31 January gives the last day of
// February), as periods in months are counted in EU law.
func OneMonthAfter(t time.Time) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+1, 1, 0, 0, 0, 0, t.Location())
	if last := first.AddDate(0, 1, -1).Day(); d > last {
		d = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(first.Year(), first.Month(), d, hh, mm, ss, t.Nanosecond(), t.Location())
}

// CompleteIn reports whether the erasure is complete in every one of repos
// by its progress records; with no repos named, in every repository that
// has a progress record, and in at least one.
func (t Tombstone) CompleteIn(repos []string) bool {
	if len(repos) == 0 {
		for r := range t.Progress {
			repos = append(repos, r)
		}
	}
	if len(repos) == 0 {
		return false
	}
	for _, r := range repos {
		if p, ok := t.Progress[r]; !ok || p.State != ProgressComplete {
			return false
		}
	}
	return true
}

// DeadlineOf returns where t stands against its deadline at now; due is
// computed from t.Created by after (OneMonthAfter if nil), and repos are
// the repositories the erasure must be complete in (see CompleteIn).
func DeadlineOf(t Tombstone, after func(time.Time) time.Time, repos []string, now time.Time) Deadline {
	if after == nil {
		after = OneMonthAfter
	}
	due := after(t.Created.UTC()).UTC()
	dy, dm, dd := due.Date()
	ny, nm, nd := now.UTC().Date()
	days := int(time.Date(dy, dm, dd, 0, 0, 0, 0, time.UTC).Sub(time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)) / (24 * time.Hour))
	d := Deadline{Due: due, DaysLeft: days}
	switch {
	case t.Revoked():
		d.Status = DeadlineRevoked
	case t.CompleteIn(repos):
		d.Status = DeadlineComplete
	case now.After(due):
		d.Status = DeadlineOverdue
	case due.Sub(now) <= AtRiskWithin:
		d.Status = DeadlineAtRisk
	default:
		d.Status = DeadlinePending
	}
	return d
}
