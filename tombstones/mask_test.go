package tombstones

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// oldMasks are the masks an older lethe stored for the test subject, and
// the birth date and digit runs they showed.
func oldMasks() map[string]string {
	return map[string]string{
		"***67":                  "+46 70*** ** 67",
		"***" + subjectPnr10[8:]: "19" + subjectPnr10[:6] + "-****",
		"***99":                  "556677-****",
		`"masked":"***"`:         `"masked":"K***"`,
	}
}

// TestOldMasksRemaskedOnRead: tombstones stored with the old, revealing
// masks in the state log and in a repository are shown with current masks
// only, and what Sync writes to another repository carries current masks.
func TestOldMasksRemaskedOnRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	repo := newMemStore()
	s := newService(t, dir, repo)
	ts, err := s.Record(ctx, Request{Identifiers: subject, Reason: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Make the stored copies look as an older lethe wrote them.
	toOld := func(data []byte) []byte {
		for cur, old := range oldMasks() {
			if !bytes.Contains(data, []byte(cur)) {
				t.Fatalf("stored object lacks the current mask %q: %s", cur, data)
			}
			data = bytes.ReplaceAll(data, []byte(cur), []byte(old))
		}
		return data
	}
	logPath := filepath.Join(dir, stateLogName)
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, toOld(data), 0o600); err != nil {
		t.Fatal(err)
	}
	repo.objects[tombstoneName(ts.ID)] = toOld(repo.objects[tombstoneName(ts.ID)])

	fresh := newMemStore()
	s2 := newService(t, dir, repo, fresh)
	got, err := s2.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a***@example.se", "***67", "***", "***", "A*** S***", "***"}
	if strings.Join(got.Masked(), "|") != strings.Join(want, "|") {
		t.Errorf("re-masked %q, want %q", got.Masked(), want)
	}
	list, err := s2.List(ctx)
	if err != nil || len(list) != 1 || strings.Join(list[0].Masked(), "|") != strings.Join(want, "|") {
		t.Errorf("list: %v %+v", err, list)
	}
	synced := fresh.objects[tombstoneName(ts.ID)]
	if synced == nil {
		t.Fatal("not synced to the fresh repository")
	}
	// What is stored is re-masked too: the log and the old repository's
	// object, not only what is read from them.
	logData, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for what, data := range map[string][]byte{"synced object": synced, "state log": logData, "repository object": repo.objects[tombstoneName(ts.ID)]} {
		for _, old := range oldMasks() {
			if bytes.Contains(data, []byte(old)) {
				t.Errorf("%s holds the old mask %q", what, old)
			}
		}
	}
	// And the tombstone is whole: the fingerprints still match.
	res, err := s2.Check(ctx, subject[:1])
	if err != nil || len(res) != 1 || len(res[0].Tombstones) != 1 {
		t.Errorf("check after re-masking: %v %+v", err, res)
	}
}

// TestPhoneRuleSameForEraseAndCheck: a phone number that only parses by
// accident is refused by Record and by Check alike.
func TestPhoneRuleSameForEraseAndCheck(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir(), newMemStore())
	for _, bad := range []string{"070-123 45 6x", "070-123", "0701234", "070-123 45 678"} {
		ids := []Identifier{{KindPhone, bad}}
		if _, err := s.Record(ctx, Request{Identifiers: ids, Reason: "b"}); err == nil || !strings.Contains(err.Error(), "phone:") {
			t.Errorf("record %q: %v", bad, err)
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("record error repeats the value: %v", err)
		}
		if _, err := s.Check(ctx, ids); err == nil || !strings.Contains(err.Error(), "phone:") {
			t.Errorf("check %q: %v", bad, err)
		}
	}
}
