// Command corpus writes the benchmark data set: a large customer CSV,
// ~20k small mail files, incompressible documents and some duplicates,
// deterministic by seed. With -mutate it makes the small changes of a
// typical day instead.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "", "output `directory`")
	seed := flag.Uint64("seed", 1, "random seed")
	mails := flag.Int("mails", 20000, "number of mail files")
	docsMB := flag.Int("docs-mb", 400, "incompressible documents, in MiB")
	csvMB := flag.Int("csv-mb", 80, "customer CSV size, in MiB")
	mutate := flag.Bool("mutate", false, "change an existing corpus a little instead of writing one")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "corpus: -dir is required")
		os.Exit(2)
	}
	rng := rand.New(rand.NewChaCha8(seedBytes(*seed)))
	var err error
	if *mutate {
		err = mutateCorpus(*dir, rng)
	} else {
		err = writeCorpus(*dir, rng, *mails, *docsMB, *csvMB)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

func seedBytes(s uint64) [32]byte {
	var b [32]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(s >> (8 * i))
	}
	return b
}

var firstNames = []string{"Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Per", "Sara", "Nils", "Ingrid", "Oskar"}
var lastNames = []string{"Svensson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Andersson", "Lindberg"}

func writeCorpus(dir string, rng *rand.Rand, mails, docsMB, csvMB int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(dir, "kunder.csv"), rng, int64(csvMB)<<20); err != nil {
		return err
	}
	for i := 0; i < mails; i++ {
		if err := writeMail(dir, rng, i); err != nil {
			return err
		}
	}
	docs := filepath.Join(dir, "dokument")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return err
	}
	left := int64(docsMB) << 20
	for i := 0; left > 0; i++ {
		size := min(int64(1+rng.IntN(16))<<20, left)
		if err := writeRandom(filepath.Join(docs, fmt.Sprintf("faktura-%05d.pdf", i)), rng, size); err != nil {
			return err
		}
		left -= size
	}
	// Duplicates: a copy of the first documents, as an archive folder would hold.
	dup := filepath.Join(dir, "arkiv")
	if err := os.MkdirAll(dup, 0o755); err != nil {
		return err
	}
	for i := 0; i < 4; i++ {
		src := filepath.Join(docs, fmt.Sprintf("faktura-%05d.pdf", i))
		if err := copyFile(src, filepath.Join(dup, filepath.Base(src))); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(name string, rng *rand.Rand, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	n, _ := fmt.Fprintln(w, "kundnr;namn;epost;telefon;ort;belopp")
	written := int64(n)
	for i := 0; written < size; i++ {
		fn, ln := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		n, _ = fmt.Fprintf(w, "K%07d;%s %s;%s.%s%d@example.se;070-%03d %02d %02d;Uppsala;%d,%02d\n",
			i, fn, ln, fn, ln, i, rng.IntN(1000), rng.IntN(100), rng.IntN(100), rng.IntN(100000), rng.IntN(100))
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeMail(dir string, rng *rand.Rand, i int) error {
	sub := filepath.Join(dir, "mail", fmt.Sprintf("box%02d", i%40), "cur")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return err
	}
	fn, ln := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	body := make([]byte, 0, 4096)
	body = fmt.Appendf(body, "From: %s %s <%s.%s@example.se>\r\nTo: info@foretaget.se\r\nSubject: Fraga om order %d\r\nDate: Mon, 2 Nov 2026 10:%02d:00 +0100\r\nMessage-ID: <%d@example.se>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", fn, ln, fn, ln, i, i%60, i)
	for j, lines := 0, 10+rng.IntN(60); j < lines; j++ {
		body = fmt.Appendf(body, "Hej, jag undrar over order %d rad %d, vanliga halsningar %s.\r\n", i, rng.IntN(1000), fn)
	}
	return os.WriteFile(filepath.Join(sub, fmt.Sprintf("%d.%d.host:2,S", 1790000000+i, i)), body, 0o644)
}

func writeRandom(name string, rng *rand.Rand, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(int64(len(buf)), size)
		for i := 0; i < int(n); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && i+k < int(n); k++ {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		size -= n
	}
	return f.Close()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mutateCorpus makes a day's changes: rows appended to the CSV, new mail,
// one document replaced.
func mutateCorpus(dir string, rng *rand.Rand) error {
	f, err := os.OpenFile(filepath.Join(dir, "kunder.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for i := 0; i < 500; i++ {
		fmt.Fprintf(f, "N%07d;Ny Kund;ny%d@example.se;070-000 00 %02d;Lund;100,00\n", i, i, i%100)
	}
	if err := f.Close(); err != nil {
		return err
	}
	for i := 0; i < 200; i++ {
		if err := writeMail(dir, rng, 1_000_000+i); err != nil {
			return err
		}
	}
	return writeRandom(filepath.Join(dir, "dokument", "faktura-00001.pdf"), rng, 2<<20)
}
