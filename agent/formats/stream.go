package formats

import "bytes"

// KeysStream is ScanKeys for a file handed over as it is read: a
// line-oriented file (text, JSON Lines, CSV without quotes) is scanned a
// window of whole lines at a time, on a goroutine of its own, while the
// rest is still being read, and only the window being scanned and the
// one being filled are held. The first window decides: a file that is not
// line-oriented is declined (Write returns false) and the caller, which
// then has its bytes from Take, scans it whole.
type KeysStream struct {
	sc     *Scanner
	name   string
	key    RefKey
	window int // streamWindow, but in tests
	// buf holds what was written and not yet handed to the scan.
	buf      []byte
	started  bool
	declined bool
	ctx      lineContext
	windows  chan []byte
	free     chan []byte
	done     chan struct{}
	closed   bool
	// What the windows scanned so far found; failed is set when a
	// window showed the file is not what the first one said (a quote in
	// a CSV file) or made it one record: then there is no result.
	acc    *Result
	first  bool
	failed bool
}

// streamWindow is about how much of a file is scanned at a time.
const streamWindow = 8 << 20

// StreamKeys returns a stream scanning the file called name; the
// scanner is the stream's until Result or Abort.
func (s *Scanner) StreamKeys(name string, key RefKey) *KeysStream {
	return &KeysStream{sc: s, name: name, key: key, window: streamWindow}
}

// Write hands over the next bytes of the file. It returns false, taking
// nothing, when the stream declines the file: it is not line-oriented.
func (ks *KeysStream) Write(p []byte) bool {
	if ks.declined {
		return false
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
		c, ok := ks.sc.lineContext(ks.name, ks.buf)
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
		ks.windows <- ks.buf[:cut]
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
	ks.ctx, ks.started, ks.first = c, true, true
	ks.acc = &Result{Format: c.format}
	ks.windows = make(chan []byte)
	ks.free = make(chan []byte, 2)
	ks.free <- make([]byte, 0, ks.window+ks.window/4)
	ks.done = make(chan struct{})
	go func() {
		defer close(ks.done)
		for w := range ks.windows {
			if !ks.failed {
				ks.scanWindow(w)
			}
			select {
			case ks.free <- w[:0]:
			default:
			}
		}
	}()
}

// scanWindow adds the records of w, whole lines following the ones
// scanned before.
func (ks *KeysStream) scanWindow(w []byte) {
	if ks.ctx.format == FormatCSV && !plainCSV(w) {
		ks.failed = true
		return
	}
	x := ks.sc.x
	defer func() {
		x.refsOnly, x.keys = false, nil
		if r := recover(); r != nil {
			ks.failed = true // as in scanFormat
		}
	}()
	x.refsOnly, x.keys = true, &refKeys{key: ks.key, flat: true}
	x.startRefs(0)
	b := newBuilder(ks.ctx.format, w, x)
	a := ks.acc
	b.res.RecordKeys, b.res.NumRecords, b.res.Flagged, b.res.matched, b.res.kinds = a.RecordKeys, a.NumRecords, a.Flagged, a.matched, a.kinds
	c, p := ks.ctx, 0
	if ks.first {
		// The gap before the first record (a CSV header) is scanned
		// when the first record is added, as in the whole file.
		p = c.start
	} else {
		c.bom = 0 // the byte order mark is the first window's
	}
	ks.first = false
	if err := c.linesFrom(b, p); err != nil {
		ks.failed = true
		return
	}
	res := b.done()
	if res.Whole {
		x.dropRefs(0)
		ks.failed = true
		return
	}
	x.releaseRefs()
	ks.acc = res
}

// Result returns what ScanKeys finds in the whole file, once every byte
// was written: nil when the file turned out not to be what its first
// window said, and its start is gone.
func (ks *KeysStream) Result() *Result {
	if !ks.started {
		return ks.sc.ScanKeys(ks.name, ks.Take(), ks.key)
	}
	ks.finish()
	if ks.failed {
		return nil
	}
	res := ks.acc
	res.kindList = ks.sc.x.sortedKinds(res.kinds)
	return res
}

// finish scans the last window and waits for the scan to end.
func (ks *KeysStream) finish() {
	if ks.closed {
		return
	}
	ks.closed = true
	if len(ks.buf) > 0 {
		ks.windows <- ks.buf
		ks.buf = nil
	}
	close(ks.windows)
	<-ks.done
}

// Abort ends a stream whose file was not read to its end.
func (ks *KeysStream) Abort() {
	ks.buf = nil
	if ks.started {
		ks.finish()
		ks.failed = true
	}
}
