package archiver

import (
	"io"
	"path"

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

// StreamIndexer is a ContentIndexer that can also be handed a large
// file's content as it is read, so that the file is not held whole for
// it. Stream returns nil for a file it does not take that way.
type StreamIndexer interface {
	ContentIndexer
	Stream(name string) IndexStream
}

// IndexStream takes one file's content as it is read.
type IndexStream interface {
	// Write takes the next bytes; false declines the content, taking
	// none. The content then goes to Index whole, Taken's bytes first.
	Write(p []byte) bool
	Taken() []byte
	// Done indexes the content read, stored as node's content.
	Done(node *repository.Node)
	// Abort ends a stream whose content was not read to its end.
	Abort()
}

// minStreamed is the smallest file handed to a StreamIndexer as it is
// read: a stream holds a few windows of the file (see formats.KeysStream).
const minStreamed = 32 << 20

// capture keeps a copy of what is read through it, up to a limit; beyond
// the limit it keeps nothing. A large file goes to a StreamIndexer as it
// is read instead, unless the stream declines it.
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
	size   int64  // the file's size as listed
	read   int64
	stream IndexStream
}

// mapCaptureMin is the smallest copy that is mapped.
const mapCaptureMin = 1 << 20

// newCapture returns a capture of src for the archiver's indexer, or nil
// when there is none or the file is known to be too large. size is the
// file's size as listed, a hint. The caller releases it.
func (r *run) newCapture(src io.Reader, name string, size int64) *capture {
	ix := r.a.opts.Index
	if ix == nil {
		return nil
	}
	limit := ix.MaxSize()
	if size > limit {
		return nil
	}
	c := &capture{r: src, limit: limit, size: size}
	if sx, ok := ix.(StreamIndexer); ok && size >= minStreamed {
		if c.stream = sx.Stream(path.Base(name)); c.stream != nil {
			return c
		}
	}
	c.alloc()
	return c
}

// alloc makes the buffer the copy goes to.
func (c *capture) alloc() {
	n := int(max(c.size, 0) + 1)
	if n >= mapCaptureMin {
		c.mapped = mapBuf(n)
	}
	if c.mapped != nil {
		c.buf = c.mapped[:0]
	} else {
		c.buf = make([]byte, 0, n)
	}
}

func (c *capture) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.over || n == 0 {
		return n, err
	}
	if c.read += int64(n); c.read > c.limit {
		c.over, c.buf = true, nil
		if c.stream != nil {
			c.stream.Abort()
			c.stream = nil
		}
		return n, err
	}
	if c.stream != nil {
		if c.stream.Write(p[:n]) {
			return n, err
		}
		// Not line-oriented: the indexer gets the content whole.
		head := c.stream.Taken()
		c.stream = nil
		c.alloc()
		c.buf = append(c.buf, head...)
	}
	// A file that grew past its listed size moves to the heap.
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// release frees the copy, or ends the stream; c may be nil.
func (c *capture) release() {
	if c == nil {
		return
	}
	if c.stream != nil {
		c.stream.Abort()
		c.stream = nil
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
	if c.stream != nil {
		c.stream.Done(node)
		c.stream = nil
		return
	}
	r.a.opts.Index.Index(r.a.show(path), node, c.buf)
}
