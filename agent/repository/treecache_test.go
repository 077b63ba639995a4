package repository

import (
	"context"
	"testing"
)

// treeCounter counts the trees loaded through it.
type treeCounter struct {
	*Repository
	trees int
}

func (c *treeCounter) LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error) {
	if t == TreeBlob {
		c.trees++
	}
	return c.Repository.LoadBlob(ctx, t, id, buf)
}

// TestTreeCache checks that walks through a cache load each tree once,
// hand out trees a walk may change without changing what the next one
// sees, and keep nothing past the limit; and that a rewrite through the
// cache writes what one without it writes.
func TestTreeCache(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	root := saveTestDir(t, r, rewriteFixture)
	want := walkNodes(t, r, root)

	c := &treeCounter{Repository: r}
	tc := NewTreeCache(c, 1<<20)
	for range 3 {
		got := map[string]*Node{}
		if err := Walk(ctx, tc, root, func(_ ID, p string, n *Node, err error) error {
			if err != nil {
				return err
			}
			got[p] = cloneNode(n)
			n.Name, n.Size = "changed by the walk", 7
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if mustJSON(t, got) != mustJSON(t, want) {
			t.Fatalf("a walk through the cache saw\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
		}
	}
	dirs := 1 // the root
	for _, n := range want {
		if n.Type == NodeDir {
			dirs++
		}
	}
	if c.trees != dirs {
		t.Errorf("three walks loaded %d trees, want each of the %d once", c.trees, dirs)
	}

	c.trees = 0
	none := NewTreeCache(c, 0)
	for range 2 {
		if err := Walk(ctx, none, root, func(ID, string, *Node, error) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if c.trees != 2*dirs {
		t.Errorf("a cache that keeps nothing loaded %d trees in two walks, want %d", c.trees, 2*dirs)
	}

	notes := func(p string, n *Node) (*Node, error) {
		if p == "/kunder/bo/notes.txt" {
			n.Size = 1
		}
		return n, nil
	}
	plain, _, err := NewTreeRewriter(r, notes).RewriteTree(ctx, "/", root)
	if err != nil {
		t.Fatal(err)
	}
	cached, _, err := NewTreeRewriter(tc, notes).RewriteTree(ctx, "/", root)
	if err != nil {
		t.Fatal(err)
	}
	if plain != cached || plain == root {
		t.Errorf("rewritten through the cache to %s, without it to %s (from %s)", cached.Str(), plain.Str(), root.Str())
	}
}
