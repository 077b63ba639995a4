// Package daemon is the agent: it runs the configured jobs on their
// schedules (backup into every repository, then forget and prune, a
// weekly check and deep verification), makes up runs missed while the
// machine was off, executes erasure requests in every repository until
// they are complete everywhere, tracks the seven-day window and the
// erasure deadlines, talks to systemd, and serves the local API and
// metrics.
//
// Jobs on one repository run one at a time from that repository's
// queue; different repositories are worked on at the same time. A job
// that finds the repository locked by another process waits for it. A
// failed job is retried with exponential backoff; an erasure is retried
// until it is complete.
//
// Nothing the daemon logs, reports or stores names a subject: logs and
// metrics carry job and repository names, counts and times; erasures are
// known by their tombstone id.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"lethe/agent/config"
	"lethe/tombstones"
)

// Options configure a Daemon. Config is required.
type Options struct {
	Config *config.Config
	// Jobs runs the jobs; nil: RepoJobs over Config.
	Jobs Jobs
	// Eraser executes erasures; nil: erasures are recorded, synced to
	// every repository and kept out of backups and restores, but stay
	// pending.
	Eraser Eraser
	// Clock is the daemon's time; nil: SystemClock.
	Clock Clock
	// Log receives the daemon's structured log; nil: discarded.
	Log *slog.Logger
	// RetryBase is the wait before the first retry of a failed job; it
	// doubles with each further failure up to RetryMax (defaults 1m and
	// 1h). A scheduled job is tried MaxAttempts times (default 5), then
	// waits for its next slot; an erasure is retried until it succeeds.
	RetryBase, RetryMax time.Duration
	MaxAttempts         int
	// AtRisk is how close to its deadline a pending erasure counts as at
	// risk (default 7 days).
	AtRisk time.Duration
	// Version goes into snapshots as "lethe " + Version.
	Version string
	// Notify, if set, receives the systemd notifications instead of
	// NOTIFY_SOCKET (for tests); see Notifier.
	Notify Notifier
}

// Daemon is the agent. Make one with New and run it with Run.
type Daemon struct {
	cfg     *config.Config
	jobs    Jobs
	eraser  Eraser
	clock   Clock
	log     *slog.Logger
	state   *tombstones.State
	runs    *runState
	repos   []Repository
	queues  []*queue
	metrics *metrics
	notify  Notifier

	retryBase, retryMax time.Duration
	maxAttempts         int
	atRisk              time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	started time.Time
	status  []repoStatus // per repository, guarded by mu
	keyOK   bool         // the subject key is reconciled, guarded by mu
	bg      int          // background work in progress, guarded by mu
	poke    chan chan struct{}
}

// New checks the options, opens the state directory and returns the
// daemon.
func New(opts Options) (*Daemon, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("daemon: no config")
	}
	if len(cfg.Repositories) == 0 {
		return nil, errors.New("daemon: no repository configured")
	}
	state, err := tombstones.OpenState(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("opening state directory: %w", err)
	}
	runs, err := loadRunState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		cfg:         cfg,
		jobs:        opts.Jobs,
		eraser:      opts.Eraser,
		clock:       opts.Clock,
		log:         opts.Log,
		state:       state,
		runs:        runs,
		repos:       Repositories(cfg),
		notify:      opts.Notify,
		retryBase:   opts.RetryBase,
		retryMax:    opts.RetryMax,
		maxAttempts: opts.MaxAttempts,
		atRisk:      opts.AtRisk,
		poke:        make(chan chan struct{}),
	}
	d.cond = sync.NewCond(&d.mu)
	if d.clock == nil {
		d.clock = SystemClock()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.retryBase <= 0 {
		d.retryBase = time.Minute
	}
	if d.retryMax <= 0 {
		d.retryMax = time.Hour
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = 5
	}
	if d.atRisk <= 0 {
		d.atRisk = 7 * 24 * time.Hour
	}
	if d.notify == nil {
		d.notify = SystemdNotifier()
	}
	if d.jobs == nil {
		d.jobs = &RepoJobs{
			Config:         cfg,
			State:          state,
			Clock:          d.clock,
			ProgramVersion: "lethe " + opts.Version,
			Log:            d.log,
		}
	}
	d.status = make([]repoStatus, len(d.repos))
	for i := range d.repos {
		d.queues = append(d.queues, newQueue(d, i))
		d.status[i].Name = d.repos[i].Name
	}
	d.metrics = newMetrics(d)
	return d, nil
}

// Run runs the agent until ctx is done: it makes up missed runs, queues
// pending erasures, tells systemd it is ready, and runs the schedules.
// When ctx is done the running jobs are cancelled (they release their
// locks and save nothing half-done), systemd is told the agent stops,
// and Run returns once every job has ended.
//
// The API listens on Config.API.Socket (if set) and the metrics on
// Config.MetricsAddress (if set) from before READY=1 until the jobs have
// ended.
func (d *Daemon) Run(ctx context.Context) error {
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	if sock := d.cfg.API.Socket; sock != "" {
		l, err := ListenUnix(sock, d.cfg.API.SocketMode)
		if err != nil {
			return err
		}
		stops = append(stops, serve(ctx, l, d.Handler(), d.log))
		d.log.Info("API listening", "socket", sock)
	}
	if addr := d.cfg.MetricsAddress; addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics address: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", d.MetricsHandler())
		stops = append(stops, serve(ctx, l, mux, d.log))
		d.log.Info("metrics listening", "address", l.Addr().String())
	}

	d.mu.Lock()
	d.started = d.clock.Now()
	d.mu.Unlock()
	d.log.Info("agent starting", "repositories", len(d.repos), "sources", len(d.cfg.Sources))
	if d.eraser == nil {
		d.log.Warn("no erasure engine: erasure requests are recorded and kept out of backups and restores, but stay pending")
	}

	// The queues start once the first sync of the tombstones is done (or
	// failed), so that it never runs beside a job.
	firstSync := make(chan struct{})
	var wg sync.WaitGroup
	for _, q := range d.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-firstSync:
			case <-ctx.Done():
				return
			}
			q.work(ctx)
		}()
	}
	wg.Add(2)
	d.busy(1)
	go func() {
		defer wg.Done()
		d.keepKey(ctx, firstSync)
	}()
	go func() {
		defer wg.Done()
		d.watchdog(ctx)
	}()

	d.refreshAll()
	d.makeUp()
	d.notify.Notify("READY=1\nSTATUS=" + d.statusLine())
	d.log.Info("agent ready")
	d.schedule(ctx)

	d.notify.Notify("STOPPING=1\nSTATUS=stopping")
	d.log.Info("agent stopping: ending the running jobs")
	wg.Wait()
	d.log.Info("agent stopped")
	return nil
}

// keepKey reconciles the subject key and the tombstones across the state
// directory and every repository, retrying until it succeeds; erasure
// requests are accepted only after, so that a fresh state directory
// never makes a key that disagrees with the repositories'. Then it
// queues the pending erasures. firstDone is closed after the first try.
func (d *Daemon) keepKey(ctx context.Context, firstDone chan struct{}) {
	defer d.busy(-1)
	first := true
	done := func() {
		if first {
			close(firstDone)
			first = false
		}
	}
	defer done()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := d.jobs.SyncTombstones(ctx, d.repos)
		done()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.metrics.jobFailures.WithLabelValues("sync", "all").Inc()
		wait := d.backoff(attempt + 1)
		d.log.Error("syncing tombstones with the repositories failed; erasure requests wait for it", "error", err, "retry_in", wait.String())
		d.busy(-1)
		ok := sleep(d.clock, wait, ctx.Done())
		d.busy(1)
		if !ok {
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	d.mu.Lock()
	d.keyOK = true
	d.mu.Unlock()
	d.queueErasures()
}

// busy counts background work in or out, for waitIdle.
func (d *Daemon) busy(n int) {
	d.mu.Lock()
	d.bg += n
	d.cond.Broadcast()
	d.mu.Unlock()
}

// backoff is the wait before retry number attempt (1 for the first).
func (d *Daemon) backoff(attempt int) time.Duration {
	w := d.retryBase
	for i := 1; i < attempt && w < d.retryMax; i++ {
		w *= 2
	}
	return min(w, d.retryMax)
}

// runTask runs one task and records its outcome; a failure is queued
// again for its retry.
func (d *Daemon) runTask(ctx context.Context, t *task) {
	r := d.repos[t.repo]
	log := d.log.With("job", string(t.kind), "repository", r.Name)
	if t.tombstone != "" {
		log = log.With("erasure", t.tombstone)
	}
	if t.attempt > 0 {
		log = log.With("attempt", t.attempt+1)
	}
	if t.madeUp {
		log = log.With("made_up", true)
	}
	d.notify.Notify("STATUS=" + d.statusLine())
	// The agent's own bookkeeping is no job to log or record.
	internal := t.kind == kindRefresh || t.kind == kindRecheck
	if !internal {
		log.Info("job started")
	}
	start := d.clock.Now()
	err := d.execute(ctx, t, log)
	end := d.clock.Now()
	d.notify.Notify("STATUS=" + d.statusLine())
	if err == nil {
		if !internal {
			log.Info("job done", "duration", end.Sub(start).String())
		}
		if t.kind != KindErase && !internal {
			if err := d.runs.update(t.kind, r.Name, func(rec *runRecord) {
				if t.slot.After(rec.Slot) {
					rec.Slot = t.slot
				}
				rec.Success = end
			}); err != nil {
				log.Error("recording the run failed", "error", err)
			}
		}
		return
	}
	if ctx.Err() != nil {
		log.Info("job cancelled: the agent is stopping")
		return
	}
	d.metrics.jobFailures.WithLabelValues(string(t.kind), r.Name).Inc()
	t.attempt++
	if t.kind != KindErase && t.attempt >= d.maxAttempts {
		log.Error("job failed; no retry before its next scheduled run", "error", err)
		if err := d.runs.update(t.kind, r.Name, func(rec *runRecord) { rec.Failure = end }); err != nil {
			log.Error("recording the run failed", "error", err)
		}
		return
	}
	wait := d.backoff(t.attempt)
	log.Error("job failed; will retry", "error", err, "retry_in", wait.String())
	t.notBefore = end.Add(wait)
	d.queues[t.repo].add(t)
}

// execute runs the work of a task.
func (d *Daemon) execute(ctx context.Context, t *task, log *slog.Logger) error {
	r := d.repos[t.repo]
	switch t.kind {
	case KindBackup:
		at := d.clock.Now()
		start := at
		rep, err := d.jobs.Backup(ctx, r, at)
		d.metrics.backupDone(r.Name, rep, err, start, d.clock.Now())
		d.setStatus(t.repo, func(s *repoStatus) {
			s.LastBackup = &runInfo{Start: start, End: d.clock.Now(), OK: err == nil}
			if err == nil {
				s.LastSuccessfulBackup = s.LastBackup
			}
		})
		if rep.Unreadable > 0 {
			log.Warn("items could not be read and are not in the backup; `lethe backup` by hand names them", "count", rep.Unreadable)
		}
		if rep.KeptOut > 0 {
			log.Warn("the live source still holds records of erased subjects, kept out of the backup; `lethe scan --tombstones PATH` shows where", "records", rep.KeptOut)
		}
		if rep.Snapshots > 0 {
			d.refresh(ctx, t.repo)
		}
		if err != nil {
			return err
		}
		if d.cfg.Schedules.Forget.AfterBackup() {
			d.queues[t.repo].add(&task{kind: KindForget, repo: t.repo, slot: t.slot})
		} else {
			d.recheck(t.repo)
		}
		return nil
	case KindForget:
		err := d.jobs.Forget(ctx, r)
		d.refresh(ctx, t.repo)
		// Holds end with time and forget removes held snapshots: each
		// nightly run looks for erasures due to run again.
		d.recheck(t.repo)
		return err
	case KindCheck, KindVerify:
		err := d.jobs.Check(ctx, r, t.kind == KindVerify)
		if t.kind == KindVerify && ctx.Err() == nil {
			err = errors.Join(err, d.verifyErasures(ctx, t.repo, log))
		}
		if ctx.Err() == nil {
			d.metrics.checkDone(r.Name, t.kind, err, d.clock.Now())
			d.setStatus(t.repo, func(s *repoStatus) {
				info := &runInfo{End: d.clock.Now(), OK: err == nil}
				if t.kind == KindCheck {
					s.LastCheck = info
				} else {
					s.LastVerify = info
				}
			})
		}
		return err
	case KindErase:
		return d.erase(ctx, t, log)
	case kindRefresh:
		d.refresh(ctx, t.repo)
		return nil
	case kindRecheck:
		return d.queueReruns(ctx, t.repo, log)
	}
	return fmt.Errorf("unknown job %q", t.kind)
}

// verifyErasures runs the deep verification of the erasures in
// repository i and reports it in the log, the status and the metrics. A
// subject still found is a failure; the log counts files, it names none.
func (d *Daemon) verifyErasures(ctx context.Context, i int, log *slog.Logger) error {
	r := d.repos[i]
	v, err := d.jobs.VerifyErasures(ctx, r)
	if ctx.Err() != nil {
		return err
	}
	info := &deepVerifyInfo{End: d.clock.Now(), Erasures: v.Erasures}
	if vr := v.Verification; vr != nil {
		info.Snapshots, info.Files, info.Findings = vr.SnapshotsChecked, vr.FilesChecked, vr.Problems
	}
	if err == nil && info.Findings > 0 {
		err = fmt.Errorf("deep verification: %d files still hold the records of erased subjects (restores still filter them out; `restic restore` of a snapshot and `lethe scan --tombstones` of it show where)", info.Findings)
	}
	info.OK = err == nil
	d.metrics.deepVerifyDone(r.Name, info)
	d.setStatus(i, func(s *repoStatus) { s.LastDeepVerify = info })
	if err != nil {
		return err
	}
	log.Info("deep verification of the erasures found nothing of their subjects",
		"erasures", info.Erasures, "snapshots", info.Snapshots, "files", info.Files)
	return nil
}

// setStatus changes the status of repository i.
func (d *Daemon) setStatus(i int, fn func(*repoStatus)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn(&d.status[i])
}

// statusLine is the one-line status systemd shows.
func (d *Daemon) statusLine() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var running []string
	queued := 0
	for _, q := range d.queues {
		if q.running != nil {
			running = append(running, string(q.running.kind)+" "+d.repos[q.repo].Name)
		}
		queued += len(q.tasks)
	}
	if len(running) == 0 {
		return fmt.Sprintf("idle, %d jobs queued", queued)
	}
	return fmt.Sprintf("running %s; %d jobs queued", joinComma(running), queued)
}

func joinComma(l []string) string {
	s := ""
	for i, x := range l {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// waitIdle waits until no job runs and none is due (tests use it to step
// a simulated clock).
func (d *Daemon) waitIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		now := d.clock.Now()
		busy := d.bg > 0
		for _, q := range d.queues {
			if q.running != nil || !q.parked {
				busy = true
			}
			for _, t := range q.tasks {
				if !t.notBefore.After(now) {
					busy = true
				}
			}
		}
		if !busy {
			return
		}
		d.cond.Wait()
	}
}
