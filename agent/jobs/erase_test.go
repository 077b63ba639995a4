package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/archiver/archivertest"
	"lethe/agent/formats"
	"lethe/agent/receipts"
	"lethe/agent/repository/restictest"
	"lethe/tombstones"
)

var shopCustomers = "kundnr;namn;epost\nK-1;Anna;anna@example.se\nK-2;Bo;bo@example.se\nK-3;Cia;cia@example.se\n"

// eraseIn carries out the erasures ids in r through c, as the repository
// named name, under an exclusive lock.
func eraseIn(t *testing.T, c *CarryOut, r Repo, stateDir, name string, ids ...string) []*receipts.Receipt {
	t.Helper()
	repo, ctx, release, err := OpenLocked(context.Background(), r, Exclusive, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	e, err := NewEraser(ctx, repo, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*receipts.Receipt
	for _, id := range ids {
		res, rc, err := c.Erase(ctx, e, name, id, EraseOptions{Warn: func(err error) { t.Errorf("warning: %v", err) }})
		if err != nil {
			t.Fatalf("erasure %s in %s: %v", id, name, err)
		}
		if res.FoundNowhere {
			t.Errorf("erasure %s in %s found nothing", id, name)
		}
		out = append(out, rc)
	}
	return out
}

// verifyIn runs VerifyErasures in r under a shared lock.
func verifyIn(t *testing.T, r Repo, stateDir string) ErasureVerification {
	t.Helper()
	repo, ctx, release, err := OpenLocked(context.Background(), r, Shared, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	e, err := NewEraser(ctx, repo, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.VerifyErasures(ctx, EraseOptions{}.Rules)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCarryOutTwoRepositories carries out two erasures in two
// repositories, one Eraser per repository: the second erasure sees what
// the first redacted, the receipts are final only in the last
// repository, and the deep verification of all erasures at once finds
// nothing until a backup that keeps nothing out puts a subject back.
func TestCarryOutTwoRepositories(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	archivertest.WriteFile(t, filepath.Join(src, "kunder.csv"), []byte(shopCustomers), 0o644, day(1))
	repos := []Repo{testRepo(t), testRepo(t)}
	names := []string{"local", "second"}
	stateDir := t.TempDir()
	for _, r := range repos {
		initRepo(t, r)
		backupDay(t, r, src, 1)
	}
	if v := verifyIn(t, repos[0], stateDir); v.Erasures != 0 || v.Verification != nil {
		t.Errorf("deep verification without erasures: %+v, want nothing read", v)
	}

	// The requests go to the state directory and both repositories.
	st, err := tombstones.OpenState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := NormalizerFor("", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := &tombstones.Service{State: st, Normalizer: n}
	var releases []func() error
	for i, r := range repos {
		repo, _, release, err := OpenLocked(context.Background(), r, Shared, false)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
		svc.Repos = append(svc.Repos, tombstones.Repo{Name: names[i], Store: repo})
	}
	var ids []string
	for _, email := range []string{"anna@example.se", "bo@example.se"} {
		id, err := n.ParseIdentifier(tombstones.KindEmail, email)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := svc.Record(context.Background(), tombstones.Request{Identifiers: []tombstones.Identifier{id}, Reason: "17(1)(a)"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ts.ID)
	}
	for _, release := range releases {
		if err := release(); err != nil {
			t.Fatal(err)
		}
	}

	c := &CarryOut{Repos: names, Business: receipts.Business{Name: "Exempel AB"}}
	for i := range repos {
		for j, rc := range eraseIn(t, c, repos[i], stateDir, names[i], ids...) {
			last := i == len(repos)-1
			if rc == nil || rc.Facts.Final != last || rc.Facts.RequestID != ids[j] {
				t.Fatalf("receipt of %s in %s: %+v, want final=%v", ids[j], names[i], rc, last)
			}
			if last {
				for _, rr := range rc.Facts.Repositories {
					if rr.State != receipts.StateComplete || len(rr.Snapshots) != 1 {
						t.Errorf("final receipt of %s states %s as %s with %d snapshots", ids[j], rr.Location, rr.State, len(rr.Snapshots))
					}
				}
			}
		}
	}
	want := "kundnr;namn;epost\nK-3;Cia;cia@example.se\n"
	for _, r := range repos {
		restictest.Check(t, r.Location)
		if got := restictest.Run(t, r.Location, "dump", "latest", filepath.Join(src, "kunder.csv")); got != want {
			t.Errorf("%s: kunder.csv after both erasures:\n%s\nwant\n%s", r.Location, got, want)
		}
	}

	v := verifyIn(t, repos[1], stateDir)
	if v.Erasures != 2 || v.Verification == nil || !v.Verification.OK || v.Verification.SnapshotsChecked != 1 {
		t.Fatalf("deep verification after the erasures: %+v %+v", v, v.Verification)
	}
	// A backup that keeps nothing out (as restic's would) brings both
	// subjects back in one file: one finding.
	backupDay(t, repos[1], src, 2)
	v = verifyIn(t, repos[1], stateDir)
	if vr := v.Verification; vr == nil || vr.OK || vr.Problems != 1 || vr.SnapshotsChecked != 2 {
		t.Fatalf("deep verification of a snapshot holding the subjects: %+v", vr)
	}
	if strings.Contains(v.Verification.Note, "example.se") {
		t.Errorf("the verification's note names a subject: %s", v.Verification.Note)
	}
}

// TestMaskingRedactor: an erasure's messages mask the paths of every
// erased subject, while it removes only its own subject's records.
func TestMaskingRedactor(t *testing.T) {
	n, err := NormalizerFor("", nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]tombstones.Identifier{}
	for _, e := range []string{"anna@example.se", "bo@example.se"} {
		if ids[e], err = n.ParseIdentifier(tombstones.KindEmail, e); err != nil {
			t.Fatal(err)
		}
	}
	one, err := tombstones.NewIdentifierMatcher(n, []tombstones.Identifier{ids["anna@example.se"]})
	if err != nil {
		t.Fatal(err)
	}
	all, err := tombstones.NewIdentifierMatcher(n, []tombstones.Identifier{ids["anna@example.se"], ids["bo@example.se"]})
	if err != nil {
		t.Fatal(err)
	}
	r := maskingRedactor{formats.NewRedactor(one, nil), formats.NewRedactor(all, nil)}
	if got := r.MaskPath("/srv/kunder/bo@example.se/brev.txt"); strings.Contains(got, "bo@") {
		t.Errorf("MaskPath left another erased subject in %q", got)
	}
	if _, drop := r.DecidePath("bo@example.se", true); drop {
		t.Error("the erasure of one subject drops another's folder")
	}
}
