package erasure

import (
	"context"
	"strings"
	"testing"

	"lethe/agent/archiver"
	"lethe/agent/erasure/subjects"
	"lethe/agent/formats"
	"lethe/agent/repository"
	"lethe/tombstones"
)

// indexedOpts returns the erase options of a real tombstone for the
// subject under a subject key, with the subject index of env's snapshots
// built as `lethe index` builds it: its screen plans the rewrite, and
// Indexed adds the entry of every redacted content to it, as the erase
// job does. With indexed unset no entry is added.
func indexedOpts(t *testing.T, repo *repository.Repository, indexed bool) Options {
	t.Helper()
	ctx := context.Background()
	n, err := tombstones.NewNormalizer("SE", nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	id, err := n.ParseKindValue("email=" + annaEmail)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := tombstones.EntriesOf(n, key, []tombstones.Identifier{id})
	if err != nil {
		t.Fatal(err)
	}
	tomb := tombstones.Tombstone{ID: tombID, KeyID: key.ID(), Entries: entries}
	set := tombstones.NewSet()
	if err := set.AddTombstone(tomb); err != nil {
		t.Fatal(err)
	}
	m, err := tombstones.NewMatcher(n, key, set)
	if err != nil {
		t.Fatal(err)
	}
	ix := subjects.NewIndexer(n, key, nil)
	idx := subjects.New(ix)
	snaps, _, err := repo.LoadAllSnapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subjects.Build(ctx, repo, repo, snaps, ix, idx, nil); err != nil {
		t.Fatal(err)
	}
	opts := eraseOpts(t)
	opts.Redactor = formats.NewRedactor(m, nil)
	opts.Screen = idx.Screen([]tombstones.Tombstone{tomb})
	if indexed {
		w := subjects.NewWriter(repo, idx)
		opts.IndexLimit = ix.MaxSize()
		opts.Indexed = func(_ string, node *repository.Node, data []byte) {
			if err := w.Add(ctx, ix.Entry(node.Name, node.Content, data)); err != nil {
				t.Error(err)
			}
		}
	}
	return opts
}

// Verification proves the redacted files clean by the subject index
// entries of their new content, without reading them again; a content
// without an entry is rescanned.
func TestVerifyByIndexEntry(t *testing.T) {
	for _, indexed := range []bool{true, false} {
		env := newEnv(t, 3)
		repo := env.open(t)
		res, err := Run(context.Background(), repo, indexedOpts(t, repo, indexed))
		if err != nil {
			t.Fatal(err)
		}
		v := res.Verify
		// kunder.csv and inbox.mbox in each of the three snapshots.
		byEntry := 6
		if !indexed {
			byEntry = 0
		}
		if !v.OK || v.Kind != VerifyIndex || v.FilesChecked != 6 || v.FilesByEntry != byEntry {
			t.Errorf("indexed %v: verification %+v, want 6 files checked, %d by their entries", indexed, v, byEntry)
		}
		checkErased(t, env)
		checkNoBlobHolds(t, env)
	}
}

// A redaction that leaves a record behind is caught: the entry of the
// content it stored holds the subject's tag, so verification rescans
// that content and finds the record. The erasure stays pending.
func TestVerifyCatchesRecordLeftBehind(t *testing.T) {
	redactedHook = func(name string, data []byte) []byte {
		if name == "kunder.csv" {
			return append(data, csvAnna...)
		}
		return data
	}
	t.Cleanup(func() { redactedHook = nil })
	env := newEnv(t, 3)
	repo := env.open(t)
	_, err := Run(context.Background(), repo, indexedOpts(t, repo, true))
	if err == nil || !strings.Contains(err.Error(), "verifying the erasure: 3 problems") {
		t.Fatalf("erasure leaving a record behind: %v, want 3 problems found by verification", err)
	}
	if strings.Contains(err.Error(), "anna") {
		t.Errorf("the error names the subject: %v", err)
	}
	j, err := LoadJournal(context.Background(), env.open(t), tombID)
	if err != nil {
		t.Fatal(err)
	}
	s := j.last(StepVerify)
	if s == nil || s.Verify.OK || s.Verify.Problems != 3 || s.Verify.FilesChecked != 6 || s.Verify.FilesByEntry != 3 {
		t.Fatalf("verification %+v, want the 3 CSVs rescanned and failing, the 3 mboxes cleared by their entries", s)
	}
	if j.Complete() {
		t.Error("the erasure is complete although a record was left behind")
	}
}

// countingRepo counts the trees loaded.
type countingRepo struct {
	*repository.Repository
	trees int
}

func (c *countingRepo) LoadBlob(ctx context.Context, t repository.BlobType, id repository.ID, buf []byte) ([]byte, error) {
	if t == repository.TreeBlob {
		c.trees++
	}
	return c.Repository.LoadBlob(ctx, t, id, buf)
}

// Verification walks a folder found clean once, wherever the same tree
// is met again, and walks again every folder that held something: items
// named after the subject left in each of three snapshots, in folders
// the snapshots share, are problems three times over.
func TestVerifyWalksCleanFoldersOnce(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, 1)
	// Two more nightly backups of the unchanged files share every tree.
	repo := env.open(t)
	for d := 1; d < 3; d++ {
		sn, _, err := archiver.New(repo, archiver.Options{}).Snapshot(ctx, []string{env.src}, archiver.SnapshotOptions{Time: env.snaps[0].Time.AddDate(0, 0, d), Hostname: "kontoret", Parent: env.snaps[d-1]})
		if err != nil {
			t.Fatal(err)
		}
		env.snaps = append(env.snaps, sn)
	}
	if err := repo.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	verify := func() (*Verification, int) {
		t.Helper()
		c := &countingRepo{Repository: env.open(t)}
		e := newEraser(c, eraseOpts(t), &Journal{Tombstone: tombID})
		// Keeping no tree, the cache lets every walk be counted.
		e.trees = repository.NewTreeCache(c, 0)
		e.rewritten = map[repository.ID][]string{}
		e.j.Steps = append(e.j.Steps, Step{Kind: StepPlan, Plan: &PlanStep{Mode: ModeRewrite}})
		for _, sn := range env.snaps {
			// As if rewritten into themselves, with no file redacted:
			// what is left named after the subject is checked.
			id := sn.ID
			e.j.Steps = append(e.j.Steps, Step{Kind: StepRewritten, Snapshot: &SnapshotStep{Old: id, New: &id}})
			e.rewritten[id] = nil
		}
		// The used blobs, which verification needs too, are found
		// before the count starts: only its walks are counted.
		snaps, _, err := c.LoadAllSnapshots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.usedBlobs(ctx, snaps); err != nil {
			t.Fatal(err)
		}
		c.trees = 0
		v, err := e.verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v, c.trees
	}
	v, trees := verify()
	// Per snapshot: the vCard and the mail folder named after her.
	if v.OK || v.Problems != 6 || v.SnapshotsChecked != 3 {
		t.Errorf("verification %+v, want 6 problems in 3 snapshots", v)
	}
	// Every tree of every snapshot but the folder named after her (not
	// looked into) is walked, except the one clean folder (bokforing)
	// the snapshots share: it is walked in the first only.
	snapTrees := 0
	if err := repository.Walk(ctx, env.open(t), *env.snaps[0].Tree, func(_ repository.ID, _ string, n *repository.Node, err error) error {
		if err == nil && n.Type == repository.NodeDir {
			snapTrees++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// snapTrees counts the folders below the root, the one named after
	// her among them.
	if want := 3*snapTrees - 2; trees != want {
		t.Errorf("verification loaded %d trees, want %d (%d per snapshot, the clean one once)", trees, want, snapTrees)
	}
}
