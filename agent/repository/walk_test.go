package repository

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

// testDir describes a directory for saveTestDir: a string is a file's
// content, a testDir a subdirectory.
type testDir map[string]any

// saveTestDir saves d's file contents and trees, flushes, and returns
// the root tree's ID. Nodes carry fixed metadata, so equal descriptions
// give equal trees.
func saveTestDir(t testing.TB, r *Repository, d testDir) ID {
	t.Helper()
	id := saveTestTrees(t, r, d)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return id
}

func saveTestTrees(t testing.TB, r *Repository, d testDir) ID {
	t.Helper()
	ctx := context.Background()
	when := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tree := &Tree{}
	for name, v := range d {
		n := &Node{Name: name, ModTime: when, UID: 1000, GID: 1000}
		switch v := v.(type) {
		case string:
			n.Type, n.Mode, n.Size, n.Content = NodeFile, 0o644, uint64(len(v)), IDs{}
			if v != "" {
				id, _, _, err := r.SaveBlob(ctx, DataBlob, []byte(v), ID{}, false)
				if err != nil {
					t.Fatal(err)
				}
				n.Content = IDs{id}
			}
		case testDir:
			sub := saveTestTrees(t, r, v)
			n.Type, n.Mode, n.Subtree = NodeDir, os.ModeDir|0o755, &sub
		default:
			t.Fatalf("testDir entry %q has type %T", name, v)
		}
		if err := tree.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	id, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// saveTestSnapshot saves d as a snapshot's tree, flushes and saves the
// snapshot.
func saveTestSnapshot(t testing.TB, r *Repository, d testDir, when time.Time) *Snapshot {
	t.Helper()
	ctx := context.Background()
	root := saveTestDir(t, r, d)
	sn := &Snapshot{Time: when, Tree: &root, Paths: []string{"/srv"}, Hostname: "host"}
	if _, err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	return sn
}

// countingRepo counts tree loads per ID and blob saves per type.
type countingRepo struct {
	*Repository
	treeLoads map[ID]int
	saves     map[BlobType]int
}

func newCountingRepo(r *Repository) *countingRepo {
	return &countingRepo{Repository: r, treeLoads: map[ID]int{}, saves: map[BlobType]int{}}
}

func (c *countingRepo) LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error) {
	if t == TreeBlob {
		c.treeLoads[id]++
	}
	return c.Repository.LoadBlob(ctx, t, id, buf)
}

func (c *countingRepo) SaveBlob(ctx context.Context, t BlobType, data []byte, id ID, dup bool) (ID, bool, int, error) {
	c.saves[t]++
	return c.Repository.SaveBlob(ctx, t, data, id, dup)
}

// walkPaths returns the paths Walk visits below root, in order, failing
// the test on any error.
func walkPaths(t testing.TB, repo BlobLoader, root ID) []string {
	t.Helper()
	var paths []string
	err := Walk(context.Background(), repo, root, func(_ ID, p string, _ *Node, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// walkNodes returns the nodes below root by path.
func walkNodes(t testing.TB, repo BlobLoader, root ID) map[string]*Node {
	t.Helper()
	nodes := map[string]*Node{}
	err := Walk(context.Background(), repo, root, func(_ ID, p string, n *Node, err error) error {
		if err != nil {
			return err
		}
		nodes[p] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

var walkFixture = testDir{
	"z.txt": "last",
	"a": testDir{
		"x.csv": "a,b\n",
		"empty": testDir{},
	},
	"b": testDir{
		"c": testDir{"d.eml": "Subject: hi\n\nbody\n"},
		"e": "",
	},
}

// TestWalkOrder: nodes come depth first in name order with their paths
// and the ID of the tree holding them; ErrSkipDir leaves a subtree
// unloaded.
func TestWalkOrder(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, walkFixture)
	cr := newCountingRepo(r)

	want := []string{"/a", "/a/empty", "/a/x.csv", "/b", "/b/c", "/b/c/d.eml", "/b/e", "/z.txt"}
	if got := walkPaths(t, cr, root); !slices.Equal(got, want) {
		t.Fatalf("walk order:\n got %q\nwant %q", got, want)
	}

	// Every node's parent is the tree that lists it.
	err := Walk(ctx, r, root, func(parent ID, p string, n *Node, err error) error {
		if err != nil {
			return err
		}
		tree, err := r.LoadTree(ctx, parent)
		if err != nil {
			return err
		}
		if tree.Find(n.Name) == nil {
			t.Errorf("%s: parent tree %s does not hold it", p, parent.Str())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cr.treeLoads = map[ID]int{}
	var bSub ID
	var got []string
	err = Walk(ctx, cr, root, func(_ ID, p string, n *Node, err error) error {
		if err != nil {
			return err
		}
		got = append(got, p)
		if p == "/b" {
			bSub = *n.Subtree
			return ErrSkipDir
		}
		if p == "/a/x.csv" {
			return ErrSkipDir // no effect on a file
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"/a", "/a/empty", "/a/x.csv", "/b", "/z.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("walk with /b skipped:\n got %q\nwant %q", got, want)
	}
	if cr.treeLoads[bSub] != 0 {
		t.Errorf("skipped directory's tree loaded %d times", cr.treeLoads[bSub])
	}
}

// TestWalkLoadErrors: a subtree that does not load is reported for its
// directory; the callback goes on or aborts. A missing root is reported
// with a nil node.
func TestWalkLoadErrors(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	missing := Hash([]byte("no such tree"))
	tree := &Tree{}
	for _, n := range []*Node{
		{Name: "broken", Type: NodeDir, Mode: os.ModeDir | 0o755, Subtree: &missing},
		{Name: "ok.txt", Type: NodeFile, Mode: 0o644, Content: IDs{}},
	} {
		if err := tree.Insert(n); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.SaveTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	type call struct {
		path string
		err  bool
	}
	var calls []call
	err = Walk(ctx, r, root, func(parent ID, p string, n *Node, err error) error {
		calls = append(calls, call{p, err != nil})
		if err != nil && parent != root {
			t.Errorf("load error reported with parent %s, want the tree holding the directory", parent.Str())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []call{{"/broken", false}, {"/broken", true}, {"/ok.txt", false}}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}

	errStop := errors.New("stop")
	calls = nil
	err = Walk(ctx, r, root, func(_ ID, p string, _ *Node, err error) error {
		calls = append(calls, call{p, err != nil})
		if err != nil {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || len(calls) != 2 {
		t.Fatalf("aborting walk: %v after %v", err, calls)
	}

	var rootErr error
	err = Walk(ctx, r, missing, func(parent ID, p string, n *Node, err error) error {
		if p != "/" || n != nil || parent != missing {
			t.Errorf("root failure reported as %q, %v, %s", p, n, parent.Str())
		}
		rootErr = err
		return err
	})
	if err == nil || err != rootErr {
		t.Fatalf("missing root: walk returned %v, callback saw %v", err, rootErr)
	}
}

// TestWalkCanceled: a done context ends the walk with its error, also
// when the callback would ignore load errors.
func TestWalkCanceled(t *testing.T) {
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, walkFixture)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Walk(ctx, r, root, func(_ ID, p string, _ *Node, err error) error {
		n++
		if p == "/a" {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("walk after cancel: %v", err)
	}
	if n != 1 {
		t.Fatalf("callback called %d times, want 1 (the walk stops before loading /a)", n)
	}
}
