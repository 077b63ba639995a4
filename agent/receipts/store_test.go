package receipts

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"lethe/tombstones"
)

// TestIssueLoadFreshMachine: a receipt issued on one machine is stored in
// every repository, and a fresh machine with only a repository lists and
// verifies it with the published key. Nothing written holds the subject.
func TestIssueLoadFreshMachine(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	repo1, repo2 := newMemStore(), newMemStore()
	repos := []tombstones.Repo{{Name: "r1", Store: repo1}, {Name: "r2", Store: repo2}}
	ts := recordSubject(t, state, repos...)
	iss := &Issuer{Keys: &Keys{StateDir: state, Repos: repos}, Now: func() time.Time { return testNow }}

	interim := factsFor(ts)
	interim.Final, interim.Completed, interim.NoCopyFrom = false, nil, nil
	interim.Repositories[1].State = StatePending
	first, err := iss.Issue(ctx, interim)
	if err != nil {
		t.Fatal(err)
	}
	iss.Now = func() time.Time { return testNow.Add(time.Hour) }
	final, err := iss.Issue(ctx, factsFor(ts))
	if err != nil {
		t.Fatal(err)
	}
	if first.Facts.ReceiptID == final.Facts.ReceiptID || !tombstones.ValidID(final.Facts.ReceiptID) {
		t.Fatalf("ids %s %s", first.Facts.ReceiptID, final.Facts.ReceiptID)
	}
	key, err := iss.Keys.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	published, err := MarshalPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	// The fresh machine knows only repo2 and the published key.
	pub, err := ParsePublicKey(published)
	if err != nil {
		t.Fatal(err)
	}
	list, err := List(ctx, repo2, pub)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v, %d receipts", err, len(list))
	}
	if list[0].Facts.Final || !list[1].Facts.Final {
		t.Errorf("order or finality: %v %v", list[0].Facts.Final, list[1].Facts.Final)
	}
	got, ok := Find(list, ts.ID)
	if !ok || got.Facts.ReceiptID != final.Facts.ReceiptID {
		t.Errorf("find by request id: %v %s", ok, got.Facts.ReceiptID)
	}
	loaded, err := Load(ctx, repo2, strings.ToLower(first.Facts.ReceiptID), pub)
	if err != nil || !bytes.Equal(loaded.File, first.File) {
		t.Fatalf("load: %v", err)
	}
	freshKeys := &Keys{StateDir: t.TempDir(), Repos: repos[1:]}
	fk, err := freshKeys.Key(ctx)
	if err != nil || !fk.Equal(key) {
		t.Fatalf("fresh machine key: %v", err)
	}
	if _, err := Verify(final.File, fk.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("fresh machine verify: %v", err)
	}

	// A receipt swapped under another id is refused.
	repo2.objects[ReceiptsPrefix+first.Facts.ReceiptID] = final.File
	if _, err := Load(ctx, repo2, first.Facts.ReceiptID, pub); err == nil {
		t.Error("swapped receipt loaded")
	}

	for _, r := range []*memStore{repo1, repo2} {
		for name, data := range r.objects {
			grepForms(t, "repository object "+name, data)
		}
	}
	grepDir(t, state)
}

func TestIssueNeedsARepository(t *testing.T) {
	ctx := context.Background()
	down := newMemStore()
	ts := recordSubject(t, t.TempDir())
	state := t.TempDir()
	keys := &Keys{StateDir: state, Repos: []tombstones.Repo{{Name: "r", Store: down}}}
	if _, err := keys.Key(ctx); err != nil {
		t.Fatal(err)
	}
	down.down = true
	keys.Warn = func(string, error) {}
	if _, err := (&Issuer{Keys: keys}).Issue(ctx, factsFor(ts)); err == nil {
		t.Error("issued with no repository to keep it")
	}
}
