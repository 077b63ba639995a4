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
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				m.Match(c.kind, c.cand)
			}
		})
	}
}
