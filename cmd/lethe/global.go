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

	"lethe/agent/config"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/backends/location"
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
	configFile   string

	stdout, stderr io.Writer
	password       string

	cpuProfile     string
	stopCPUProfile func() error
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root, _ := newRoot(stdout, stderr)
	return root
}

// newRoot returns the root command and the options its flags set.
func newRoot(stdout, stderr io.Writer) (*cobra.Command, *globalOptions) {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "lethe",
		Short: "Encrypted, deduplicated backups that remember what they were told to forget",
		Long: `lethe takes encrypted, deduplicated backups in restic's repository format
and makes erasure requests hold in every backup copy.

Environment:
  LETHE_REPOSITORY     repository location (instead of --repo)
  LETHE_PASSWORD       the repository password
  LETHE_PASSWORD_FILE  a file holding the repository password (instead of --password-file)
  LETHE_STATE_DIR      local state directory (instead of --state-dir; default /var/lib/lethe)
  LETHE_CONFIG         the agent's config file (instead of --config)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
                       credentials of an S3 repository`,
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
	f.BoolVar(&g.noLock, "no-lock", false, "do not lock the repository (read-only commands only; the others lock anyway)")
	f.StringVar(&g.configFile, "config", os.Getenv("LETHE_CONFIG"), "the agent's config `file`: its repositories, with --repo choosing one by name (env LETHE_CONFIG)")
	f.StringVar(&g.cpuProfile, "cpu-profile", "", "write a CPU profile of the command to `file`")
	_ = f.MarkHidden("cpu-profile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.cpuProfile == "" {
			return nil
		}
		stop, err := startCPUProfile(g.cpuProfile)
		g.stopCPUProfile = stop
		return err
	}

	root.AddCommand(
		newInitCommand(g),
		newBackupCommand(g),
		newSnapshotsCommand(g),
		newLsCommand(g),
		newRestoreCommand(g),
		newForgetCommand(g),
		newPruneCommand(g),
		newCheckCommand(g),
		newRepairCommand(g),
		newUnlockCommand(g),
		newKeyCommand(g),
		newCatCommand(g),
		newVersionCommand(g),
		newDemoCommand(g),
		newEraseCommand(g),
		newErasuresCommand(g),
		newReceiptsCommand(g),
		newScanCommand(g),
		newRedactCommand(g),
		newFindCommand(g),
		newIndexCommand(g),
		newConfigCommand(g),
		newAgentCommand(g),
	)
	return root, g
}

// configRepos returns the repositories of the config file --config
// names: all of them, or the one --repo names by its name or location.
// It returns none when --repo is a location the config does not have,
// which the command then opens as without a config.
func (g *globalOptions) configRepos() ([]config.Repository, error) {
	c, err := config.Load(g.configFile)
	if err != nil {
		return nil, err
	}
	if g.repo == "" {
		return c.Repositories, nil
	}
	for _, r := range c.Repositories {
		if r.Name == g.repo || r.Location == g.repo {
			return []config.Repository{r}, nil
		}
	}
	return nil, nil
}

// configRepoSpec is a configured repository as the jobs open it, with
// damage reported as for --repo.
func (g *globalOptions) configRepoSpec(r *config.Repository) jobs.Repo {
	spec := r.JobsRepo()
	spec.Repository = repository.Options{Warn: func(err error) { g.warnf("warning: %v\n", err) }, KDF: weakKDF()}
	return spec
}

// weakKDFEnv set to 1 gives new key files cheap scrypt parameters. It is
// for tests, which create and open repositories by the hundred (borg's
// BORG_TESTONLY_WEAKEN_KDF is the same idea); such a key hardly slows
// down guessing its password.
const weakKDFEnv = "LETHE_TESTONLY_WEAKEN_KDF"

// weakKDF returns the parameters weakKDFEnv asks for, or nil.
func weakKDF() *repository.KDFParams {
	if os.Getenv(weakKDFEnv) != "1" {
		return nil
	}
	return &repository.KDFParams{N: 1 << 10, R: 8, P: 1}
}

// warnWeakKDF says so when a new key gets weak parameters.
func (g *globalOptions) warnWeakKDF() {
	if weakKDF() != nil {
		g.warnf("warning: %s=1: the new key has weak scrypt parameters, for tests only\n", weakKDFEnv)
	}
}

// readPassword finds the password in the password file, LETHE_PASSWORD
// or, on a terminal, by asking.
func (g *globalOptions) readPassword(prompt string) (string, error) {
	if g.password != "" {
		return g.password, nil
	}
	pw, err := jobs.ReadPassword(g.passwordFile, os.Getenv("LETHE_PASSWORD"))
	if errors.Is(err, jobs.ErrNoPassword) {
		pw, err = askPassword(prompt)
	}
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

// repoSpec is the repository --repo and -o name, with the password from
// readPassword.
func (g *globalOptions) repoSpec() (jobs.Repo, error) {
	if g.repo == "" {
		return jobs.Repo{}, errors.New("no repository given: use --repo or LETHE_REPOSITORY")
	}
	return jobs.Repo{
		Location: g.repo,
		Options:  g.options,
		Password: func() (string, error) { return g.readPassword("enter password for repository: ") },
		// Damage a read skips is reported, as restic does.
		Repository: repository.Options{Warn: func(err error) { g.warnf("warning: %v\n", err) }, KDF: weakKDF()},
	}, nil
}

// openRepository opens the repository without locking it. The caller
// closes it with jobs.Close.
func (g *globalOptions) openRepository(ctx context.Context) (*repository.Repository, error) {
	r, err := g.repoSpec()
	if err != nil {
		return nil, err
	}
	repo, err := jobs.Open(ctx, r)
	return repo, suggestInit(err)
}

// suggestInit adds to an error that says there is no repository how to
// make one.
func suggestInit(err error) error {
	if errors.Is(err, location.ErrNoRepository) {
		return fmt.Errorf("%w (create a repository there with `lethe init`)", err)
	}
	return err
}

// access is what a command does to the repository, which decides its
// lock.
type access int

const (
	// reading takes a shared lock, or none with --no-lock.
	reading access = iota
	// adding (backup, new keys, tombstones) takes a shared lock: with
	// none, a prune could delete what it adds.
	adding
	// removing (forget, prune, key removal) takes an exclusive lock.
	removing
)

// lockedRepository opens the repository, locks it for a and optionally
// loads the index. It returns the context the command must run in (see
// jobs.Lock) and the function that unlocks and closes the repository.
func (g *globalOptions) lockedRepository(ctx context.Context, a access, loadIndex bool) (*repository.Repository, context.Context, func() error, error) {
	r, err := g.repoSpec()
	if err != nil {
		return nil, nil, nil, err
	}
	mode := jobs.Shared
	switch {
	case a == removing:
		mode = jobs.Exclusive
	case a == reading && g.noLock:
		mode = jobs.NoLock
	}
	repo, jobCtx, release, err := jobs.OpenLocked(ctx, r, mode, loadIndex)
	if err != nil {
		return nil, nil, nil, suggestInit(err)
	}
	if mode == jobs.Exclusive {
		g.resumeStarted(jobCtx, repo)
	}
	return repo, jobCtx, release, nil
}

// withRepository makes a command's RunE that opens the repository, locks
// it (exclusively, or shared for reading), optionally loads the index,
// runs fn under the lock's context and unlocks.
func (g *globalOptions) withRepository(exclusive, loadIndex bool, fn func(ctx context.Context, repo *repository.Repository, args []string) error) func(*cobra.Command, []string) error {
	a := reading
	if exclusive {
		a = removing
	}
	return g.withAccess(a, loadIndex, fn)
}

// withAccess is withRepository for any access.
func (g *globalOptions) withAccess(a access, loadIndex bool, fn func(ctx context.Context, repo *repository.Repository, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		repo, ctx, release, err := g.lockedRepository(cmd.Context(), a, loadIndex)
		if err != nil {
			return err
		}
		defer release()
		return fn(ctx, repo, args)
	}
}

// argsOf checks the number of arguments, between min and max (max < 0:
// no limit), and when it is wrong says what the command needs instead of
// cobra's count of arguments.
func argsOf(min, max int, need string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
		return fmt.Errorf("%s needs %s (usage: %s)", name, need, cmd.UseLine())
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
