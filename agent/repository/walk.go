package repository

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// BlobLoader loads a blob's verified plaintext, reusing buf when it is
// large enough. *Repository implements it.
type BlobLoader interface {
	LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error)
}

// ErrSkipDir, returned by a WalkFunc for a directory node, makes Walk
// leave out the directory's subtree. For any other node it means the same
// as nil.
var ErrSkipDir = errors.New("skip this directory")

// WalkFunc is called by Walk once per node. parent is the ID of the tree
// that holds node and path is the node's slash-separated path from "/"
// (names are joined as they are, nothing is cleaned).
//
// A directory's subtree is loaded after fn has seen the directory with a
// nil err. When it cannot be loaded, fn is called a second time for the
// same node, with the error: returning nil or ErrSkipDir goes on with the
// directory's next sibling, any other error ends the walk. When the root
// tree cannot be loaded, fn is called with path "/", a nil node, parent
// set to the root's ID, and the error.
type WalkFunc func(parent ID, path string, node *Node, err error) error

// Walk calls fn for every node below the tree root, depth first in name
// order. A directory without a Subtree has nothing to descend into. The
// walk stops at the first error fn returns, which Walk returns, or when
// ctx is done (then it returns ctx.Err()).
func Walk(ctx context.Context, repo BlobLoader, root ID, fn WalkFunc) error {
	w := walker{repo: repo, fn: fn}
	tree, err := w.load(ctx, root)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return skipOK(fn(root, "/", nil, err))
	}
	return w.walk(ctx, "/", root, tree)
}

type walker struct {
	repo BlobLoader
	fn   WalkFunc
	// buf is reused for every tree: decoded trees share nothing with it.
	buf []byte
}

func (w *walker) load(ctx context.Context, id ID) (*Tree, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, buf, err := loadTree(ctx, w.repo, id, w.buf)
	if buf != nil {
		w.buf = buf
	}
	return t, err
}

func (w *walker) walk(ctx context.Context, dir string, id ID, tree *Tree) error {
	sortNodes(tree)
	for _, n := range tree.Nodes {
		p := joinPath(dir, n.Name)
		if err := w.fn(id, p, n, nil); err != nil {
			if err == ErrSkipDir {
				continue
			}
			return err
		}
		if n.Type != NodeDir || n.Subtree == nil {
			continue
		}
		sub, err := w.load(ctx, *n.Subtree)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := skipOK(w.fn(id, p, n, err)); err != nil {
				return err
			}
			continue
		}
		if err := w.walk(ctx, p, *n.Subtree, sub); err != nil {
			return err
		}
	}
	return nil
}

func skipOK(err error) error {
	if err == ErrSkipDir {
		return nil
	}
	return err
}

// joinPath appends name to the directory path dir.
func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// sortNodes puts a tree's nodes in name order; trees written by lethe or
// restic already are.
func sortNodes(t *Tree) {
	byName := func(a, b *Node) int { return cmp.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(t.Nodes, byName) {
		slices.SortStableFunc(t.Nodes, byName)
	}
}

// loadTree loads and decodes the tree id, using buf for its bytes. It
// returns the bytes (nil if loading failed, or the tree came from a
// TreeCache) so callers can reuse them.
func loadTree(ctx context.Context, repo BlobLoader, id ID, buf []byte) (*Tree, []byte, error) {
	if c, ok := repo.(*TreeCache); ok {
		t, err := c.loadTree(ctx, id)
		return t, nil, err
	}
	buf, err := repo.LoadBlob(ctx, TreeBlob, id, buf)
	if err != nil {
		return nil, nil, err
	}
	t, err := DecodeTree(buf)
	if err != nil {
		return nil, buf, fmt.Errorf("decoding tree %s: %w", id.Str(), err)
	}
	return t, buf, nil
}
