package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress shows files, bytes, rate and ETA of a long operation on a
// terminal. It prints nothing when stderr is not a terminal or with
// --quiet; the counters still work.
type progress struct {
	files, bytes           atomic.Int64
	totalFiles, totalBytes atomic.Int64
	start                  time.Time

	out  io.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

func (g *globalOptions) newProgress(verb string) *progress {
	p := &progress{start: time.Now(), done: make(chan struct{})}
	if f, ok := g.stderr.(*os.File); g.quiet || !ok || !isTerminal(f) {
		return p
	}
	p.out = g.stderr
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprintf(p.out, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprintf(p.out, "\r\033[K%s %s", verb, p.line())
			}
		}
	}()
	return p
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// line renders the current state.
func (p *progress) line() string {
	el := time.Since(p.start)
	b := p.bytes.Load()
	rate := float64(b) / el.Seconds()
	s := fmt.Sprintf("[%s] %d files, %s, %s/s", fmtDuration(el), p.files.Load(), fmtBytes(uint64(b)), fmtBytes(uint64(rate)))
	if tb := p.totalBytes.Load(); tb > 0 && rate > 0 && b <= tb {
		eta := time.Duration(float64(tb-b) / rate * float64(time.Second))
		s += fmt.Sprintf(" of %s, ETA %s", fmtBytes(uint64(tb)), fmtDuration(eta))
	}
	return s
}

// count reports done of total items, as prune and check report them.
func (p *progress) count(done, total int) {
	p.files.Store(int64(done))
	p.totalFiles.Store(int64(total))
}

// stop ends the display.
func (p *progress) stop() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
}

func fmtDuration(d time.Duration) string {
	s := int64(d.Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func fmtBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.3f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
