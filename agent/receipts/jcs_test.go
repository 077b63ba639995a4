package receipts

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// The examples of RFC 8785.
func TestCanonicalizeRFC8785(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{
			"3.2.2 primitives",
			`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			"3.2.3 sorting",
			`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{"nesting", `{"z": {"z": 1, "a": [ {"b":2,"a":1} ]}, "a": {}}`, `{"a":{},"z":{"a":[{"a":1,"b":2}],"z":1}}`},
		{"empty", ` [ ] `, `[]`},
		{"controls", `"\u0000\u001f\b\f\t"`, `"\u0000\u001f\b\f\t"`},
		{"no html escapes", `"<a&b>\u2028"`, "\"<a&b>\u2028\""},
	}
	for _, c := range cases {
		got, err := Canonicalize([]byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
		again, err := Canonicalize(got)
		if err != nil || string(again) != string(got) {
			t.Errorf("%s: not idempotent: %s, %v", c.name, again, err)
		}
	}
}

// Appendix B of RFC 8785: IEEE 754 doubles and how JCS writes them.
func TestCanonicalNumbersAppendixB(t *testing.T) {
	cases := map[string]string{
		"0000000000000000": "0",
		"8000000000000000": "0",
		"0000000000000001": "5e-324",
		"8000000000000001": "-5e-324",
		"7fefffffffffffff": "1.7976931348623157e+308",
		"ffefffffffffffff": "-1.7976931348623157e+308",
		"4340000000000000": "9007199254740992",
		"c340000000000000": "-9007199254740992",
		"4430000000000000": "295147905179352830000",
		"44b52d02c7e14af5": "9.999999999999997e+22",
		"44b52d02c7e14af6": "1e+23",
		"44b52d02c7e14af7": "1.0000000000000001e+23",
		"444b1ae4d6e2ef4e": "999999999999999700000",
		"444b1ae4d6e2ef4f": "999999999999999900000",
		"444b1ae4d6e2ef50": "1e+21",
		"3eb0c6f7a0b5ed8c": "9.999999999999997e-7",
		"3eb0c6f7a0b5ed8d": "0.000001",
		"41b3de4355555553": "333333333.3333332",
		"41b3de4355555554": "333333333.33333325",
		"41b3de4355555555": "333333333.3333333",
		"41b3de4355555556": "333333333.3333334",
		"41b3de4355555557": "333333333.33333343",
		"becbf647612f3696": "-0.0000033333333333333333",
		"43143ff3c1cb0959": "1424953923781206.2",
	}
	for hex, want := range cases {
		bits, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		f := math.Float64frombits(bits)
		if got := formatES(f); got != want {
			t.Errorf("%s: %s, want %s", hex, got, want)
		}
		// Through the parser too, from Go's own spelling of the double.
		in := strconv.FormatFloat(f, 'g', -1, 64)
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: Canonicalize(%s) = %s, %v; want %s", hex, in, got, err, want)
		}
	}
}

func TestCanonicalizeRejects(t *testing.T) {
	for name, in := range map[string]string{
		"duplicate":      `{"a":1,"a":1}`,
		"nested dup":     `{"x":{"b":1,"b":2}}`,
		"trailing":       `{"a":1} {}`,
		"trailing comma": `{"a":1,}`,
		"lone surrogate": `"\ud800"`,
		"invalid utf-8":  "\"\xff\"",
		"huge number":    `1e400`,
		"not json":       `{a:1}`,
		"empty":          ``,
		"deep":           strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		if out, err := Canonicalize([]byte(in)); err == nil {
			t.Errorf("%s: accepted as %s", name, out)
		}
	}
}

// Marshal of Go values: encoding/json's HTML escapes are undone and keys
// sorted whatever the struct order.
func TestMarshal(t *testing.T) {
	v := struct {
		Z string         `json:"z"`
		A map[string]int `json:"a"`
		M json.Number    `json:"m"`
	}{"<&>", map[string]int{"b": 2, "a": 1}, "10"}
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"a":1,"b":2},"m":10,"z":"<&>"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
