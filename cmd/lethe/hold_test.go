package main

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/receipts"
)

// holdFlags hold every CSV for two days from each snapshot's time.
var holdFlags = []string{"--hold-format", "csv", "--hold-basis", "Avtalet med kunden", "--hold-for", "2d"}

// eraseAt carries out the recorded erasure id in repo with the rules of
// flags, as `lethe erasures resume` does, but at the simulated time at:
// the command line runs at the machine's time, after the hold ended.
func eraseAt(t *testing.T, repo, id string, at time.Time, flags ...string) (*erasure.Result, *receipts.Receipt) {
	t.Helper()
	var so subjectOptions
	var ro eraseRunOptions
	cmd := &cobra.Command{Use: "resume"}
	so.addSettingsFlags(cmd, true)
	ro.addFlags(cmd)
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatal(err)
	}
	rules, err := ro.rules(&so)
	if err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{repo: repo, stdout: io.Discard, stderr: io.Discard}
	r, ctx, release, err := g.lockedRepository(context.Background(), removing, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	e, err := jobs.NewEraser(ctx, r, so.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	c := &jobs.CarryOut{Business: receipts.Business{Name: "Exempel AB"}}
	res, rc, err := c.Erase(ctx, e, r.Backend().Location(), id, jobs.EraseOptions{Rules: rules, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return res, rc
}

// heldFixture is the erasure fixture with the request carried out on 3
// November at 03:00 under a two-day hold of every CSV: the first
// snapshot's hold had ended, the two others keep their CSVs.
func heldFixture(t *testing.T) (*erasureFixture, string) {
	t.Helper()
	f := newErasureFixture(t)
	out := mustLethe(t, args("-r", f.repo, "erase", "--record-only", "--reason", "17(1)(a)", f.rules, f.ids)...)
	m := regexp.MustCompile(`(?m)^([0-9A-Z]{26})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("erase --record-only:\n%s", out)
	}
	id := m[1]
	res, rc := eraseAt(t, f.repo, id, time.Date(2026, 11, 3, 3, 0, 0, 0, time.Local), append(holdFlags, f.rules...)...)
	if want := time.Date(2026, 11, 4, 2, 0, 0, 0, time.Local); res.HeldUntil == nil || !res.HeldUntil.Equal(want) {
		t.Fatalf("held until %v, want %v", res.HeldUntil, want)
	}
	// The receipt says no backup copy holds the subject from when the
	// last hold ends, not from the first run.
	if rc == nil {
		t.Fatal("no receipt issued")
	}
	if want := time.Date(2026, 11, 5, 2, 0, 0, 0, time.Local); rc.Facts.NoCopyFrom == nil || !rc.Facts.NoCopyFrom.Equal(want) {
		t.Errorf("receipt: no copy from %v, want %v", rc.Facts.NoCopyFrom, want)
	}
	// The held CSVs are in the snapshots of 2 and 3 November as in the
	// source (restic restores what lethe's restore withholds).
	for i, s := range snapshots(t, f.repo) {
		target := filepath.Join(t.TempDir(), "restic")
		f.restic(t, "restore", s.ID, "--target", target)
		held := s.Time.After(time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local))
		err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".csv") {
				return err
			}
			rel, _ := filepath.Rel(f.root, p)
			src, _ := os.ReadFile(p)
			want, _ := os.ReadFile(filepath.Join(f.want, rel))
			got, err := os.ReadFile(filepath.Join(target, p))
			if err != nil {
				return err
			}
			if held && string(got) != string(src) || !held && string(got) != string(want) {
				t.Errorf("snapshot %d (%v): %s not as the hold says (held %v)", i, s.Time, rel, held)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f, id
}

// TestHoldEndedErasureRunsAgain: once the hold has ended, erasures show
// and list say the erasure is due again; the next command taking the
// exclusive lock runs it again, and then nothing of the subject is left
// in any snapshot, by restic; erasures resume has nothing more to do.
func TestHoldEndedErasureRunsAgain(t *testing.T) {
	f, id := heldFixture(t)
	show := mustLethe(t, "-r", f.repo, "erasures", "show", id)
	if !strings.Contains(show, "due again since 2026-11-04") {
		t.Errorf("erasures show after the hold ended:\n%s", show)
	}
	if list := mustLethe(t, "-r", f.repo, "erasures", "list"); !strings.Contains(list, "active, due again") {
		t.Errorf("erasures list after the hold ended:\n%s", list)
	}
	_, errOut, code := lethe(t, "-r", f.repo, "prune")
	if code != 0 || !strings.Contains(errOut, "running the erasure "+id+" again") {
		t.Fatalf("prune: exit %d\n%s", code, errOut)
	}
	f.checkErased(t)
	show = mustLethe(t, "-r", f.repo, "erasures", "show", id)
	if strings.Contains(show, "due again") || strings.Contains(show, "records held") ||
		!regexp.MustCompile(`verified; run again after a hold \(once\), last on [0-9-]+: [1-9][0-9]* records removed, verified \(index\): nothing of the subject left`).MatchString(show) {
		t.Errorf("erasures show after the run again:\n%s", show)
	}
	if out := mustLethe(t, args("-r", f.repo, "erasures", "resume", f.rules)...); !strings.Contains(out, "no pending erasures") {
		t.Errorf("resume after the run again:\n%s", out)
	}
}

// TestHoldEndedRerunSurvivesSIGKILL kills `lethe erasures resume` at
// points spread over the run again after a hold ended, and resumes it:
// restic check is clean, no snapshot is lost, the subject is gone, and
// nothing is pending after.
func TestHoldEndedRerunSurvivesSIGKILL(t *testing.T) {
	f, _ := heldFixture(t)
	template := filepath.Join(f.base, "template")
	copyDir(t, f.repo, template)
	state := os.Getenv("LETHE_STATE_DIR")
	stateTemplate := filepath.Join(f.base, "state-template")
	copyDir(t, state, stateTemplate)

	// erasures resume prints the run again; the kills are spread over
	// the time it takes.
	start := time.Now()
	resumeKilled(t, f, 0)
	full := time.Since(start)
	f.checkErased(t)
	os.RemoveAll(f.repo)
	os.RemoveAll(state)
	copyDir(t, template, f.repo)
	copyDir(t, stateTemplate, state)
	if out := mustLethe(t, args("-r", f.repo, "erasures", "resume", f.rules)...); !strings.Contains(out, "(rewrite, run again after a hold):") || !strings.Contains(out, "2 of 3 snapshots rewritten") {
		t.Errorf("erasures resume of a run again:\n%s", out)
	}
	f.checkErased(t)
	const trials = 3
	killed := 0
	for i := range trials {
		os.RemoveAll(f.repo)
		os.RemoveAll(state)
		copyDir(t, template, f.repo)
		copyDir(t, stateTemplate, state)
		if resumeKilled(t, f, time.Duration(float64(full)*(float64(i)+0.5)/trials)) {
			killed++
		}
		mustLethe(t, args("-r", f.repo, "erasures", "resume", f.rules)...)
		f.checkErased(t)
		if l := mustLethe(t, args("-r", f.repo, "erasures", "resume", f.rules)...); !strings.Contains(l, "no pending erasures") {
			t.Fatalf("trial %d: still pending after resume:\n%s", i, l)
		}
	}
	if killed == 0 {
		t.Fatalf("no run was killed before it finished (a whole run takes %v)", full)
	}
	t.Logf("%d of %d runs killed mid-run; a whole run takes %v", killed, trials, full)
}
