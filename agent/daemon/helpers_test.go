package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/config"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
)

// fakeClock is a simulated clock: time moves only when the test sets it,
// and timers fire when it passes their deadline.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	at    time.Time
	ch    chan time.Time
	fired bool
}

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{now: t}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// waitTimer waits until a timer is set.
func (c *fakeClock) waitTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) == 0 {
		c.cond.Wait()
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.timers {
		if o == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return !t.fired
		}
	}
	return false
}

// set moves the clock to t and fires the timers due by then.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(t) {
			tm.fired = true
			tm.ch <- t
			continue
		}
		kept = append(kept, tm)
	}
	c.timers = kept
}

// next returns the earliest timer deadline, or false for none.
func (c *fakeClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, t := range c.timers {
		if at.IsZero() || t.at.Before(at) {
			at = t.at
		}
	}
	return at, !at.IsZero()
}

// runUntil steps the daemon's simulated time from one timer to the next
// until end, letting every job due finish before time moves on.
func runUntil(ctx context.Context, t *testing.T, d *Daemon, c *fakeClock, end time.Time) {
	t.Helper()
	for {
		d.step(ctx)
		d.waitIdle()
		at, ok := c.next()
		if !ok || at.After(end) {
			c.set(end)
			d.step(ctx)
			d.waitIdle()
			return
		}
		c.set(at)
		d.step(ctx)
	}
}

// started runs d in the background; stop cancels it and waits for Run to
// return.
func started(t *testing.T, d *Daemon) (ctx context.Context, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ctx, stop
}

// syncBuffer is a log destination safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testLog(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// setup is a config with real local repositories and sources in a
// temporary directory.
type setup struct {
	dir      string
	cfg      *config.Config
	repoDirs []string
	srcDir   string
	dumpFile string
}

// newSetup writes a config with the given schedules section, a
// directory source, a command source and two local repositories, which
// it creates.
func newSetup(t *testing.T, schedules string) *setup {
	t.Helper()
	dir := t.TempDir()
	s := &setup{dir: dir, srcDir: filepath.Join(dir, "src"), dumpFile: filepath.Join(dir, "dump.in")}
	if err := os.MkdirAll(s.srcDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.srcDir, "kunder.csv"), "kundnr;namn\nK-1;Anna\n")
	writeFile(t, s.dumpFile, "CREATE TABLE t (a int);\n")
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, restictest.Password+"\n")
	s.repoDirs = []string{filepath.Join(dir, "repo-a"), filepath.Join(dir, "repo-b")}
	yaml := fmt.Sprintf(`state-dir: %s
business:
  name: Exempel AB
  contact: dataskydd@exempel.se
sources:
  - name: files
    paths: [%s]
  - name: db
    command: [cat, %s]
    filename: db.sql
repositories:
  - name: a
    location: %s
    password-file: %s
  - name: b
    location: %s
    password-file: %s
%s
api:
  socket: %s
`, filepath.Join(dir, "state"), s.srcDir, s.dumpFile, s.repoDirs[0], pw, s.repoDirs[1], pw, schedules, filepath.Join(dir, "run", "lethe.sock"))
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	s.cfg = cfg
	for _, r := range Repositories(cfg) {
		repo, err := jobs.Init(context.Background(), r.Repo, repository.InitOptions{KDF: &repository.KDFParams{N: 1 << 10, R: 8, P: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.Close(repo); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// overlapJobs wraps Jobs and fails the test when two jobs run on one
// repository at once; it counts the calls.
type overlapJobs struct {
	Jobs
	t *testing.T

	mu      sync.Mutex
	running map[string]int
	calls   map[string]int
	backups map[string][]time.Time
}

func newOverlapJobs(t *testing.T, j Jobs) *overlapJobs {
	return &overlapJobs{Jobs: j, t: t, running: map[string]int{}, calls: map[string]int{}, backups: map[string][]time.Time{}}
}

func (o *overlapJobs) enter(kind, repo string) func() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.running[repo]++
	o.calls[kind+"/"+repo]++
	if o.running[repo] > 1 {
		o.t.Errorf("%s on %s overlaps another job", kind, repo)
	}
	return func() {
		o.mu.Lock()
		o.running[repo]--
		o.mu.Unlock()
	}
}

func (o *overlapJobs) count(kind, repo string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[kind+"/"+repo]
}

func (o *overlapJobs) Backup(ctx context.Context, r Repository, at time.Time) (BackupReport, error) {
	defer o.enter("backup", r.Name)()
	o.mu.Lock()
	o.backups[r.Name] = append(o.backups[r.Name], at)
	o.mu.Unlock()
	return o.Jobs.Backup(ctx, r, at)
}

func (o *overlapJobs) Forget(ctx context.Context, r Repository) error {
	defer o.enter("forget", r.Name)()
	return o.Jobs.Forget(ctx, r)
}

func (o *overlapJobs) Check(ctx context.Context, r Repository, readData bool) error {
	defer o.enter("check", r.Name)()
	return o.Jobs.Check(ctx, r, readData)
}

func (o *overlapJobs) Snapshots(ctx context.Context, r Repository) ([]*repository.Snapshot, error) {
	defer o.enter("snapshots", r.Name)()
	return o.Jobs.Snapshots(ctx, r)
}

// snapshotDays lists the dates of a repository's snapshots of the
// source with the given paths.
func snapshotDays(t *testing.T, d *Daemon, repo int, paths ...string) []string {
	t.Helper()
	snaps, err := d.jobs.Snapshots(context.Background(), d.repos[repo])
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, sn := range snaps {
		if strings.Join(sn.Paths, ",") == strings.Join(paths, ",") {
			days = append(days, sn.Time.Format(time.DateOnly))
		}
	}
	sort.Strings(days)
	return days
}
