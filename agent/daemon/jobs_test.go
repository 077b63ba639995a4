package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// TestBackupWaitsForLock holds an exclusive lock on a repository, as
// another lethe's prune would, and checks that the backup waits for it
// instead of failing, then backs up every source; and that after
// LockWait it gives up with the lock error.
func TestBackupWaitsForLock(t *testing.T) {
	s := newSetup(t, "")
	clk := newFakeClock(time.Date(2026, 11, 2, 2, 0, 0, 0, time.Local))
	state, err := tombstones.OpenState(s.cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	rj := &RepoJobs{Config: s.cfg, State: state, Clock: clk, LockRetry: time.Minute, LockWait: 10 * time.Minute}
	r := Repositories(s.cfg)[0]
	_, _, release, err := jobs.OpenLocked(context.Background(), r.Repo, jobs.Exclusive, false)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		rep BackupReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := rj.Backup(context.Background(), r, clk.Now())
		done <- result{rep, err}
	}()
	clk.waitTimer() // the backup found the lock and waits
	select {
	case res := <-done:
		t.Fatalf("backup returned while the repository was locked: %+v", res)
	default:
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.Now().Add(time.Minute))
	res := <-done
	if res.err != nil || res.rep.Snapshots != 2 {
		t.Fatalf("backup after the lock was released: %+v", res)
	}

	// A lock held past LockWait fails the job with the lock's error.
	_, _, release, err = jobs.OpenLocked(context.Background(), r.Repo, jobs.Exclusive, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	go func() {
		rep, err := rj.Backup(context.Background(), r, clk.Now())
		done <- result{rep, err}
	}()
	for i := 0; i < 10; i++ {
		clk.waitTimer()
		clk.set(clk.Now().Add(time.Minute))
	}
	res = <-done
	if !errors.Is(res.err, repository.ErrLocked) {
		t.Fatalf("after LockWait: %v, want ErrLocked", res.err)
	}
}
