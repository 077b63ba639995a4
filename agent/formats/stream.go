package formats

import (
	"bytes"
	"sync"
)

// KeysStream is ScanKeys for a file handed over as it is read: a
// line-oriented file (text, JSON Lines, CSV without quotes) is scanned a
// window of whole lines at a time, by as many scanners at once as it was
// given, while the rest is still being read; only the windows being
// scanned and the one being filled are held. The first window decides: a
// file that is not line-oriented is declined (Write returns false) and
// the caller, which then has its bytes from Take, scans it whole.
type KeysStream struct {
	scs    []*Scanner
	name   string
	key    RefKey
	window int // streamWindow, but in tests
	// buf holds what was written and not yet handed to a scanner.
	buf      []byte
	started  bool
	declined bool
	closed   bool
	ctx      lineContext
	free     chan []byte   // buffers to fill
	idle     chan *Scanner // scanners not scanning
	wg       sync.WaitGroup

	mu sync.Mutex
	// parts are the windows' results not yet added to acc, by window;
	// merged is how many were. A window that showed the file is not what
	// the first one said (a quote in a CSV file), or made it one record,
	// sets failed: then there is no result.
	parts  []*Result
	merged int
	acc    *Result
	failed bool
}

// streamWindow is about how much of a file is scanned at a time.
const streamWindow = 8 << 20

// NewKeysStream returns a stream scanning the file called name with the
// scanners scs, which must be of one matcher and Options; they are the
// stream's until Result or Abort has returned.
func NewKeysStream(scs []*Scanner, name string, key RefKey) *KeysStream {
	return &KeysStream{scs: scs, name: name, key: key, window: streamWindow}
}

// Write hands over the next bytes of the file. It returns false, taking
// nothing, when the stream declines the file: it is not line-oriented.
func (ks *KeysStream) Write(p []byte) bool {
	if ks.declined {
		return false
	}
	if ks.buf == nil {
		ks.buf = ks.newBuf()
	}
	ks.buf = append(ks.buf, p...)
	if len(ks.buf) < ks.window {
		return true
	}
	if !ks.started {
		if bytes.IndexByte(ks.buf, '\n') < 0 {
			return true // not even a CSV header yet
		}
		// More than sniffLen bytes: detection sees them as it sees the
		// whole file's head.
		c, ok := ks.scs[0].lineContext(ks.name, ks.buf)
		if !ok {
			ks.declined = true
			ks.buf = ks.buf[:len(ks.buf)-len(p)]
			return false
		}
		ks.start(c)
	}
	if cut := bytes.LastIndexByte(ks.buf, '\n') + 1; cut > 0 {
		next := <-ks.free
		next = append(next[:0], ks.buf[cut:]...)
		ks.scan(ks.buf[:cut])
		ks.buf = next
	}
	return true
}

// Take returns the bytes written before the stream declined the file,
// for the caller to scan whole.
func (ks *KeysStream) Take() []byte {
	b := ks.buf
	ks.buf = nil
	return b
}

func (ks *KeysStream) start(c lineContext) {
	ks.ctx, ks.started = c, true
	ks.acc = &Result{Format: c.format}
	n := len(ks.scs)
	ks.idle = make(chan *Scanner, n)
	for _, sc := range ks.scs {
		ks.idle <- sc
	}
	// One buffer a scanner, and the one being filled.
	ks.free = make(chan []byte, n+1)
	for range n {
		ks.free <- ks.newBuf()
	}
}

// newBuf returns a buffer for a window and the read that ends it.
func (ks *KeysStream) newBuf() []byte { return make([]byte, 0, ks.window+ks.window/4) }

// scan hands the window w to the next idle scanner.
func (ks *KeysStream) scan(w []byte) {
	ks.mu.Lock()
	i := len(ks.parts)
	ks.parts = append(ks.parts, nil)
	ks.mu.Unlock()
	sc := <-ks.idle
	ks.wg.Go(func() {
		res := ks.scanWindow(sc, w, i == 0)
		ks.idle <- sc
		ks.free <- w[:0]
		ks.add(i, res)
	})
}

// add takes the result of window i and adds what is in order to acc.
func (ks *KeysStream) add(i int, res *Result) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if res == nil {
		ks.failed = true
		return
	}
	ks.parts[i] = res
	for ; ks.merged < len(ks.parts) && ks.parts[ks.merged] != nil; ks.merged++ {
		p, a := ks.parts[ks.merged], ks.acc
		ks.parts[ks.merged] = nil
		a.RecordKeys = append(a.RecordKeys, p.RecordKeys...)
		a.NumRecords += p.NumRecords
		a.Flagged += p.Flagged
		a.matched += p.matched
		a.kinds |= p.kinds
	}
}

// scanWindow scans w, whole lines following those of the windows before
// it, as ScanKeys scans them in the whole file; nil when they do not
// parse as the first window said, or make the file one record.
func (ks *KeysStream) scanWindow(sc *Scanner, w []byte, first bool) *Result {
	if ks.ctx.format == FormatCSV && !plainCSV(w) {
		return nil
	}
	c, p := ks.ctx, 0
	if first {
		// The gap before the first record (a CSV header) is scanned
		// when the first record is added, as in the whole file.
		p = c.start
	} else {
		c.bom = 0 // the byte order mark is the first window's
	}
	return sc.scanLines(&c, w, 0, p, nil, ks.key, nil)
}

// Result returns what ScanKeys finds in the whole file, once every byte
// was written: nil when the file turned out not to be what its first
// window said, and its start is gone.
func (ks *KeysStream) Result() *Result {
	if !ks.started {
		return ks.scs[0].ScanKeys(ks.name, ks.Take(), ks.key)
	}
	ks.finish(true)
	if ks.failed {
		return nil
	}
	res := ks.acc
	res.kindList = ks.scs[0].x.sortedKinds(res.kinds)
	return res
}

// finish scans the last window, with last, and waits for every scan.
func (ks *KeysStream) finish(last bool) {
	if ks.closed {
		return
	}
	ks.closed = true
	if last && len(ks.buf) > 0 {
		ks.scan(ks.buf)
	}
	ks.buf = nil
	ks.wg.Wait()
}

// Abort ends a stream whose file was not read to its end.
func (ks *KeysStream) Abort() {
	ks.buf = nil
	if ks.started {
		ks.finish(false)
		ks.failed = true
	}
}
