package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/config"
	"lethe/agent/daemon"
	"lethe/agent/formats/gen"
	"lethe/agent/jobs"
	"lethe/agent/repository"
)

// demoPassword protects the demo repository; it is printed, as the demo
// is for looking at.
const demoPassword = "lethe-demo"

// demoNights is how many nights the demo's agent backs up: a week, and
// one more so that the oldest night leaves the seven-day window.
const demoNights = 8

// maxSocketPath is the longest path a unix socket can be bound to on
// Linux (sun_path holds 108 bytes with the final NUL).
const maxSocketPath = 107

type demoOptions struct {
	dir       string
	configOut string
	keep      bool
	seed      uint64
	// data sizes the generated business; nil: gen.SmallConfig(seed).
	// Tests of what does not depend on its size take a smaller one.
	data *gen.Config
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch the agent back up a sample business for a week and erase a customer",
		Long: `demo generates the server of a small Swedish business (customer registers,
mail, contacts, calendar, SQL dumps, logs, documents) and runs the agent on
it with a simulated clock: a week of nightly backups into a new local
repository, the business changing a little each day, forget and prune
keeping the seven-day window. Then a customer's erasure request arrives
over the agent's API, and the agent rewrites every snapshot without the
customer's records. A "crashed" server is restored on a fresh machine from
nothing but the repository and its password, with the erasure reapplied,
and the customer's signed receipt is printed in Swedish.

Every command the demo prints can be pasted into a shell while its
directory exists. Without --dir the demo works in a temporary directory
and removes it at the end, unless --keep is given. With --dir and
--config-out it also writes a config with which 'lethe agent --config FILE'
runs the agent on the demo's data (a backup every minute), the API socket
in the demo's directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "work in `directory`, which is kept (default: a new temporary directory)")
	f.StringVar(&o.configOut, "config-out", "", "write to `file` (a new one) a config with which lethe agent runs on the demo's data (needs --dir)")
	f.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	f.Uint64Var(&o.seed, "seed", 1, "random `number` the generated data is made from")
	return cmd
}

func runDemo(ctx context.Context, g *globalOptions, o demoOptions) (err error) {
	if o.configOut != "" && o.dir == "" {
		return errors.New("--config-out needs --dir: the config names the demo's files, and a temporary directory is gone at the end")
	}
	if o.configOut != "" {
		if o.configOut, err = filepath.Abs(o.configOut); err != nil {
			return err
		}
		if _, err := os.Lstat(o.configOut); err == nil {
			return fmt.Errorf("--config-out %s exists: the demo writes a new file", o.configOut)
		}
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lethe-demo-"); err != nil {
			return err
		}
		if !o.keep {
			defer func() {
				if rerr := os.RemoveAll(dir); rerr != nil {
					err = errors.Join(err, fmt.Errorf("removing the demo directory: %w", rerr))
					return
				}
				fmt.Fprintf(g.stdout, "\nremoved %s (--keep keeps it)\n", dir)
			}()
		}
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return fmt.Errorf("demo directory %s is not empty: choose another with --dir", dir)
		}
	}
	p := newDemoPaths(dir)
	if len(p.socket) > maxSocketPath {
		return fmt.Errorf("the API socket %s would be longer than a unix socket path may be (%d bytes): choose a shorter --dir", p.socket, maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	out := &lockedWriter{w: g.stdout}
	d := &demo{g: g, out: out, p: p, prog: demoProgram()}
	if err := d.run(ctx, o); err != nil {
		return err
	}
	if o.dir != "" || o.keep {
		fmt.Fprintf(out, "\nthe demo's files are kept in %s\n", dir)
	}
	return nil
}

// demo is one run of the demo.
type demo struct {
	g    *globalOptions
	out  io.Writer
	p    demoPaths
	prog string // how the printed commands call lethe
	ds   *gen.Dataset
	api  *demoAPI
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// section starts a part of the story.
func (d *demo) section(title string) { d.printf("\n== %s\n\n", title) }

// command prints a command as it is typed: with the repository and its
// password file when it opens the repository.
func (d *demo) command(repo bool, args ...string) {
	line := d.prog + " " + shellJoin(args)
	if repo {
		line = "LETHE_PASSWORD_FILE=" + shellQuote(d.p.password) + " " + d.prog + " -r " + shellQuote(d.p.repo) + " " + shellJoin(args)
	}
	d.printf("$ %s\n", line)
}

// lethe prints a command and runs it; its output goes to w (nil: the
// demo's output).
func (d *demo) lethe(ctx context.Context, w io.Writer, repo bool, args ...string) int {
	d.command(repo, args...)
	if w == nil {
		w = d.out
	}
	full := args
	if repo {
		full = append([]string{"-r", d.p.repo, "--password-file", d.p.password}, args...)
	}
	return run(ctx, full, w, d.g.stderr)
}

// rules are the flags that tell commands without the config how the
// business's records name a customer.
func (d *demo) rules() []string {
	r := []string{"--kind", d.ds.CustomKind + "=" + d.ds.CustomPattern, "--path-rule", d.ds.PathRule}
	for _, c := range d.ds.NameColumns {
		r = append(r, "--name-column", c)
	}
	return r
}

func (d *demo) run(ctx context.Context, o demoOptions) error {
	p := d.p
	d.printf("lethe demo: a week in the life of a small business's backup agent\n\n")
	d.printf("working in %s; the repository's password is %q, in %s\n", p.dir, demoPassword, p.password)
	d.printf("(every command shown can be pasted into a shell while that directory exists)\n")

	data := gen.SmallConfig(o.seed)
	if o.data != nil {
		data = *o.data
	}
	var err error
	if d.ds, err = gen.Generate(p.server, data); err != nil {
		return fmt.Errorf("generating sample data: %w", err)
	}
	subject := d.ds.Subjects[0]
	if err := os.WriteFile(p.password, []byte(demoPassword+"\n"), 0o600); err != nil {
		return err
	}
	// A repository with a quick key derivation: every job of the agent
	// opens it, and the demo's password is no secret to guard.
	repo, err := jobs.Init(ctx, jobs.Repo{Location: p.repo, Password: func() (string, error) { return demoPassword, nil }},
		repository.InitOptions{KDF: &repository.KDFParams{N: 1 << 10, R: 8, P: 1}})
	if err != nil {
		return fmt.Errorf("creating the demo repository: %w", err)
	}
	if err := jobs.Close(repo); err != nil {
		return err
	}
	d.printf("\nthe business's server: %d generated files in %s\n(customer registers, mail, contacts, a calendar, SQL dumps, logs, documents)\n", len(d.ds.Files), p.server)
	d.printf("\nan empty repository in %s, as this makes one (the demo's with a quicker key\nderivation, as its password is no secret):\n", p.repo)
	d.command(true, "init")

	const nightly = "0 2 * * *"
	cfgText := demoConfig(p, d.ds, nightly, "every night at 02:00")
	cfg, err := config.Parse("the demo's config", []byte(cfgText))
	if err != nil {
		return fmt.Errorf("the demo's config: %w", err)
	}
	nights := demoNightsBefore(cfg.Schedules.Backup, time.Now(), demoNights)
	if len(nights) < demoNights {
		return errors.New("the demo's backup schedule has no nights")
	}
	start := nights[0].Add(-8 * time.Hour)
	if err := demoSetTimes(p.server, start); err != nil {
		return err
	}

	d.section("the agent")
	d.printf("the agent runs with this config, its clock set back to %s and jumping from night to night:\n\n", start.Format("Mon 2006-01-02 15:04"))
	for _, l := range strings.Split(strings.TrimSpace(cfgText), "\n") {
		d.printf("    %s\n", l)
	}
	d.printf("\n")
	clock := newDemoClock(start)
	ag, err := startDemoDaemon(ctx, cfg, clock, d.out)
	if err != nil {
		return err
	}
	defer ag.stop()
	d.api = newDemoAPI(p.socket)
	defer d.api.close()
	settle := ag.settle
	if err := settle(); err != nil {
		return err
	}

	d.section("a week of nightly backups")
	d.printf("(until it holds seven nights, the agent warns of the window's gaps)\n")
	for i, night := range nights {
		if i > 0 {
			day := night.Add(-16 * time.Hour)
			if err := demoAdvance(clock, day, settle); err != nil {
				return err
			}
			var writer *gen.Subject
			if i == len(nights)-1 {
				writer = &subject
			}
			what, err := demoDayOfWork(d.ds, i, day, writer)
			if err != nil {
				return fmt.Errorf("a day of work on the sample server: %w", err)
			}
			d.printf("  %s, during the day: %s\n", day.Format("Mon 2006-01-02"), what)
		}
		if err := demoAdvance(clock, night, settle); err != nil {
			return err
		}
	}
	// From here the agent's clock is the machine's (or a moment ahead,
	// when the last night was just now).
	if err := demoAdvance(clock, time.Now(), settle); err != nil {
		return err
	}

	if err := d.window(ctx); err != nil {
		return err
	}
	id, err := d.erasure(ctx, subject)
	if err != nil {
		return err
	}
	if err := settle(); err != nil {
		return err
	}
	if err := d.erasureStatus(ctx, id); err != nil {
		return err
	}
	if err := d.freshRestore(ctx); err != nil {
		return err
	}
	if err := d.receipt(ctx, id); err != nil {
		return err
	}
	d.section("the end")
	d.printf("the agent stops, as on SIGTERM: it ends its jobs and removes its socket\n")
	d.api.close()
	if err := ag.stop(); err != nil {
		return fmt.Errorf("the agent: %w", err)
	}
	if err := d.resticCheck(ctx); err != nil {
		return err
	}
	if o.configOut != "" {
		return d.writeConfig(o.configOut)
	}
	return nil
}

// demoDaemon is the agent the demo runs in its own process.
type demoDaemon struct {
	d      *daemon.Daemon
	ctx    context.Context // the demo's
	runCtx context.Context // the agent's: ends when it stops
	cancel context.CancelFunc
	done   chan error
	err    error
	ended  bool
}

// startDemoDaemon runs the agent with cfg on clock, its log on out, until
// stop is called or ctx is done.
func startDemoDaemon(ctx context.Context, cfg *config.Config, clock daemon.Clock, out io.Writer) (*demoDaemon, error) {
	d, err := daemon.New(daemon.Options{
		Config:  cfg,
		Eraser:  daemon.NewEngine(cfg),
		Clock:   clock,
		Log:     slog.New(&demoLogHandler{w: out, clock: clock}),
		Version: version,
		Notify:  quietNotifier{},
	})
	if err != nil {
		return nil, err
	}
	a := &demoDaemon{d: d, ctx: ctx, done: make(chan error, 1)}
	a.runCtx, a.cancel = context.WithCancel(ctx)
	go func() {
		err := d.Run(a.runCtx)
		a.cancel() // an agent that ended by itself leaves nothing to wait for
		a.done <- err
	}()
	return a, nil
}

// settle waits until the agent has done what is due at its clock's time.
func (a *demoDaemon) settle() error {
	err := a.d.Settle(a.runCtx)
	if err != nil && a.ctx.Err() == nil {
		if err := a.stop(); err != nil {
			return fmt.Errorf("the agent stopped: %w", err)
		}
		return errors.New("the agent stopped")
	}
	return err
}

// stop stops the agent and returns what its Run returned.
func (a *demoDaemon) stop() error {
	if !a.ended {
		a.cancel()
		a.err, a.ended = <-a.done, true
	}
	return a.err
}

// demoNightsBefore returns the last n backup slots of s at or before now.
func demoNightsBefore(s config.Schedule, now time.Time, n int) []time.Time {
	var all []time.Time
	for t := s.Next(now.AddDate(0, 0, -n-2)); !t.IsZero() && !t.After(now); t = s.Next(t) {
		all = append(all, t)
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// demoAdvance moves the agent's clock to at, stopping at every time a
// timer of the agent is set for on the way so that each job runs at its
// time, and lets the agent finish what is due.
func demoAdvance(c *demoClock, at time.Time, settle func() error) error {
	for {
		next, ok := c.next()
		if !ok || next.After(at) {
			c.jump(at)
			return settle()
		}
		c.jump(next)
		if err := settle(); err != nil {
			return err
		}
	}
}

// window shows the agent's status as the API reports it: the seven-day
// window and the snapshots.
func (d *demo) window(ctx context.Context) error {
	d.section("the seven-day window")
	d.printf("$ %s\n", d.api.curl(http.MethodGet, "/v1/status", nil, ""))
	data, err := d.api.do(ctx, http.MethodGet, "/v1/status", nil, http.StatusOK)
	if err != nil {
		return err
	}
	var st daemon.Status
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("the agent's status: %w", err)
	}
	for _, r := range st.Repositories {
		if r.Window == nil {
			return fmt.Errorf("the agent reports no window for repository %s", r.Name)
		}
		w := r.Window
		days := len(w.Days) - w.Missing
		d.printf("repository %s: %d snapshots; the window holds a backup of every source on %d of %d days:\n", r.Name, r.Snapshots, days, len(w.Days))
		for _, day := range w.Days {
			mark := "backed up"
			if !day.Complete {
				mark = "MISSING " + strings.Join(day.Missing, ", ")
			}
			d.printf("  %s  %s\n", day.Date, mark)
		}
		if !w.Complete {
			return fmt.Errorf("the demo's window has %d days without a backup", w.Missing)
		}
	}
	for _, s := range st.Schedules {
		if s.Job == "backup" && !s.Next.IsZero() {
			d.printf("the next backup: %s\n", s.Next.Format("Mon 2006-01-02 15:04"))
		}
	}
	d.printf("\n")
	if code := d.lethe(ctx, nil, true, "snapshots"); code != exitOK {
		return fmt.Errorf("lethe snapshots failed with exit status %d", code)
	}
	return nil
}

// erasure files the subject's erasure request over the API, as the
// business's software would, and returns its id.
func (d *demo) erasure(ctx context.Context, s gen.Subject) (string, error) {
	d.section("an erasure request")
	type ident struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	}
	ids := []ident{{"email", s.Email}, {"phone", s.Phone}, {"personnummer", s.Personnummer}, {"name", s.Name}}
	if s.Orgnr != "" {
		ids = append(ids, ident{"orgnr", s.Orgnr})
	}
	ids = append(ids, ident{"custom:" + d.ds.CustomKind, s.CustomerNo})
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Identifiers []ident `json:"identifiers"`
		Reason      string  `json:"reason"`
		Reference   string  `json:"reference"`
	}{ids, "17(1)(a)", "DEMO-1"}); err != nil {
		return "", err
	}
	req := bytes.TrimSpace(body.Bytes())
	// The request is the one place the demo shows the customer's
	// identifiers: it is what the business sends. The agent keeps only
	// their fingerprints, and its log names none.
	d.printf("the customer's mail is answered: the business's software files the erasure request\nover the agent's API (the identifiers are the generated customer's):\n")
	d.printf("$ %s\n", d.api.curl(http.MethodPost, "/v1/erasures", req, ""))
	data, err := d.api.do(ctx, http.MethodPost, "/v1/erasures", req, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var st daemon.ErasureStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return "", fmt.Errorf("the agent's answer to the erasure request: %w", err)
	}
	d.printf("201 Created: erasure %s, %s, identifiers kept as %s, to answer by %s\n",
		st.ID, st.State, strings.Join(st.Masked, ", "), st.Deadline.Format(time.DateOnly))
	d.printf("the agent rewrites every snapshot without the customer's records, prunes what held them and verifies:\n")
	return st.ID, nil
}

// erasureStatus shows the erasure's state as the API reports it.
func (d *demo) erasureStatus(ctx context.Context, id string) error {
	path := "/v1/erasures/" + id
	d.printf("\n$ %s\n", d.api.curl(http.MethodGet, path, nil, ""))
	data, err := d.api.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return err
	}
	var st daemon.ErasureStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("the erasure's status: %w", err)
	}
	var repos []string
	for _, r := range st.Repositories {
		repos = append(repos, r.Repository+": "+r.State)
	}
	d.printf("erasure %s: %s (%s)\n\n", st.ID, st.State, strings.Join(repos, ", "))
	if st.State != "complete" {
		return fmt.Errorf("the erasure is %s, not complete", st.State)
	}
	if code := d.lethe(ctx, nil, true, "snapshots"); code != exitOK {
		return fmt.Errorf("lethe snapshots failed with exit status %d", code)
	}
	d.printf("(the snapshots have new ids: each was rewritten, its time kept)\n")
	return nil
}

// freshRestore restores the latest snapshot on a "new machine" and
// compares it with the live server redacted by hand.
func (d *demo) freshRestore(ctx context.Context) error {
	p := d.p
	d.section("the server crashes")
	fresh := filepath.Join(p.dir, "fresh-machine")
	target := filepath.Join(fresh, "restore")
	d.printf("a new machine has nothing but the repository and its password; the restore\nreads the erasure from the repository and reapplies it:\n")
	args := append([]string{"restore", "latest", "--target", target, "--state-dir", filepath.Join(fresh, "state")}, d.rules()...)
	if code := d.lethe(ctx, nil, true, args...); code != exitOK {
		return fmt.Errorf("lethe restore on the fresh machine failed with exit status %d", code)
	}
	restored := filepath.Join(target, p.server)
	same, cut, gone, err := demoCompare(p.server, restored)
	if err != nil {
		return err
	}
	d.printf("of the live server's %d files, %d are restored byte-identical, %d without the customer's\n"+
		"records, and %d that were wholly the customer's are not restored\n\n", same+cut+gone, same, cut, gone)

	redacted := filepath.Join(p.dir, "redacted")
	d.printf("the same erasure applied to the live server by hand:\n")
	args = append(append([]string{"redact", "--tombstones", "--out", redacted, "--state-dir", p.state}, d.rules()...), p.server)
	if code := d.lethe(ctx, nil, false, args...); code != exitOK {
		return fmt.Errorf("lethe redact failed with exit status %d", code)
	}
	if err := compareTrees(redacted, restored); err != nil {
		return fmt.Errorf("the restore on the fresh machine is not the redacted live server: %w", err)
	}
	d.printf("the restore in %s equals the redacted copy in %s:\nthe customer's records are gone, every other byte is as it was\n", target, redacted)
	return nil
}

// receipt fetches the erasure's receipt over the API, prints it in
// Swedish, and verifies the signed file with the published key.
func (d *demo) receipt(ctx context.Context, id string) error {
	p := d.p
	d.section("the customer's receipt")
	path := "/v1/receipts/" + id + "?format=text&lang=sv"
	d.printf("$ %s\n", d.api.curl(http.MethodGet, path, nil, ""))
	text, err := d.api.do(ctx, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return err
	}
	d.printf("%s\n", bytes.TrimRight(text, "\n"))

	file := filepath.Join(p.dir, "receipt-"+id+".json")
	d.printf("\nthe signed receipt, and the key the business publishes, let anyone check it:\n")
	d.printf("$ %s\n", d.api.curl(http.MethodGet, "/v1/receipts/"+id, nil, file))
	signed, err := d.api.do(ctx, http.MethodGet, "/v1/receipts/"+id, nil, http.StatusOK)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, signed, 0o600); err != nil {
		return err
	}
	key := filepath.Join(p.dir, "receipt-key.pem")
	var pem bytes.Buffer
	d.command(false, "receipts", "pubkey", "--state-dir", p.state)
	if code := run(ctx, []string{"receipts", "pubkey", "--state-dir", p.state}, &pem, d.g.stderr); code != exitOK {
		return fmt.Errorf("lethe receipts pubkey failed with exit status %d", code)
	}
	d.printf("%s", pem.String())
	if err := os.WriteFile(key, pem.Bytes(), 0o644); err != nil {
		return err
	}
	d.printf("(written to %s)\n", key)
	if code := d.lethe(ctx, nil, false, "receipts", "verify", file, "--pubkey", key); code != exitOK {
		return fmt.Errorf("the receipt does not verify with the published key (exit status %d)", code)
	}
	return nil
}

// resticCheck has restic check the repository when it is installed: the
// demo needs nothing but lethe.
func (d *demo) resticCheck(ctx context.Context) error {
	path, err := exec.LookPath("restic")
	if err != nil {
		d.printf("(restic is not installed; with it, `restic check --read-data` would check the repository too)\n")
		return nil
	}
	d.printf("\n$ RESTIC_PASSWORD_FILE=%s restic --no-cache -r %s check --read-data\n", shellQuote(d.p.password), shellQuote(d.p.repo))
	c := exec.CommandContext(ctx, path, "--no-cache", "-r", d.p.repo, "check", "--read-data")
	c.Env = append(os.Environ(), "RESTIC_PASSWORD_FILE="+d.p.password)
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("restic check of the demo repository failed: %v\n%s", err, out)
	}
	d.printf("restic: %s\n", lastLine(out))
	return nil
}

// writeConfig writes the config with which `lethe agent` runs on the
// demo's data: a backup every minute.
func (d *demo) writeConfig(file string) error {
	text := demoConfig(d.p, d.ds, "* * * * *", "every minute, for trying it; nightly is 0 2 * * *")
	if _, err := config.Parse(file, []byte(text)); err != nil {
		return fmt.Errorf("the demo's config: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the demo's config: %w", err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the demo's config: %w", err)
	}
	d.section("your turn")
	d.printf("wrote %s: with it the agent backs up the sample server every minute\n", file)
	d.printf("$ %s\n", d.prog+" agent --config "+shellQuote(file))
	d.printf("and in another shell:\n$ %s\n", d.api.curl(http.MethodGet, "/v1/status", nil, ""))
	return nil
}

// quietNotifier keeps the demo's agent from talking to systemd, should
// the demo run under it.
type quietNotifier struct{}

func (quietNotifier) Notify(string)                   {}
func (quietNotifier) WatchdogInterval() time.Duration { return 0 }

// demoProgram is how the printed commands call lethe: by name when it is
// on PATH, as `go run ./cmd/lethe` when the demo was started so, else by
// the running program's path.
func demoProgram() string {
	if _, err := exec.LookPath("lethe"); err == nil {
		return "lethe"
	}
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/lethe"
	}
	return shellQuote(exe)
}

// demoCompare counts the files of the live tree that the restore holds
// byte-identical, holds changed, and lacks.
func demoCompare(live, restored string) (same, changed, missing int, err error) {
	err = filepath.WalkDir(live, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(live, p)
		a, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(restored, rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing++
		case err != nil:
			return err
		case bytes.Equal(a, b):
			same++
		default:
			changed++
		}
		return nil
	})
	return same, changed, missing, err
}

// compareTrees checks that b holds exactly a's files with a's content,
// modes and modification times.
func compareTrees(a, b string) error {
	seen := 0
	err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		other := filepath.Join(b, rel)
		ai, err := os.Lstat(p)
		if err != nil {
			return err
		}
		bi, err := os.Lstat(other)
		if err != nil {
			return fmt.Errorf("%s missing in the restore", rel)
		}
		if ai.Mode() != bi.Mode() {
			return fmt.Errorf("%s: mode %v, restored %v", rel, ai.Mode(), bi.Mode())
		}
		if ai.Mode().IsRegular() {
			if !ai.ModTime().Equal(bi.ModTime()) {
				return fmt.Errorf("%s: mtime %v, restored %v", rel, ai.ModTime(), bi.ModTime())
			}
			x, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			y, err := os.ReadFile(other)
			if err != nil {
				return err
			}
			if !bytes.Equal(x, y) {
				return fmt.Errorf("%s: content differs", rel)
			}
		}
		seen++
		return nil
	})
	if err != nil {
		return err
	}
	var count int
	err = filepath.WalkDir(b, func(string, fs.DirEntry, error) error { count++; return nil })
	if err == nil && count != seen {
		return fmt.Errorf("the restore holds %d entries, the source %d", count, seen)
	}
	return err
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// shellQuote quotes s for a POSIX shell unless it needs no quotes.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin renders arguments as a shell would need them typed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
