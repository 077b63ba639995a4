package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"lethe/agent/repository"
	"lethe/backends/location"
)

// PasswordFunc returns a repository's password. Open calls it only once
// the location turned out to hold a repository, so a wrong location is
// reported before anyone is asked for a password; Init calls it before it
// creates anything.
type PasswordFunc func() (string, error)

// Repo names a repository and says how to open it.
type Repo struct {
	// Location is where the repository lives and Options are its backend
	// options, as location.Parse reads them.
	Location string
	Options  []string
	// Password returns the repository's password.
	Password PasswordFunc
	// Repository tunes the handle.
	Repository repository.Options
}

func (r Repo) password() (string, error) {
	if r.Password == nil {
		return "", ErrNoPassword
	}
	return r.Password()
}

// Open opens the repository. The caller closes it with Close.
func Open(ctx context.Context, r Repo) (*repository.Repository, error) {
	loc, err := location.Parse(r.Location, r.Options)
	if err != nil {
		return nil, err
	}
	be, err := loc.Open(ctx)
	if err != nil {
		return nil, err
	}
	pw, err := r.password()
	if err != nil {
		_ = be.Close()
		return nil, err
	}
	repo, err := repository.Open(ctx, be, pw, r.Repository)
	if err != nil {
		_ = be.Close()
		return nil, fmt.Errorf("opening repository %s: %w", be.Location(), err)
	}
	return repo, nil
}

// Init creates a new repository. opts.Options is replaced by
// r.Repository. The caller closes the repository with Close.
func Init(ctx context.Context, r Repo, opts repository.InitOptions) (*repository.Repository, error) {
	loc, err := location.Parse(r.Location, r.Options)
	if err != nil {
		return nil, err
	}
	pw, err := r.password()
	if err != nil {
		return nil, err
	}
	be, err := loc.Create(ctx)
	if err != nil {
		return nil, err
	}
	opts.Options = r.Repository
	repo, err := repository.Init(ctx, be, pw, opts)
	if err != nil {
		_ = be.Close()
		return nil, fmt.Errorf("creating repository at %s: %w", be.Location(), err)
	}
	return repo, nil
}

// Close closes the repository and its backend. Blobs not yet flushed are
// lost.
func Close(repo *repository.Repository) error {
	err := repo.Close()
	return errors.Join(err, repo.Backend().Close())
}

// LockMode says how a job locks the repository.
type LockMode int

// The lock modes. The zero value is Shared, so a job that does not say
// otherwise still keeps exclusive jobs (prune, rewrite) out.
const (
	// Shared is for jobs that add to or read the repository: backup,
	// restore, listing.
	Shared LockMode = iota
	// Exclusive is for jobs that remove: forget, prune, key removal.
	Exclusive
	// NoLock takes no lock, for jobs that only read where a lock cannot
	// or need not be written (restic's --no-lock).
	NoLock
)

func (m LockMode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	case NoLock:
		return "none"
	}
	return fmt.Sprintf("LockMode(%d)", int(m))
}

// Locker takes a repository lock; *repository.Repository is one.
type Locker interface {
	Lock(ctx context.Context, exclusive bool) (*repository.Lock, error)
}

// Lock locks the repository and returns the context the job must run in
// and the function that ends the job. The context derives from the
// lock's (repository.Lock.Context), so whatever ends that one ends the
// job; release ends it too. release removes the lock even when ctx is
// done; calling it again does nothing and returns nil.
func Lock(ctx context.Context, repo Locker, mode LockMode) (jobCtx context.Context, release func() error, err error) {
	var lock *repository.Lock
	parent := ctx
	switch mode {
	case Shared, Exclusive:
		lock, err = repo.Lock(ctx, mode == Exclusive)
		if err != nil {
			return nil, nil, err
		}
		parent = lock.Context()
	case NoLock:
	default:
		return nil, nil, fmt.Errorf("invalid lock mode %v", mode)
	}
	jobCtx, cancel := context.WithCancel(parent)
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() {
			cancel()
			if lock != nil {
				err = lock.Unlock(context.WithoutCancel(ctx))
			}
		})
		return err
	}
	return jobCtx, release, nil
}

// OpenLocked opens the repository, locks it and, if loadIndex is set,
// loads its index: the steps before every job. It returns the context
// the job must run in and the function that ends the job, as Lock does;
// release also closes the repository.
func OpenLocked(ctx context.Context, r Repo, mode LockMode, loadIndex bool) (repo *repository.Repository, jobCtx context.Context, release func() error, err error) {
	repo, err = Open(ctx, r)
	if err != nil {
		return nil, nil, nil, err
	}
	jobCtx, unlock, err := Lock(ctx, repo, mode)
	if err != nil {
		_ = Close(repo)
		return nil, nil, nil, err
	}
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() { err = errors.Join(unlock(), Close(repo)) })
		return err
	}
	if loadIndex {
		if err := repo.LoadIndex(jobCtx); err != nil {
			_ = release()
			return nil, nil, nil, fmt.Errorf("loading index: %w", err)
		}
	}
	return repo, jobCtx, release, nil
}
