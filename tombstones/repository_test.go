package tombstones

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository"
	"lethe/agent/repository/restictest"
	"lethe/backends/local"
)

var testKDF = &repository.KDFParams{N: 1 << 10, R: 8, P: 1}

func openRepo(t *testing.T, dir string) *repository.Repository {
	t.Helper()
	be, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repository.Open(context.Background(), be, restictest.Password, repository.Options{KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRealRepository records, revokes and syncs tombstones in a real
// repository that restic also backs up into, then checks that restic
// finds it clean, that nothing holds the subject in clear text (decrypted
// objects included), that a fresh machine with only the repository and
// its password lists every tombstone, and that two state directories end
// up with the union.
func TestRealRepository(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "repo")
	be, err := local.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repository.Init(ctx, be, restictest.Password, repository.InitOptions{KDF: testKDF}); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "invoice.txt"), []byte("invoice 1001, total 100 SEK\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	restictest.Run(t, dir, "backup", "--host", "test", src)

	stateA := t.TempDir()
	a := newService(t, stateA, openRepo(t, dir))
	ts, err := a.Record(ctx, Request{Identifiers: subject, Reason: "17(1)(a)", Reference: "TICKET-1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Record(ctx, Request{Identifiers: []Identifier{{KindEmail, "bertil@example.se"}}, Reason: "b"})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := a.Revoke(ctx, other.ID, "consented again", "")
	if err != nil {
		t.Fatal(err)
	}

	// A second host records its own erasure against the same repository.
	stateB := t.TempDir()
	b := newService(t, stateB, openRepo(t, dir))
	b.Now = func() time.Time { return today.Add(time.Second) } // ids sort after a's
	tb, err := b.Record(ctx, Request{Identifiers: []Identifier{{KindPhone, "+46 8 123 45 67"}}, Reason: "c"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Service{a, b} {
		if _, _, _, err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		set, err := s.State.Load()
		if err != nil {
			t.Fatal(err)
		}
		if set.Len() != 3 || len(set.Revocations()) != 1 {
			t.Errorf("%s: %d tombstones, %d revocations after sync", s.State.Dir(), set.Len(), len(set.Revocations()))
		}
	}

	restictest.Check(t, dir)
	if out := restictest.Run(t, dir, "snapshots", "--json"); !strings.Contains(out, `"hostname":"test"`) {
		t.Errorf("restic snapshots after lethe wrote its objects: %s", out)
	}

	// Nothing in clear text: raw repository files, decrypted lethe
	// objects, the state directories.
	grepDir(t, dir)
	grepDir(t, stateA)
	grepDir(t, stateB)
	r := openRepo(t, dir)
	var names []string
	if err := r.ListLethe(ctx, "", func(name string) error { names = append(names, name); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{SubjectKeyName: true, tombstoneName(ts.ID): true, tombstoneName(other.ID): true,
		tombstoneName(tb.ID): true, revocationName(rv): true}
	if len(names) != len(want) {
		t.Errorf("lethe objects %q", names)
	}
	for _, name := range names {
		if !want[name] {
			t.Errorf("unexpected lethe object %s", name)
		}
		grepForms(t, "object name", []byte(name))
		data, err := r.LoadLethe(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		grepForms(t, "decrypted "+name, data)
	}

	// A fresh machine: no state directory, only the repository and its
	// password.
	if err := os.RemoveAll(stateA); err != nil {
		t.Fatal(err)
	}
	fresh := newService(t, filepath.Join(t.TempDir(), "state"), openRepo(t, dir))
	list, err := fresh.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != ts.ID || list[1].ID != other.ID || !list[1].Revoked() || list[2].ID != tb.ID {
		t.Fatalf("fresh machine lists %+v", list)
	}
	m, err := fresh.Matcher(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind Kind
		raw  string
		want string
	}{
		{KindEmail, "ANNA.SVENSSON@example.se", ts.ID},
		{KindPhone, "0046701234567", ts.ID},
		{KindPhone, "08-123 45 67", tb.ID},
		{KindPersonnummer, "19" + subjectPnr10, ts.ID},
		{KindEmail, "bertil@example.se", ""}, // revoked
	} {
		got, _ := m.Lookup(c.kind, c.raw)
		if got != c.want {
			t.Errorf("fresh machine: %s -> %q, want %q", c.kind, got, c.want)
		}
	}
	restictest.Check(t, dir)
}
