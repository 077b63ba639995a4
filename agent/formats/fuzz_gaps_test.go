package formats

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzValidJSON checks the JSON checker against encoding/json, whose
// nesting limit fuzzed inputs do not reach.
func FuzzValidJSON(f *testing.F) {
	for _, s := range []string{"[1, {\"a\": [true, null]}, \"\\u00e5\"]", "-0.5e+3", "[", "{\"a\":", "\"\\", "01", "[] x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON %v, json.Valid %v", got, want)
		}
		if validJSON(data) && jsonPrefix(data) != jsonValid {
			t.Fatalf("valid but not a valid prefix")
		}
		for i := 0; i < len(data); i++ {
			if validJSON(data) && jsonPrefix(data[:i]) == jsonInvalid {
				t.Fatalf("a valid document's prefix of %d bytes is invalid", i)
			}
		}
	})
}

// FuzzMIMEParams checks RFC 2231 parameter joining on arbitrary values.
func FuzzMIMEParams(f *testing.F) {
	for _, s := range []string{"attachment; filename*0*=UTF-8''a%40b; filename*1=.se", "x; a*=''", "x; a*99999999999=\"", "; ;*=;\"\\"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		newExtractor(everything{}).scanParams(data)
		if j := joinContinuations(data); len(j) > len(data)+len(data)/2+1 {
			t.Fatalf("joined %d bytes from %d", len(j), len(data))
		}
	})
}

func utf16Seeds(ss ...string) []string {
	var out []string
	for _, s := range ss {
		out = append(out, "\xff\xfe"+utf16Bytes(s, false), "\xfe\xff"+utf16Bytes(s, true))
	}
	return out
}

// FuzzUTF16CSV and FuzzUTF16JSON fuzz UTF-16 files read by their format,
// whose records are mapped back to UTF-16 offsets.
func FuzzUTF16CSV(f *testing.F) {
	fuzzParserNamed(f, FormatText, "x.csv", append(utf16Seeds("a\tb\r\n1\t\"x\r\ny\"\r\n😀\t\r\n", "a;b\n\n1;2"), "\xff\xfea\x00\t\x00\x3d\xd8\n\x00b\x00")...)
}

func FuzzUTF16JSON(f *testing.F) {
	fuzzParserNamed(f, FormatText, "x.json", utf16Seeds("[{\"a\": \"ö😀\"}, 2,\r\n \"x\\u0040y.se\"]", "{\"a\":1}\n{\"b\":2}\n", "[")...)
}

func FuzzTar(f *testing.F) {
	seed := tarBytes(f, []tarMember{{name: "a/", flag: '5'}, {name: "a/b@c.se.txt", body: "x"}, {name: "a/l", flag: '2', link: "b"},
		{name: "a/" + strings.Repeat("d", 120) + "/c.txt", body: "070-123 45 67\n"}})
	fuzzParser(f, FormatTar, string(seed), string(seed[:700]), "")
}
