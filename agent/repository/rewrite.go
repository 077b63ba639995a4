package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
)

// BlobSaver stores a blob as (*Repository).SaveBlob does.
type BlobSaver interface {
	SaveBlob(ctx context.Context, t BlobType, data []byte, id ID, storeDuplicate bool) (ID, bool, int, error)
}

// BlobLoadSaver loads and saves blobs; *Repository implements it.
type BlobLoadSaver interface {
	BlobLoader
	BlobSaver
}

// RewriteFunc decides what becomes of one node of a tree being rewritten;
// path is the node's path as Walk gives it. It returns the node to keep
// (node itself, modified or not, or a replacement) or nil to remove it.
// Removing a directory removes everything below it without looking
// inside; a kept directory is descended into (its returned Subtree is
// rewritten). A file may come back with new Content and Size: the
// function saves the new data blobs itself. An error ends the rewrite.
type RewriteFunc func(path string, node *Node) (*Node, error)

// TreeRewriter rewrites trees with a RewriteFunc and remembers what it
// did: a tree met again at the same path, in the same or another
// snapshot, is not loaded or rewritten again. The path is part of that
// key because the RewriteFunc sees paths (path rules, names): one tree
// found at two paths may need two different rewrites. Results are only
// valid for one RewriteFunc and one repository, so a TreeRewriter is made
// for one job. It is not safe for concurrent use.
type TreeRewriter struct {
	// FailedTree, if set, is called for a tree that cannot be loaded,
	// with its path and ID and the error; the ID it returns takes the
	// tree's place (ID{} for the root: the snapshot has no content
	// left). nil makes such a tree end the rewrite with its error.
	FailedTree func(path string, id ID, err error) (ID, error)

	repo BlobLoadSaver
	fn   RewriteFunc
	done map[rewriteKey]ID
}

type rewriteKey struct {
	id   ID
	path string
}

// NewTreeRewriter returns a TreeRewriter that loads and saves trees
// through repo.
func NewTreeRewriter(repo BlobLoadSaver, fn RewriteFunc) *TreeRewriter {
	return &TreeRewriter{repo: repo, fn: fn, done: map[rewriteKey]ID{}}
}

// RewriteTree rewrites the tree id, found at path ("/" for a snapshot's
// root), bottom up: a tree is saved only when one of its nodes changed,
// so an unchanged tree keeps its ID and nothing is written for it. It
// returns the new tree's ID and whether it differs from id. Saved trees
// are in the repository's open packs until it is flushed.
func (rw *TreeRewriter) RewriteTree(ctx context.Context, path string, id ID) (ID, bool, error) {
	newID, err := rw.rewrite(ctx, path, id)
	if err != nil {
		return ID{}, false, err
	}
	return newID, newID != id, nil
}

// RewriteSnapshot rewrites sn's tree. When anything changed it returns a
// new snapshot to save in sn's place: sn's fields with the new tree, and
// Original pointing to sn (or to the snapshot sn itself was rewritten
// from, as restic keeps it). Otherwise it returns nil and false. It saves
// and removes no snapshot.
func (rw *TreeRewriter) RewriteSnapshot(ctx context.Context, sn *Snapshot) (*Snapshot, bool, error) {
	if sn.Tree == nil {
		return nil, false, fmt.Errorf("rewriting snapshot %s: it has no tree", sn.ID.Str())
	}
	if sn.ID.IsNull() && sn.Original == nil {
		return nil, false, errors.New("rewriting a snapshot without ID: its new version could not point to it")
	}
	tree, changed, err := rw.RewriteTree(ctx, "/", *sn.Tree)
	if err != nil {
		return nil, false, fmt.Errorf("rewriting snapshot %s: %w", sn.ID.Str(), err)
	}
	if !changed {
		return nil, false, nil
	}
	n := *sn
	n.ID = ID{}
	n.Tree = &tree
	n.Paths = slices.Clone(sn.Paths)
	n.Excludes = slices.Clone(sn.Excludes)
	n.Tags = slices.Clone(sn.Tags)
	if sn.Parent != nil {
		p := *sn.Parent
		n.Parent = &p
	}
	orig := sn.ID
	if sn.Original != nil {
		orig = *sn.Original
	}
	n.Original = &orig
	return &n, true, nil
}

// Replaced returns the trees this rewriter replaced by new ones so far:
// the old tree of every rewritten directory, whose blob no rewritten
// snapshot references any more.
func (rw *TreeRewriter) Replaced() IDSet {
	out := IDSet{}
	for k, newID := range rw.done {
		if newID != k.id {
			out.Insert(k.id)
		}
	}
	return out
}

func (rw *TreeRewriter) rewrite(ctx context.Context, dir string, id ID) (ID, error) {
	key := rewriteKey{id: id, path: dir}
	if newID, ok := rw.done[key]; ok {
		return newID, nil
	}
	if err := ctx.Err(); err != nil {
		return ID{}, err
	}
	tree, buf, err := loadTree(ctx, rw.repo, id, nil)
	if err != nil {
		if rw.FailedTree == nil || ctx.Err() != nil {
			return ID{}, err
		}
		newID, err := rw.FailedTree(dir, id, err)
		if err != nil {
			return ID{}, err
		}
		rw.done[key] = newID
		return newID, nil
	}
	sortNodes(tree)
	changed := false
	nodes := make([]*Node, 0, len(tree.Nodes))
	for _, n := range tree.Nodes {
		p := joinPath(dir, n.Name)
		before := cloneNode(n)
		out, err := rw.fn(p, n)
		if err != nil {
			return ID{}, fmt.Errorf("rewriting a node of tree %s: %w", id.Str(), err)
		}
		if out == nil {
			changed = true
			continue
		}
		if !reflect.DeepEqual(before, out) {
			changed = true
		}
		if out.Type == NodeDir && out.Subtree != nil {
			sub, err := rw.rewrite(ctx, p, *out.Subtree)
			if err != nil {
				return ID{}, err
			}
			if sub != *out.Subtree {
				out.Subtree = &sub
				changed = true
			}
		}
		nodes = append(nodes, out)
	}
	newID := id
	if changed {
		if newID, err = rw.save(ctx, id, buf, nodes); err != nil {
			return ID{}, err
		}
	}
	rw.done[key] = newID
	return newID, nil
}

// save stores the changed tree that replaces tree id, whose bytes are
// orig. Unchanged nodes are encoded again, so the original must survive
// a decode and encode unchanged: a field lethe does not know would be
// lost silently otherwise.
func (rw *TreeRewriter) save(ctx context.Context, id ID, orig []byte, nodes []*Node) (ID, error) {
	if orig == nil {
		// The tree came from a TreeCache, which keeps no bytes.
		var err error
		if orig, err = rw.repo.LoadBlob(ctx, TreeBlob, id, nil); err != nil {
			return ID{}, fmt.Errorf("loading tree %s: %w", id.Str(), err)
		}
	}
	again, err := DecodeTree(orig)
	if err != nil {
		return ID{}, fmt.Errorf("decoding tree %s: %w", id.Str(), err)
	}
	enc, err := EncodeTree(again)
	if err != nil {
		return ID{}, fmt.Errorf("encoding tree %s: %w", id.Str(), err)
	}
	if !bytes.Equal(enc, orig) {
		return ID{}, fmt.Errorf("tree %s cannot be rewritten without losing information: it does not encode back to its own bytes", id.Str())
	}
	buf, err := EncodeTree(&Tree{Nodes: nodes})
	if err != nil {
		return ID{}, fmt.Errorf("encoding the rewrite of tree %s: %w", id.Str(), err)
	}
	newID, _, _, err := rw.repo.SaveBlob(ctx, TreeBlob, buf, ID{}, false)
	if err != nil {
		return ID{}, fmt.Errorf("saving the rewrite of tree %s: %w", id.Str(), err)
	}
	return newID, nil
}

// cloneNode copies n deeply enough that changes made through n do not
// show in the copy.
func cloneNode(n *Node) *Node {
	c := *n
	c.Content = slices.Clone(n.Content)
	if n.ExtendedAttributes != nil {
		c.ExtendedAttributes = make([]ExtendedAttribute, len(n.ExtendedAttributes))
		for i, a := range n.ExtendedAttributes {
			c.ExtendedAttributes[i] = ExtendedAttribute{Name: a.Name, Value: slices.Clone(a.Value)}
		}
	}
	if n.Subtree != nil {
		s := *n.Subtree
		c.Subtree = &s
	}
	return &c
}
