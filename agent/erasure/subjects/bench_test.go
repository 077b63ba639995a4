package subjects

import (
	"lethe/agent/formats"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkIndexer scans the files of a bench corpus directory given by
// LETHE_BENCH_CORPUS (written by `go run ./bench/corpus`), as backups
// index them; without it, a generated CSV and random bytes.
func BenchmarkIndexer(b *testing.B) {
	n, key := setup(b, "", "")
	ix := NewIndexer(n, key, nil)
	var names []string
	var datas [][]byte
	var total int64
	if dir := os.Getenv("LETHE_BENCH_CORPUS"); dir != "" {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					b.Fatal(err)
				}
				names, datas = append(names, d.Name()), append(datas, data)
				total += int64(len(data))
			}
			return nil
		})
	} else {
		var csv []byte
		csv = append(csv, "kundnr;namn;epost;telefon\n"...)
		for i := 0; len(csv) < 4<<20; i++ {
			csv = append(csv, []byte("K"+itoa(i)+";Anna Svensson;anna.svensson"+itoa(i)+"@example.se;070-"+itoa(100+i%900)+" 12 34;Uppsala\n")...)
		}
		rnd := make([]byte, 4<<20)
		for i := range rnd {
			rnd[i] = byte(i*7919 ^ i>>3)
		}
		names, datas = []string{"kunder.csv", "faktura.pdf"}, [][]byte{csv, rnd}
		total = int64(len(csv) + len(rnd))
	}
	b.Run("index", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			for j, d := range datas {
				ix.Entry(names[j], contentOf(d), d)
			}
		}
	})
	// The same files through the redactor of a restore with one erasure
	// of an email, a phone number and a personnummer, for comparison.
	b.Run("redact", func(b *testing.B) {
		tb := tombstoneOf(b, n, key, "01JD0000000000000000000001", "email=anna.svensson@example.se", "phone=070-123 45 67", "personnummer=19811218-9876")
		red := formats.NewRedactor(matcherOf(b, n, key, tb), nil)
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			for j, d := range datas {
				red.RedactBytes(names[j], d)
			}
		}
	})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
