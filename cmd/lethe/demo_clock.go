package main

import (
	"sync"
	"time"

	"lethe/agent/daemon"
)

// demoClock is the demo agent's time: it runs at the machine's pace, so
// that jobs take as long as they take, and jumps forward when told, so
// that a week of nights passes in a minute. Timers fire when the clock
// reaches them, by running or by a jump.
type demoClock struct {
	mu sync.Mutex
	// base is the clock's time at the machine's time since.
	base   time.Time
	since  time.Time
	timers map[*demoTimer]bool
}

type demoTimer struct {
	c  *demoClock
	at time.Time
	ch chan time.Time
	// real fires at the machine's time at which the clock reaches at;
	// gen tells a real timer replaced by a jump from the one in force.
	real *time.Timer
	gen  int
}

func newDemoClock(start time.Time) *demoClock {
	return &demoClock{base: start, since: time.Now(), timers: map[*demoTimer]bool{}}
}

var _ daemon.Clock = (*demoClock)(nil)

func (c *demoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *demoClock) nowLocked() time.Time {
	return c.base.Add(time.Since(c.since))
}

func (c *demoClock) NewTimer(d time.Duration) daemon.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &demoTimer{c: c, at: c.nowLocked().Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.nowLocked()
		return t
	}
	c.timers[t] = true
	t.arm(d)
	return t
}

// arm sets the real timer to fire after d. c.mu is held.
func (t *demoTimer) arm(d time.Duration) {
	t.gen++
	gen := t.gen
	t.real = time.AfterFunc(d, func() { t.fire(gen) })
}

// fire delivers the timer once, unless it was stopped or re-armed.
func (t *demoTimer) fire(gen int) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.timers[t] || gen != t.gen {
		return
	}
	delete(c.timers, t)
	t.ch <- c.nowLocked()
}

func (t *demoTimer) C() <-chan time.Time { return t.ch }

func (t *demoTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.timers[t] {
		return false
	}
	delete(c.timers, t)
	t.real.Stop()
	return true
}

// jump moves the clock forward to at (never back) and fires the timers
// it passes; the others are set to fire at the clock's new pace.
func (c *demoClock) jump(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !at.After(c.nowLocked()) {
		return
	}
	c.base, c.since = at, time.Now()
	for t := range c.timers {
		t.real.Stop()
		if !t.at.After(at) {
			delete(c.timers, t)
			t.ch <- at
			continue
		}
		t.arm(t.at.Sub(at))
	}
}

// next returns the earliest time a timer is set for; ok is false when
// none is.
func (c *demoClock) next() (at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t := range c.timers {
		if !ok || t.at.Before(at) {
			at, ok = t.at, true
		}
	}
	return at, ok
}
