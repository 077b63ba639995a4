package formats

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"lethe/agent/formats/gen"
	"lethe/tombstones"
)

var benchData struct {
	once sync.Once
	dir  string
	ds   *gen.Dataset
	m    *tombstones.Matcher
	err  error
}

// TestMain removes the benchmarks' generated data set, which lives outside
// any test's temporary directory so that all benchmarks share it.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchData.dir != "" {
		os.RemoveAll(benchData.dir)
	}
	os.Exit(code)
}

// benchDataset generates the default-size server once per test binary.
func benchDataset(b *testing.B) (*gen.Dataset, *tombstones.Matcher) {
	benchData.once.Do(func() {
		benchData.dir, benchData.err = os.MkdirTemp("", "lethe-formats-bench")
		if benchData.err != nil {
			return
		}
		benchData.ds, benchData.err = gen.Generate(benchData.dir, gen.DefaultConfig(7))
		if benchData.err == nil {
			benchData.m = subjectMatcher(b, benchData.ds)
		}
	})
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	return benchData.ds, benchData.m
}

// nopMatcher has every kind and matches nothing: it measures parsing,
// decoding and candidate extraction without the matcher's keyed hashing.
type nopMatcher struct{ custom []CustomKind }

func (nopMatcher) Lookup(Kind, string) (string, bool)      { return "", false }
func (nopMatcher) LookupBytes(Kind, []byte) (string, bool) { return "", false }
func (m nopMatcher) CustomKinds() []CustomKind             { return m.custom }

// benchFiles scans files of the default data set: with the real matcher,
// with one that costs nothing, and as the subject index does (every
// candidate tagged).
func benchFiles(b *testing.B, paths ...string) {
	ds, m := benchDataset(b)
	b.Run("matcher", func(b *testing.B) { benchScan(b, ds, m, paths, false) })
	b.Run("extract", func(b *testing.B) { benchScan(b, ds, nopMatcher{m.CustomKinds()}, paths, false) })
	b.Run("index", func(b *testing.B) { benchScan(b, ds, tagMatcher(b, m), paths, true) })
}

// tagMatcher returns a subject index's matcher with m's custom kinds.
func tagMatcher(b *testing.B, m *tombstones.Matcher) *tombstones.TagMatcher {
	key, err := tombstones.GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	return tombstones.NewTagMatcher(m.Normalizer(), key)
}

func benchScan(b *testing.B, ds *gen.Dataset, m Matcher, paths []string, all bool) {
	opts := datasetOptions(b, ds)
	opts.AllCandidates = all
	var files [][]byte
	var names []string
	total := 0
	for _, p := range paths {
		matches, err := filepath.Glob(filepath.Join(ds.Root, filepath.FromSlash(p)))
		if err != nil || len(matches) == 0 {
			b.Fatalf("no files for %s", p)
		}
		for _, f := range matches {
			if info, err := os.Stat(f); err == nil && info.IsDir() {
				continue // a folder named like a file (a decoy)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			files = append(files, data)
			names = append(names, f)
			total += len(data)
		}
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	cpu0 := cpuTime()
	sc := NewScanner(m, opts)
	for b.Loop() {
		for i, data := range files {
			res := sc.Scan(names[i], data)
			if res.Fallback != "" {
				b.Fatalf("%s: %s", names[i], res.Fallback)
			}
		}
	}
	// The machine running benchmarks may be shared: throughput per second
	// of CPU time used is what "MB/s per core" means.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(total)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkScanCSV(b *testing.B)      { benchFiles(b, "kunder/*.csv") }
func BenchmarkScanMaildir(b *testing.B)  { benchFiles(b, "mail/Maildir/cur/*") }
func BenchmarkScanMbox(b *testing.B)     { benchFiles(b, "mail/arkiv.mbox") }
func BenchmarkScanVCard(b *testing.B)    { benchFiles(b, "kontakter/kontakter.vcf") }
func BenchmarkScanICal(b *testing.B)     { benchFiles(b, "kalender/kalender.ics") }
func BenchmarkScanPgDump(b *testing.B)   { benchFiles(b, "db/pg_dump.sql") }
func BenchmarkScanMysql(b *testing.B)    { benchFiles(b, "db/mysqldump.sql") }
func BenchmarkScanLog(b *testing.B)      { benchFiles(b, "logs/app.log", "logs/mail.log") }
func BenchmarkScanUTF16(b *testing.B)    { benchFiles(b, "logs/kassa-export.txt") }
func BenchmarkScanJSONL(b *testing.B)    { benchFiles(b, "data/events.jsonl") }
func BenchmarkScanJSON(b *testing.B)     { benchFiles(b, "data/kunder.json") }
func BenchmarkScanOffice(b *testing.B)   { benchFiles(b, "dokument/*") }
func BenchmarkScanGzip(b *testing.B)     { benchFiles(b, "exporter/*.gz") }
func BenchmarkScanFallback(b *testing.B) { benchFiles(b, "bilagor/*", "inskannat/*") }
func BenchmarkScanTar(b *testing.B)      { benchFiles(b, "exporter/projekt.tar") }
func BenchmarkScanUTF16JSON(b *testing.B) {
	benchFiles(b, "data/kunder-utf16.json", "exporter/kunder-unicode.txt")
}
func BenchmarkScanAccessLog(b *testing.B)  { benchFiles(b, "logs/access.log", "logs/syslog-export.log") }
func BenchmarkScanPhpMyAdmin(b *testing.B) { benchFiles(b, "db/phpmyadmin.sql") }

// BenchmarkScanBinary is 4 MB of random bytes, as compressed and encrypted
// files hold: read by the fallback as text and as UTF-16.
func BenchmarkScanBinary(b *testing.B) {
	data := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
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
				if res := sc.Scan("bilaga.bin", data); res.Format != FormatFallback {
					b.Fatalf("read as %s", res.Format)
				}
			}
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(len(data))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}
