package formats

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// denseNumbers is text full of numbers: tables of amounts and digit groups
// with leading zeros, the slowest input class for candidate extraction.
func denseNumbers() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 4<<20 {
		fmt.Fprintf(&b, "%07d %03d %02d %02d  %d,%02d  0%d-%06d  %010d\n", r.IntN(1e7), r.IntN(1000), r.IntN(100), r.IntN(100),
			r.IntN(100000), r.IntN(100), r.IntN(10), r.IntN(1e6), r.Int64N(1e10))
	}
	return []byte(b.String())
}

// BenchmarkScanDenseNumbers/matcher is text of numbers against the real
// matcher; /extract without its hashing; /index as the subject index
// scans it.
func BenchmarkScanDenseNumbers(b *testing.B) {
	data := denseNumbers()
	m := allMatcher(b)
	for _, c := range []struct {
		name string
		m    Matcher
		all  bool
	}{{"matcher", m, false}, {"extract", nopMatcher{m.CustomKinds()}, false}, {"index", tagMatcher(b, m), true}} {
		b.Run(c.name, func(b *testing.B) {
			sc := NewScanner(c.m, &Options{AllCandidates: c.all})
			b.SetBytes(int64(len(data)))
			cpu0 := cpuTime()
			for b.Loop() {
				sc.Scan("tabell.txt", data)
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}
