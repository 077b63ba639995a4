package formats

import (
	"encoding/json"
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
