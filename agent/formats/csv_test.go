package formats

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestPlainCSV: a file without quotes is split into the same records, with
// the same kinds and refs, as encoding/csv splits it.
func TestPlainCSV(t *testing.T) {
	m := offerAll{}
	opts := &Options{NameColumns: []string{"namn"}, AllCandidates: true}
	cells := []string{"", " ", "Anna Svensson", "anna@example.se", "070-123 45 67", "19800101-1249",
		"a;b", "Åsa Öberg", "+46 70 123 45 67", "K-12345", "\t"}
	r := rand.New(rand.NewPCG(3, 4))
	plain := 0
	for i := range 500 {
		var b strings.Builder
		if r.IntN(5) == 0 {
			b.Write(utf8BOM)
		}
		b.WriteString("id;namn;epost\n")
		for range r.IntN(20) {
			for c := range r.IntN(5) {
				if c > 0 {
					b.WriteByte(';')
				}
				b.WriteString(cells[r.IntN(len(cells))])
			}
			switch r.IntN(6) {
			case 0:
				b.WriteString("\r\n")
			case 1:
				b.WriteString("\n\n")
			case 2:
				b.WriteString("\r\n\r\n")
			default:
				b.WriteString("\n")
			}
		}
		data := []byte(b.String())
		if r.IntN(4) == 0 {
			data = bytes.TrimRight(data, "\r\n")
		}
		body := bytes.TrimPrefix(data, utf8BOM)
		if !plainCSV(body) {
			continue
		}
		plain++
		bom := len(data) - len(body)
		want, err := csvRecords(data, bom, newCSVReader(body, ';'), newExtractor(m), opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := csvRecords(data, bom, &plainRows{body: body, comma: ';'}, newExtractor(m), opts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d %q:\nplain    %+v\ncsv      %+v", i, data, got, want)
		}
	}
	if plain < 250 {
		t.Fatalf("only %d of 500 inputs were plain", plain)
	}
}

func TestPlainCSVGuard(t *testing.T) {
	for in, want := range map[string]bool{
		"a;b\n1;2\n":     true,
		"a;b\r\n1;2\r\n": true,
		"a;b\n\"1\";2\n": false,
		"a;b\n1\r;2\n":   false,
		"a;b\n1;2\r":     false,
		"":               true,
	} {
		if got := plainCSV([]byte(in)); got != want {
			t.Errorf("plainCSV(%q) = %v, want %v", in, got, want)
		}
	}
}
