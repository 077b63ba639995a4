package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/agent/formats/gen"
	"lethe/agent/repository/restictest"
)

// restoreScanned restores the latest snapshot into target with --json and
// returns how many files were read through the redactor and how many
// records were withheld; the tree must equal want.
func restoreScanned(t *testing.T, repo, target, root, want string, rules []string, extra ...string) (uint64, uint64) {
	t.Helper()
	a := args("-r", repo, "--json", "restore", "latest", "--target", target, rules, extra)
	out := mustLethe(t, a...)
	var sum struct {
		Scanned  *uint64  `json:"files_scanned"`
		Withheld withheld `json:"withheld"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Scanned == nil {
		t.Fatalf("restore --json: %v\n%s", err, out)
	}
	if err := compareTrees(want, filepath.Join(target, root)); err != nil {
		t.Fatalf("restore into %s differs from the redacted source: %v", target, err)
	}
	return *sum.Scanned, sum.Withheld.Records
}

// restoreWithheld is restoreScanned for a snapshot that holds the
// subject: something must be withheld.
func restoreWithheld(t *testing.T, repo, target, root, want string, rules []string, extra ...string) uint64 {
	t.Helper()
	n, w := restoreScanned(t, repo, target, root, want, rules, extra...)
	if w == 0 {
		t.Fatalf("restore from %s withheld nothing", repo)
	}
	return n
}

// TestSubjectIndexScreensRestores: a restore with an erasure reads through
// the redactor only the files whose index entries may hold the subject,
// and restores the same as when every file is read: in a repository lethe
// backed up, in one restic wrote (no index: every file is read), after
// `lethe index` completed that one, and with other rules than the index
// was made with (the entries are not trusted). `lethe find` lists the
// subject's files from the index and --verify confirms them.
func TestSubjectIndexScreensRestores(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	root := filepath.Join(base, "server")
	ds, err := gen.Generate(root, gen.SmallConfig(5))
	if err != nil {
		t.Fatal(err)
	}
	const subject = 0
	// holding are the files with content records of hers that are not
	// left out whole by their name or a path rule.
	var named []string
	for _, r := range ds.Records {
		if r.Subject == subject && (r.Format == "name" || r.Format == "path") {
			named = append(named, r.Path)
		}
	}
	holding := map[string]bool{}
	for _, r := range ds.Records {
		if r.Subject != subject || r.Format == "name" || r.Format == "path" {
			continue
		}
		below := false
		for _, n := range named {
			below = below || r.Path == n || strings.HasPrefix(r.Path, n+"/")
		}
		if !below {
			holding[r.Path] = true
		}
	}
	rules := ruleArgs(ds)
	repo, rrepo := filepath.Join(base, "repo"), filepath.Join(base, "restic-repo")
	mustLethe(t, "-r", repo, "init")
	mustLethe(t, args("-r", repo, "backup", rules, root)...)
	restictest.Run(t, rrepo, "init")
	restictest.Run(t, rrepo, "backup", root)

	erase := args("-r", repo, "erase", "--record-only", "--reason", "17(1)(a)", "--kind", ds.CustomKind+"="+ds.CustomPattern)
	for _, id := range ds.Subjects[subject].IDs(ds.CustomKind) {
		erase = append(erase, "--id", id)
	}
	id := strings.TrimSpace(mustLethe(t, erase...))
	// The restic repository gets the tombstone from the state directory.
	want := filepath.Join(base, "want")
	mustLethe(t, args("redact", "--tombstones", "--out", want, rules, root)...)

	indexed := restoreWithheld(t, repo, filepath.Join(base, "r1"), root, want, rules)
	if indexed < uint64(len(holding)) || indexed > uint64(len(holding))+3 {
		t.Errorf("indexed repository: %d files scanned, %d hold her records", indexed, len(holding))
	}
	stale := restoreWithheld(t, repo, filepath.Join(base, "r2"), root, want, rules, "--name-column", "another")
	if stale < uint64(len(ds.Files))/2 {
		t.Errorf("entries of another profile: only %d of %d files scanned", stale, len(ds.Files))
	}
	none := restoreWithheld(t, rrepo, filepath.Join(base, "r3"), root, want, rules)
	if none < uint64(len(ds.Files))/2 {
		t.Errorf("repository without an index: only %d of %d files scanned", none, len(ds.Files))
	}
	t.Logf("files %d, holding her records %d; scanned: indexed %d, other rules %d, no index %d", len(ds.Files), len(holding), indexed, stale, none)

	// A backup of the unchanged source reads only the files that hold
	// her; the others are reused from the parent as they are.
	out, errOut, code := lethe(t, args("-r", repo, "--json", "backup", rules, root)...)
	var bsum struct {
		Scanned *uint64 `json:"files_scanned"`
	}
	if code != exitErasedKeptOut || json.Unmarshal([]byte(out), &bsum) != nil || bsum.Scanned == nil {
		t.Fatalf("backup after the erasure: exit %d\n%s%s", code, out, errOut)
	}
	if *bsum.Scanned != indexed {
		t.Errorf("backup after the erasure: %d files scanned, the restore scanned %d", *bsum.Scanned, indexed)
	}
	if n, _ := restoreScanned(t, repo, filepath.Join(base, "r5"), root, want, rules); n != 0 {
		// Her records were kept out of the new snapshot; its files were
		// indexed as stored, so none may hold her.
		t.Errorf("restore of the backup taken after the erasure: %d files scanned", n)
	}

	// A full scan completes the restic repository's index, and resumes
	// with nothing left to do.
	var ist struct {
		Missing int `json:"files_missing"`
		Indexed int `json:"files_indexed"`
	}
	out = mustLethe(t, args("-r", rrepo, "--json", "index", rules)...)
	if err := json.Unmarshal([]byte(out), &ist); err != nil || ist.Indexed == 0 || ist.Indexed != ist.Missing {
		t.Fatalf("lethe index: %v %+v\n%s", err, ist, out)
	}
	out = mustLethe(t, args("-r", rrepo, "--json", "index", rules)...)
	if err := json.Unmarshal([]byte(out), &ist); err != nil || ist.Missing != 0 {
		t.Fatalf("lethe index again: %v %+v\n%s", err, ist, out)
	}
	if n := restoreWithheld(t, rrepo, filepath.Join(base, "r4"), root, want, rules); n != indexed {
		t.Errorf("after lethe index: %d files scanned, %d in the repository lethe backed up", n, indexed)
	}

	// find, from the index: every file holding her, and the ones named
	// after her; --verify confirms the files.
	var found struct {
		Occurrences []findHit `json:"occurrences"`
		NotIndexed  int       `json:"files_not_indexed"`
	}
	out = mustLethe(t, args("-r", rrepo, "--json", "find", "--tombstone", id, "--verify", rules)...)
	if err := json.Unmarshal([]byte(out), &found); err != nil || found.NotIndexed != 0 {
		t.Fatalf("find: %v, %d not indexed\n%s", err, found.NotIndexed, out)
	}
	confirmed, names := map[string]bool{}, 0
	for _, h := range found.Occurrences {
		rel := strings.TrimPrefix(h.Path, filepath.ToSlash(root)+"/")
		switch {
		case h.Format == "name" || h.Format == "path":
			names++
		case h.Verified == verifiedYes:
			confirmed[rel] = true
			if h.Records == 0 {
				t.Errorf("%s: confirmed with no records", rel)
			}
		}
	}
	for p := range holding {
		if !confirmed[p] {
			t.Errorf("find does not list %s as confirmed", p)
		}
	}
	if names == 0 {
		t.Error("find lists no file or folder named after her")
	}
	s := ds.Subjects[subject]
	for _, v := range []string{s.Email, s.Phone, s.Personnummer, s.CustomerNo} {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("find prints an identifier")
		}
	}
	// By an identifier instead of the erasure: her mail address alone.
	byEmail := mustLethe(t, args("-r", rrepo, "find", "--email", s.Email, rules)...)
	if !strings.Contains(byEmail, "found ") || strings.Contains(byEmail, "found in none") || strings.Contains(byEmail, s.Email) {
		t.Errorf("find --email:\n%s", byEmail)
	}
	if _, err := os.Stat(filepath.Join(rrepo, "lethe", "subjects")); err != nil {
		t.Errorf("no index objects in the restic repository after lethe index: %v", err)
	}
}
