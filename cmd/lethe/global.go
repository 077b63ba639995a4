package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"lethe/agent/repository"
	"lethe/backends"
	"lethe/backends/local"
)

// globalOptions are the flags every command shares. They mean what
// restic's flags of the same name mean.
type globalOptions struct {
	repo         string
	passwordFile string
	quiet        bool
	json         bool
	options      []string
	noLock       bool

	stdout, stderr io.Writer
	password       string
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "lethe",
		Short: "Encrypted, deduplicated backups that remember what they were told to forget",
		Long: `lethe takes encrypted, deduplicated backups in restic's repository format
and makes erasure requests hold in every backup copy.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVarP(&g.repo, "repo", "r", os.Getenv("LETHE_REPOSITORY"), "repository `location` (local path or s3:…) (env LETHE_REPOSITORY)")
	f.StringVar(&g.passwordFile, "password-file", os.Getenv("LETHE_PASSWORD_FILE"), "read the repository password from `file` (env LETHE_PASSWORD_FILE)")
	f.BoolVarP(&g.quiet, "quiet", "q", false, "print no progress")
	f.BoolVar(&g.json, "json", false, "print machine-readable JSON")
	f.StringArrayVarP(&g.options, "option", "o", nil, "set a backend `key=value` option (e.g. s3.region=eu-north-1)")
	f.BoolVar(&g.noLock, "no-lock", false, "do not lock the repository (read-only commands only)")

	root.AddCommand(
		newInitCommand(g),
		newBackupCommand(g),
		newSnapshotsCommand(g),
		newLsCommand(g),
		newRestoreCommand(g),
		newForgetCommand(g),
		newPruneCommand(g),
		newCheckCommand(g),
		newUnlockCommand(g),
		newKeyCommand(g),
		newCatCommand(g),
		newVersionCommand(g),
		newDemoCommand(g),
		newEraseCommand(g),
		newErasuresCommand(g),
		newScanCommand(g),
		newRedactCommand(g),
	)
	return root
}

// readPassword finds the password in LETHE_PASSWORD, the password file or,
// on a terminal, by asking.
func (g *globalOptions) readPassword(prompt string) (string, error) {
	if g.password != "" {
		return g.password, nil
	}
	// An explicit password file wins over LETHE_PASSWORD.
	if g.passwordFile != "" {
		buf, err := os.ReadFile(g.passwordFile)
		if err != nil {
			return "", fmt.Errorf("reading password file: %w", err)
		}
		pw := strings.TrimRight(string(buf), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("password file %s is empty", g.passwordFile)
		}
		g.password = pw
		return pw, nil
	}
	if pw := os.Getenv("LETHE_PASSWORD"); pw != "" {
		g.password = pw
		return pw, nil
	}
	pw, err := askPassword(prompt)
	if err != nil {
		return "", err
	}
	g.password = pw
	return pw, nil
}

// askPassword reads a password from the terminal without echo.
func askPassword(prompt string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("no password given: set LETHE_PASSWORD, LETHE_PASSWORD_FILE or --password-file")
	}
	fmt.Fprint(os.Stderr, prompt)
	buf, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("reading password: %w", err)
	}
	if len(buf) == 0 {
		return "", errors.New("empty password")
	}
	return string(buf), nil
}

// openBackend opens the repository location without reading it.
func (g *globalOptions) openBackend(ctx context.Context, create bool) (backends.Backend, error) {
	if g.repo == "" {
		return nil, errors.New("no repository given: use --repo or LETHE_REPOSITORY")
	}
	if strings.HasPrefix(g.repo, "s3:") {
		return g.openS3(ctx, create)
	}
	dir := strings.TrimPrefix(g.repo, "local:")
	if create {
		return local.Create(dir)
	}
	be, err := local.Open(dir)
	if err != nil {
		return nil, err
	}
	if _, err := be.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err != nil {
		if backends.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a repository: no config file", dir)
		}
		return nil, err
	}
	return be, nil
}

// openRepository opens the repository with the password.
func (g *globalOptions) openRepository(ctx context.Context) (*repository.Repository, error) {
	be, err := g.openBackend(ctx, false)
	if err != nil {
		return nil, err
	}
	pw, err := g.readPassword("enter password for repository: ")
	if err != nil {
		return nil, err
	}
	repo, err := repository.Open(ctx, be, pw, repository.Options{})
	if err != nil {
		return nil, fmt.Errorf("opening repository %s: %w", be.Location(), err)
	}
	return repo, nil
}

// lockedRepository opens the repository, takes a lock and loads the index.
// The returned function releases the lock.
func (g *globalOptions) lockedRepository(ctx context.Context, exclusive, loadIndex bool) (*repository.Repository, func(), error) {
	repo, err := g.openRepository(ctx)
	if err != nil {
		return nil, nil, err
	}
	unlock := func() {}
	if !g.noLock || exclusive {
		lock, err := repo.Lock(ctx, exclusive)
		if err != nil {
			return nil, nil, err
		}
		unlock = func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }
	}
	if loadIndex {
		if err := repo.LoadIndex(ctx); err != nil {
			unlock()
			return nil, nil, fmt.Errorf("loading index: %w", err)
		}
	}
	return repo, unlock, nil
}

// withRepository makes a command's RunE that opens the repository, locks it
// (exclusively or shared), optionally loads the index, runs fn and unlocks.
func (g *globalOptions) withRepository(exclusive, loadIndex bool, fn func(ctx context.Context, repo *repository.Repository, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		repo, unlock, err := g.lockedRepository(ctx, exclusive, loadIndex)
		if err != nil {
			return err
		}
		defer unlock()
		return fn(ctx, repo, args)
	}
}

// printf writes to stdout unless --quiet is set.
func (g *globalOptions) printf(format string, args ...any) {
	if !g.quiet {
		fmt.Fprintf(g.stdout, format, args...)
	}
}

// warnf writes a warning to stderr (always).
func (g *globalOptions) warnf(format string, args ...any) {
	fmt.Fprintf(g.stderr, format, args...)
}
