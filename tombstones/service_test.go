package tombstones

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store with write-once objects, like the
// repository's.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	down    bool
}

var errDown = errors.New("connection refused")

func newMemStore() *memStore { return &memStore{objects: make(map[string][]byte)} }

func (m *memStore) SaveLethe(_ context.Context, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errDown
	}
	if _, ok := m.objects[name]; ok {
		return fmt.Errorf("saving %s: %w", name, fs.ErrExist)
	}
	m.objects[name] = bytes.Clone(data)
	return nil
}

func (m *memStore) RemoveLethe(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return errDown
	}
	delete(m.objects, name)
	return nil
}

func (m *memStore) LoadLethe(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
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
		return errDown
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

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func newService(t testing.TB, dir string, stores ...Store) *Service {
	t.Helper()
	st, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{State: st, Normalizer: testNormalizer(t), Now: func() time.Time { return today }}
	for i, store := range stores {
		s.Repos = append(s.Repos, Repo{Name: fmt.Sprintf("repo%d", i+1), Store: store})
	}
	return s
}

// The test subject, in every spelling lethe might be given or write.
var (
	subjectPnr10 = withCheck("800101123")
	subject      = []Identifier{
		{KindEmail, "Anna.Svensson@Example.SE"},
		{KindPhone, "070-123 45 67"},
		{KindPersonnummer, subjectPnr10[:6] + "-" + subjectPnr10[6:]},
		{KindOrgnr, "556677-8899"},
		{KindName, "Anna Svensson"},
		{CustomKindOf("customer"), "K-12345"},
	}
)

// subjectForms returns every written form of the test subject's
// identifiers that must never appear in anything lethe writes.
func subjectForms() []string {
	return []string{
		"anna.svensson@example.se", "Anna.Svensson@Example.SE", "anna.svensson", "svensson@example",
		"070-123 45 67", "0701234567", "+46701234567", "46701234567", "701234567", "70 123 45 67", "123 45 67",
		subjectPnr10, "19" + subjectPnr10, subjectPnr10[:6] + "-" + subjectPnr10[6:], "19" + subjectPnr10[:6] + "-" + subjectPnr10[6:],
		"5566778899", "556677-8899",
		"Anna Svensson", "anna svensson", "Svensson",
		"K-12345",
	}
}

// leaks returns the forms of the subject that data holds.
func leaks(data []byte) []string {
	var out []string
	lower := bytes.ToLower(data)
	for _, f := range subjectForms() {
		if bytes.Contains(lower, bytes.ToLower([]byte(f))) {
			out = append(out, f)
		}
	}
	return out
}

// grepForms fails the test if data holds any form of the subject.
func grepForms(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, f := range leaks(data) {
		t.Errorf("%s holds %q in clear text", where, f)
	}
}

// TestLeaksDetects keeps the grep honest: it finds each spelling.
func TestLeaksDetects(t *testing.T) {
	for _, id := range subject {
		if len(leaks([]byte("x "+id.Value+" y"))) == 0 {
			t.Errorf("grep misses %s", id.Kind)
		}
	}
	if l := leaks([]byte(`{"masked":["a***@example.se","***67","***31","***99","A*** S***","***"]}`)); len(l) != 0 {
		t.Errorf("masked forms count as leaks: %q", l)
	}
}

func grepDir(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		grepForms(t, "file name "+p, []byte(p))
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		grepForms(t, p, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no files to check", dir)
	}
}

func TestRecordListShowRevokeCheck(t *testing.T) {
	ctx := context.Background()
	repo1, repo2 := newMemStore(), newMemStore()
	s := newService(t, t.TempDir(), repo1, repo2)

	ts, err := s.Record(ctx, Request{Identifiers: subject, Reason: "b", Reference: "TICKET-7", Mode: ModeExpire})
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(ts.ID) || ts.Reason != "GDPR Art. 17(1)(b)" || ts.Mode != ModeExpire || ts.Reference != "TICKET-7" {
		t.Fatalf("recorded %+v", ts)
	}
	wantMasked := []string{"a***@example.se", "***67", "***" + subjectPnr10[8:], "***99", "A*** S***", "***"}
	if got := ts.Masked(); strings.Join(got, "|") != strings.Join(wantMasked, "|") {
		t.Errorf("masked %q, want %q", got, wantMasked)
	}
	for _, r := range []*memStore{repo1, repo2} {
		if _, ok := r.objects[tombstoneName(ts.ID)]; !ok {
			t.Errorf("tombstone not in repository")
		}
		if _, ok := r.objects[SubjectKeyName]; !ok {
			t.Errorf("subject key not in repository")
		}
	}

	other, err := s.Record(ctx, Request{Identifiers: []Identifier{{KindEmail, "bertil@example.se"}}, Reason: "customer asked by phone"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Mode != ModeRewrite || other.ID <= ts.ID {
		t.Errorf("second tombstone %+v", other)
	}

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != ts.ID || list[1].ID != other.ID {
		t.Fatalf("list: %+v", list)
	}

	// Any spelling finds the tombstone.
	res, err := s.Check(ctx, []Identifier{{KindEmail, "anna.svensson@example.se"}, {KindPhone, "+46 (0)70-1234567"}, {KindEmail, "carl@example.se"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Tombstones) != 1 || res[0].Tombstones[0] != ts.ID || len(res[1].Tombstones) != 1 || len(res[2].Tombstones) != 0 {
		t.Fatalf("check: %+v", res)
	}
	if res[1].Masked != "***67" {
		t.Errorf("check masked %q", res[1].Masked)
	}

	m, err := s.Matcher(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range subject {
		if got, ok := m.Lookup(id.Kind, id.Value); !ok || got != ts.ID {
			t.Errorf("matcher: %s -> %q, %v", id.Kind, got, ok)
		}
	}

	rv, err := s.Revoke(ctx, strings.ToLower(ts.ID), "customer consented again", "TICKET-9")
	if err != nil {
		t.Fatal(err)
	}
	shown, err := s.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !shown.Revoked() || shown.Revocations[0].ID != rv.ID || shown.Revocations[0].Reason != "customer consented again" {
		t.Fatalf("show after revoke: %+v", shown)
	}
	res, err = s.Check(ctx, []Identifier{{KindEmail, "ANNA.svensson@example.se"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Tombstones) != 0 || len(res[0].Revoked) != 1 {
		t.Fatalf("check after revoke: %+v", res)
	}
	if m, err = s.Matcher(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Match(KindEmail, "anna.svensson@example.se") || !m.Match(KindEmail, "bertil@example.se") {
		t.Error("matcher after revoke: revoked tombstone matches or active one does not")
	}
	for _, r := range []*memStore{repo1, repo2} {
		if _, ok := r.objects[revocationName(rv)]; !ok {
			t.Errorf("revocation not in repository")
		}
	}

	if _, err := s.Revoke(ctx, ts.ID, "again", ""); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("second revocation: %v", err)
	}
	if _, err := s.Show(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV"); err == nil {
		t.Error("show unknown id: no error")
	}
	if _, err := s.Revoke(ctx, "nonsense", "x", ""); err == nil {
		t.Error("revoke invalid id: no error")
	}

	// Nothing lethe wrote holds the subject in clear text.
	grepDir(t, s.State.Dir())
	for _, r := range []*memStore{repo1, repo2} {
		for name, data := range r.objects {
			grepForms(t, "object name", []byte(name))
			grepForms(t, "object "+name, data)
		}
	}
}

func TestRecordRejects(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir(), newMemStore())
	for _, req := range []Request{
		{Reason: "a"},
		{Identifiers: subject[:1]},
		{Identifiers: subject[:1], Reason: "a", Mode: "shred"},
		{Identifiers: []Identifier{{KindPhone, "070-12"}}, Reason: "a"},
		{Identifiers: subject[:1], Reason: "Anna.Svensson@example.se asked"},
		{Identifiers: subject[1:2], Reason: "a", Reference: "called from 070 1234567"},
		{Identifiers: subject[2:3], Reason: "a", Reference: "pnr " + subjectPnr10},
		{Identifiers: subject[:1], Reason: "a", Reference: "bad\x00ref"},
	} {
		_, err := s.Record(ctx, req)
		if err == nil {
			t.Errorf("request %+v: no error", req)
			continue
		}
		grepForms(t, "error", []byte(err.Error()))
	}
	set, err := s.State.Load()
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 0 {
		t.Errorf("rejected requests left %d tombstones", set.Len())
	}
}

// TestFreshMachine: with the state directory gone, the repository alone
// gives back every tombstone and the subject key.
func TestFreshMachine(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	dir := t.TempDir()
	s := newService(t, dir, repo)
	var ids []string
	for i, req := range []Request{
		{Identifiers: subject[:2], Reason: "a"},
		{Identifiers: []Identifier{{KindEmail, "bertil@example.se"}}, Reason: "c"},
	} {
		ts, err := s.Record(ctx, req)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		ids = append(ids, ts.ID)
	}
	if _, err := s.Revoke(ctx, ids[1], "consent", ""); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	fresh := newService(t, filepath.Join(t.TempDir(), "lethe"), repo)
	list, err := fresh.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != ids[0] || list[1].ID != ids[1] || list[0].Revoked() || !list[1].Revoked() {
		t.Fatalf("fresh machine lists %+v", list)
	}
	res, err := fresh.Check(ctx, []Identifier{{KindPhone, "+46 70 123 45 67"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].Tombstones) != 1 || res[0].Tombstones[0] != ids[0] {
		t.Fatalf("fresh machine check: %+v", res)
	}
	// The state directory was rebuilt: the repository can go away now.
	repo.setDown(true)
	set, err := fresh.State.Load()
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || len(set.Revocations()) != 1 {
		t.Fatalf("rebuilt state holds %d tombstones, %d revocations", set.Len(), len(set.Revocations()))
	}
	fi, err := os.Stat(filepath.Join(fresh.State.Dir(), stateKeyName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("subject key file mode %v", fi.Mode().Perm())
	}
}

// TestTwoStatesUnion: two hosts recording against one repository both end
// up with the union.
func TestTwoStatesUnion(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	a := newService(t, t.TempDir(), repo)
	b := newService(t, t.TempDir(), repo)
	ta, err := a.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Record(ctx, Request{Identifiers: []Identifier{{KindEmail, "bertil@example.se"}}, Reason: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if ta.KeyID != tb.KeyID {
		t.Fatal("second host made its own subject key")
	}
	for _, s := range []*Service{a, b} {
		if _, _, _, err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*Service{a, b} {
		set, err := s.State.Load()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := set.Get(ta.ID); !ok {
			t.Errorf("%s lacks %s", s.State.Dir(), ta.ID)
		}
		if _, ok := set.Get(tb.ID); !ok {
			t.Errorf("%s lacks %s", s.State.Dir(), tb.ID)
		}
		if set.Len() != 2 {
			t.Errorf("%s holds %d tombstones", s.State.Dir(), set.Len())
		}
	}
	// A second sync copies nothing.
	_, _, rep, err := a.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ToState != 0 || rep.ToRepo["repo1"] != 0 {
		t.Errorf("idempotent sync copied %+v", rep)
	}
}

// TestUnreachableRepository: the tombstone is safe locally and reaches
// the repository with the next sync.
func TestUnreachableRepository(t *testing.T) {
	ctx := context.Background()
	up, flaky := newMemStore(), newMemStore()
	s := newService(t, t.TempDir(), up, flaky)
	if _, _, _, err := s.Sync(ctx); err != nil { // creates the key everywhere
		t.Fatal(err)
	}
	flaky.setDown(true)
	if _, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"}); err == nil {
		t.Fatal("record with an unreachable repository and no Warn: no error")
	}
	var warned []string
	s.Warn = func(repo string, err error) {
		warned = append(warned, repo)
		grepForms(t, "warning", []byte(err.Error()))
	}
	ts, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) == 0 || warned[len(warned)-1] != "repo2" {
		t.Fatalf("warnings %v", warned)
	}
	if _, ok := flaky.objects[tombstoneName(ts.ID)]; ok {
		t.Fatal("down repository got the tombstone")
	}
	flaky.setDown(false)
	_, _, rep, err := s.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := flaky.objects[tombstoneName(ts.ID)]; !ok || rep.ToRepo["repo2"] != 1 {
		t.Fatalf("sync did not catch the repository up: %+v", rep)
	}
}

func TestSubjectKeyReconciliation(t *testing.T) {
	ctx := context.Background()
	r1, r2 := newMemStore(), newMemStore()
	if _, err := newService(t, t.TempDir(), r1).SubjectKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newService(t, t.TempDir(), r2).SubjectKey(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := newService(t, t.TempDir(), r1, r2).SubjectKey(ctx)
	if err == nil || !strings.Contains(err.Error(), "subject keys disagree") || !strings.Contains(err.Error(), "repository repo2 belongs to another agent") {
		t.Fatalf("two keys: %v", err)
	}

	// A new repository gets the existing key.
	r3 := newMemStore()
	s := newService(t, t.TempDir(), r1, r3)
	k, err := s.SubjectKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k3, err := loadRepoKey(ctx, r3)
	if err != nil || !k.Equal(k3) {
		t.Fatalf("new repository's key: %v", err)
	}
	sk, err := s.State.LoadKey()
	if err != nil || !k.Equal(sk) {
		t.Fatalf("state key: %v", err)
	}

	// No key anywhere yet and a repository down: no key is made up.
	r4 := newMemStore()
	r4.setDown(true)
	s4 := newService(t, t.TempDir(), newMemStore(), r4)
	s4.Warn = func(string, error) {}
	if _, err := s4.SubjectKey(ctx); err == nil {
		t.Fatal("key created while a repository is unreachable")
	}
}

func TestStateLogTornLine(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir())
	ts, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.State.Dir(), stateLogName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"version":1,"type":"tombstone","tombstone":{"id":"01`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t2, err := s.Record(ctx, Request{Identifiers: subject[1:2], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.State.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Get(ts.ID); !ok {
		t.Error("first tombstone lost")
	}
	if _, ok := set.Get(t2.ID); !ok {
		t.Error("tombstone after the torn line lost")
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v", fi.Mode().Perm())
	}
}

func TestProgressRecords(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir())
	ts, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []ProgressState{ProgressPending, ProgressComplete} {
		if err := s.State.RecordProgress(Progress{Tombstone: ts.ID, Repository: "repo1", State: st, Updated: today.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Show(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Progress["repo1"].State != ProgressComplete {
		t.Fatalf("progress %+v", got.Progress)
	}
}

func TestParseReason(t *testing.T) {
	for in, want := range map[string]string{
		"a": "GDPR Art. 17(1)(a)", "B": "GDPR Art. 17(1)(b)", "17(1)(c)": "GDPR Art. 17(1)(c)",
		"Art. 17(1)(d)": "GDPR Art. 17(1)(d)", "GDPR Art. 17(1)(e)": "GDPR Art. 17(1)(e)", "article 17 (1) (f)": "GDPR Art. 17(1)(f)",
		" customer left ": "customer left",
	} {
		if got, err := ParseReason(in); err != nil || got != want {
			t.Errorf("ParseReason(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", "g\x01"} {
		if _, err := ParseReason(in); err == nil {
			t.Errorf("ParseReason(%q): no error", in)
		}
	}
	if d := DescribeReason("GDPR Art. 17(1)(b)"); d != "GDPR Art. 17(1)(b): consent withdrawn" {
		t.Errorf("DescribeReason: %q", d)
	}
}

func TestConflictingObjects(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	s := newService(t, t.TempDir(), repo)
	ts, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	// The same id with other content in a repository is refused.
	forged := ts
	forged.Reason = "forged"
	data := mustJSON(t, tombstoneObject(forged))
	repo.objects[tombstoneName(ts.ID)] = data
	if _, _, _, err := s.Sync(ctx); err == nil || !strings.Contains(err.Error(), "two different objects") {
		t.Fatalf("conflicting object: %v", err)
	}
	// An object under the wrong name is refused.
	delete(repo.objects, tombstoneName(ts.ID))
	repo.objects[tombstoneName("01ARZ3NDEKTSV4RRFFQ69G5FAV")] = mustJSON(t, tombstoneObject(ts))
	if _, _, _, err := s.Sync(ctx); err == nil {
		t.Fatal("misnamed object: no error")
	}
}

func mustJSON(t *testing.T, o object) []byte {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConcurrentRecord: one service used from many goroutines (the agent's
// API and its jobs) loses nothing.
func TestConcurrentRecord(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	s := newService(t, t.TempDir(), repo)
	if _, err := s.SubjectKey(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ts, err := s.Record(ctx, Request{Identifiers: []Identifier{{KindEmail, fmt.Sprintf("user%d@example.se", i)}}, Reason: "a"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = ts.ID
		})
	}
	wg.Wait()
	set, err := s.State.Load()
	if err != nil {
		t.Fatal(err)
	}
	repoSet, err := LoadRepoSet(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, ok := set.Get(id); !ok {
			t.Errorf("state lacks %s", id)
		}
		if _, ok := repoSet.Get(id); !ok {
			t.Errorf("repository lacks %s", id)
		}
	}
}

// TestReadOnlyMakesNoKey: a read-only service where no key exists lists
// nothing and leaves no key behind, so the repository's key, made later,
// is the only one.
func TestReadOnlyMakesNoKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ro := newService(t, dir)
	ro.ReadOnly = true
	if _, err := ro.SubjectKey(ctx); !errors.Is(err, ErrNoSubjectKey) {
		t.Fatalf("read-only SubjectKey with no key: %v", err)
	}
	ts, err := ro.List(ctx)
	if err != nil || len(ts) != 0 {
		t.Fatalf("read-only List: %v, %v", ts, err)
	}
	res, err := ro.Check(ctx, subject[:1])
	if err != nil || len(res) != 1 || len(res[0].Tombstones) != 0 {
		t.Fatalf("read-only Check: %+v, %v", res, err)
	}
	if _, err := ro.Matcher(ctx); err != nil {
		t.Fatalf("read-only Matcher: %v", err)
	}
	repo := newMemStore()
	ro.Repos = []Repo{{Name: "repo1", Store: repo}}
	if _, err := ro.Show(ctx, "01JAAAAAAAAAAAAAAAAAAAAAAA"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("read-only Show: %v", err)
	}
	if k, err := ro.State.LoadKey(); err != nil || k != nil {
		t.Fatalf("state directory got a key: %v %v", k, err)
	}
	if len(repo.objects) != 0 {
		t.Fatalf("repository got objects: %v", repo.objects)
	}

	// An existing key is still copied where it is missing.
	w := newService(t, t.TempDir(), repo)
	k, err := w.SubjectKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ro.SubjectKey(ctx); err != nil || !got.Equal(k) {
		t.Fatalf("read-only SubjectKey with a repository key: %v", err)
	}
	if sk, err := ro.State.LoadKey(); err != nil || !sk.Equal(k) {
		t.Fatalf("state directory did not get the repository's key: %v", err)
	}
}

// TestStateAdoptsRepositoryKey: a state directory whose key fingerprinted
// nothing takes the repository's key; one holding tombstones does not, and
// the error says what to do.
func TestStateAdoptsRepositoryKey(t *testing.T) {
	ctx := context.Background()
	repo := newMemStore()
	rk, err := newService(t, t.TempDir(), repo).SubjectKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A key made with no repository (an older lethe's read-only command).
	dir := t.TempDir()
	lone := newService(t, dir)
	if _, err := lone.SubjectKey(ctx); err != nil {
		t.Fatal(err)
	}
	s := newService(t, dir, repo)
	if _, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"}); err != nil {
		t.Fatalf("recording with an unused state key: %v", err)
	}
	if sk, err := s.State.LoadKey(); err != nil || !sk.Equal(rk) {
		t.Fatalf("state key not replaced by the repository's: %v", err)
	}
	res, err := s.Check(ctx, subject[:1])
	if err != nil || len(res[0].Tombstones) != 1 {
		t.Fatalf("check after adoption: %+v, %v", res, err)
	}

	// A state directory with a tombstone under its own key keeps it.
	dir2 := t.TempDir()
	other := newService(t, dir2)
	if _, err := other.Record(ctx, Request{Identifiers: subject[1:2], Reason: "a"}); err != nil {
		t.Fatal(err)
	}
	own, err := other.State.LoadKey()
	if err != nil {
		t.Fatal(err)
	}
	_, err = newService(t, dir2, repo).List(ctx)
	if err == nil || !strings.Contains(err.Error(), "subject keys disagree") ||
		!strings.Contains(err.Error(), "holds 1 erasure made under its key") || !strings.Contains(err.Error(), "--state-dir") {
		t.Fatalf("disagreeing keys: %v", err)
	}
	if sk, err := other.State.LoadKey(); err != nil || !sk.Equal(own) {
		t.Fatalf("a used state key was replaced: %v", err)
	}
}

// TestShowByPrefix: a unique prefix names a tombstone, as in restic; an
// ambiguous one is an error that says how many match.
func TestShowByPrefix(t *testing.T) {
	ctx := context.Background()
	s := newService(t, t.TempDir())
	a, err := s.Record(ctx, Request{Identifiers: subject[:1], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Record(ctx, Request{Identifiers: subject[1:2], Reason: "a"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < len(a.ID) && a.ID[n] == b.ID[n] {
		n++
	}
	if got, err := s.Show(ctx, strings.ToLower(b.ID[:n+1])); err != nil || got.ID != b.ID {
		t.Fatalf("unique prefix: %v, %v", got.ID, err)
	}
	if _, err := s.Show(ctx, a.ID[:n]); err == nil || !strings.Contains(err.Error(), "2 tombstones") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.Show(ctx, "7Z"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown prefix: %v", err)
	}
	if _, err := s.Show(ctx, "9"); err == nil || !strings.Contains(err.Error(), "not a valid id") {
		t.Fatalf("invalid prefix: %v", err)
	}
}
