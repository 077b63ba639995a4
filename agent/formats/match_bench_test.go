package formats

import "testing"

// BenchmarkMatcher is the cost of one matcher call per kind, which bounds
// the throughput of identifier-dense files (a CSV row holds five).
func BenchmarkMatcher(b *testing.B) {
	m := allMatcher(b)
	for _, c := range []struct {
		name string
		kind Kind
		cand string
	}{
		{"email", KindEmail, "per.svensson@example.se"},
		{"phone", KindPhone, "070-765 43 21"},
		{"personnummer", KindPersonnummer, "19800101-1249"},
		{"name", KindName, "Per Svensson"},
		{"custom", Kind("custom:kundnr"), "K-54321"},
	} {
		// Phone numbers alternate with one that differs in its last digit,
		// so that the matcher's phone tail cache does not answer every call.
		cands := [2]string{c.cand, c.cand}
		if c.kind == KindPhone {
			alt := []byte(c.cand)
			alt[len(alt)-1] ^= 1
			cands[1] = string(alt)
		}
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				m.Match(c.kind, cands[i&1])
				i++
			}
		})
	}
}
