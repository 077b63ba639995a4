package receipts

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/tombstones"
)

// memStore is an in-memory tombstones.Store with write-once objects, like
// a repository's (which also encrypts them; this one keeps them plain, so
// the leak checks see what would be encrypted).
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	down    bool
}

func newMemStore() *memStore { return &memStore{objects: make(map[string][]byte)} }

func (m *memStore) SaveLethe(_ context.Context, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return fmt.Errorf("connection refused")
	}
	if _, ok := m.objects[name]; ok {
		return fmt.Errorf("saving %s: %w", name, fs.ErrExist)
	}
	m.objects[name] = bytes.Clone(data)
	return nil
}

func (m *memStore) LoadLethe(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, fmt.Errorf("connection refused")
	}
	d, ok := m.objects[name]
	if !ok {
		return nil, fmt.Errorf("loading %s: %w", name, fs.ErrNotExist)
	}
	return bytes.Clone(d), nil
}

func (m *memStore) ListLethe(_ context.Context, prefix string, fn func(string) error) error {
	m.mu.Lock()
	if m.down {
		m.mu.Unlock()
		return fmt.Errorf("connection refused")
	}
	var names []string
	for n := range m.objects {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// The test subject. pnr is a valid personnummer (Luhn) born 1980-01-01.
const (
	subjectEmail = "Anna.Svensson@Example.SE"
	subjectPhone = "070-123 45 67"
	subjectPnr   = "19800101-1231"
	subjectOrgnr = "556677-8899"
)

// subjectForms are the written forms of the test identifiers that must
// appear in nothing lethe writes or prints: the values in any spelling,
// the birth date, and the digit runs a mask could leak.
var subjectForms = []string{
	"anna.svensson@example.se", "anna.svensson", "svensson",
	"070-123 45 67", "0701234567", "+46701234567", "46701234567", "701234567", "70 123 45 67", "123 45 67", "1234567",
	"198001011231", "8001011231", "19800101", "800101", "1980-01-01",
	"5566778899", "556677-8899", "556677",
}

// grepForms fails the test if data holds any form of the subject.
func grepForms(t *testing.T, where string, data []byte) {
	t.Helper()
	lower := bytes.ToLower(data)
	for _, f := range subjectForms {
		if bytes.Contains(lower, []byte(f)) {
			t.Errorf("%s holds %q", where, f)
		}
	}
}

func grepDir(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		grepForms(t, p, data)
		grepForms(t, "file name "+p, []byte(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no files", dir)
	}
}

var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// recordSubject records the test subject through the tombstone service, so
// the masks in the facts are the ones lethe makes.
func recordSubject(t *testing.T, stateDir string, repos ...tombstones.Repo) tombstones.Tombstone {
	t.Helper()
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	n = n.WithClock(func() time.Time { return testNow })
	st, err := tombstones.OpenState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	svc := &tombstones.Service{State: st, Repos: repos, Normalizer: n, Now: func() time.Time { return testNow }}
	ts, err := svc.Record(context.Background(), tombstones.Request{
		Identifiers: []tombstones.Identifier{
			{Kind: tombstones.KindEmail, Value: subjectEmail},
			{Kind: tombstones.KindPhone, Value: subjectPhone},
			{Kind: tombstones.KindPersonnummer, Value: subjectPnr},
			{Kind: tombstones.KindOrgnr, Value: subjectOrgnr},
		},
		Reason: "b",
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// factsFor returns the facts of a finished rewrite erasure of ts in two
// repositories, with a hold.
func factsFor(ts tombstones.Tombstone) Facts {
	completed := testNow.Add(3 * 24 * time.Hour)
	f := FromTombstone(ts, Business{Name: "Exempelbolaget AB", Contact: "dataskydd@exempelbolaget.se"})
	f.ReceiptID = "01KAKZ8J9Q5V7W3Y2X1C0B4N6M"
	f.Issued = completed.Add(time.Hour)
	f.Completed = &completed
	f.Repositories = []Repository{
		{
			Location: "backup-nas:/srv/lethe",
			State:    StateComplete,
			Snapshots: []Snapshot{
				{Before: "4f2a9c1d7e3b5a60", After: "9b1e0c7d2a4f6e83", Outcome: SnapshotRewritten},
				{Before: "1c0de5a7b9f3d2e4", Outcome: SnapshotUnchanged},
				{Before: "77aa0b3c5d1e9f20", Outcome: SnapshotRemoved},
			},
			RecordsRemoved: map[string]int64{"csv": 12, "mbox": 3},
			FilesRedacted:  4,
			FilesDropped:   1,
			BytesRemoved:   48213,
			Verification:   &Verification{Kind: "deep", Result: VerifyPassed, FilesChecked: 1520, Time: completed},
		},
		{
			Location: "s3:eu-north-1/lethe-offsite",
			State:    StateComplete,
			Snapshots: []Snapshot{
				{Before: "a0b1c2d3e4f50617", After: "f7e6d5c4b3a29180", Outcome: SnapshotRewritten},
			},
			RecordsRemoved: map[string]int64{"csv": 12},
			FilesRedacted:  1,
			BytesRemoved:   1022,
			Verification:   &Verification{Kind: "index", Result: VerifyPassed, FilesChecked: 310, Time: completed},
		},
	}
	f.Holds = []Hold{{
		Basis:   "Bokföringslagen 7 kap. 2 §",
		Rule:    "ekonomi/verifikationer/**",
		Until:   time.Date(2033, 12, 31, 0, 0, 0, 0, time.UTC),
		Records: 2,
	}}
	f.NoCopyFrom = &completed
	f.Final = true
	return f
}
