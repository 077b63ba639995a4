package repository

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
)

// TestLocksInterop: restic respects lethe's exclusive lock, lethe
// respects restic's lock.
func TestLocksInterop(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	fileSnapshot(t, r, "f", [][]byte{[]byte("hello")}, time.Unix(1, 0), "h")

	l, err := r.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(src+"/x", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := restictest.RunErr(t, dir, nil, "backup", src)
	if err == nil || !strings.Contains(errOut, "lock") {
		t.Fatalf("restic backup ran despite lethe's exclusive lock: %v\n%s", err, errOut)
	}
	// Only the lock's holder may refresh it; the refreshed lock still works.
	old := l.ID()
	if err := l.Refresh(ctx); err != nil || l.ID() == old {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := r.Lock(ctx, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock granted beside exclusive: %v", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	restictest.Run(t, dir, "backup", src)

	// A shared lock beside another shared one is fine; exclusive is not.
	s1, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock granted beside shared: %v", err)
	}
	// restic's prune needs an exclusive lock and must see ours.
	if _, errOut, err := restictest.RunErr(t, dir, nil, "prune"); err == nil {
		t.Fatalf("restic prune ran despite lethe's shared lock\n%s", errOut)
	}
	_ = s1.Unlock(ctx)
	_ = s2.Unlock(ctx)

	// lethe sees restic's lock: `restic backup --stdin` holds its lock
	// while it waits for input.
	cmd := exec.Command(restictest.Binary(t), "--no-cache", "-r", dir, "backup", "--stdin", "--stdin-filename", "in.txt")
	cmd.Env = append(os.Environ(), "RESTIC_PASSWORD="+restictest.Password)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var resticLock *lockJSON
	for i := 0; i < 200 && resticLock == nil; i++ {
		_ = r.List(ctx, backends.LockFile, func(id ID, _ int64) error {
			l, err := r.loadLock(ctx, id)
			if err == nil && l.PID == cmd.Process.Pid {
				resticLock = l
			}
			return nil
		})
		time.Sleep(50 * time.Millisecond)
	}
	if resticLock == nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		t.Fatal("restic's lock never appeared or could not be decoded")
	}
	_, lockErr := r.Lock(ctx, true)
	_, _ = stdin.Write([]byte("data from stdin\n"))
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restic backup --stdin: %v", err)
	}
	if !errors.Is(lockErr, ErrLocked) {
		t.Fatalf("lethe took an exclusive lock while restic held one: %v", lockErr)
	}
	if resticLock.Exclusive {
		t.Fatal("restic's backup lock decoded as exclusive")
	}
	n, err := r.RemoveStaleLocks(ctx)
	if err != nil || n != 0 {
		t.Fatalf("RemoveStaleLocks: %d, %v", n, err)
	}
}

// TestResticLockSeen: a lock file as restic writes it (restic's JSON,
// encrypted and compressed) blocks lethe's exclusive lock, and counts as
// stale once old.
func TestResticLockSeen(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	hostname, _ := os.Hostname()
	live := lockJSON{Time: time.Now(), Exclusive: false, Hostname: hostname + "-elsewhere", Username: "u", PID: 1}
	buf, _ := json.Marshal(live)
	liveID, err := r.SaveUnpacked(ctx, backends.LockFile, buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock(ctx, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusive lock granted beside a live shared lock: %v", err)
	}
	s, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatalf("shared lock refused beside shared: %v", err)
	}
	_ = s.Unlock(ctx)

	stale := lockJSON{Time: time.Now().Add(-time.Hour), Exclusive: true, Hostname: hostname + "-elsewhere", PID: 1}
	buf, _ = json.Marshal(stale)
	if _, err := r.SaveUnpacked(ctx, backends.LockFile, buf); err != nil {
		t.Fatal(err)
	}
	deadPID := lockJSON{Time: time.Now(), Exclusive: true, Hostname: hostname, PID: 1 << 30}
	buf, _ = json.Marshal(deadPID)
	if _, err := r.SaveUnpacked(ctx, backends.LockFile, buf); err != nil {
		t.Fatal(err)
	}
	n, err := r.RemoveStaleLocks(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RemoveStaleLocks removed %d (%v), want 2", n, err)
	}
	if err := r.RemoveUnpacked(ctx, backends.LockFile, liveID); err != nil {
		t.Fatal(err)
	}
	// restic reads our locks: `restic list locks` decodes none wrongly and
	// `restic unlock --remove-all` removes lethe's.
	l, err := r.Lock(ctx, true)
	if err != nil {
		t.Fatalf("lock after removing stale ones: %v", err)
	}
	out := restictest.Run(t, dir, "list", "locks")
	if !strings.Contains(out, l.ID().String()) {
		t.Fatalf("restic does not list lethe's lock %s:\n%s", l.ID(), out)
	}
	n, err = r.RemoveAllLocks(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RemoveAllLocks: %d, %v", n, err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatalf("unlocking a removed lock: %v", err)
	}
}
