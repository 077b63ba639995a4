package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends"
)

var testKDF = &repository.KDFParams{N: 1 << 10, R: 8, P: 1}

// testRepo is a Repo for a fresh location in a temporary directory.
func testRepo(t *testing.T) Repo {
	t.Helper()
	return Repo{
		Location: filepath.Join(t.TempDir(), "repo"),
		Password: func() (string, error) { return restictest.Password, nil },
	}
}

// initRepo creates the repository r names.
func initRepo(t *testing.T, r Repo) {
	t.Helper()
	repo, err := Init(context.Background(), r, repository.InitOptions{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	if err := Close(repo); err != nil {
		t.Fatal(err)
	}
}

// lockFiles lists the lock files in the repository at dir.
func lockFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, string(backends.LockFile)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestInitOpen(t *testing.T) {
	ctx := context.Background()
	r := testRepo(t)
	repo, err := Init(ctx, r, repository.InitOptions{KDF: testKDF, Username: "backup", Hostname: "server1"})
	if err != nil {
		t.Fatal(err)
	}
	id := repo.Config().ID
	if err := Close(repo); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Location, "config")); err != nil {
		t.Fatalf("no config file after Init: %v", err)
	}
	if _, err := Init(ctx, r, repository.InitOptions{KDF: testKDF}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Init over a repository: %v", err)
	}

	repo, err = Open(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if repo.Config().ID != id {
		t.Errorf("opened repository %s, created %s", repo.Config().ID, id)
	}
	keys, err := repo.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Username != "backup" || keys[0].Hostname != "server1" {
		t.Errorf("keys %+v, %v", keys, err)
	}
	if err := Close(repo); err != nil {
		t.Fatal(err)
	}
	// restic opens what Init made.
	restictest.Run(t, r.Location, "snapshots")
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	asked := 0
	r := Repo{Password: func() (string, error) { asked++; return restictest.Password, nil }}

	// A location without a repository fails before anyone is asked for
	// the password.
	r.Location = filepath.Join(base, "nothing")
	if _, err := Open(ctx, r); err == nil || !strings.Contains(err.Error(), r.Location) {
		t.Errorf("missing directory: %v", err)
	}
	r.Location = base
	if _, err := Open(ctx, r); err == nil || err.Error() != base+" is not a repository: no config file" {
		t.Errorf("directory without a repository: %v", err)
	}
	if asked != 0 {
		t.Errorf("password asked for %d times before a repository was found", asked)
	}

	good := testRepo(t)
	initRepo(t, good)
	wrong := good
	wrong.Password = func() (string, error) { return "not the password", nil }
	_, err := Open(ctx, wrong)
	if !errors.Is(err, repository.ErrNoKeyFound) || !strings.HasPrefix(err.Error(), "opening repository "+good.Location+": ") {
		t.Errorf("wrong password: %v", err)
	}
	noPassword := good
	noPassword.Password = nil
	if _, err := Open(ctx, noPassword); !errors.Is(err, ErrNoPassword) {
		t.Errorf("no password: %v", err)
	}
	failing := good
	failing.Password = func() (string, error) { return "", errors.New("no terminal to ask on") }
	if _, err := Open(ctx, failing); err == nil || err.Error() != "no terminal to ask on" {
		t.Errorf("failing password: %v", err)
	}

	// Init asks first and creates nothing when there is no password.
	fresh := Repo{Location: filepath.Join(base, "fresh"), Password: failing.Password}
	if _, err := Init(ctx, fresh, repository.InitOptions{KDF: testKDF}); err == nil {
		t.Error("Init without a password succeeded")
	}
	if _, err := os.Stat(fresh.Location); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Init without a password left %s behind: %v", fresh.Location, err)
	}
}

func TestOpenLockedRelease(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	defer cancelParent()
	r := testRepo(t)
	initRepo(t, r)

	repo, ctx, release, err := OpenLocked(parent, r, Shared, true)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("job context done before release: %v", ctx.Err())
	}
	if repo.IndexedBlobs() != 0 {
		t.Errorf("fresh repository indexes %d blobs", repo.IndexedBlobs())
	}
	if n := len(lockFiles(t, r.Location)); n != 1 {
		t.Fatalf("%d lock files under a shared lock, want 1", n)
	}

	// A shared lock keeps exclusive jobs out but lets shared ones in.
	_, _, _, err = OpenLocked(parent, r, Exclusive, false)
	if !errors.Is(err, repository.ErrLocked) {
		t.Errorf("exclusive lock beside a shared one: %v, want ErrLocked", err)
	}
	_, ctx2, release2, err := OpenLocked(parent, r, Shared, false)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if n := len(lockFiles(t, r.Location)); n != 2 {
		t.Errorf("%d lock files under two shared locks, want 2", n)
	}

	if err := release(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("job context after release: %v, want canceled", ctx.Err())
	}
	if ctx2.Err() != nil {
		t.Errorf("releasing one job ended the other: %v", ctx2.Err())
	}
	if err := release(); err != nil {
		t.Errorf("second release: %v", err)
	}
	if err := release2(); err != nil {
		t.Fatal(err)
	}
	if names := lockFiles(t, r.Location); len(names) != 0 {
		t.Errorf("lock files left after release: %v", names)
	}

	// With the locks gone an exclusive job may run, and it keeps every
	// other job out.
	_, ctx, release, err = OpenLocked(parent, r, Exclusive, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := OpenLocked(parent, r, Shared, false); !errors.Is(err, repository.ErrLocked) {
		t.Errorf("shared lock beside an exclusive one: %v, want ErrLocked", err)
	}
	// The job ends with its caller's context; release still unlocks.
	cancelParent()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("job context after the caller's was cancelled: %v", ctx.Err())
	}
	if err := release(); err != nil {
		t.Fatalf("release after the caller's context ended: %v", err)
	}
	if names := lockFiles(t, r.Location); len(names) != 0 {
		t.Errorf("lock files left after release: %v", names)
	}
}

func TestNoLock(t *testing.T) {
	r := testRepo(t)
	initRepo(t, r)
	_, ctx, release, err := OpenLocked(context.Background(), r, NoLock, false)
	if err != nil {
		t.Fatal(err)
	}
	if names := lockFiles(t, r.Location); len(names) != 0 {
		t.Errorf("NoLock wrote lock files %v", names)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("job context after release: %v, want canceled", ctx.Err())
	}
	if _, _, _, err := OpenLocked(context.Background(), r, LockMode(7), false); err == nil || !strings.Contains(err.Error(), "invalid lock mode LockMode(7)") {
		t.Errorf("invalid lock mode: %v", err)
	}
}
