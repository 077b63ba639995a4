package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/formats/gen"
)

// demoPassword protects the demo repository; it is printed, as the demo
// is for looking at.
const demoPassword = "lethe-demo"

func newDemoCommand(g *globalOptions) *cobra.Command {
	var (
		dir  string
		seed uint64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Back up a generated sample business into a local repository and restore it",
		Long: `demo generates the server of a small Swedish business (customer registers,
mail, contacts, calendar, SQL dumps, logs, documents), backs it up three
times over three days into a new local repository, lists the snapshots,
restores the latest one and checks that it is byte-identical. Then a
customer asks to be erased: the demo records the erasure, finds and redacts
the customer's records in the live data, restores on a "fresh machine" with
the customer's records withheld, and backs up again without them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, dir, seed)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "work in `directory` (default: a new temporary directory)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random `number` the generated data is made from")
	return cmd
}

func runDemo(ctx context.Context, g *globalOptions, dir string, seed uint64) error {
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "lethe-demo-"); err != nil {
			return err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	server, repo, target := filepath.Join(dir, "server"), filepath.Join(dir, "repo"), filepath.Join(dir, "restore")
	for _, p := range []string{server, repo, target} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("demo directory %s is not empty: choose another with --dir", dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(demoPassword+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "lethe demo in %s (repository password: %s)\n\n", dir, demoPassword)

	ds, err := gen.Generate(server, gen.SmallConfig(seed))
	if err != nil {
		return fmt.Errorf("generating sample data: %w", err)
	}
	fmt.Fprintf(g.stdout, "generated a sample business server: %d files in %s\n\n", len(ds.Files), server)

	lethe := func(args ...string) error {
		fmt.Fprintf(g.stdout, "$ lethe %s\n", shellJoin(args))
		full := append([]string{"-r", repo, "--password-file", pwFile}, args...)
		if code := run(ctx, full, g.stdout, g.stderr); code != exitOK {
			return fmt.Errorf("lethe %s failed with exit status %d", args[0], code)
		}
		fmt.Fprintln(g.stdout)
		return nil
	}
	if err := lethe("init"); err != nil {
		return err
	}
	day := time.Now().AddDate(0, 0, -2).Truncate(24 * time.Hour).Add(2 * time.Hour)
	for i := 0; i < 3; i++ {
		if i > 0 {
			if err := demoDayOfWork(server, i); err != nil {
				return err
			}
		}
		if err := lethe("backup", "--host", "demo-server", "--tag", "nightly", "--time", day.AddDate(0, 0, i).Format(time.DateTime), server); err != nil {
			return err
		}
	}
	if err := lethe("snapshots"); err != nil {
		return err
	}
	if err := lethe("restore", "latest", "--target", target); err != nil {
		return err
	}
	restored := filepath.Join(target, server)
	if err := compareTrees(server, restored); err != nil {
		return fmt.Errorf("restored data differs from the source: %w", err)
	}
	fmt.Fprintf(g.stdout, "the restore in %s is byte-identical to %s\n\n", restored, server)
	if err := lethe("check", "--read-data"); err != nil {
		return err
	}
	if err := demoErasure(ctx, g, ds, repo, pwFile, filepath.Join(dir, "state"), filepath.Join(dir, "redacted")); err != nil {
		return err
	}
	if p, err := exec.LookPath("restic"); err == nil {
		fmt.Fprintf(g.stdout, "$ restic -r %s check --read-data\n", repo)
		c := exec.CommandContext(ctx, p, "--no-cache", "-r", repo, "--password-file", pwFile, "check", "--read-data")
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("restic check of the demo repository failed: %v\n%s", err, out)
		}
		fmt.Fprintf(g.stdout, "restic: %s\n", lastLine(out))
	} else {
		fmt.Fprintln(g.stdout, "(restic is not installed; with it, `restic check --read-data` would verify the repository too)")
	}
	return nil
}

// demoDayOfWork changes the sample server as a day of business would:
// a log grows and a note of the day is written.
func demoDayOfWork(server string, day int) error {
	log := filepath.Join(server, "var", "log", "lethe-demo.log")
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "day %d: orders processed\n", day)
	if err := f.Close(); err != nil {
		return err
	}
	note := filepath.Join(server, "notes", fmt.Sprintf("day-%d.txt", day))
	if err := os.MkdirAll(filepath.Dir(note), 0o755); err != nil {
		return err
	}
	return os.WriteFile(note, []byte(fmt.Sprintf("Notes of day %d: call the supplier about invoice %d.\n", day, 1000+day)), 0o644)
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

// demoErasure records an erasure request for the first generated customer,
// shows where the customer occurs in the live data and writes a redacted
// copy that no longer holds them.
func demoErasure(ctx context.Context, g *globalOptions, ds *gen.Dataset, repo, pwFile, state, redacted string) error {
	subject := ds.Subjects[0]
	rules := []string{"--state-dir", state, "--kind", ds.CustomKind + "=" + ds.CustomPattern, "--path-rule", ds.PathRule}
	for _, c := range ds.NameColumns {
		rules = append(rules, "--name-column", c)
	}
	// The identifiers are the demo's own generated customer; they are
	// shown here so the commands can be read, and lethe keeps only their
	// fingerprints.
	var ids []string
	for _, id := range subject.IDs(ds.CustomKind) {
		ids = append(ids, "--id", id)
	}
	lethe := func(show bool, args ...string) (string, int) {
		fmt.Fprintf(g.stdout, "$ lethe %s\n", shellJoin(args))
		var out bytes.Buffer
		w := g.stdout
		if !show {
			w = &out
		}
		code := run(ctx, append([]string{"-r", repo, "--password-file", pwFile}, args...), w, g.stderr)
		return out.String(), code
	}
	fmt.Fprintf(g.stdout, "a customer asks to be erased, also from the backup; lethe records the request and rewrites every snapshot without the customer's records:\n")
	erase := append(append([]string{"erase", "--reason", "17(1)(a)", "--reference", "DEMO-1",
		"--business-name", "Demoföretaget AB", "--business-contact", "dataskydd@demo.example"}, rules...), ids...)
	out, code := lethe(false, erase...)
	fmt.Fprint(g.stdout, out)
	if code != exitOK {
		return fmt.Errorf("lethe erase failed with exit status %d", code)
	}
	fmt.Fprintln(g.stdout)
	receipt := ""
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), "receipt "); ok {
			receipt, _, _ = strings.Cut(r, " ")
		}
	}
	if receipt == "" {
		return errors.New("lethe erase issued no receipt")
	}
	fmt.Fprintf(g.stdout, "the receipt the business sends the customer, signed:\n")
	if _, code := lethe(true, "receipts", "show", receipt, "--lang", "sv", "--state-dir", state); code != exitOK {
		return fmt.Errorf("lethe receipts show failed with exit status %d", code)
	}
	fmt.Fprintln(g.stdout)
	if _, code := lethe(true, "erasures", "list", "--state-dir", state); code != exitOK {
		return fmt.Errorf("lethe erasures list failed with exit status %d", code)
	}
	fmt.Fprintln(g.stdout)
	out, code = lethe(false, append(append([]string{"scan", "--tombstones"}, rules...), ds.Root)...)
	if code != exitIncomplete {
		return fmt.Errorf("lethe scan found no record of the erased customer (exit status %d)", code)
	}
	hits := strings.Split(strings.TrimSpace(out), "\n")
	files := map[string]bool{}
	for _, h := range hits {
		var hit struct {
			Path string `json:"path"`
		}
		if json.Unmarshal([]byte(h), &hit) == nil {
			files[hit.Path] = true
		}
	}
	fmt.Fprintf(g.stdout, "%s\n... %d records of the customer in %d files and folders of the live server (exit status 3)\n\n", hits[0], len(hits), len(files))
	if _, code := lethe(true, append(append([]string{"redact", "--tombstones", "--out", redacted}, rules...), ds.Root)...); code != exitOK {
		return fmt.Errorf("lethe redact failed with exit status %d", code)
	}
	fmt.Fprintln(g.stdout)
	if _, code := lethe(false, append(append([]string{"scan", "--tombstones"}, rules...), redacted)...); code != exitOK {
		return fmt.Errorf("the redacted copy still holds the customer (exit status %d)", code)
	}
	fmt.Fprintf(g.stdout, "the redacted copy in %s holds no record of the customer; every other byte is unchanged\n\n", redacted)

	// The server crashes; a new machine has nothing but the repository and
	// its password. The restore reapplies the erasure from the repository.
	fresh := filepath.Join(filepath.Dir(state), "fresh-machine")
	target := filepath.Join(fresh, "restore")
	freshRules := append([]string{"--state-dir", filepath.Join(fresh, "state")}, rules[2:]...)
	fmt.Fprintf(g.stdout, "the server crashes; a new machine restores the latest backup:\n")
	if _, code := lethe(true, append([]string{"restore", "latest", "--target", target}, freshRules...)...); code != exitOK {
		return fmt.Errorf("lethe restore on the fresh machine failed with exit status %d", code)
	}
	if err := compareTrees(redacted, filepath.Join(target, ds.Root)); err != nil {
		return fmt.Errorf("the restore on the fresh machine is not the redacted copy: %w", err)
	}
	fmt.Fprintf(g.stdout, "the restore in %s equals the redacted copy: the customer's records were withheld\n\n", target)

	fmt.Fprintf(g.stdout, "the next nightly backup keeps the customer out, and says that the live server still holds them:\n")
	if _, code := lethe(true, append([]string{"backup", "--host", "demo-server", "--tag", "nightly"}, append(freshRules, ds.Root)...)...); code != exitErasedKeptOut {
		return fmt.Errorf("lethe backup after the erasure: exit status %d, want %d", code, exitErasedKeptOut)
	}
	fmt.Fprintf(g.stdout, "(exit status %d: the snapshot is saved without the customer)\n\n", exitErasedKeptOut)
	return nil
}

// shellJoin renders arguments as a shell would need them typed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"{}[]*$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
