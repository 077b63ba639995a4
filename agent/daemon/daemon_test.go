package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
)

// TestSimulatedWeek runs the agent with real repositories through ten
// simulated days: a backup of both sources into both repositories every
// night, forget and prune after each, the weekly check; at the end each
// repository keeps exactly the last seven days, the window is complete,
// restic finds the repositories clean, and no two jobs ever ran on one
// repository at once.
func TestSimulatedWeek(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "0 4 * * 0"
  verify: "off"`)
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	clk := newFakeClock(start)
	var logBuf syncBuffer
	log := testLog(&logBuf)
	rj := &RepoJobs{Config: s.cfg, Clock: clk, Log: log}
	oj := newOverlapJobs(t, rj)
	d, err := New(Options{Config: s.cfg, Jobs: oj, Clock: clk, Log: log, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	rj.State = d.state
	ctx, stop := started(t, d)
	end := start.AddDate(0, 0, 10)
	day := 0
	for c := start; c.Before(end); c = c.Add(time.Hour) {
		// The data changes during the day.
		if c.Hour() == 12 {
			day++
			writeFile(t, s.dumpFile, "INSERT INTO t VALUES ("+time.Duration(day).String()+");\n")
		}
		runUntil(ctx, t, d, clk, c.Add(time.Hour))
	}
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	d.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := rec.Body.String()
	stop()
	lastBackup := time.Date(2026, 11, 11, 2, 0, 0, 0, time.Local).Unix()
	for _, m := range []string{
		`lethe_window_complete{repository="a"} 1`,
		`lethe_window_complete{repository="b"} 1`,
		`lethe_snapshots{repository="b"} 14`,
		fmt.Sprintf(`lethe_backup_last_success_timestamp_seconds{repository="a"} %g`, float64(lastBackup)),
		`lethe_check_last_success{job="check",repository="a"} 1`,
		`lethe_job_failures_total{job="backup",repository="a"} 0`,
	} {
		if !strings.Contains(metrics, m+"\n") {
			t.Errorf("metrics lack %q", m)
		}
	}
	if strings.Contains(metrics, s.dir) {
		t.Error("a metric names a path")
	}

	var want []string
	for i := 6; i >= 0; i-- {
		want = append(want, end.AddDate(0, 0, -i).Format(time.DateOnly))
	}
	for i, r := range s.cfg.Repositories {
		if n := oj.count("backup", r.Name); n != 10 {
			t.Errorf("%s: %d backups, want 10", r.Name, n)
		}
		if n := oj.count("forget", r.Name); n != 10 {
			t.Errorf("%s: %d forgets, want 10", r.Name, n)
		}
		// 1 and 8 November 2026 are Sundays; the agent started after the
		// first one's check.
		if n := oj.count("check", r.Name); n != 1 {
			t.Errorf("%s: %d checks, want 1", r.Name, n)
		}
		for _, paths := range [][]string{{s.srcDir}, {"/db.sql"}} {
			if got := snapshotDays(t, d, i, paths...); !slices.Equal(got, want) {
				t.Errorf("%s %v: snapshots of %v, want %v", r.Name, paths, got, want)
			}
		}
		rs := st.Repositories[i]
		if rs.Window == nil || !rs.Window.Complete || len(rs.Window.Days) != 7 || rs.Window.Days[6].Date != want[6] {
			t.Errorf("%s: window %+v", r.Name, rs.Window)
		}
		if rs.Snapshots != 14 || rs.LastSuccessfulBackup == nil || rs.LastCheck == nil || !rs.LastCheck.OK {
			t.Errorf("%s: status %+v", r.Name, rs)
		}
		restictest.Check(t, s.repoDirs[i])
	}
	// The backups recorded the simulated time.
	for _, at := range oj.backups["a"] {
		if at.Hour() != 2 || at.Minute() != 0 {
			t.Errorf("backup at %v, want 02:00", at)
		}
	}
}

// nopNotifier discards notifications.
type nopNotifier struct{}

func (nopNotifier) Notify(string)                   {}
func (nopNotifier) WatchdogInterval() time.Duration { return 0 }

// countJobs is a Jobs that records calls and fails as told, without
// repositories.
type countJobs struct {
	mu        sync.Mutex
	calls     map[string][]time.Time
	clock     Clock
	failFirst map[string]int // kind/repo -> failures before success
	block     chan struct{}  // if set, Backup waits for it or ctx
	cancelled int
	// findings are what VerifyErasures finds, by repository.
	findings map[string]int
}

func newCountJobs(c Clock) *countJobs {
	return &countJobs{calls: map[string][]time.Time{}, clock: c, failFirst: map[string]int{}}
}

func (j *countJobs) record(kind, repo string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	k := kind + "/" + repo
	j.calls[k] = append(j.calls[k], j.clock.Now())
	if j.failFirst[k] > 0 {
		j.failFirst[k]--
		return errors.New("simulated failure")
	}
	return nil
}

func (j *countJobs) times(kind, repo string) []time.Time {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]time.Time(nil), j.calls[kind+"/"+repo]...)
}

func (j *countJobs) Backup(ctx context.Context, r Repository, at time.Time) (BackupReport, error) {
	if err := j.record("backup", r.Name); err != nil {
		return BackupReport{}, err
	}
	if j.block != nil {
		select {
		case <-j.block:
		case <-ctx.Done():
			j.mu.Lock()
			j.cancelled++
			j.mu.Unlock()
			return BackupReport{}, ctx.Err()
		}
	}
	return BackupReport{Snapshots: 2, BytesAdded: 100}, nil
}

func (j *countJobs) Forget(ctx context.Context, r Repository) error {
	return j.record("forget", r.Name)
}
func (j *countJobs) Check(ctx context.Context, r Repository, readData bool) error {
	return j.record("check", r.Name)
}
func (j *countJobs) VerifyErasures(ctx context.Context, r Repository) (jobs.ErasureVerification, error) {
	if err := j.record("deepverify", r.Name); err != nil {
		return jobs.ErasureVerification{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.findings[r.Name]
	return jobs.ErasureVerification{Erasures: 1, Verification: &erasure.Verification{Kind: erasure.VerifyDeep,
		SnapshotsChecked: 1, FilesChecked: 3, Problems: n, OK: n == 0}}, nil
}
func (j *countJobs) Snapshots(ctx context.Context, r Repository) ([]*repository.Snapshot, error) {
	return nil, nil
}
func (j *countJobs) SyncTombstones(ctx context.Context, repos []Repository) error {
	for _, r := range repos {
		if err := j.record("sync", r.Name); err != nil {
			return err
		}
	}
	return nil
}

// TestMadeUpRun stops the agent for three days and checks that at start
// it makes up the missed backups once, not once per missed night, and
// then goes on with the schedule.
func TestMadeUpRun(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"`)
	start := time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local)
	clk := newFakeClock(start)
	j := newCountJobs(clk)
	newDaemon := func() *Daemon {
		d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := newDaemon()
	ctx, stop := started(t, d)
	runUntil(ctx, t, d, clk, start.AddDate(0, 0, 1)) // the 3rd, 02:00 backup
	stop()
	if n := len(j.times("backup", "a")); n != 1 {
		t.Fatalf("%d backups on the first day, want 1", n)
	}

	// Off from the 3rd at noon to the 6th at noon: three nights missed.
	restart := start.AddDate(0, 0, 4)
	clk.set(restart)
	d = newDaemon()
	ctx, stop = started(t, d)
	runUntil(ctx, t, d, clk, restart.Add(time.Hour))
	for _, r := range []string{"a", "b"} {
		got := j.times("backup", r)
		if len(got) != 2 || !got[1].Equal(restart) {
			t.Errorf("%s: backups at %v, want one made up at %v", r, got, restart)
		}
		// forget runs after the made-up backup too.
		if n := len(j.times("forget", r)); n != 2 {
			t.Errorf("%s: %d forgets, want 2", r, n)
		}
	}
	runUntil(ctx, t, d, clk, restart.AddDate(0, 0, 1))
	stop()
	if got := j.times("backup", "a"); len(got) != 3 || got[2].Hour() != 2 {
		t.Errorf("backups %v, want the next one at 02:00", got)
	}

	// A restart without a missed slot makes up nothing.
	d = newDaemon()
	ctx, stop = started(t, d)
	runUntil(ctx, t, d, clk, clk.Now().Add(time.Hour))
	stop()
	if n := len(j.times("backup", "a")); n != 3 {
		t.Errorf("%d backups after a restart without a missed slot, want 3", n)
	}
}

// TestRetryBackoff checks that a failed backup is retried after one,
// then two minutes, and that forget waits for the backup to succeed.
func TestRetryBackoff(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"`)
	start := time.Date(2026, 11, 2, 1, 0, 0, 0, time.Local)
	clk := newFakeClock(start)
	j := newCountJobs(clk)
	j.failFirst["backup/a"] = 2
	d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := started(t, d)
	runUntil(ctx, t, d, clk, start.Add(2*time.Hour))
	slot := time.Date(2026, 11, 2, 2, 0, 0, 0, time.Local)
	want := []time.Time{slot, slot.Add(time.Minute), slot.Add(3 * time.Minute)}
	if got := j.times("backup", "a"); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("backups of a at %v, want %v", got, want)
	}
	if got := j.times("backup", "b"); len(got) != 1 {
		t.Errorf("backups of b at %v, want one", got)
	}
	if got := j.times("forget", "a"); len(got) != 1 || !got[0].Equal(want[2]) {
		t.Errorf("forget of a at %v, want after the successful backup", got)
	}
}

// TestGiveUp checks that a job that keeps failing stops being retried
// after MaxAttempts and runs again at its next slot.
func TestGiveUp(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"`)
	start := time.Date(2026, 11, 2, 1, 0, 0, 0, time.Local)
	clk := newFakeClock(start)
	j := newCountJobs(clk)
	j.failFirst["backup/a"] = 100
	d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := started(t, d)
	runUntil(ctx, t, d, clk, start.Add(23*time.Hour))
	if n := len(j.times("backup", "a")); n != 3 {
		t.Errorf("%d tries, want 3", n)
	}
	// The next slot tries again, with its own retries.
	runUntil(ctx, t, d, clk, start.Add(25*time.Hour+30*time.Minute))
	if n := len(j.times("backup", "a")); n != 6 {
		t.Errorf("%d tries after the next slot, want 6", n)
	}
	if n := len(j.times("forget", "a")); n != 0 {
		t.Errorf("%d forgets after failed backups", n)
	}
}

// TestStopCancelsJob checks that cancelling Run ends the running job
// through its context and Run returns.
func TestStopCancelsJob(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	clk := newFakeClock(time.Date(2026, 11, 2, 1, 0, 0, 0, time.Local))
	j := newCountJobs(clk)
	j.block = make(chan struct{})
	d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	_, stop := started(t, d)
	d.waitIdle()
	if q := d.BackupNow(); len(q) != 2 {
		t.Fatalf("queued %v", q)
	}
	// Wait until both backups run.
	d.mu.Lock()
	for d.queues[0].running == nil || d.queues[1].running == nil {
		d.cond.Wait()
	}
	d.mu.Unlock()
	stop()
	if j.cancelled != 2 {
		t.Errorf("%d backups saw the cancel, want 2", j.cancelled)
	}
}

// TestVerifyJobDeepVerifies: the weekly verify job also verifies the
// erasures deeply; a subject found again fails the job, and the status
// and the metrics show it, in counts.
func TestVerifyJobDeepVerifies(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 1 1 *"
  check: "off"
  verify: "0 3 * * 0"`)
	start := time.Date(2026, 11, 1, 2, 0, 0, 0, time.Local) // a Sunday
	clk := newFakeClock(start)
	j := newCountJobs(clk)
	j.findings = map[string]int{"a": 2}
	var logBuf syncBuffer
	d, err := New(Options{Config: s.cfg, Jobs: j, Clock: clk, Notify: nopNotifier{}, Log: testLog(&logBuf), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := started(t, d)
	runUntil(ctx, t, d, clk, start.Add(2*time.Hour))
	for _, r := range []string{"a", "b"} {
		if n := len(j.times("check", r)); n != 1 {
			t.Errorf("%s: %d checks with read data, want 1", r, n)
		}
		if n := len(j.times("deepverify", r)); n != 1 {
			t.Errorf("%s: %d deep verifications, want 1", r, n)
		}
	}
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Repositories {
		v := r.LastDeepVerify
		want := r.Name == "b"
		if v == nil || v.OK != want || v.Erasures != 1 || v.Findings != j.findings[r.Name] || r.LastVerify == nil || r.LastVerify.OK != want {
			t.Errorf("%s: last verify %+v, deep %+v; want ok=%v", r.Name, r.LastVerify, v, want)
		}
	}
	rec := httptest.NewRecorder()
	d.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, m := range []string{`lethe_erasure_deep_verify_ok{repository="a"} 0`, `lethe_erasure_deep_verify_ok{repository="b"} 1`,
		`lethe_erasure_deep_verify_findings{repository="a"} 2`, `lethe_check_last_success{job="verify",repository="a"} 0`} {
		if !strings.Contains(rec.Body.String(), m+"\n") {
			t.Errorf("metrics lack %q", m)
		}
	}
	if !strings.Contains(logBuf.String(), "2 files still hold the records of erased subjects") {
		t.Errorf("the log does not report the finding:\n%s", logBuf.String())
	}
}
