package repository

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
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

// lockFaults makes a backend fail saves of lock files on demand, and
// block listing files of one type until the caller's context ends.
type lockFaults struct {
	backends.Backend
	failLockSave atomic.Bool
	blockList    backends.FileType
}

func (f *lockFaults) Save(ctx context.Context, h backends.Handle, data []byte) error {
	if h.Type == backends.LockFile && f.failLockSave.Load() {
		return errInjected
	}
	return f.Backend.Save(ctx, h, data)
}

func (f *lockFaults) List(ctx context.Context, t backends.FileType, fn func(backends.FileInfo) error) error {
	if f.blockList != "" && t == f.blockList {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.Backend.List(ctx, t, fn)
}

// openFaulty opens the repository in dir through a lockFaults backend.
func openFaulty(t *testing.T, dir string) (*Repository, *lockFaults) {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fb := &lockFaults{Backend: be}
	r, err := Open(context.Background(), fb, restictest.Password, Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	return r, fb
}

// manualTicks makes r's locks refresh only when the test sends on the
// returned channel; a send returns once the refresher took the tick, and
// a second send once it finished the refresh the first one started.
func manualTicks(r *Repository, stale time.Duration) chan time.Time {
	tick := make(chan time.Time)
	r.lockTiming = lockTiming{ticks: func() (<-chan time.Time, func()) { return tick, func() {} }, stale: stale}
	return tick
}

// awaitLost sends one refresh tick and requires the lock's context to be
// cancelled by that refresh: if the refresher comes back for another
// tick instead, it did not notice.
func awaitLost(t *testing.T, l *Lock, tick chan time.Time) error {
	t.Helper()
	tick <- time.Now()
	select {
	case tick <- time.Now():
		t.Fatal("the refresh went on as if the lock were held")
	case <-l.Context().Done():
	}
	cause := context.Cause(l.Context())
	if !errors.Is(cause, ErrLockLost) || !errors.Is(l.Err(), ErrLockLost) {
		t.Fatalf("lock context cause %v, Err %v; want ErrLockLost", cause, l.Err())
	}
	return cause
}

func countLocks(t *testing.T, r *Repository) int {
	t.Helper()
	n := 0
	if err := r.List(context.Background(), backends.LockFile, func(ID, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLockLostWhenRemoved: after `restic unlock --remove-all` removed a
// held lock, the next refresh cancels the lock's context with
// ErrLockLost and writes no new lock file.
func TestLockLostWhenRemoved(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	tick := manualTicks(r, time.Hour)
	l, err := r.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	first := l.ID()
	tick <- time.Now()
	tick <- time.Now()
	if l.ID() == first || l.Context().Err() != nil || countLocks(t, r) != 1 {
		t.Fatalf("refreshes of a held lock: ID %s (was %s), context %v, %d lock files", l.ID().Str(), first.Str(), l.Context().Err(), countLocks(t, r))
	}

	restictest.Run(t, dir, "unlock", "--remove-all")
	awaitLost(t, l, tick)
	if n := countLocks(t, r); n != 0 {
		t.Fatalf("%d lock files after losing the lock, want none", n)
	}
	if err := l.Refresh(ctx); !errors.Is(err, ErrLockLost) || countLocks(t, r) != 0 {
		t.Fatalf("refresh of a lost lock: %v", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(l.Context()), ErrLockLost) {
		t.Fatalf("Unlock replaced the cause: %v", context.Cause(l.Context()))
	}
}

// TestLockLostWhenRefreshFails: a refresh the backend refuses cancels the
// lock's context with ErrLockLost and the backend's error.
func TestLockLostWhenRefreshFails(t *testing.T) {
	ctx := context.Background()
	_, dir := newTestRepo(t, Options{})
	r, fb := openFaulty(t, dir)
	tick := manualTicks(r, time.Hour)
	l, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	fb.failLockSave.Store(true)
	if cause := awaitLost(t, l, tick); !errors.Is(cause, errInjected) {
		t.Fatalf("cause %v does not carry the backend's error", cause)
	}
	// The last lock file written is still there until Unlock.
	if countLocks(t, r) != 1 {
		t.Fatalf("%d lock files, want the one written before the failure", countLocks(t, r))
	}
	if err := l.Unlock(ctx); err != nil || countLocks(t, r) != 0 {
		t.Fatalf("unlock: %v, %d lock files left", err, countLocks(t, r))
	}
}

// TestLockLostWhenNotRefreshed: a lock that is not refreshed within the
// stale timeout is lost.
func TestLockLostWhenNotRefreshed(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	manualTicks(r, time.Millisecond) // never ticks
	l, err := r.Lock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	<-l.Context().Done()
	if cause := context.Cause(l.Context()); !errors.Is(cause, ErrLockLost) || !strings.Contains(cause.Error(), "not refreshed") {
		t.Fatalf("cause %v, want ErrLockLost for a missed refresh", cause)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockCancels: Unlock cancels the lock's context with ErrUnlocked,
// not ErrLockLost; a cancelled parent cancels it too.
func TestUnlockCancels(t *testing.T) {
	r, _ := newTestRepo(t, Options{})
	tick := manualTicks(r, time.Hour)
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := r.Lock(parent, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-l.Context().Done()
	cause := context.Cause(l.Context())
	if cause != ErrUnlocked || !errors.Is(cause, context.Canceled) || errors.Is(cause, ErrLockLost) || l.Err() != nil {
		t.Fatalf("after Unlock: cause %v, Err %v", cause, l.Err())
	}
	if err := l.Refresh(context.Background()); err == nil || countLocks(t, r) != 0 {
		t.Fatalf("refresh after Unlock: %v, %d lock files", err, countLocks(t, r))
	}
	select {
	case tick <- time.Now():
		t.Fatal("refresher still running after Unlock")
	default:
	}

	l, err = r.Lock(parent, false)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-l.Context().Done()
	if errors.Is(context.Cause(l.Context()), ErrLockLost) {
		t.Fatalf("a cancelled job reported as a lost lock: %v", context.Cause(l.Context()))
	}
	if err := l.Unlock(context.Background()); err != nil || countLocks(t, r) != 0 {
		t.Fatalf("unlock after cancel: %v, %d lock files", err, countLocks(t, r))
	}
}

// TestPruneStopsWhenLockLost: prune works in its lock's context, so a
// lost lock stops it before it deletes anything, and it says why.
func TestPruneStopsWhenLockLost(t *testing.T) {
	ctx := context.Background()
	r0, dir := newTestRepo(t, Options{})
	fileSnapshot(t, r0, "f", [][]byte{randomData(1, 5000, false)}, time.Unix(1, 0), "h")
	fileSnapshot(t, r0, "g", [][]byte{randomData(2, 5000, false)}, time.Unix(2, 0), "h")
	if _, err := r0.Forget(ctx, ExpirePolicy{Last: 1}, DefaultGroupBy, false); err != nil {
		t.Fatal(err)
	}
	r, fb := openFaulty(t, dir)
	manualTicks(r, time.Millisecond) // lost as soon as the timer runs
	fb.blockList = backends.PackFile // prune waits there until then
	packs := func() int {
		n := 0
		if err := fb.Backend.List(ctx, backends.PackFile, func(backends.FileInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := packs()
	if _, err := r.Prune(ctx, PruneOptions{}); !errors.Is(err, ErrLockLost) {
		t.Fatalf("prune after losing its lock: %v", err)
	}
	if packs() != before || countLocks(t, r) != 0 {
		t.Fatalf("prune changed packs (%d, was %d) or left %d lock files", packs(), before, countLocks(t, r))
	}
}

// TestDeadLocalLockRemoved: a lock left by a process of this host that is
// gone (a SIGKILL) is removed by the next lock, so restic, which refuses
// any lock it finds, can use the repository afterwards.
func TestDeadLocalLockRemoved(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	hostname, _ := os.Hostname()
	buf, _ := json.Marshal(lockJSON{Time: time.Now(), Exclusive: true, Hostname: hostname, PID: 1 << 30})
	if _, err := r.SaveUnpacked(ctx, backends.LockFile, buf); err != nil {
		t.Fatal(err)
	}
	elsewhere, _ := json.Marshal(lockJSON{Time: time.Now().Add(-time.Hour), Exclusive: true, Hostname: hostname + "-elsewhere", PID: 1 << 30})
	otherID, err := r.SaveUnpacked(ctx, backends.LockFile, elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// Another host's stale lock is left to unlock: its holder may only be
	// unreachable.
	var left IDs
	r.List(ctx, backends.LockFile, func(id ID, _ int64) error { left = append(left, id); return nil })
	if len(left) != 1 || left[0] != otherID {
		t.Fatalf("locks left: %v, want only the other host's %s", left, otherID.Str())
	}
	if err := r.RemoveUnpacked(ctx, backends.LockFile, otherID); err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, dir)
}
