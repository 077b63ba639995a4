package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lethe/agent/jobs"
	"lethe/agent/receipts"
	"lethe/agent/repository/restictest"
	"lethe/tombstones"
)

// subjectLeaks are the forms of the CLI tests' subject (email
// anna.svensson@example.se, phone 070-123 45 67, personnummer
// 19800101-1231) that nothing lethe writes or prints may hold: the values,
// the birth date, and any five digits in a row of the numbers.
func subjectLeaks() []string {
	forms := []string{"anna.svensson", "svensson", "70-123", "123 45 67", "800101-1231", "1980-01-01"}
	for _, number := range []string{"46701234567", "198001011231"} {
		for i := 0; i+5 <= len(number); i++ {
			forms = append(forms, number[i:i+5])
		}
	}
	return forms
}

func checkNoSubject(t *testing.T, what string, data []byte) {
	t.Helper()
	low := bytes.ToLower(data)
	for _, f := range subjectLeaks() {
		if bytes.Contains(low, []byte(f)) {
			t.Errorf("%s holds %q", what, f)
		}
	}
}

// checkMasks finds every "masked" value in JSON output and checks the mask
// rule: it is its own mask, shows at most two digits, and one character of
// an email's local part.
func checkMasks(t *testing.T, what string, data []byte) int {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if m, ok := x["masked"].(string); ok {
				n++
				kind, _ := x["kind"].(string)
				if tombstones.Remask(tombstones.Kind(kind), m) != m {
					t.Errorf("%s: %s mask %q is not a current mask", what, kind, m)
				}
				if d := regexp.MustCompile(`[0-9]`).FindAllString(m, -1); kind != "email" && len(d) > 2 {
					t.Errorf("%s: %s mask %q shows %d digits", what, kind, m, len(d))
				}
				if local, _, ok := strings.Cut(m, "@"); ok && strings.TrimRight(local, "*") != local[:1] {
					t.Errorf("%s: email mask %q", what, m)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

// TestReceiptsCLI: a receipt issued on one machine is listed, shown in
// every format and verified on a fresh machine that has only the
// repository and its password, and with the published key; a changed byte
// fails verify. Nothing written or printed holds the subject.
func TestReceiptsCLI(t *testing.T) {
	setupEnv(t)
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	stateA, stateB := filepath.Join(base, "state-a"), filepath.Join(base, "state-b")
	mustLethe(t, "-r", repo, "init")
	var outputs bytes.Buffer
	out := func(s string) string { outputs.WriteString(s); return s }

	id := strings.TrimSpace(out(mustLethe(t, "-r", repo, "erase", "--record-only", "--state-dir", stateA,
		"--email", "Anna.Svensson@Example.SE", "--phone", "070-123 45 67", "--personnummer", "19800101-1231", "--reason", "b")))
	if _, e, code := lethe(t, "-r", repo, "receipts", "pubkey", "--state-dir", stateA); code != 1 || !strings.Contains(e, "--create") {
		t.Errorf("pubkey before any key: exit %d, %s", code, e)
	}
	pubA := out(mustLethe(t, "-r", repo, "receipts", "pubkey", "--create", "--state-dir", stateA))
	if !strings.HasPrefix(pubA, "-----BEGIN PUBLIC KEY-----\n") || !strings.Contains(pubA, "fingerprint: SHA256:") {
		t.Fatalf("pubkey:\n%s", pubA)
	}
	pemFile := filepath.Join(base, "published.pem")
	if err := os.WriteFile(pemFile, []byte(pubA), 0o644); err != nil {
		t.Fatal(err)
	}

	// The erasure engine's part: issue a receipt from the tombstone.
	showJSON := out(mustLethe(t, "--json", "erasures", "show", "--state-dir", stateA, id))
	checkMasks(t, "erasures show --json", []byte(showJSON))
	var ts tombstones.Tombstone
	if err := json.Unmarshal([]byte(showJSON), &ts); err != nil {
		t.Fatal(err)
	}
	rid := issueReceipt(t, repo, stateA, ts)

	// The fresh machine.
	if pubB := out(mustLethe(t, "-r", repo, "receipts", "pubkey", "--state-dir", stateB)); pubB != pubA {
		t.Errorf("a fresh machine has another key:\n%s\n%s", pubB, pubA)
	}
	list := out(mustLethe(t, "-r", repo, "receipts", "list", "--state-dir", stateB))
	if !strings.Contains(list, rid) || !strings.Contains(list, id) || !strings.Contains(list, "final") {
		t.Fatalf("receipts list:\n%s", list)
	}
	checkMasks(t, "receipts list --json", []byte(out(mustLethe(t, "--json", "-r", repo, "receipts", "list", "--state-dir", stateB))))
	for _, format := range []string{"text", "md", "html"} {
		for lang, word := range map[string]string{"sv": "Kvitto på radering", "en": "Erasure receipt"} {
			shown := out(mustLethe(t, "-r", repo, "receipts", "show", "--state-dir", stateB, id, "--format", format, "--lang", lang))
			if !strings.Contains(shown, word) || !strings.Contains(shown, rid) || !strings.Contains(shown, "a***@example.se") {
				t.Errorf("show %s %s:\n%s", format, lang, shown)
			}
		}
	}
	t.Setenv("LANG", "sv_SE.UTF-8")
	if shown := mustLethe(t, "-r", repo, "receipts", "show", "--state-dir", stateB, rid); !strings.Contains(shown, "Kvitto på radering") {
		t.Errorf("LANG=sv_SE does not give Swedish:\n%s", shown)
	}
	signed := mustLethe(t, "-r", repo, "receipts", "show", "--state-dir", stateB, rid, "--format", "json")
	file := filepath.Join(base, "receipt.json")
	if err := os.WriteFile(file, []byte(signed), 0o644); err != nil {
		t.Fatal(err)
	}
	checkMasks(t, "signed receipt", []byte(signed))

	// Verify: with the published key anywhere, with the repository's key.
	mustLethe(t, "receipts", "verify", file, "--pubkey", pemFile, "--state-dir", filepath.Join(base, "nowhere"))
	mustLethe(t, "-r", repo, "receipts", "verify", file, "--state-dir", stateB)
	if o, e, code := lethe(t, "receipts", "verify", file, "--state-dir", filepath.Join(base, "empty")); code != 1 || !strings.Contains(e, "--pubkey") {
		t.Errorf("verify with no key anywhere: exit %d\n%s%s", code, o, e)
	}
	out(mustLethe(t, "receipts", "render", file, "--pubkey", pemFile, "--format", "md", "--lang", "en"))
	for _, change := range []func([]byte) []byte{
		func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"bytes_removed":48213`), []byte(`"bytes_removed":48214`), 1)
		},
		func(b []byte) []byte { return bytes.Replace(b, []byte(`"final":true`), []byte(`"final": true`), 1) },
		func(b []byte) []byte { return append(b, '\n') },
	} {
		bad := change([]byte(signed))
		if bytes.Equal(bad, []byte(signed)) {
			t.Fatal("test changed nothing")
		}
		badFile := filepath.Join(base, "bad.json")
		if err := os.WriteFile(badFile, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, e, code := lethe(t, "receipts", "verify", badFile, "--pubkey", pemFile); code != 1 {
			t.Errorf("changed receipt verified: exit %d %s", code, e)
		}
		if _, _, code := lethe(t, "receipts", "render", badFile, "--pubkey", pemFile); code != 1 {
			t.Errorf("changed receipt rendered: exit %d", code)
		}
	}

	// Every printed and stored form: erasures list/show/check too.
	out(mustLethe(t, "-r", repo, "erasures", "list", "--state-dir", stateB))
	checkMasks(t, "erasures list --json", []byte(out(mustLethe(t, "--json", "erasures", "list", "--state-dir", stateB))))
	out(mustLethe(t, "erasures", "show", "--state-dir", stateB, id))
	checkMasks(t, "erasures check --json", []byte(out(mustLethe(t, "--json", "erasures", "check", "--state-dir", stateB, "--phone", "+46701234567", "--personnummer", "198001011231"))))
	out(mustLethe(t, "erasures", "check", "--state-dir", stateB, "--phone", "+46701234567", "--personnummer", "198001011231"))
	checkNoSubject(t, "command output", outputs.Bytes())
	n := 0
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			checkNoSubject(t, p, data)
			if strings.HasSuffix(p, "tombstones.log") {
				for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
					n += checkMasks(t, p, line)
				}
			}
		}
		return nil
	})
	if n < 6 {
		t.Errorf("checked %d masks in the state logs, want the 3 identifiers in each of 2", n)
	}
	restictest.Check(t, repo)
}

// issueReceipt issues a final receipt for ts in the repository at path as
// the erasure engine will, and returns its id.
func issueReceipt(t *testing.T, path, stateDir string, ts tombstones.Tombstone) string {
	t.Helper()
	ctx := context.Background()
	g := &globalOptions{repo: path, password: restictest.Password, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	repo, err := g.openRepository(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jobs.Close(repo)
	done := ts.Created.Add(time.Hour)
	f := receipts.Facts{
		RequestID: ts.ID, Received: ts.Created, Deadline: ts.Deadline.Due, Completed: &done,
		Business: receipts.Business{Name: "Exempelbolaget AB", Contact: "dataskydd@exempelbolaget.se"},
		Mode:     ts.Mode,
		Repositories: []receipts.Repository{{
			Location: "repo", State: receipts.StateComplete,
			Snapshots:      []receipts.Snapshot{{Before: "4f2a9c1d", After: "9b1e0c7d", Outcome: receipts.SnapshotRewritten}},
			RecordsRemoved: map[string]int64{"csv": 2}, FilesRedacted: 1, BytesRemoved: 48213,
			Verification: &receipts.Verification{Kind: "index", Result: receipts.VerifyPassed, FilesChecked: 3, Time: done},
		}},
		NoCopyFrom: &done, Final: true,
	}
	for _, e := range ts.Entries {
		f.Identifiers = append(f.Identifiers, receipts.Identifier{Kind: e.Kind, Masked: e.Masked})
	}
	iss := &receipts.Issuer{Keys: &receipts.Keys{StateDir: stateDir, Repos: []tombstones.Repo{{Name: path, Store: repo}}}}
	r, err := iss.Issue(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	return r.Facts.ReceiptID
}
