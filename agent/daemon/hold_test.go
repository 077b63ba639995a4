package daemon

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lethe/agent/erasure"
	"lethe/agent/jobs"
	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/tombstones"
)

// TestHoldEndsErasureRunsAgain: an erasure with a two-day hold over a CSV
// in three nightly snapshots. The held row stays in the snapshots (restic
// restores it) until the hold ends for each; then the agent runs the
// erasure again, at its nightly run: restic finds the repositories clean,
// the row is gone from every snapshot, every other byte and the
// snapshots' times, hosts and paths are kept, the journal says verified,
// and a run that is not due does not happen.
func TestHoldEndsErasureRunsAgain(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"
holds:
  - name: avtal
    formats: [csv]
    basis: Avtalet med kunden
    duration: 2d`)
	const (
		email = "anna.andersson@example.se"
		keep  = "kundnr;namn;epost\nK-1;Bo;bo@example.se\n"
		row   = "K-2;Anna;" + email + "\n"
		tail  = "K-3;Cia;cia@example.se\n"
	)
	writeFile(t, filepath.Join(s.srcDir, "kunder.csv"), keep+row+tail)
	writeFile(t, filepath.Join(s.srcDir, "annat.txt"), "inget om kunder\n")
	d, clk, logBuf := engineAgent(t, s)
	ctx, stop := started(t, d)
	day := func(n, hour int) time.Time { return time.Date(2026, 11, n, hour, 0, 0, 0, time.Local) }

	// Backups on 2, 3 and 4 November; the request comes after the third.
	runUntil(ctx, t, d, clk, day(4, 3))
	before := resticSnapshots(t, s.repoDirs[0])
	if len(before) != 6 {
		t.Fatalf("%d snapshots, want 6", len(before))
	}
	if _, err := d.FileErasure(ctx, ErasureRequest{Identifiers: []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: email}}, Reason: "17(1)(a)", Mode: "rewrite"}); err != nil {
		t.Fatal(err)
	}
	runUntil(ctx, t, d, clk, day(4, 4))
	id := onlyJournal(t, s.repoDirs[0])

	// The hold of 2 November's snapshot ended at 02:00 today: its row is
	// gone. 3 and 4 November keep it until 5 and 6 November.
	full, erased := keep+row+tail, keep+tail
	held := filesSnapshots(resticSnapshots(t, s.repoDirs[0]), s.srcDir)
	for i, want := range []string{erased, full, full} {
		if got := restoredCSV(t, s.repoDirs[0], held[i].ID, s.srcDir); got != want {
			t.Errorf("before the hold ends, snapshot %d: kunder.csv %q, want %q", i, got, want)
		}
	}
	j := loadJournal(t, s, 0, id)
	st := j.Status(clk.Now())
	if st.State != erasure.StateVerified || st.HeldUntil == nil || !st.HeldUntil.Equal(day(5, 2)) || st.Due {
		t.Fatalf("status after the first run: %+v", st)
	}
	plans := countPlans(j)
	// The API says the erasure is complete, with records held.
	es, _, err := d.Erasure(id)
	if err != nil || es.State != "complete" || len(es.Repositories) != 2 || !strings.Contains(es.Repositories[0].Note, "records held until 2026-11-05") {
		t.Errorf("the API's status after the first run: %+v, %v", es, err)
	}

	// The nightly runs of 5 and 6 November find the holds ended and run
	// the erasure again, once each.
	runUntil(ctx, t, d, clk, day(6, 12))
	for i, dir := range s.repoDirs {
		restictest.Check(t, dir)
		j := loadJournal(t, s, i, id)
		if n := countPlans(j); n != plans+2 {
			t.Errorf("repository %d: %d runs of the erasure, want %d", i, n, plans+2)
		}
		st := j.Status(clk.Now())
		if st.State != erasure.StateVerified || st.HeldUntil != nil || st.Result == nil || st.Result.Rerun != 2 || !st.Result.Verify.OK {
			t.Errorf("repository %d: status after the runs again: %+v", i, st)
		}
	}
	if es, _, err := d.Erasure(id); err != nil || es.State != "complete" || es.Repositories[0].Note != "verified" {
		t.Errorf("the API's status after the runs again: %+v, %v", es, err)
	}
	after := resticSnapshots(t, s.repoDirs[0])
	for _, old := range before {
		i := slices.IndexFunc(after, func(n resticSnap) bool { return n.Time.Equal(old.Time) && slices.Equal(n.Paths, old.Paths) })
		if i < 0 {
			t.Errorf("the snapshot of %v %v is gone", old.Time, old.Paths)
			continue
		}
		n := after[i]
		if n.Hostname != old.Hostname {
			t.Errorf("snapshot of %v: host %q, want %q", old.Time, n.Hostname, old.Hostname)
		}
		if !slices.Equal(old.Paths, []string{s.srcDir}) {
			continue
		}
		dst := t.TempDir()
		restictest.Run(t, s.repoDirs[0], "restore", n.ID, "--target", dst)
		if got := readFile(t, filepath.Join(dst, s.srcDir, "kunder.csv")); got != erased {
			t.Errorf("snapshot of %v: kunder.csv %q, want %q", old.Time, got, erased)
		}
		if got := readFile(t, filepath.Join(dst, s.srcDir, "annat.txt")); got != "inget om kunder\n" {
			t.Errorf("snapshot of %v: annat.txt %q", old.Time, got)
		}
	}
	// Every snapshot of the window lacks the row (the later backups kept
	// it out), also those taken after the erasure.
	for _, n := range filesSnapshots(resticSnapshots(t, s.repoDirs[0]), s.srcDir) {
		if got := restoredCSV(t, s.repoDirs[0], n.ID, s.srcDir); strings.Contains(got, email) {
			t.Errorf("snapshot %s of %v still holds the row", n.ID[:8], n.Time)
		}
	}

	// Another night: nothing is due, nothing runs.
	runUntil(ctx, t, d, clk, day(7, 12))
	stop()
	for i := range s.repoDirs {
		if n := countPlans(loadJournal(t, s, i, id)); n != plans+2 {
			t.Errorf("repository %d: %d runs after a night with nothing due, want %d", i, n, plans+2)
		}
	}
	if strings.Contains(logBuf.String(), email) || strings.Contains(logBuf.String(), "Anna") {
		t.Error("the log names the subject")
	}
}

type resticSnap struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
}

func resticSnapshots(t *testing.T, repo string) []resticSnap {
	t.Helper()
	var out []resticSnap
	if err := json.Unmarshal([]byte(restictest.Run(t, repo, "snapshots", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b resticSnap) int { return a.Time.Compare(b.Time) })
	return out
}

// filesSnapshots are the snapshots of the directory source, oldest first.
func filesSnapshots(all []resticSnap, dir string) []resticSnap {
	var out []resticSnap
	for _, s := range all {
		if slices.Equal(s.Paths, []string{dir}) {
			out = append(out, s)
		}
	}
	return out
}

// restoredCSV restores a snapshot with restic, which applies no erasure,
// and returns its kunder.csv.
func restoredCSV(t *testing.T, repo, id, dir string) string {
	t.Helper()
	dst := t.TempDir()
	restictest.Run(t, repo, "restore", id, "--target", dst)
	return readFile(t, filepath.Join(dst, dir, "kunder.csv"))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// onlyJournal returns the tombstone of the one erasure journal in repo.
func onlyJournal(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "lethe", "erasures"))
	var ids []string
	for _, e := range ents {
		if tombstones.ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	if err != nil || len(ids) != 1 {
		t.Fatalf("erasure journals: %v, %v", ents, err)
	}
	return ids[0]
}

func loadJournal(t *testing.T, s *setup, i int, id string) *erasure.Journal {
	t.Helper()
	repo, ctx, release, err := jobs.OpenLocked(context.Background(), Repositories(s.cfg)[i].Repo, jobs.NoLock, false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	j, err := erasure.LoadJournal(ctx, repo, id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func countPlans(j *erasure.Journal) int {
	n := 0
	for _, s := range j.Steps {
		if s.Kind == erasure.StepPlan {
			n++
		}
	}
	return n
}

// TestHeldSnapshotsForgotten: a hold longer than the window (seven years
// in seven days). Nothing is rewritten, but when the retention forgets the
// last snapshot holding the held CSV, the normal prune would leave its
// blob in a pack that is still mostly used; the erasure runs again and
// its erasure-grade prune takes it: no blob holds the subject any more.
func TestHeldSnapshotsForgotten(t *testing.T) {
	s := newSetup(t, `schedules:
  backup: "0 2 * * *"
  check: "off"
  verify: "off"
holds:
  - name: bokforing
    formats: [csv]
    basis: Bokföringslagen 7 kap. 2 §
    duration: 7y`)
	const email = "anna.andersson@example.se"
	writeFile(t, filepath.Join(s.srcDir, "kunder.csv"), "kundnr;namn;epost\nK-1;Bo;bo@example.se\nK-2;Anna;"+email+"\n")
	// A large file that every snapshot keeps keeps the first backup's pack
	// mostly used: the normal prune leaves the CSV's blob in it.
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i*7919 + i>>9)
	}
	if err := os.WriteFile(filepath.Join(s.srcDir, "arkiv.bin"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	d, clk, _ := engineAgent(t, s)
	ctx, stop := started(t, d)
	day := func(n, hour int) time.Time { return time.Date(2026, 11, n, hour, 0, 0, 0, time.Local) }
	runUntil(ctx, t, d, clk, day(4, 3))
	if _, err := d.FileErasure(ctx, ErasureRequest{Identifiers: []tombstones.Identifier{{Kind: tombstones.KindEmail, Value: email}}, Reason: "17(1)(a)", Mode: "rewrite"}); err != nil {
		t.Fatal(err)
	}
	runUntil(ctx, t, d, clk, day(4, 4))
	id := onlyJournal(t, s.repoDirs[0])
	if n := blobsHolding(t, s, 0, email); n != 1 {
		t.Fatalf("%d blobs hold the held row, want 1", n)
	}
	// 4 November's snapshot, the last holding the CSV, is forgotten on
	// 11 November.
	runUntil(ctx, t, d, clk, day(11, 12))
	stop()
	for i, dir := range s.repoDirs {
		restictest.Check(t, dir)
		if n := blobsHolding(t, s, i, email); n != 0 {
			t.Errorf("repository %d: %d blobs still hold the subject after the held snapshots were forgotten", i, n)
		}
		j := loadJournal(t, s, i, id)
		st := j.Status(clk.Now())
		if st.State != erasure.StateVerified || st.HeldUntil != nil || st.Result == nil || st.Result.Rerun == 0 || !st.Result.Verify.OK {
			t.Errorf("repository %d: status %+v", i, st)
		}
	}
}

// blobsHolding counts the blobs of repository i whose plaintext holds s.
func blobsHolding(t *testing.T, st *setup, i int, s string) int {
	t.Helper()
	repo, ctx, release, err := jobs.OpenLocked(context.Background(), Repositories(st.cfg)[i].Repo, jobs.NoLock, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var pbs []repository.PackedBlob
	repo.EachBlob(func(pb repository.PackedBlob) bool {
		pbs = append(pbs, pb)
		return true
	})
	n := 0
	for _, pb := range pbs {
		data, err := repo.LoadBlob(ctx, pb.Type, pb.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), s) {
			n++
		}
	}
	return n
}

// engineAgent returns the agent of s with the real erasure engine, both
// on a simulated clock from 1 November, and the buffer it logs to.
func engineAgent(t *testing.T, s *setup) (*Daemon, *fakeClock, *syncBuffer) {
	t.Helper()
	clk := newFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.Local))
	logBuf := &syncBuffer{}
	log := testLog(logBuf)
	rj := &RepoJobs{Config: s.cfg, Clock: clk, Log: log}
	eng := NewEngine(s.cfg)
	eng.Now = clk.Now
	d, err := New(Options{Config: s.cfg, Jobs: rj, Eraser: eng, Clock: clk, Log: log, Notify: nopNotifier{}})
	if err != nil {
		t.Fatal(err)
	}
	rj.State = d.state
	return d, clk, logBuf
}
