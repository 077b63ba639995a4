package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
	"lethe/agent/repository/restictest"
)

// ruleArgs are the data set's rules for what makes a record a subject's.
func ruleArgs(ds *gen.Dataset) []string {
	args := []string{"--kind", ds.CustomKind + "=" + ds.CustomPattern, "--path-rule", ds.PathRule}
	for _, c := range ds.NameColumns {
		args = append(args, "--name-column", c)
	}
	return args
}

func args(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

func TestErasureReappliedOnRestoreAndBackup(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	root := filepath.Join(base, "server")
	ds, err := gen.Generate(root, gen.SmallConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	const subject = 0
	formatsOf := map[string]bool{}
	for _, r := range ds.Records {
		if r.Subject == subject {
			formatsOf[r.Format] = true
		}
	}
	// The subject must have a record in each of the formats the promise
	// is about, or this test proves less than it says.
	for _, f := range []string{"csv", "mbox", "vcard", "mail", "icalendar", "sql", "name"} {
		if !formatsOf[f] {
			t.Fatalf("the data set gives the subject no %s record (has %v)", f, formatsOf)
		}
	}
	repo := filepath.Join(base, "repo")
	rules := ruleArgs(ds)
	var printed bytes.Buffer
	run := func(want int, a ...string) string {
		t.Helper()
		out, errOut, code := lethe(t, a...)
		printed.WriteString(out + errOut)
		if code != want {
			t.Fatalf("lethe %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(a, " "), code, want, out, errOut)
		}
		return out
	}

	run(0, "-r", repo, "init")
	run(0, args("-r", repo, "backup", "--time", "2026-11-01 02:00:00", rules, root)...)
	erase := args("-r", repo, "erase", "--record-only", "--reason", "17(1)(a)", "--kind", ds.CustomKind+"="+ds.CustomPattern)
	for _, id := range ds.Subjects[subject].IDs(ds.CustomKind) {
		erase = append(erase, "--id", id)
	}
	id := strings.TrimSpace(run(0, erase...))

	// What every restore must give: the source as `lethe redact` leaves it.
	want := filepath.Join(base, "want")
	run(0, args("redact", "--tombstones", "--out", want, rules, root)...)

	restoreAndCompare := func(name, snapshot, wantDir string) string {
		t.Helper()
		target := filepath.Join(base, name)
		out := run(0, args("-r", repo, "restore", snapshot, "--target", target, rules)...)
		if err := compareTrees(wantDir, filepath.Join(target, root)); err != nil {
			t.Fatalf("%s: restore of %s differs: %v\n%s", name, snapshot, err, out)
		}
		return out
	}
	out := restoreAndCompare("restore", "latest", want)
	if !strings.Contains(out, "withheld ") {
		t.Errorf("restore does not say what it withheld:\n%s", out)
	}
	var sum struct {
		Withheld withheld `json:"withheld"`
	}
	js := run(0, args("-r", repo, "--json", "restore", "latest", "--target", filepath.Join(base, "restore-json"), rules)...)
	if err := json.Unmarshal([]byte(js), &sum); err != nil || sum.Withheld.Records == 0 || sum.Withheld.PerFormat["csv"] == 0 {
		t.Errorf("restore --json: %v, %+v\n%s", err, sum, js)
	}

	// A fresh machine: a new state directory, only the repository and
	// its password.
	t.Setenv("LETHE_STATE_DIR", filepath.Join(base, "fresh-state"))
	restoreAndCompare("fresh", "latest", want)

	// A backup of the unchanged source after the erasure keeps her out,
	// says so, and exits with 4; restic reads the new snapshot as clean.
	out, errOut, code := lethe(t, args("-r", repo, "backup", "--time", "2026-11-02 02:00:00", rules, root)...)
	printed.WriteString(out + errOut)
	if code != exitErasedKeptOut || !strings.Contains(out, "kept ") || !strings.Contains(errOut, "live source still holds") {
		t.Fatalf("backup after the erasure: exit %d\n%s%s", code, out, errOut)
	}
	restictest.Check(t, repo)
	resticTarget := filepath.Join(base, "restic")
	restictest.Run(t, repo, "restore", "latest", "--target", resticTarget)
	if err := compareTrees(want, filepath.Join(resticTarget, root)); err != nil {
		t.Fatalf("restic's restore of the backup taken after the erasure: %v", err)
	}
	run(0, args("scan", "--tombstones", rules, filepath.Join(resticTarget, root))...)

	// Revoked: restores and backups no longer filter her.
	run(0, "-r", repo, "erasures", "revoke", id, "--reason", "customer consented again")
	l := snapshots(t, repo)
	restoreAndCompare("revoked", l[0].ID, root)
	run(0, args("-r", repo, "backup", "--time", "2026-11-03 02:00:00", rules, root)...)
	restoreAndCompare("revoked-backup", "latest", root)

	// No identifier of hers in anything printed, except as the path of a
	// file or folder named after her, which redact names.
	s := ds.Subjects[subject]
	for _, v := range []string{s.Email, s.Phone, s.Personnummer, s.CustomerNo} {
		if v != "" && strings.Contains(printed.String(), v) {
			t.Errorf("output holds an identifier %q", v)
		}
	}
}

func TestRestoreRefusesUnreadableTombstone(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	src, repo := filepath.Join(base, "src"), filepath.Join(base, "repo")
	writeTree(t, src)
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, "-r", repo, "backup", src)
	mustLethe(t, "-r", repo, "erase", "--record-only", "--email", "anna@example.se", "--reason", "17(1)(a)")
	var objs []string
	filepath.WalkDir(filepath.Join(repo, "lethe", "tombstones"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			objs = append(objs, p)
		}
		return nil
	})
	if len(objs) != 1 {
		t.Fatalf("want one tombstone object, found %v", objs)
	}
	data, err := os.ReadFile(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(objs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A fresh machine knows of the erasure only from the repository.
	t.Setenv("LETHE_STATE_DIR", filepath.Join(base, "fresh"))
	target := filepath.Join(base, "target")
	out, errOut, code := lethe(t, "-r", repo, "restore", "latest", "--target", target)
	if code == 0 || !strings.Contains(errOut, "does not go on without them") {
		t.Fatalf("restore with a damaged tombstone: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(target, src)); err == nil {
		t.Errorf("restore wrote files although it could not read every tombstone")
	}
	if strings.Contains(out+errOut, "anna@") {
		t.Errorf("the error names the subject:\n%s", errOut)
	}

	// A state directory whose subject key is not the repository's.
	other := filepath.Join(base, "other-state")
	mustLethe(t, "erase", "--state-dir", other, "--email", "bo@example.se", "--reason", "17(1)(a)")
	t.Setenv("LETHE_STATE_DIR", other)
	_, errOut, code = lethe(t, "-r", repo, "restore", "latest", "--target", target)
	if code == 0 || strings.Count(errOut, "key ") < 2 || !strings.Contains(errOut, "disagree") {
		t.Fatalf("restore with disagreeing subject keys: exit %d\n%s", code, errOut)
	}
}
