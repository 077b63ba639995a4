package formats

import "sync"

// Versions keeps, by file name, the LineScan of the last version scanned
// of each line-oriented file of at least a least size, up to about a
// limit in all: for scanning every version of files, as an erasure's
// rewrite does, each from where it stops sharing the previous one (see
// Scanner.ScanAfter). Files under the least size are scanned whole. A
// Versions must serve scanners of one matcher and Options, by one way of
// scanning (Scan or ScanKeys with one key function). It is safe for
// concurrent use; a nil *Versions keeps nothing.
type Versions struct {
	least, limit int
	mu           sync.Mutex
	last         map[string]*LineScan
	size         int // of last
}

// NewVersions returns a Versions for files of at least least bytes,
// keeping about limit bytes at most.
func NewVersions(least, limit int) *Versions {
	return &Versions{least: least, limit: limit, last: make(map[string]*LineScan)}
}

// Scan is sc.Scan(name, data), after the last version of name.
func (v *Versions) Scan(sc *Scanner, name string, data []byte) *Result {
	if v == nil || len(data) < v.least {
		return sc.Scan(name, data)
	}
	res, next := sc.ScanAfter(v.take(name), name, data)
	v.put(name, next)
	return res
}

// ScanKeys is sc.ScanKeys(name, data, key), after the last version of
// name.
func (v *Versions) ScanKeys(sc *Scanner, name string, data []byte, key RefKey) *Result {
	if v == nil || len(data) < v.least {
		return sc.ScanKeys(name, data, key)
	}
	res, next := sc.ScanKeysAfter(v.take(name), name, data, key)
	v.put(name, next)
	return res
}

// take removes and returns what is kept of name's last version.
func (v *Versions) take(name string) *LineScan {
	v.mu.Lock()
	defer v.mu.Unlock()
	ls := v.last[name]
	if ls != nil {
		delete(v.last, name)
		v.size -= ls.Size()
	}
	return ls
}

// put keeps ls for name's next version, if there is room.
func (v *Versions) put(name string, ls *LineScan) {
	if ls == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if old := v.last[name]; old != nil {
		delete(v.last, name)
		v.size -= old.Size()
	}
	if v.size+ls.Size() <= v.limit {
		v.last[name] = ls
		v.size += ls.Size()
	}
}
