package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"lethe/tombstones"
)

// TestErasuresListDeadline: the list shows days left, an overdue request
// makes it exit 5, and --json carries the deadline.
func TestErasuresListDeadline(t *testing.T) {
	setupEnv(t)
	state := filepath.Join(t.TempDir(), "state")
	id := strings.TrimSpace(mustLethe(t, "erase", "--state-dir", state, "--email", "bertil@example.se", "--reason", "b"))
	list := mustLethe(t, "erasures", "list", "--state-dir", state)
	if !strings.Contains(list, "DAYS LEFT") || !regexp.MustCompile(id+`.*  (2[89]|3[01])  `).MatchString(list) {
		t.Errorf("list without days left:\n%s", list)
	}
	if o := mustLethe(t, "erasures", "list", "--state-dir", state, "--deadline", "5d"); !regexp.MustCompile(`  [45] \(at risk\)  `).MatchString(o) {
		t.Errorf("a 5-day deadline is not at risk:\n%s", o)
	}

	// A request received two months ago, recorded under the same key.
	var ts tombstones.Tombstone
	if err := json.Unmarshal([]byte(mustLethe(t, "--json", "erasures", "show", "--state-dir", state, id)), &ts); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().AddDate(0, -2, 0).Truncate(time.Second)
	oldID := ulid.MustNew(ulid.Timestamp(old), ulid.DefaultEntropy()).String()
	line := fmt.Sprintf(`{"version":1,"type":"tombstone","tombstone":{"id":%q,"created":%q,"key_id":%q,"identifiers":[{"kind":"email","fingerprint":"%s","masked":"c***@example.se"}],"reason":"GDPR Art. 17(1)(b)","mode":"rewrite"}}`+"\n",
		oldID, old.Format(time.RFC3339), ts.KeyID, strings.Repeat("ab", 32))
	f, err := os.OpenFile(filepath.Join(state, "tombstones.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
	f.Close()

	o, e, code := lethe(t, "erasures", "list", "--state-dir", state)
	if code != exitOverdue || !regexp.MustCompile(oldID+`.*overdue by \d+ days`).MatchString(o) {
		t.Errorf("overdue: exit %d\n%s%s", code, o, e)
	}
	o, _, code = lethe(t, "--json", "erasures", "list", "--state-dir", state)
	var got []tombstones.Tombstone
	if err := json.Unmarshal([]byte(o), &got); err != nil || code != exitOverdue || len(got) != 2 {
		t.Fatalf("json: exit %d, %v\n%s", code, err, o)
	}
	if got[0].ID != oldID || got[0].Deadline == nil || got[0].Deadline.Status != tombstones.DeadlineOverdue || got[0].Deadline.DaysLeft > -28 ||
		got[1].Deadline == nil || got[1].Deadline.Status != tombstones.DeadlinePending {
		t.Errorf("json deadlines: %+v %+v", got[0].Deadline, got[1].Deadline)
	}
	if show := mustLethe(t, "erasures", "show", "--state-dir", state, oldID); !strings.Contains(show, "deadline:") || !strings.Contains(show, "overdue by") {
		t.Errorf("show:\n%s", show)
	}
}
