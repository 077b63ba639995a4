package erasure

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRerun compares, in one run, the first run of an erasure under
// a two-day hold (three snapshots; two keep their CSV) with the run again
// once the holds have ended (two snapshots rewritten), each on a fresh
// copy of its repository. bench/rerun.sh prints the ratio.
func BenchmarkRerun(b *testing.B) {
	ctx := context.Background()
	short := Hold{Name: "avtal", Paths: []string{"kunder.csv"}, Basis: "avtalet", Days: 2}
	opts := func(now time.Time) Options {
		o := eraseOpts(b)
		o.Rules.Holds = []Hold{short, invoiceHold}
		o.Now = func() time.Time { return now }
		return o
	}
	first := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	later := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	fresh := newEnv(b, 3)
	held := newEnv(b, 3)
	if _, err := Run(ctx, held.open(b), opts(first)); err != nil {
		b.Fatal(err)
	}
	bench := func(b *testing.B, tmpl *testEnv, now time.Time, rerun int) {
		for b.Loop() {
			b.StopTimer()
			env := &testEnv{repoDir: filepath.Join(b.TempDir(), "repo"), src: tmpl.src}
			copyTree(b, tmpl.repoDir, env.repoDir)
			repo := env.open(b)
			b.StartTimer()
			res, err := Run(ctx, repo, opts(now))
			if err != nil || res.Rerun != rerun {
				b.Fatalf("run: %v, rerun %d", err, res.Rerun)
			}
		}
	}
	b.Run("first", func(b *testing.B) { bench(b, fresh, first, 0) })
	b.Run("again", func(b *testing.B) { bench(b, held, later, 1) })
}

func copyTree(b *testing.B, src, dst string) {
	b.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	if err != nil {
		b.Fatal(err)
	}
}
