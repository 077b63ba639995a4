package repository

import (
	"context"
	"errors"
	"sync"
	"unsafe"
)

// packBufs lends out pack buffers and bounds how many exist at once: the
// open packs and the packs being uploaded. A caller that needs one while
// all are in use waits for an upload to finish, which bounds a backup's
// memory.
//
// Pack buffers are a backup's largest allocations (tens of MiB). Where
// the platform allows they are mapped outside the Go heap: on the heap
// they would count twice, once as live data and once more in the garbage
// collector's heap goal (by default twice the live heap), so a backup
// would need about twice their size in memory. Pages of a mapped buffer
// cost memory only once written to.
type packBufs struct {
	size   int
	free   chan []byte   // idle buffers, most recently used first served
	tokens chan struct{} // one per buffer that may still be created

	mu     sync.Mutex
	mapped map[*byte]bool // buffers mapped outside the heap
	closed bool
}

var errRepositoryClosed = errors.New("repository is closed")

func newPackBufs(size, n int) *packBufs {
	p := &packBufs{size: size, free: make(chan []byte, n), tokens: make(chan struct{}, n), mapped: map[*byte]bool{}}
	for i := 0; i < n; i++ {
		p.tokens <- struct{}{}
	}
	return p
}

// get returns an empty buffer of capacity p.size, waiting while all
// buffers are in use.
func (p *packBufs) get(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errRepositoryClosed
	}
	select {
	case b := <-p.free:
		return b[:0], nil
	default:
	}
	select {
	case b := <-p.free:
		return b[:0], nil
	case <-p.tokens:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			p.tokens <- struct{}{}
			return nil, errRepositoryClosed
		}
		b, mapped := allocPackBuf(p.size)
		if mapped {
			p.mapped[unsafe.SliceData(b)] = true
		}
		return b[:0], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a buffer from get.
func (p *packBufs) put(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.release(b)
		return
	}
	p.free <- b[:0]
}

// trim gives the memory of idle buffers back to the system; it is called
// when a backup has flushed everything, so that an idle process (the
// agent between backups) does not hold it.
func (p *packBufs) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		select {
		case b := <-p.free:
			if p.mapped[unsafe.SliceData(b)] {
				discardPages(b)
				defer func() { p.free <- b }()
			} else {
				// The garbage collector frees it.
				p.tokens <- struct{}{}
			}
		default:
			return
		}
	}
}

// close releases every buffer; buffers still lent out are released when
// they come back. Later gets fail.
func (p *packBufs) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for {
		select {
		case b := <-p.free:
			p.release(b)
		default:
			return
		}
	}
}

func (p *packBufs) release(b []byte) {
	if k := unsafe.SliceData(b); p.mapped[k] {
		delete(p.mapped, k)
		unmapPackBuf(b)
	}
}
