package repository

import (
	"context"
	"sync"
)

// TreeCache keeps the trees a job decodes, for a job that walks the same
// trees several times: an erasure's rewrite, its search for stale blobs
// and its verification meet every unchanged folder of every snapshot
// again. A tree is decoded once; every load hands out a copy, free to
// change. Blobs pass through to the repository. Walk and TreeRewriter
// use the cache when given one. It is safe for concurrent use.
type TreeCache struct {
	BlobLoadSaver
	mu    sync.Mutex
	trees map[ID]*Tree
	nodes int // held in trees
	limit int
}

// NewTreeCache returns a cache over repo that stops keeping trees once
// it holds limit nodes.
func NewTreeCache(repo BlobLoadSaver, limit int) *TreeCache {
	return &TreeCache{BlobLoadSaver: repo, trees: make(map[ID]*Tree), limit: limit}
}

// loadTree returns a copy of the tree id, decoding it on first use. The
// tree's bytes are not kept: it returns none.
func (c *TreeCache) loadTree(ctx context.Context, id ID) (*Tree, error) {
	c.mu.Lock()
	t, ok := c.trees[id]
	c.mu.Unlock()
	if !ok {
		var err error
		if t, _, err = loadTree(ctx, c.BlobLoadSaver, id, nil); err != nil {
			return nil, err
		}
		sortNodes(t)
		c.mu.Lock()
		kept := c.nodes+len(t.Nodes) <= c.limit
		if kept {
			c.trees[id] = t
			c.nodes += len(t.Nodes)
		}
		c.mu.Unlock()
		if !kept {
			return t, nil // the caller has it alone
		}
	}
	out := &Tree{Nodes: make([]*Node, len(t.Nodes))}
	for i, n := range t.Nodes {
		out.Nodes[i] = cloneNode(n)
	}
	return out, nil
}
