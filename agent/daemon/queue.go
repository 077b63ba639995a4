package daemon

import (
	"context"
	"time"
)

// task is one job on one repository, queued or running.
type task struct {
	kind Kind
	repo int
	// slot is the scheduled time the task runs for; zero for a run
	// asked for (API) or an erasure.
	slot time.Time
	// madeUp marks a run made up at start for one missed while the
	// agent was not running.
	madeUp    bool
	tombstone string // KindErase
	// rerun: the erasure is complete, and due to run again (KindErase).
	rerun     bool
	attempt   int // failed tries so far
	notBefore time.Time
	queued    time.Time
}

// same reports whether t and o do the same work, so that o need not be
// queued while t waits.
func (t *task) same(o *task) bool {
	return t.kind == o.kind && t.repo == o.repo && t.tombstone == o.tombstone
}

// queue holds the tasks of one repository; one worker runs them in turn,
// so jobs on a repository never overlap. Tasks that failed wait for
// their retry time while later ones run.
type queue struct {
	d       *Daemon
	repo    int
	tasks   []*task // guarded by d.mu
	running *task   // guarded by d.mu
	parked  bool    // waiting for work, its timer set; guarded by d.mu
	started time.Time
	wake    chan struct{}
}

func newQueue(d *Daemon, repo int) *queue {
	return &queue{d: d, repo: repo, wake: make(chan struct{}, 1)}
}

// add queues t unless the same work is already waiting; it reports
// whether t was queued.
func (q *queue) add(t *task) bool {
	d := q.d
	d.mu.Lock()
	for _, o := range q.tasks {
		if o.same(t) {
			if t.slot.After(o.slot) {
				o.slot = t.slot
			}
			o.rerun = o.rerun || t.rerun
			d.mu.Unlock()
			return false
		}
	}
	t.queued = d.clock.Now()
	q.tasks = append(q.tasks, t)
	d.cond.Broadcast()
	d.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// next takes the first task that may run now, or returns when the next
// one may.
func (q *queue) next(now time.Time) (*task, time.Time) {
	d := q.d
	d.mu.Lock()
	defer d.mu.Unlock()
	var earliest time.Time
	for i, t := range q.tasks {
		if !t.notBefore.After(now) {
			q.tasks = append(q.tasks[:i:i], q.tasks[i+1:]...)
			q.running = t
			q.started = now
			d.cond.Broadcast()
			return t, time.Time{}
		}
		if earliest.IsZero() || t.notBefore.Before(earliest) {
			earliest = t.notBefore
		}
	}
	return nil, earliest
}

// work runs the queue's tasks until ctx is done.
func (q *queue) work(ctx context.Context) {
	d := q.d
	for ctx.Err() == nil {
		t, at := q.next(d.clock.Now())
		if t != nil {
			d.runTask(ctx, t)
			d.mu.Lock()
			q.running = nil
			d.cond.Broadcast()
			d.mu.Unlock()
			continue
		}
		var timer Timer
		var fired <-chan time.Time
		if !at.IsZero() {
			timer = d.clock.NewTimer(at.Sub(d.clock.Now()))
			fired = timer.C()
		}
		d.mu.Lock()
		q.parked = true
		d.cond.Broadcast()
		d.mu.Unlock()
		select {
		case <-q.wake:
		case <-fired:
		case <-ctx.Done():
		}
		d.mu.Lock()
		q.parked = false
		d.mu.Unlock()
		if timer != nil {
			timer.Stop()
		}
	}
}
