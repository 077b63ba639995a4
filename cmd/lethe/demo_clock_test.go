package main

import (
	"testing"
	"time"
)

// The demo's clock fires what a jump passes, keeps the rest for later,
// never goes back, and fires a timer as its time passes too.
func TestDemoClock(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	c := newDemoClock(t0)
	// The clock runs from t0: a timer is due its duration after the
	// clock's time when it is set.
	before := c.Now()
	soon, later := c.NewTimer(time.Hour), c.NewTimer(3*time.Hour)
	after := c.Now()
	within := func(at time.Time, d time.Duration) bool {
		return !at.Before(before.Add(d)) && !at.After(after.Add(d))
	}
	if at, ok := c.next(); !ok || !within(at, time.Hour) {
		t.Fatalf("next timer at %v %v, want an hour after %v", at, ok, before)
	}
	c.jump(t0.Add(2 * time.Hour))
	if got := <-soon.C(); !got.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("the passed timer fired at %v", got)
	}
	select {
	case got := <-later.C():
		t.Errorf("a timer the jump did not reach fired at %v", got)
	default:
	}
	if soon.Stop() {
		t.Error("Stop of a fired timer reports it running")
	}
	if at, ok := c.next(); !ok || !within(at, 3*time.Hour) {
		t.Errorf("next timer at %v %v, want three hours after %v", at, ok, before)
	}
	c.jump(t0)
	if now := c.Now(); now.Before(t0.Add(2 * time.Hour)) {
		t.Errorf("the clock went back to %v", now)
	}
	if !later.Stop() || later.Stop() {
		t.Error("Stop of a running timer: want true once, then false")
	}
	if _, ok := c.next(); ok {
		t.Error("a stopped timer is still set")
	}
	c.jump(t0.Add(4 * time.Hour))
	select {
	case got := <-later.C():
		t.Errorf("a stopped timer fired at %v", got)
	default:
	}
	// Between jumps the clock runs: a short timer fires by itself.
	at := c.Now().Add(time.Millisecond)
	if got := <-c.NewTimer(time.Millisecond).C(); got.Before(at) {
		t.Errorf("a timer for %v fired at %v", at, got)
	}
}
