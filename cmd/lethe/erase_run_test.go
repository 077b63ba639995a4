package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lethe/agent/formats/gen"
	"lethe/agent/repository/restictest"
)

// TestMain lets a test run this binary as lethe itself (for killing it,
// or stopping it with SIGTERM as main does).
func TestMain(m *testing.M) {
	if os.Getenv("LETHE_TEST_RUN_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// erasureFixture is a repository with three nightly backups of a
// generated business and an erasure request for its first customer.
type erasureFixture struct {
	base, root, repo, want string
	ds                     *gen.Dataset
	rules, ids             []string
	before                 snapshotList
	// restic runs the real restic on the repository.
	restic func(t *testing.T, args ...string) string
}

// fixtureOptions say where the fixture's repository is and who writes it.
type fixtureOptions struct {
	repo     string // empty: a local one
	byRestic bool   // restic initialises it and takes the backups
	restic   func(t *testing.T, args ...string) string
}

func newErasureFixture(t *testing.T, opts ...fixtureOptions) *erasureFixture {
	t.Helper()
	if len(opts) == 0 {
		setupEnv(t)
		opts = append(opts, fixtureOptions{})
	}
	o := opts[0]
	f := &erasureFixture{base: t.TempDir(), repo: o.repo, restic: o.restic}
	f.root = filepath.Join(f.base, "server")
	ds, err := gen.Generate(f.root, gen.SmallConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	f.ds = ds
	if f.repo == "" {
		f.repo = filepath.Join(f.base, "repo")
	}
	if f.restic == nil {
		f.restic = func(t *testing.T, a ...string) string { t.Helper(); return restictest.Run(t, f.repo, a...) }
	}
	f.rules = ruleArgs(ds)
	for _, id := range ds.Subjects[0].IDs(ds.CustomKind) {
		f.ids = append(f.ids, "--id", id)
	}
	if o.byRestic {
		f.restic(t, "init")
	} else {
		mustLethe(t, "-r", f.repo, "init")
	}
	for d := 1; d <= 3; d++ {
		when := fmt.Sprintf("2026-11-%02d 02:00:00", d)
		if o.byRestic {
			f.restic(t, "backup", "--host", "kontoret", "--tag", "nightly", "--time", when, f.root)
			continue
		}
		mustLethe(t, args("-r", f.repo, "backup", "--host", "kontoret", "--tag", "nightly", "--time", when, f.root)...)
	}
	f.before = snapshots(t, f.repo)
	// What every snapshot must restore to afterwards: the source as
	// `lethe redact` leaves it, with the request recorded elsewhere.
	f.want = filepath.Join(f.base, "want")
	redactState := filepath.Join(f.base, "redact-state")
	mustLethe(t, args("erase", "--state-dir", redactState, "--reason", "17(1)(a)", f.rules, f.ids)...)
	mustLethe(t, args("redact", "--tombstones", "--state-dir", redactState, "--out", f.want, f.rules, f.root)...)
	return f
}

// checkErased asserts, with restic, that the repository is clean, its
// snapshots keep their metadata, and each restores to the source minus
// exactly the subject's records.
func (f *erasureFixture) checkErased(t *testing.T) {
	t.Helper()
	if out := f.restic(t, "check", "--read-data"); !strings.Contains(out, "no errors were found") {
		t.Fatalf("restic check --read-data:\n%s", out)
	}
	var after snapshotList
	if err := json.Unmarshal([]byte(f.restic(t, "snapshots", "--json")), &after); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(f.before) {
		t.Fatalf("restic lists %d snapshots, want %d", len(after), len(f.before))
	}
	byTime := func(l snapshotList) {
		sort.Slice(l, func(i, j int) bool { return l[i].Time.Before(l[j].Time) })
	}
	byTime(after)
	byTime(f.before)
	for i, s := range after {
		old := f.before[i]
		if !s.Time.Equal(old.Time) || s.Hostname != old.Hostname || !slices.Equal(s.Paths, old.Paths) || !slices.Equal(s.Tags, old.Tags) {
			t.Errorf("snapshot %d changed its metadata: %+v, was %+v", i, s, old)
		}
		if s.Original != old.ID {
			t.Errorf("snapshot %d: original %q, want %s", i, s.Original, old.ID)
		}
		target := filepath.Join(t.TempDir(), "restic")
		f.restic(t, "restore", s.ID, "--target", target)
		if err := compareTrees(f.want, filepath.Join(target, f.root)); err != nil {
			t.Fatalf("restic's restore of rewritten snapshot %d: %v", i, err)
		}
	}
}

func TestEraseRewritesEverySnapshot(t *testing.T) {
	f := newErasureFixture(t)
	out := mustLethe(t, args("-r", f.repo, "erase", "--reason", "17(1)(a)", "--reference", "T-1", f.rules, f.ids,
		"--business-name", "Kontoret AB", "--business-contact", "info@kontoret.example")...)
	for _, w := range []string{"recorded erasure ", "3 of 3 snapshots rewritten", "removed ", "pruned: ", "verified (index)", "nothing of the subject left", "receipt "} {
		if !strings.Contains(out, w) {
			t.Errorf("erase output lacks %q:\n%s", w, out)
		}
	}
	f.checkErased(t)

	// The receipt is final, states the rewrite and verifies.
	var rid string
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), "receipt "); ok {
			rid, _, _ = strings.Cut(r, " ")
		}
	}
	signed := mustLethe(t, "-r", f.repo, "receipts", "show", rid, "--format", "json")
	file := filepath.Join(f.base, "receipt.json")
	if err := os.WriteFile(file, []byte(signed), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "-r", f.repo, "receipts", "verify", file)
	var rc struct {
		Receipt struct {
			Final        bool `json:"final"`
			Repositories []struct {
				State          string                     `json:"state"`
				Snapshots      []struct{ Outcome string } `json:"snapshots"`
				RecordsRemoved map[string]int64           `json:"records_removed"`
				Verification   struct{ Result string }    `json:"verification"`
			} `json:"repositories"`
		} `json:"receipt"`
	}
	if err := json.Unmarshal([]byte(signed), &rc); err != nil {
		t.Fatal(err)
	}
	r := rc.Receipt
	if !r.Final || len(r.Repositories) != 1 || r.Repositories[0].State != "complete" || len(r.Repositories[0].Snapshots) != 3 ||
		r.Repositories[0].Snapshots[0].Outcome != "rewritten" || r.Repositories[0].RecordsRemoved["csv"] == 0 || r.Repositories[0].Verification.Result != "passed" {
		t.Errorf("receipt: %+v", r)
	}
	text := mustLethe(t, "-r", f.repo, "receipts", "show", rid, "--lang", "sv")
	out += signed + text

	// The erasure is complete; restores have nothing left to withhold.
	list := mustLethe(t, "-r", f.repo, "--json", "erasures", "list")
	if !strings.Contains(list, `"complete"`) || !strings.Contains(list, "verified") {
		t.Errorf("erasures list does not show the erasure complete:\n%s", list)
	}
	target := filepath.Join(f.base, "restore")
	mustLethe(t, args("-r", f.repo, "restore", "latest", "--target", target, f.rules)...)
	if err := compareTrees(f.want, filepath.Join(target, f.root)); err != nil {
		t.Fatal(err)
	}
	if out := mustLethe(t, "-r", f.repo, "erasures", "resume"); !strings.Contains(out, "no pending erasures") {
		t.Errorf("resume after completion: %s", out)
	}

	// Nothing lethe wrote or printed names the subject.
	s := f.ds.Subjects[0]
	for _, v := range []string{s.Email, s.Phone, s.Personnummer, s.CustomerNo} {
		if v == "" {
			continue
		}
		if strings.Contains(out+list, v) {
			t.Errorf("output holds an identifier")
		}
		filepath.WalkDir(f.repo, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if data, _ := os.ReadFile(p); strings.Contains(string(data), v) {
					t.Errorf("%s holds an identifier in clear text", p)
				}
			}
			return nil
		})
	}
}

// TestEraseHoldKeepsRecords: a hold keeps the subject's records in the
// files it covers, and the outcome says so.
func TestEraseHoldKeepsRecords(t *testing.T) {
	f := newErasureFixture(t)
	out := mustLethe(t, args("-r", f.repo, "erase", "--reason", "17(1)(a)", f.rules, f.ids,
		"--hold-format", "csv", "--hold-basis", "Bokföringslagen 7 kap. 2 §", "--hold-for", "7y")...)
	if !strings.Contains(out, "held: ") || !strings.Contains(out, "Bokföringslagen 7 kap. 2 §, until 2033-11-0") {
		t.Fatalf("erase with a hold:\n%s", out)
	}
	target := filepath.Join(f.base, "restic")
	restictest.Run(t, f.repo, "restore", "latest", "--target", target)
	// Every CSV file is as in the source, the rest as redacted.
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".csv") {
			return err
		}
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(target, p))
		if err != nil || string(a) != string(b) {
			t.Errorf("held CSV %s not kept: %v", filepath.Base(p), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, f.repo)
}

// TestEraseSurvivesSIGKILL kills `lethe erasures resume` at points spread
// over an erasure's run and resumes it: restic check is clean, no
// snapshot is lost, the subject is gone. LETHE_CRASH_TRIALS sets the
// number of kills (bench/erase-crash.sh runs a long campaign).
func TestEraseSurvivesSIGKILL(t *testing.T) {
	trials := 3
	if s := os.Getenv("LETHE_CRASH_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("LETHE_CRASH_TRIALS: %v", err)
		}
		trials = n
	}
	f := newErasureFixture(t)
	mustLethe(t, args("-r", f.repo, "erase", "--record-only", "--reason", "17(1)(a)", f.rules, f.ids)...)
	template := filepath.Join(f.base, "template")
	copyDir(t, f.repo, template)
	state := os.Getenv("LETHE_STATE_DIR")
	stateTemplate := filepath.Join(f.base, "state-template")
	copyDir(t, state, stateTemplate)

	resume := func(kill time.Duration) bool { return resumeKilled(t, f, kill) }
	start := time.Now()
	resume(0)
	full := time.Since(start)
	f.checkErased(t)

	killedCount := 0
	for i := 0; i < trials; i++ {
		os.RemoveAll(f.repo)
		os.RemoveAll(state)
		copyDir(t, template, f.repo)
		copyDir(t, stateTemplate, state)
		// Spread the kills over the run, past the process start.
		at := time.Duration(float64(full) * (float64(i) + 0.5) / float64(trials))
		if resume(at) {
			killedCount++
		}
		// The next run finishes the job, whatever the kill left.
		mustLethe(t, args("-r", f.repo, "erasures", "resume", f.rules)...)
		f.checkErased(t)
		if l := mustLethe(t, "-r", f.repo, "erasures", "resume"); !strings.Contains(l, "no pending erasures") {
			t.Fatalf("trial %d: still pending after resume:\n%s", i, l)
		}
	}
	if killedCount == 0 {
		t.Fatalf("no run was killed before it finished (a full run takes %v)", full)
	}
	t.Logf("%d of %d runs killed mid-erasure; a full run takes %v", killedCount, trials, full)
}

// resumeKilled runs `lethe erasures resume` on f's repository as its own
// process and, with kill set, sends it SIGKILL after kill; it reports
// whether the process was killed before it finished.
func resumeKilled(t *testing.T, f *erasureFixture, kill time.Duration) (killed bool) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args("-r", f.repo, "erasures", "resume", f.rules)...)
	cmd.Env = append(os.Environ(), "LETHE_TEST_RUN_MAIN=1")
	out, _ := os.CreateTemp(f.base, "out")
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if kill <= 0 {
		if err := <-done; err != nil {
			data, _ := os.ReadFile(out.Name())
			t.Fatalf("erasures resume: %v\n%s", err, data)
		}
		return false
	}
	select {
	case err := <-done:
		if err != nil {
			data, _ := os.ReadFile(out.Name())
			t.Fatalf("erasures resume: %v\n%s", err, data)
		}
		return false
	case <-time.After(kill):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

// copyDir copies a directory tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEraseResticRepository: lethe erases in a repository restic wrote.
func TestEraseResticRepository(t *testing.T) {
	setupEnv(t)
	f := newErasureFixture(t, fixtureOptions{byRestic: true})
	out := mustLethe(t, args("-r", f.repo, "erase", "--reason", "17(1)(a)", f.rules, f.ids)...)
	if !strings.Contains(out, "3 of 3 snapshots rewritten") {
		t.Fatalf("erase:\n%s", out)
	}
	f.checkErased(t)
}

// TestEraseS3Versioned: on a versioned bucket, the erasure leaves no
// version of any object it removed.
func TestEraseS3Versioned(t *testing.T) {
	s, env := s3Env(t)
	bucket := s.NewBucket(t, true)
	repo := s.URL(bucket, "lethe")
	f := newErasureFixture(t, fixtureOptions{repo: repo, restic: func(t *testing.T, a ...string) string {
		t.Helper()
		return resticNoLock(t, repo, env, a...)
	}})
	out := mustLethe(t, args("-r", f.repo, "erase", "--reason", "17(1)(a)", f.rules, f.ids)...)
	if !strings.Contains(out, "nothing of the subject left") {
		t.Fatalf("erase:\n%s", out)
	}
	f.checkErased(t)
	current := map[string]bool{}
	for _, k := range s.Keys(t, bucket, "lethe/") {
		current[k] = true
	}
	for _, v := range s.AllVersions(t, bucket, "lethe/") {
		if v.DeleteMarker || !current[v.Key] {
			t.Errorf("a version of removed object %s is still stored (delete marker: %v)", v.Key, v.DeleteMarker)
		}
	}
}

// TestEraseWithConfig: `lethe erase --config` records the request in every
// configured repository, carries it out in each and issues one final
// receipt that states them all.
func TestEraseWithConfig(t *testing.T) {
	f := newErasureFixture(t)
	second := filepath.Join(f.base, "repo2")
	mustLethe(t, "-r", second, "init")
	mustLethe(t, args("-r", second, "backup", "--host", "kontoret", f.root)...)
	pw := filepath.Join(f.base, "password")
	if err := os.WriteFile(pw, []byte(restictest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var kinds strings.Builder
	fmt.Fprintf(&kinds, "    - name: %s\n      pattern: '%s'\n", f.ds.CustomKind, f.ds.CustomPattern)
	cfg := fmt.Sprintf(`state-dir: %s
business:
  name: Kontoret AB
  contact: info@kontoret.example
sources:
  - name: files
    paths: [%s]
repositories:
  - name: local
    location: %s
    password-file: %s
  - name: second
    location: %s
    password-file: %s
identifiers:
  custom-kinds:
%s  name-columns: [%s]
  path-rules: ['%s']
`, filepath.Join(f.base, "state"), f.root, f.repo, pw, second, pw, kinds.String(), strings.Join(f.ds.NameColumns, ", "), f.ds.PathRule)
	file := filepath.Join(f.base, "lethe.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLethe(t, "config", "check", "--config", file)
	out := mustLethe(t, args("--config", file, "erase", "--reason", "17(1)(a)", f.ids)...)
	if !strings.Contains(out, "in 2 repositories") || strings.Count(out, "nothing of the subject left") != 2 || !strings.Contains(out, "receipt ") {
		t.Fatalf("erase --config:\n%s", out)
	}
	f.checkErased(t)
	restictest.Check(t, second)
	target := filepath.Join(f.base, "restore2")
	restictest.Run(t, second, "restore", "latest", "--target", target)
	if err := compareTrees(f.want, filepath.Join(target, f.root)); err != nil {
		t.Fatalf("second repository: %v", err)
	}
	js := mustLethe(t, "-r", second, "--state-dir", filepath.Join(f.base, "state"), "--json", "receipts", "list")
	if !strings.Contains(js, `"final":true`) && !strings.Contains(js, `"final": true`) {
		t.Errorf("the receipt is not final:\n%s", js)
	}
}
