package archiver

import (
	"io"

	"lethe/agent/repository"
)

// ContentIndexer is told about the content of every file the backup reads
// and stores (new, changed, or filtered), so that it can index the
// content while it is in memory anyway: the subject index. Files larger
// than MaxSize, and unchanged files reused from the parent snapshot, are
// not passed. Index is called from several goroutines once the node is
// final (node.Content is the content stored, data its bytes); it must not
// modify node nor keep data. path is masked by Options.MaskPath.
type ContentIndexer interface {
	MaxSize() int64
	Index(path string, node *repository.Node, data []byte)
}

// capture keeps a copy of what is read through it, up to a limit; beyond
// the limit it keeps nothing.
type capture struct {
	r     io.Reader
	buf   []byte
	limit int64
	over  bool
}

// newCapture returns a capture of src for the archiver's indexer, or nil
// when there is none or the file is known to be too large. size is the
// file's size as listed, a hint.
func (r *run) newCapture(src io.Reader, size int64) *capture {
	ix := r.a.opts.Index
	if ix == nil {
		return nil
	}
	limit := ix.MaxSize()
	if size > limit {
		return nil
	}
	return &capture{r: src, buf: make([]byte, 0, max(size, 0)+1), limit: limit}
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.over && n > 0 {
		if int64(len(c.buf)+n) > c.limit {
			c.over, c.buf = true, nil
		} else {
			c.buf = append(c.buf, p[:n]...)
		}
	}
	return n, err
}

// index hands the captured content of a stored file to the indexer.
func (r *run) index(c *capture, path string, node *repository.Node) {
	if c == nil || c.over {
		return
	}
	r.a.opts.Index.Index(r.a.show(path), node, c.buf)
}
