package daemon

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

// TestJournalHandler checks the fields an entry gets in the journal.
func TestJournalHandler(t *testing.T) {
	type entry struct {
		msg  string
		prio journal.Priority
		vars map[string]string
	}
	var got []entry
	h := &journalHandler{level: slog.LevelInfo, send: func(msg string, p journal.Priority, vars map[string]string) error {
		got = append(got, entry{msg, p, vars})
		return nil
	}}
	log := slog.New(h).With("job", "backup")
	log.Debug("not shown")
	log.Error("job failed", "repository", "offsite", "retry-in", "1m0s", slog.Group("stats", "files", 3), "error", errors.New("boom"))
	if len(got) != 1 {
		t.Fatalf("%d entries", len(got))
	}
	e := got[0]
	want := map[string]string{"JOB": "backup", "REPOSITORY": "offsite", "RETRY_IN": "1m0s", "STATS_FILES": "3", "ERROR": "boom", "SYSLOG_IDENTIFIER": "lethe"}
	if e.msg != "job failed" || e.prio != journal.PriErr || len(e.vars) != len(want) {
		t.Fatalf("entry %+v", e)
	}
	for k, v := range want {
		if e.vars[k] != v {
			t.Errorf("%s=%q, want %q", k, e.vars[k], v)
		}
	}
	if n := fieldName("_9x-y"); n != "X_Y" {
		t.Errorf("fieldName: %q", n)
	}
}
