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

// Lock is a lock this handle holds; it is refreshed in the background
// until Unlock.
type Lock struct {
	r         *Repository
	exclusive bool
	info      lockJSON

	mu   sync.Mutex
	id   ID
	stop chan struct{}
	done chan struct{}
	err  error

	ctx context.Context
}

// Context returns a context derived from the one Lock was given, for the
// job that holds the lock.
func (l *Lock) Context() context.Context { return l.ctx }

func (r *Repository) loadLock(ctx context.Context, id ID) (*lockJSON, error) {
	buf, err := r.LoadUnpacked(ctx, backends.LockFile, id)
	if err != nil {
		return nil, err
	}
	l := &lockJSON{}
	if err := json.Unmarshal(buf, l); err != nil {
		return nil, fmt.Errorf("decoding lock %s: %w", id.Str(), err)
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
		if err != nil {
			// An unreadable lock still says someone may be working.
			conflict = fmt.Errorf("%w: lock %s cannot be read: %v", ErrLocked, id.Str(), err)
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
// ignored.
func (r *Repository) Lock(ctx context.Context, exclusive bool) (*Lock, error) {
	if err := r.checkLocks(ctx, exclusive, ID{}); err != nil {
		return nil, err
	}
	username, hostname := currentUserHost()
	l := &Lock{r: r, exclusive: exclusive, info: lockJSON{
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
	l.ctx = ctx
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.refresh()
	if exclusive {
		r.lockMu.Lock()
		r.exclusiveHeld++
		r.lockMu.Unlock()
	}
	return l, nil
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

func (l *Lock) refresh() {
	defer close(l.done)
	t := time.NewTicker(LockRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.Refresh(context.Background()); err != nil {
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
			}
		}
	}
}

// Refresh replaces the lock file by a new one with the current time.
func (l *Lock) Refresh(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, err := l.write(ctx)
	if err != nil {
		return err
	}
	old := l.id
	l.id = id
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

// Err returns the last background refresh error, if any.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Unlock stops refreshing and removes the lock file.
func (l *Lock) Unlock(ctx context.Context) error {
	select {
	case <-l.stop:
		return nil // already unlocked
	default:
	}
	close(l.stop)
	<-l.done
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

func (r *Repository) holdsExclusiveLock() bool {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	return r.exclusiveHeld > 0
}

// RemoveStaleLocks deletes locks whose holder is gone and returns how
// many it removed.
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
			// Unreadable locks are left alone; RemoveAllLocks clears them.
			if err != nil || !l.stale(now, hostname) {
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
