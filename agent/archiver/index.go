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
//
// Copies of large files are mapped outside the Go heap and unmapped at
// release: on the heap each would count again in the garbage collector's
// heap goal, and its memory would go back to the system only slowly.
type capture struct {
	r      io.Reader
	buf    []byte
	limit  int64
	over   bool
	mapped []byte // buf's mapping, if any
}

// mapCaptureMin is the smallest copy that is mapped.
const mapCaptureMin = 1 << 20

// newCapture returns a capture of src for the archiver's indexer, or nil
// when there is none or the file is known to be too large. size is the
// file's size as listed, a hint. The caller releases it.
func (r *run) newCapture(src io.Reader, size int64) *capture {
	ix := r.a.opts.Index
	if ix == nil {
		return nil
	}
	limit := ix.MaxSize()
	if size > limit {
		return nil
	}
	c := &capture{r: src, limit: limit}
	n := int(max(size, 0) + 1)
	if n >= mapCaptureMin {
		c.mapped = mapBuf(n)
	}
	if c.mapped != nil {
		c.buf = c.mapped[:0]
	} else {
		c.buf = make([]byte, 0, n)
	}
	return c
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.over && n > 0 {
		if int64(len(c.buf)+n) > c.limit {
			c.over, c.buf = true, nil
		} else {
			// A file that grew past its listed size moves to the heap.
			c.buf = append(c.buf, p[:n]...)
		}
	}
	return n, err
}

// release frees the copy; c may be nil.
func (c *capture) release() {
	if c == nil {
		return
	}
	c.buf = nil
	if c.mapped != nil {
		unmapBuf(c.mapped)
		c.mapped = nil
	}
}

// index hands the captured content of a stored file to the indexer.
func (r *run) index(c *capture, path string, node *repository.Node) {
	if c == nil || c.over {
		return
	}
	r.a.opts.Index.Index(r.a.show(path), node, c.buf)
}
