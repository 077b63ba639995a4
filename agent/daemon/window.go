package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	"lethe/agent/config"
	"lethe/agent/repository"
)

// WindowDays is how many days back the window reaches: the business
// promised a daily backup kept for seven days.
const WindowDays = 7

// Window says for each of the last seven days whether the repository
// holds a snapshot of every source from that day.
type Window struct {
	// Days are the days of the window, oldest first, as dates in the
	// agent's time zone.
	Days []WindowDay `json:"days"`
	// Complete is true when no day has a gap.
	Complete bool `json:"complete"`
	// Missing counts the days with a gap.
	Missing int `json:"missing"`
}

// WindowDay is one day of the window.
type WindowDay struct {
	Date string `json:"date"`
	// Complete is true when every source has a snapshot from the day;
	// Missing names the sources that have none.
	Complete bool     `json:"complete"`
	Missing  []string `json:"missing,omitempty"`
}

// computeWindow returns the window of snaps at now. The window's last day
// is the day of the latest backup slot that has passed (today once
// today's backup was due, else yesterday), so a backup not yet due is no
// gap.
func computeWindow(cfg *config.Config, snaps []*repository.Snapshot, now time.Time) Window {
	last := lastSlotDay(cfg.Schedules.Backup, now)
	have := make(map[string]map[string]bool) // date -> source name -> seen
	for _, sn := range snaps {
		src := sourceOf(cfg, sn.Paths)
		if src == "" {
			continue
		}
		date := sn.Time.In(now.Location()).Format(time.DateOnly)
		if have[date] == nil {
			have[date] = make(map[string]bool)
		}
		have[date][src] = true
	}
	w := Window{Complete: true}
	for i := WindowDays - 1; i >= 0; i-- {
		date := last.AddDate(0, 0, -i).Format(time.DateOnly)
		day := WindowDay{Date: date, Complete: true}
		for _, s := range cfg.Sources {
			if !have[date][s.Name] {
				day.Complete = false
				day.Missing = append(day.Missing, s.Name)
			}
		}
		if !day.Complete {
			w.Complete = false
			w.Missing++
		}
		w.Days = append(w.Days, day)
	}
	return w
}

// lastSlotDay returns the start of the day of the latest backup slot at
// or before now; without a cron schedule, today.
func lastSlotDay(s config.Schedule, now time.Time) time.Time {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	if s.Cron == nil {
		return today
	}
	first := s.Next(today.Add(-time.Nanosecond))
	if first.IsZero() || first.After(now) {
		return today.AddDate(0, 0, -1)
	}
	return today
}

// sourceOf returns the name of the source whose snapshots have paths, or
// "" for none.
func sourceOf(cfg *config.Config, paths []string) string {
	for _, s := range cfg.Sources {
		if slices.Equal(sourcePaths(&s), cleanSorted(paths)) {
			return s.Name
		}
	}
	return ""
}

// sourcePaths are the paths a source's snapshots have.
func sourcePaths(s *config.Source) []string {
	if s.IsCommand() {
		return []string{"/" + s.Filename}
	}
	return cleanSorted(s.Paths)
}

func cleanSorted(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Clean(p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// refresh reads repository i's snapshots and updates its window and
// snapshot count; a gap is logged when it appears.
func (d *Daemon) refresh(ctx context.Context, i int) {
	r := d.repos[i]
	snaps, err := d.jobs.Snapshots(ctx, r)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("listing snapshots for the seven-day window failed", "repository", r.Name, "error", err)
		}
		return
	}
	w := computeWindow(d.cfg, snaps, d.clock.Now())
	var before *Window
	d.setStatus(i, func(s *repoStatus) {
		before = s.Window
		s.Window = &w
		s.Snapshots = len(snaps)
	})
	d.metrics.windowDone(r.Name, w, len(snaps))
	if !w.Complete && (before == nil || before.Complete || before.Missing != w.Missing) {
		var gaps []string
		for _, day := range w.Days {
			if !day.Complete {
				gaps = append(gaps, day.Date)
			}
		}
		d.log.Warn("the seven-day window has gaps: days without a backup of every source", "repository", r.Name, "days", gaps)
	}
}

// refreshAll queues a refresh of every repository's window.
func (d *Daemon) refreshAll() {
	for i := range d.repos {
		d.queues[i].add(&task{kind: kindRefresh, repo: i})
	}
}
