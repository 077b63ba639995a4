package tombstones

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOneMonthAfter(t *testing.T) {
	for in, want := range map[string]string{
		"2026-01-31T10:00:00Z": "2026-02-28T10:00:00Z",
		"2024-01-31T10:00:00Z": "2024-02-29T10:00:00Z",
		"2026-11-21T12:00:00Z": "2026-12-21T12:00:00Z",
		"2026-12-15T00:00:00Z": "2027-01-15T00:00:00Z",
		"2026-03-31T08:30:00Z": "2026-04-30T08:30:00Z",
	} {
		tm, _ := time.Parse(time.RFC3339, in)
		if got := OneMonthAfter(tm).Format(time.RFC3339); got != want {
			t.Errorf("OneMonthAfter(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDeadlineOf(t *testing.T) {
	created := time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)
	pending := Tombstone{ID: "01JCXZ5Q4G8S3V9W7Y2K6M1N0P", Created: created}
	complete := pending
	complete.Progress = map[string]Progress{"r1": {State: ProgressComplete}, "r2": {State: ProgressComplete}}
	half := pending
	half.Progress = map[string]Progress{"r1": {State: ProgressComplete}}
	revoked := pending
	revoked.Revocations = []Revocation{{ID: "01JCXZ5Q4G8S3V9W7Y2K6M1N0Q"}}
	repos := []string{"r1", "r2"}
	cases := []struct {
		name string
		t    Tombstone
		now  time.Time
		want DeadlineStatus
		days int
	}{
		{"fresh", pending, created.Add(time.Hour), DeadlinePending, 31},
		{"8 days left", pending, time.Date(2026, 10, 24, 9, 0, 0, 0, time.UTC), DeadlinePending, 8},
		{"7 days left", pending, time.Date(2026, 10, 25, 9, 0, 0, 0, time.UTC), DeadlineAtRisk, 7},
		{"due today", pending, time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), DeadlineAtRisk, 0},
		{"an hour late", pending, time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC), DeadlineOverdue, 0},
		{"days late", pending, time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC), DeadlineOverdue, -3},
		{"complete in one of two", half, time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC), DeadlineOverdue, -3},
		{"complete everywhere", complete, time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC), DeadlineComplete, -3},
		{"revoked", revoked, time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC), DeadlineRevoked, -3},
	}
	for _, c := range cases {
		d := DeadlineOf(c.t, nil, repos, c.now)
		if d.Status != c.want || d.DaysLeft != c.days || !d.Due.Equal(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: %+v, want %s with %d days left", c.name, d, c.want, c.days)
		}
	}
	// A configured period replaces the month.
	d := DeadlineOf(pending, func(t time.Time) time.Time { return t.AddDate(0, 0, 30) }, repos, created)
	if !d.Due.Equal(created.AddDate(0, 0, 30)) || d.DaysLeft != 30 {
		t.Errorf("30-day period: %+v", d)
	}
	// Without configured repositories, the ones with progress count.
	if d := DeadlineOf(half, nil, nil, created); d.Status != DeadlineComplete {
		t.Errorf("no repos named, complete where recorded: %+v", d)
	}
	if d := DeadlineOf(pending, nil, nil, created); d.Status != DeadlinePending {
		t.Errorf("no repos, no progress: %+v", d)
	}
}

// TestServiceFillsDeadline: List and Show carry the deadline from the
// service's period, and it is never stored.
func TestServiceFillsDeadline(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	dir := t.TempDir()
	s := newService(t, dir, repo)
	s.Deadline = func(r time.Time) time.Time { return r.AddDate(0, 0, 10) }
	ts, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ts.Deadline == nil || ts.Deadline.DaysLeft != 10 || ts.Deadline.Status != DeadlinePending {
		t.Errorf("record deadline %+v", ts.Deadline)
	}
	s.Now = func() time.Time { return today.AddDate(0, 0, 4) }
	got, err := s.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Deadline == nil || got.Deadline.Status != DeadlineAtRisk || got.Deadline.DaysLeft != 6 {
		t.Errorf("show deadline %+v", got.Deadline)
	}
	s.Now = func() time.Time { return today.AddDate(0, 0, 11) }
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Deadline == nil || list[0].Deadline.Status != DeadlineOverdue {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := s.State.RecordProgress(Progress{Tombstone: ts.ID, Repository: "repo1", State: ProgressComplete, Updated: today}); err != nil {
		t.Fatal(err)
	}
	list, err = s.List(ctx)
	if err != nil || list[0].Deadline.Status != DeadlineComplete {
		t.Fatalf("after progress: %v %+v", err, list[0].Deadline)
	}
	data, _ := os.ReadFile(filepath.Join(dir, stateLogName))
	if bytes.Contains(data, []byte("deadline")) || bytes.Contains(repo.objects[tombstoneName(ts.ID)], []byte("deadline")) {
		t.Error("the deadline was stored")
	}
}
