package receipts

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lethe/tombstones"
)

func TestKeysFirstUseAndFreshMachine(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	repo1, repo2 := newMemStore(), newMemStore()
	keys := &Keys{StateDir: state, Repos: []tombstones.Repo{{Name: "r1", Store: repo1}, {Name: "r2", Store: repo2}}}
	if k, err := keys.Load(ctx); err != nil || k != nil {
		t.Fatalf("load before first use: %v %v", k, err)
	}
	key, err := keys.Key(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(state, StateKeyName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state key file: %v %v", fi, err)
	}
	for _, r := range []*memStore{repo1, repo2} {
		if _, ok := r.objects[KeyName]; !ok {
			t.Error("key not in a repository")
		}
	}
	again, err := keys.Key(ctx)
	if err != nil || !again.Equal(key) {
		t.Fatalf("second use: %v", err)
	}

	// A fresh machine: no state directory, only one repository.
	fresh := &Keys{StateDir: t.TempDir(), Repos: []tombstones.Repo{{Name: "r2", Store: repo2}}}
	k2, err := fresh.Key(ctx)
	if err != nil || !k2.Equal(key) {
		t.Fatalf("fresh machine signs with another key: %v", err)
	}
	// It copies the key into its own state directory and a new repository.
	repo3 := newMemStore()
	fresh.Repos = append(fresh.Repos, tombstones.Repo{Name: "r3", Store: repo3})
	if _, err := fresh.Key(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := repo3.objects[KeyName]; !ok {
		t.Error("key not copied to the new repository")
	}
	if k, err := loadStateKey(fresh.StateDir); err != nil || !k.Equal(key) {
		t.Errorf("key not copied to the state directory: %v", err)
	}
}

func TestKeysDisagree(t *testing.T) {
	ctx := context.Background()
	repo1, repo2 := newMemStore(), newMemStore()
	if _, err := (&Keys{Repos: []tombstones.Repo{{Name: "r1", Store: repo1}}}).Key(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Keys{Repos: []tombstones.Repo{{Name: "r2", Store: repo2}}}).Key(ctx); err != nil {
		t.Fatal(err)
	}
	both := &Keys{StateDir: t.TempDir(), Repos: []tombstones.Repo{{Name: "r1", Store: repo1}, {Name: "r2", Store: repo2}}}
	_, err := both.Key(ctx)
	if err == nil || !strings.Contains(err.Error(), "receipt signing keys disagree") {
		t.Fatalf("two keys: %v", err)
	}
	if _, err := os.Stat(filepath.Join(both.StateDir, StateKeyName)); err == nil {
		t.Error("a key was saved despite the disagreement")
	}
}

func TestKeysUnreachable(t *testing.T) {
	ctx := context.Background()
	down := newMemStore()
	down.down = true
	var warned []string
	keys := &Keys{StateDir: t.TempDir(), Repos: []tombstones.Repo{{Name: "down", Store: down}},
		Warn: func(repo string, err error) { warned = append(warned, repo) }}
	if _, err := keys.Key(ctx); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("new key with an unreachable repository: %v", err)
	}
	keys.Warn = nil
	if _, err := keys.Key(ctx); err == nil {
		t.Fatal("unreachable repository without Warn: no error")
	}
	if len(warned) != 1 {
		t.Errorf("warned %v", warned)
	}
}

func TestStateKeyFileHoldsOnlyTheKey(t *testing.T) {
	state := t.TempDir()
	key := testKey(t)
	data, err := encodeSigningKey(key, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveStateKey(state, data, key); err != nil {
		t.Fatal(err)
	}
	other := testKey(t)
	odata, _ := encodeSigningKey(other, testNow)
	if err := saveStateKey(state, odata, other); err == nil {
		t.Error("a different key overwrote the state directory's")
	}
	got, err := loadStateKey(state)
	if err != nil || !got.Equal(key) || !got.Public().(ed25519.PublicKey).Equal(key.Public()) {
		t.Errorf("loaded %v", err)
	}
}
