package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
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

// TestBackupKeepsErasedOut files an erasure with no eraser configured
// and checks that the agent's next backup keeps the subject's records
// out of both sources' snapshots, in both repositories, while the other
// records are stored byte for byte.
func TestBackupKeepsErasedOut(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	writeFile(t, filepath.Join(s.srcDir, "kunder.csv"), "kundnr;namn;epost\nK-1;Anna;anna@example.se\nK-2;Bo;bo@example.se\n")
	writeFile(t, s.dumpFile, "INSERT INTO kunder VALUES (1, 'anna@example.se');\nINSERT INTO kunder VALUES (2, 'bo@example.se');\n")
	clk := newFakeClock(time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local))
	var logBuf syncBuffer
	d, err := New(Options{Config: s.cfg, Clock: clk, Log: testLog(&logBuf), Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := started(t, d)
	d.step(ctx)
	d.waitIdle()
	if _, err := d.FileErasure(ctx, ErasureRequest{Identifiers: []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: "bo@example.se"}}, Reason: "b"}); err != nil {
		t.Fatal(err)
	}
	d.BackupNow()
	runUntil(ctx, t, d, clk, clk.Now().Add(time.Minute))
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	for i, dir := range s.repoDirs {
		if b := st.Repositories[i].LastSuccessfulBackup; b == nil {
			t.Fatalf("%s: no backup; log:\n%s", dir, logBuf.String())
		}
		csv := restictest.Run(t, dir, "dump", "--path", s.srcDir, "latest", filepath.Join(s.srcDir, "kunder.csv"))
		if want := "kundnr;namn;epost\nK-1;Anna;anna@example.se\n"; csv != want {
			t.Errorf("%s: kunder.csv stored as %q, want %q", dir, csv, want)
		}
		dump := restictest.Run(t, dir, "dump", "--path", "/db.sql", "latest", "/db.sql")
		if want := "INSERT INTO kunder VALUES (1, 'anna@example.se');\n"; dump != want {
			t.Errorf("%s: db.sql stored as %q, want %q", dir, dump, want)
		}
	}
	// An erasure not carried out is no erasure to verify deeply: nothing
	// is read.
	if v, err := d.jobs.VerifyErasures(context.Background(), d.repos[0]); err != nil || v.Erasures != 0 || v.Verification != nil {
		t.Errorf("deep verification of a pending erasure: %+v, %v; want nothing done", v, err)
	}
	if strings.Contains(logBuf.String(), "bo@") {
		t.Errorf("the log names the subject:\n%s", logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "kept out of the backup") {
		t.Errorf("the log does not say records were kept out:\n%s", logBuf.String())
	}
}
