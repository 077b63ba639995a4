package repository

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
)

var rewriteFixture = testDir{
	"docs": testDir{"a.txt": "alpha\n", "b.txt": "beta\n"},
	"kunder": testDir{
		"anna": testDir{"notes.txt": "anna's notes\n", "deep": testDir{"x": "x"}},
		"bo":   testDir{"notes.txt": "bo's notes\n"},
	},
	"mail.mbox": "From a\n\nhej\nFrom b\n\nhopp\n",
}

// removePaths returns a RewriteFunc that removes the nodes at paths and
// records every path it is called for.
func removePaths(seen *[]string, paths ...string) RewriteFunc {
	return func(p string, n *Node) (*Node, error) {
		*seen = append(*seen, p)
		if slices.Contains(paths, p) {
			return nil, nil
		}
		return n, nil
	}
}

// assertKept checks that every node of before other than those gone or
// below them is in after, byte-identical except for the Subtree of the
// directories in changedDirs.
func assertKept(t *testing.T, before, after map[string]*Node, gone []string, changedDirs ...string) {
	t.Helper()
	for p, n := range before {
		removed := false
		for _, g := range gone {
			if p == g || strings.HasPrefix(p, g+"/") {
				removed = true
			}
		}
		m, ok := after[p]
		switch {
		case removed && ok:
			t.Errorf("%s still there", p)
		case removed:
		case !ok:
			t.Errorf("%s lost", p)
		case slices.Contains(changedDirs, p):
			if *m.Subtree == *n.Subtree {
				t.Errorf("%s: subtree not replaced", p)
			}
			c := *m
			c.Subtree = n.Subtree
			if mustJSON(t, &c) != mustJSON(t, n) {
				t.Errorf("%s changed beyond its subtree:\n%s\n%s", p, mustJSON(t, n), mustJSON(t, m))
			}
		default:
			if mustJSON(t, m) != mustJSON(t, n) {
				t.Errorf("%s changed:\n%s\n%s", p, mustJSON(t, n), mustJSON(t, m))
			}
		}
	}
	if len(after) > len(before) {
		t.Errorf("rewrite added nodes: %d before, %d after", len(before), len(after))
	}
}

// TestRewriteRemoveFile: removing a file saves new trees for its
// directory and the root only; everything else is byte-identical.
func TestRewriteRemoveFile(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, rewriteFixture)
	cr := newCountingRepo(r)
	var seen []string
	rw := NewTreeRewriter(cr, removePaths(&seen, "/docs/b.txt"))
	newRoot, changed, err := rw.RewriteTree(ctx, "/", root)
	if err != nil || !changed || newRoot == root {
		t.Fatalf("rewrite: %s %v %v", newRoot.Str(), changed, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, after := walkNodes(t, r, root), walkNodes(t, r, newRoot)
	assertKept(t, before, after, []string{"/docs/b.txt"}, "/docs")
	if got, want := rw.Replaced().Sorted(), (IDSet{root: {}, *before["/docs"].Subtree: {}}).Sorted(); !slices.Equal(got, want) {
		t.Errorf("Replaced() = %v, want the old root and /docs %v", got, want)
	}
	if cr.saves[TreeBlob] != 2 || cr.saves[DataBlob] != 0 {
		t.Errorf("saved %d trees and %d data blobs, want 2 trees (/docs and the root) only", cr.saves[TreeBlob], cr.saves[DataBlob])
	}
	if want := walkPaths(t, r, root); !slices.Equal(seen, want) {
		t.Errorf("callback saw %q, want every path once in walk order %q", seen, want)
	}
}

// TestRewriteRemoveDir: removing a directory drops everything below it
// without the callback seeing it or its tree being loaded.
func TestRewriteRemoveDir(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, rewriteFixture)
	before := walkNodes(t, r, root)
	anna := *before["/kunder/anna"].Subtree
	cr := newCountingRepo(r)
	var seen []string
	newRoot, changed, err := NewTreeRewriter(cr, removePaths(&seen, "/kunder/anna")).RewriteTree(ctx, "/", root)
	if err != nil || !changed {
		t.Fatalf("rewrite: %v %v", changed, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range seen {
		if strings.HasPrefix(p, "/kunder/anna/") {
			t.Errorf("callback called for %s below the removed directory", p)
		}
	}
	if cr.treeLoads[anna] != 0 {
		t.Errorf("removed directory's tree loaded %d times", cr.treeLoads[anna])
	}
	assertKept(t, before, walkNodes(t, r, newRoot), []string{"/kunder/anna"}, "/kunder")
	if cr.saves[TreeBlob] != 2 {
		t.Errorf("saved %d trees, want 2 (/kunder and the root)", cr.saves[TreeBlob])
	}
}

// TestRewriteReplaceContent: a file can get new content (a replacement
// node or the node changed in place); the new content reads back and the
// rest of the node is kept.
func TestRewriteReplaceContent(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, rewriteFixture)
	before := walkNodes(t, r, root)
	replace := func(n *Node, data []byte) error {
		id, _, _, err := r.SaveBlob(ctx, DataBlob, data, ID{}, false)
		n.Content, n.Size = IDs{id}, uint64(len(data))
		return err
	}
	mbox := []byte("From a\n\nhej\n")
	notes := []byte("[redacted]\n")
	fn := func(p string, n *Node) (*Node, error) {
		switch p {
		case "/mail.mbox": // a replacement node
			c := *n
			return &c, replace(&c, mbox)
		case "/kunder/bo/notes.txt": // changed in place
			return n, replace(n, notes)
		}
		return n, nil
	}
	newRoot, changed, err := NewTreeRewriter(r, fn).RewriteTree(ctx, "/", root)
	if err != nil || !changed {
		t.Fatalf("rewrite: %v %v", changed, err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after := walkNodes(t, r, newRoot)
	for p, want := range map[string][]byte{"/mail.mbox": mbox, "/kunder/bo/notes.txt": notes} {
		n := after[p]
		var got []byte
		for _, id := range n.Content {
			buf, err := r.LoadBlob(ctx, DataBlob, id, nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf...)
		}
		if !bytes.Equal(got, want) || n.Size != uint64(len(want)) {
			t.Errorf("%s: content %q size %d, want %q", p, got, n.Size, want)
		}
		c := *n
		c.Content, c.Size = before[p].Content, before[p].Size
		if mustJSON(t, &c) != mustJSON(t, before[p]) {
			t.Errorf("%s: metadata changed:\n%s\n%s", p, mustJSON(t, before[p]), mustJSON(t, n))
		}
		delete(after, p)
		delete(before, p)
	}
	assertKept(t, before, after, nil, "/kunder", "/kunder/bo")
}

// TestRewriteUnchanged: when the callback changes nothing, the tree keeps
// its ID and nothing is saved, also when it returns copies.
func TestRewriteUnchanged(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, rewriteFixture)
	treesBefore := countTreeBlobs(r)
	for name, fn := range map[string]RewriteFunc{
		"same node": func(_ string, n *Node) (*Node, error) { return n, nil },
		"copy":      func(_ string, n *Node) (*Node, error) { return cloneNode(n), nil },
	} {
		cr := newCountingRepo(r)
		newRoot, changed, err := NewTreeRewriter(cr, fn).RewriteTree(ctx, "/", root)
		if err != nil || changed || newRoot != root {
			t.Fatalf("%s: %s %v %v", name, newRoot.Str(), changed, err)
		}
		if len(cr.saves) != 0 {
			t.Errorf("%s: saved %v", name, cr.saves)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countTreeBlobs(r); n != treesBefore {
		t.Errorf("%d tree blobs after rewriting nothing, %d before", n, treesBefore)
	}
}

func countTreeBlobs(r *Repository) int {
	n := 0
	r.EachBlob(func(pb PackedBlob) bool {
		if pb.Type == TreeBlob {
			n++
		}
		return true
	})
	return n
}

// TestRewriteSharedSubtrees: a subtree shared by snapshots at the same
// path is loaded and rewritten once; the same tree at another path is
// rewritten for that path.
func TestRewriteSharedSubtrees(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	second := testDir{"new.txt": "new\n"}
	third := testDir{"old": testDir{}}
	for k, v := range rewriteFixture {
		second[k] = v
		third["old"].(testDir)[k] = v
	}
	roots := []ID{saveTestDir(t, r, rewriteFixture), saveTestDir(t, r, second), saveTestDir(t, r, third)}
	kunder := *walkNodes(t, r, roots[0])["/kunder"].Subtree
	docs := *walkNodes(t, r, roots[0])["/docs"].Subtree

	cr := newCountingRepo(r)
	var seen []string
	rw := NewTreeRewriter(cr, removePaths(&seen, "/kunder/anna"))
	var newRoots []ID
	for _, root := range roots {
		id, _, err := rw.RewriteTree(ctx, "/", root)
		if err != nil {
			t.Fatal(err)
		}
		newRoots = append(newRoots, id)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// /kunder in the first two snapshots, /old/kunder in the third.
	if cr.treeLoads[kunder] != 2 || cr.treeLoads[docs] != 2 {
		t.Errorf("tree of kunder loaded %d times, of docs %d times; want 2 each (once per path)", cr.treeLoads[kunder], cr.treeLoads[docs])
	}
	calls := map[string]int{}
	for _, p := range seen {
		calls[p]++
	}
	for p, want := range map[string]int{"/docs": 2, "/docs/a.txt": 1, "/kunder/bo/notes.txt": 1, "/old/kunder/anna/notes.txt": 1, "/new.txt": 1} {
		if calls[p] != want {
			t.Errorf("callback called %d times for %s, want %d", calls[p], p, want)
		}
	}
	first, sec, old := walkNodes(t, r, newRoots[0]), walkNodes(t, r, newRoots[1]), walkNodes(t, r, newRoots[2])
	if *first["/kunder"].Subtree != *sec["/kunder"].Subtree || *first["/kunder"].Subtree == kunder {
		t.Error("shared /kunder not rewritten to one new tree")
	}
	if _, ok := first["/kunder/anna"]; ok {
		t.Error("/kunder/anna not removed")
	}
	if *old["/old/kunder"].Subtree != kunder || old["/old/kunder/anna/notes.txt"] == nil {
		t.Error("the same tree at /old/kunder got the rewrite meant for /kunder")
	}
}

// TestRewriteSnapshot: the new snapshot keeps the old one's fields, gets
// the new tree and points to the old snapshot (or to the one that was
// already its original); nothing is saved.
func TestRewriteSnapshot(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	sn := saveTestSnapshot(t, r, rewriteFixture, time.Date(2024, 3, 2, 2, 0, 0, 0, time.UTC))
	parent := Hash([]byte("parent"))
	sn.Parent, sn.Username, sn.UID, sn.GID = &parent, "backup", 34, 34
	sn.Excludes, sn.Tags, sn.ProgramVersion = []string{"*.tmp"}, []string{"daily"}, "lethe test"
	rw := NewTreeRewriter(r, removePaths(new([]string), "/docs"))

	got, changed, err := rw.RewriteSnapshot(ctx, sn)
	if err != nil || !changed {
		t.Fatalf("rewrite: %v %v", changed, err)
	}
	want := *sn
	want.ID, want.Tree, want.Original = ID{}, got.Tree, &sn.ID
	if mustJSON(t, got) != mustJSON(t, &want) || got.ID != (ID{}) {
		t.Fatalf("rewritten snapshot:\n%s\nwant:\n%s", mustJSON(t, got), mustJSON(t, &want))
	}
	if *got.Tree == *sn.Tree {
		t.Fatal("tree not replaced")
	}
	got.Tags[0] = "changed"
	if sn.Tags[0] != "daily" {
		t.Error("new snapshot shares its tags with the old one")
	}

	// A rewrite of a rewrite keeps the first original.
	older := Hash([]byte("older"))
	sn.Original = &older
	got, _, err = rw.RewriteSnapshot(ctx, sn)
	if err != nil || *got.Original != older {
		t.Fatalf("original of a rewritten snapshot: %v, %v", got.Original, err)
	}

	unchanged, changed, err := NewTreeRewriter(r, removePaths(new([]string))).RewriteSnapshot(ctx, sn)
	if err != nil || changed || unchanged != nil {
		t.Fatalf("rewrite changing nothing: %v %v %v", unchanged, changed, err)
	}
	n := 0
	if err := r.List(ctx, backends.SnapshotFile, func(ID, int64) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("%d snapshot files after rewriting (%v), want the one saved by the test", n, err)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	buf, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

// TestRewriteReadByRestic: a rewritten snapshot saved in place of the old
// one passes restic check --read-data before and after prune, and restic
// lists and dumps the changed content.
func TestRewriteReadByRestic(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	sn := saveTestSnapshot(t, r, rewriteFixture, time.Date(2024, 3, 2, 2, 0, 0, 0, time.UTC))
	mbox := []byte("From a\n\nhej\n")
	fn := func(p string, n *Node) (*Node, error) {
		switch p {
		case "/kunder/anna":
			return nil, nil
		case "/mail.mbox":
			id, _, _, err := r.SaveBlob(ctx, DataBlob, mbox, ID{}, false)
			c := *n
			c.Content, c.Size = IDs{id}, uint64(len(mbox))
			return &c, err
		}
		return n, nil
	}
	nsn, _, err := NewTreeRewriter(r, fn).RewriteSnapshot(ctx, sn)
	if err != nil {
		t.Fatal(err)
	}
	// The erasure's order: data and index first, then the new snapshot,
	// then the old one goes.
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SaveSnapshot(ctx, nsn); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveUnpacked(ctx, backends.SnapshotFile, sn.ID); err != nil {
		t.Fatal(err)
	}
	restictest.Check(t, dir)

	ls := restictest.Run(t, dir, "ls", nsn.ID.String())
	lines := strings.Split(strings.TrimSpace(ls), "\n")[1:]
	want := []string{"/docs", "/docs/a.txt", "/docs/b.txt", "/kunder", "/kunder/bo", "/kunder/bo/notes.txt", "/mail.mbox"}
	if !slices.Equal(lines, want) {
		t.Fatalf("restic ls:\n%s\nwant %q", ls, want)
	}
	if got := restictest.Run(t, dir, "dump", nsn.ID.String(), "/mail.mbox"); got != string(mbox) {
		t.Fatalf("restic dump /mail.mbox: %q, want %q", got, mbox)
	}
	var snaps []struct {
		ID       string `json:"id"`
		Original string `json:"original"`
	}
	if err := json.Unmarshal([]byte(restictest.Run(t, dir, "snapshots", "--json")), &snaps); err != nil {
		t.Fatal(err)
	}
	if len(snaps) != 1 || snaps[0].ID != nsn.ID.String() || snaps[0].Original != sn.ID.String() {
		t.Fatalf("restic snapshots: %+v, want %s with original %s", snaps, nsn.ID, sn.ID)
	}

	if _, err := r.Prune(ctx, PruneOptions{RepackAllUnused: true}); err != nil {
		t.Fatal(err)
	}
	if r.HasBlob(BlobHandle{ID: Hash([]byte("anna's notes\n")), Type: DataBlob}) {
		t.Error("removed file's data still in the repository after prune")
	}
	restictest.Check(t, dir)
}

// TestRewriteUnknownFields: a tree with a field lethe does not know is
// not rewritten (the field would be lost), and the error names the tree,
// not the path or names in it. Left unchanged it is fine.
func TestRewriteUnknownFields(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	tree := &Tree{}
	for _, name := range []string{"anna@example.se.txt", "other.txt"} {
		if err := tree.Insert(&Node{Name: name, Type: NodeFile, Mode: 0o644, Content: IDs{}}); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := EncodeTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	// A field as a newer restic writes it.
	buf = bytes.Replace(buf, []byte(`"content":[]`), []byte(`"content":[],"generic_attributes":{"windows.creation_time":"AAA="}`), 1)
	root, _, _, err := r.SaveBlob(ctx, TreeBlob, buf, ID{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = NewTreeRewriter(r, removePaths(new([]string), "/other.txt")).RewriteTree(ctx, "/", root)
	if err == nil || !strings.Contains(err.Error(), root.Str()) {
		t.Fatalf("rewriting a tree with an unknown field: %v", err)
	}
	if strings.Contains(err.Error(), "anna") || strings.Contains(err.Error(), "other") {
		t.Errorf("error names a node: %v", err)
	}
	id, changed, err := NewTreeRewriter(r, removePaths(new([]string))).RewriteTree(ctx, "/", root)
	if err != nil || changed || id != root {
		t.Fatalf("leaving the tree unchanged: %s %v %v", id.Str(), changed, err)
	}

	errCallback := errors.New("callback failed")
	_, _, err = NewTreeRewriter(r, func(string, *Node) (*Node, error) { return nil, errCallback }).RewriteTree(ctx, "/", root)
	if !errors.Is(err, errCallback) || strings.Contains(err.Error(), "anna") {
		t.Fatalf("callback error: %v", err)
	}
}
