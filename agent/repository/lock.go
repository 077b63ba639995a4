package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"lethe/backends"
)

// Lock timing, as restic uses it: a lock is refreshed every
// LockRefreshInterval and counts as stale after StaleLockTimeout.
const (
	LockRefreshInterval = 5 * time.Minute
	StaleLockTimeout    = 30 * time.Minute
)

// ErrLocked is wrapped by the error of Lock when another lock conflicts.
var ErrLocked = errors.New("repository is already locked")

// lockJSON is restic's lock file.
type lockJSON struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
	UID       uint32    `json:"uid,omitempty"`
	GID       uint32    `json:"gid,omitempty"`
}

// stale reports whether the lock's holder is gone: not refreshed for
// StaleLockTimeout, or a process on this host that no longer runs.
func (l *lockJSON) stale(now time.Time, hostname string) bool {
	if now.Sub(l.Time) > StaleLockTimeout {
		return true
	}
	if l.Hostname != hostname {
		return false
	}
	return !processExists(l.PID)
}

func processExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ErrLockLost is wrapped by the cause of a Lock's Context when the lock
// may no longer be held: a refresh failed, someone removed the lock file,
// or no refresh succeeded within the stale timeout, after which others
// may consider the lock stale.
var ErrLockLost = errors.New("repository lock lost")

// ErrUnlocked is the cause of a Lock's Context after Unlock. It wraps
// context.Canceled: the job ended normally.
var ErrUnlocked = fmt.Errorf("repository unlocked: %w", context.Canceled)

// lockTiming sets when locks are refreshed and when a lock that could not
// be refreshed counts as lost; tests shorten it.
type lockTiming struct {
	// ticks returns the channel that triggers refreshes and a function
	// that stops it.
	ticks func() (<-chan time.Time, func())
	stale time.Duration
}

func defaultLockTiming() lockTiming {
	return lockTiming{
		ticks: func() (<-chan time.Time, func()) {
			t := time.NewTicker(LockRefreshInterval)
			return t.C, t.Stop
		},
		stale: StaleLockTimeout,
	}
}

// Lock is a lock this handle holds; it is refreshed in the background
// until Unlock or until it is lost.
type Lock struct {
	r         *Repository
	exclusive bool
	timing    lockTiming

	// mu serialises refreshes and guards info and id.
	mu   sync.Mutex
	info lockJSON
	id   ID

	stop          chan struct{}
	done          chan struct{}
	refreshCancel context.CancelFunc
	expiry        *time.Timer

	ctx    context.Context
	cancel context.CancelCauseFunc
	// errMu guards err; it is separate from mu so that a refresh stuck in
	// the backend does not delay cancelling the job.
	errMu sync.Mutex
	err   error
	lost  chan struct{}
}

// Context returns a context derived from the one Lock was given, for the
// job that holds the lock. It is cancelled with a cause wrapping
// ErrLockLost when the lock is lost, and with ErrUnlocked by Unlock.
func (l *Lock) Context() context.Context { return l.ctx }

// lose records that the lock is lost and cancels its context. Only the
// first loss counts, and none after Unlock.
func (l *Lock) lose(err error) {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	if l.err != nil || l.unlocked() {
		return
	}
	l.err = err
	close(l.lost)
	l.cancel(err)
}

func (r *Repository) loadLock(ctx context.Context, id ID) (*lockJSON, error) {
	buf, err := r.LoadUnpacked(ctx, backends.LockFile, id)
	if err != nil {
		return nil, err
	}
	l := &lockJSON{}
	if err := json.Unmarshal(buf, l); err != nil {
		return nil, damaged{fmt.Errorf("decoding lock %s: %w", id.Str(), err)}
	}
	return l, nil
}

// checkLocks returns an error wrapping ErrLocked when a lock other than
// own conflicts with a lock of the given kind. Locks that vanish while
// being read are skipped (their holder just refreshed or released them).
func (r *Repository) checkLocks(ctx context.Context, exclusive bool, own ID) error {
	hostname, _ := os.Hostname()
	now := time.Now()
	var conflict error
	err := r.List(ctx, backends.LockFile, func(id ID, _ int64) error {
		if id == own || conflict != nil {
			return nil
		}
		l, err := r.loadLock(ctx, id)
		if backends.IsNotExist(err) {
			return nil
		}
		if errors.Is(err, ErrDamaged) {
			// Read but not a lock (no holder writes such a file); restic
			// ignores it too. unlock removes it.
			r.warn(fmt.Errorf("ignoring lock file %s: %w", id.Str(), err))
			return nil
		}
		if err != nil {
			// A lock that cannot be read still says someone may be working.
			conflict = fmt.Errorf("%w: lock %s cannot be read: %v", ErrLocked, id.Str(), err)
			return nil
		}
		if l.Hostname == hostname && !processExists(l.PID) && l.PID != os.Getpid() {
			// Left by a process of this host that died (killed, or the
			// machine lost power): nobody can hold it, and restic would
			// refuse the repository until it is gone.
			if err := r.RemoveUnpacked(ctx, backends.LockFile, id); err != nil && !backends.IsNotExist(err) {
				r.warn(fmt.Errorf("removing the lock %s of a process that is gone: %w", id.Str(), err))
			}
			return nil
		}
		if !exclusive && !l.Exclusive {
			return nil
		}
		if l.stale(now, hostname) {
			return nil
		}
		kind := "a shared"
		if l.Exclusive {
			kind = "an exclusive"
		}
		conflict = fmt.Errorf("%w: %s lock %s by PID %d on %s was created at %s", ErrLocked, kind, id.Str(), l.PID, l.Hostname, l.Time.Format(time.RFC3339))
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing locks: %w", err)
	}
	return conflict
}

// Lock takes a shared or exclusive lock. An exclusive lock conflicts with
// every other lock, a shared one with exclusive locks; stale locks are
// ignored, and those of a process of this host that is gone are removed.
func (r *Repository) Lock(ctx context.Context, exclusive bool) (*Lock, error) {
	if err := r.checkLocks(ctx, exclusive, ID{}); err != nil {
		return nil, err
	}
	username, hostname := currentUserHost()
	l := &Lock{r: r, exclusive: exclusive, timing: r.lockTiming, info: lockJSON{
		Exclusive: exclusive,
		Hostname:  hostname,
		Username:  username,
		PID:       os.Getpid(),
		UID:       uint32(os.Getuid()),
		GID:       uint32(os.Getgid()),
	}}
	id, err := l.write(ctx)
	if err != nil {
		return nil, err
	}
	// Another process may have locked between our check and our write;
	// checking again after the write means at least one of us sees the
	// other.
	if err := r.checkLocks(ctx, exclusive, id); err != nil {
		_ = r.RemoveUnpacked(context.WithoutCancel(ctx), backends.LockFile, id)
		return nil, err
	}
	l.id = id
	l.ctx, l.cancel = context.WithCancelCause(ctx)
	l.lost = make(chan struct{})
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	// Refreshes outlive a cancelled job (until Unlock) but not Unlock.
	refreshCtx, refreshCancel := context.WithCancel(context.WithoutCancel(ctx))
	l.refreshCancel = refreshCancel
	l.expiry = time.AfterFunc(l.untilStale(), l.expire)
	ticks, stopTicks := l.timing.ticks()
	go l.refresh(refreshCtx, ticks, stopTicks)
	if exclusive {
		r.lockMu.Lock()
		r.exclusiveHeld++
		r.lockMu.Unlock()
	}
	return l, nil
}

// untilStale is the time left until others may consider the lock file
// written last stale. l.mu must be held or the refresher not running.
func (l *Lock) untilStale() time.Duration {
	return l.timing.stale - time.Since(l.info.Time)
}

func (l *Lock) expire() {
	l.lose(fmt.Errorf("%w: not refreshed within %v, others may consider it stale", ErrLockLost, l.timing.stale))
}

func (l *Lock) write(ctx context.Context) (ID, error) {
	l.info.Time = time.Now()
	buf, err := json.Marshal(l.info)
	if err != nil {
		return ID{}, err
	}
	id, err := l.r.SaveUnpacked(ctx, backends.LockFile, buf)
	if err != nil {
		return ID{}, fmt.Errorf("creating lock: %w", err)
	}
	return id, nil
}

func (l *Lock) refresh(ctx context.Context, ticks <-chan time.Time, stopTicks func()) {
	defer close(l.done)
	defer stopTicks()
	for {
		select {
		case <-l.stop:
			return
		case <-l.lost:
			return
		case <-ticks:
		}
		select {
		case <-l.lost: // the tick and the loss may come together
			return
		default:
		}
		if err := l.Refresh(ctx); err != nil {
			if !errors.Is(err, ErrLockLost) {
				err = fmt.Errorf("%w: %w", ErrLockLost, err)
			}
			l.lose(err)
			return
		}
	}
}

// Refresh replaces the lock file by a new one with the current time. It
// fails with an error wrapping ErrLockLost, and the lock is lost, when the
// lock file was removed by someone else; then no new one is written (a
// new file could sit beside another process's exclusive lock).
func (l *Lock) Refresh(ctx context.Context) error {
	if l.unlocked() {
		return errors.New("refreshing lock: already unlocked")
	}
	if err := l.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.id
	if _, err := l.r.be.Stat(ctx, backends.Handle{Type: backends.LockFile, Name: old.String()}); err != nil {
		if backends.IsNotExist(err) {
			err := fmt.Errorf("%w: lock file %s was removed by someone else", ErrLockLost, old.Str())
			l.lose(err)
			return err
		}
		return fmt.Errorf("refreshing lock %s: %w", old.Str(), err)
	}
	id, err := l.write(ctx)
	if err != nil {
		return err
	}
	l.id = id
	l.expiry.Reset(l.untilStale())
	if err := l.r.RemoveUnpacked(ctx, backends.LockFile, old); err != nil && !backends.IsNotExist(err) {
		return fmt.Errorf("removing old lock: %w", err)
	}
	return nil
}

// ID returns the current lock file's ID.
func (l *Lock) ID() ID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id
}

// Err returns the error that lost the lock (the cause its Context was
// cancelled with), or nil if it was not lost.
func (l *Lock) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

func (l *Lock) unlocked() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// Unlock stops refreshing, cancels the lock's context with ErrUnlocked and
// removes the lock file.
func (l *Lock) Unlock(ctx context.Context) error {
	if l.unlocked() {
		return nil
	}
	close(l.stop)
	l.cancel(ErrUnlocked)
	l.refreshCancel()
	<-l.done
	l.expiry.Stop()
	if l.exclusive {
		l.r.lockMu.Lock()
		l.r.exclusiveHeld--
		l.r.lockMu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.r.RemoveUnpacked(ctx, backends.LockFile, l.id); err != nil && !backends.IsNotExist(err) {
		return fmt.Errorf("unlocking: %w", err)
	}
	return nil
}

// lockExclusive takes an exclusive lock for a job unless the handle
// holds one already. It returns the context to run the job in and a
// function to call with the job's error when it ends, which unlocks and
// returns the error to report: the loss of the lock if that stopped the
// job.
func (r *Repository) lockExclusive(ctx context.Context) (context.Context, func(error) error, error) {
	if r.holdsExclusiveLock() {
		return ctx, func(err error) error { return err }, nil
	}
	l, err := r.Lock(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	done := func(err error) error {
		if cause := context.Cause(l.Context()); err != nil && errors.Is(cause, ErrLockLost) {
			err = cause
		}
		_ = l.Unlock(context.WithoutCancel(ctx))
		return err
	}
	return l.Context(), done, nil
}

func (r *Repository) holdsExclusiveLock() bool {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	return r.exclusiveHeld > 0
}

// RemoveStaleLocks deletes locks whose holder is gone and lock files that
// are damaged, and returns how many it removed.
func (r *Repository) RemoveStaleLocks(ctx context.Context) (int, error) {
	return r.removeLocks(ctx, true)
}

// RemoveAllLocks deletes every lock, also live ones.
func (r *Repository) RemoveAllLocks(ctx context.Context) (int, error) {
	return r.removeLocks(ctx, false)
}

func (r *Repository) removeLocks(ctx context.Context, onlyStale bool) (int, error) {
	hostname, _ := os.Hostname()
	now := time.Now()
	var ids IDs
	if err := r.List(ctx, backends.LockFile, func(id ID, _ int64) error {
		ids = append(ids, id)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("listing locks: %w", err)
	}
	n := 0
	for _, id := range ids {
		if onlyStale {
			l, err := r.loadLock(ctx, id)
			if backends.IsNotExist(err) {
				continue
			}
			// A damaged lock file is no lock and goes; one that cannot be
			// read is left alone (RemoveAllLocks clears it).
			if err != nil && !errors.Is(err, ErrDamaged) || err == nil && !l.stale(now, hostname) {
				continue
			}
		}
		if err := r.RemoveUnpacked(ctx, backends.LockFile, id); err != nil {
			if backends.IsNotExist(err) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}
