package daemon

import (
	"context"
	"time"

	"lethe/agent/config"
)

// scheduled is a job kind with its own schedule.
type scheduled struct {
	kind  Kind
	sched config.Schedule
}

// scheduledKinds returns the jobs that run on cron schedules.
func (d *Daemon) scheduledKinds() []scheduled {
	s := d.cfg.Schedules
	var out []scheduled
	for _, k := range []scheduled{{KindBackup, s.Backup}, {KindForget, s.Forget}, {KindCheck, s.Check}, {KindVerify, s.Verify}} {
		if k.sched.Cron != nil {
			out = append(out, k)
		}
	}
	return out
}

// makeUp queues, once per job and repository, a run for slots missed
// while the agent was not running: however many slots passed, one run
// catches up. A job the agent has never seen starts its record now, so
// that a slot missed from now on is made up.
func (d *Daemon) makeUp() {
	now := d.clock.Now()
	for _, k := range d.scheduledKinds() {
		for i, r := range d.repos {
			rec, ok := d.runs.get(k.kind, r.Name)
			if !ok || rec.Slot.IsZero() {
				if err := d.runs.update(k.kind, r.Name, func(rec *runRecord) { rec.Slot = now }); err != nil {
					d.log.Error("recording the run times failed", "error", err)
				}
				continue
			}
			missed := k.sched.Next(rec.Slot)
			if missed.IsZero() || missed.After(now) {
				continue
			}
			d.log.Info("making up a run missed while the agent was not running", "job", string(k.kind), "repository", r.Name, "missed", missed.Format(time.RFC3339))
			d.queues[i].add(&task{kind: k.kind, repo: i, slot: now, madeUp: true})
		}
	}
}

// schedule queues the scheduled jobs when they are due, until ctx is
// done. A slot that passes while the machine sleeps is run once when it
// wakes.
func (d *Daemon) schedule(ctx context.Context) {
	kinds := d.scheduledKinds()
	next := make([]time.Time, len(kinds))
	now := d.clock.Now()
	for i, k := range kinds {
		next[i] = k.sched.Next(now)
	}
	var reply chan struct{}
	for {
		now := d.clock.Now()
		var earliest time.Time
		for i, k := range kinds {
			if !next[i].After(now) {
				d.queueAll(k.kind, next[i])
				next[i] = k.sched.Next(now)
			}
			if earliest.IsZero() || next[i].Before(earliest) {
				earliest = next[i]
			}
		}
		var fired <-chan time.Time
		var timer Timer
		if !earliest.IsZero() {
			timer = d.clock.NewTimer(earliest.Sub(now))
			fired = timer.C()
		}
		if reply != nil {
			// Answered once what was due is queued and the timer is set.
			close(reply)
			reply = nil
		}
		select {
		case <-fired:
		case reply = <-d.poke:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			if reply != nil {
				close(reply)
			}
			return
		}
	}
}

// queueAll queues a job for every repository.
func (d *Daemon) queueAll(kind Kind, slot time.Time) {
	for i := range d.repos {
		d.queues[i].add(&task{kind: kind, repo: i, slot: slot})
	}
}

// BackupNow queues a backup of every source into every repository, as
// POST /v1/backups does; it returns the names of the repositories a
// backup was queued for (not those where one was waiting already).
func (d *Daemon) BackupNow() []string {
	var queued []string
	now := d.clock.Now()
	for i, r := range d.repos {
		if d.queues[i].add(&task{kind: KindBackup, repo: i, slot: now}) {
			queued = append(queued, r.Name)
		}
	}
	return queued
}

// step makes the scheduler queue what is due at the clock's time now and
// waits until it has and has set its timer again (tests use it with a
// simulated clock; the watchdog to see that the scheduler is alive).
func (d *Daemon) step(ctx context.Context) {
	reply := make(chan struct{})
	select {
	case d.poke <- reply:
		<-reply
	case <-ctx.Done():
	}
}
