package daemon

import (
	"slices"
	"testing"
	"time"

	"lethe/agent/repository"
)

// TestWindow checks the window's days and gaps: a day counts when every
// source has a snapshot from it, and today counts only once today's
// backup was due.
func TestWindow(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"`)
	cfg := s.cfg
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.Local) }
	var snaps []*repository.Snapshot
	for day := 1; day <= 10; day++ {
		snaps = append(snaps, &repository.Snapshot{Time: at(day, 2), Paths: []string{s.srcDir}})
		if day != 6 {
			snaps = append(snaps, &repository.Snapshot{Time: at(day, 2), Paths: []string{"/db.sql"}})
		}
	}
	// A snapshot of something else counts for no source.
	snaps = append(snaps, &repository.Snapshot{Time: at(6, 3), Paths: []string{"/other.sql"}})

	w := computeWindow(cfg, snaps, at(10, 12))
	var dates []string
	for _, d := range w.Days {
		dates = append(dates, d.Date)
	}
	if want := []string{"2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08", "2026-11-09", "2026-11-10"}; !slices.Equal(dates, want) {
		t.Errorf("days %v, want %v", dates, want)
	}
	if w.Complete || w.Missing != 1 || w.Days[2].Complete || !slices.Equal(w.Days[2].Missing, []string{"db"}) {
		t.Errorf("window %+v, want a gap on the 6th for db", w)
	}

	// At 01:00 on the 11th today's backup is not due yet: the window
	// still ends on the 10th.
	w = computeWindow(cfg, snaps, at(11, 1))
	if w.Days[6].Date != "2026-11-10" {
		t.Errorf("window ends %s at 01:00, want the 10th", w.Days[6].Date)
	}
	// At 03:00 it is, and no backup was made: a gap.
	w = computeWindow(cfg, snaps, at(11, 3))
	if w.Days[6].Date != "2026-11-11" || w.Days[6].Complete || w.Missing != 2 {
		t.Errorf("window at 03:00 on the 11th: %+v", w)
	}
}
