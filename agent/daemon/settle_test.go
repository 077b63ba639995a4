package daemon

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSettle steps the agent through a night with Settle alone: once it
// returns, the night's backups (and the forget after them) are done, and
// with a stopped agent it returns the context's error instead of waiting.
func TestSettle(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"`)
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local)
	clk := newFakeClock(start)
	d, err := New(Options{Config: s.cfg, Clock: clk, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := started(t, d)
	if err := d.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(time.Date(2026, 11, 2, 2, 0, 0, 0, time.Local))
	if err := d.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshotDays(t, d, 0, s.srcDir); len(got) != 1 || got[0] != "2026-11-02" {
		t.Errorf("after the night, snapshots of the files on %v", got)
	}
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Repositories {
		if r.LastRuns["forget"].Success.IsZero() {
			t.Errorf("repository %s: no forget after the backup when Settle returned", r.Name)
		}
	}
	stop()
	if err := d.Settle(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Settle on a stopped agent: %v, want context.Canceled", err)
	}
}
