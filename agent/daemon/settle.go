package daemon

import "context"

// Settle makes the scheduler queue what is due at the clock's time now
// and waits until no job runs and none is due, or ctx is done. With a
// simulated clock it lets a caller step through time: set the clock,
// Settle, look at the result (lethe demo runs a week of nights so).
// Run must be running, under a context that ends no later than ctx.
func (d *Daemon) Settle(ctx context.Context) error {
	d.step(ctx)
	// cond.Wait does not watch ctx: wake the waiter when ctx ends.
	stop := context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.cond.Broadcast()
		d.mu.Unlock()
	})
	defer stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.busyLocked() {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.cond.Wait()
	}
	return ctx.Err()
}

// busyLocked reports whether a job runs or is due, or background work is
// in progress, as waitIdle sees it. d.mu is held.
func (d *Daemon) busyLocked() bool {
	if d.bg > 0 {
		return true
	}
	now := d.clock.Now()
	for _, q := range d.queues {
		if q.running != nil || !q.parked {
			return true
		}
		for _, t := range q.tasks {
			if !t.notBefore.After(now) {
				return true
			}
		}
	}
	return false
}
