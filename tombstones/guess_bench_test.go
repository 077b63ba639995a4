package tombstones

import (
	"crypto/sha256"
	"testing"
)

// The cost of testing one guess against a fingerprint, for the numbers in
// docs/security.md. An attacker who holds the subject key writes
// candidates in normalized form directly, so each guess is one keyed hash
// of kind || 0x00 || value; these benchmarks time exactly that, on one core.

// BenchmarkGuessPersonnummer: candidates "19800101NNNC" with a valid check
// digit, as an attacker enumerating birth dates and serials would.
func BenchmarkGuessPersonnummer(b *testing.B) {
	key, err := GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	target := key.Fingerprint(KindPersonnummer, "198001011231")
	buf := make([]byte, 0, 16)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if key.Fingerprint(KindPersonnummer, string(pnrCandidate(buf, "19800101", i%1000))) == target {
			found++
		}
	}
	_ = found
}

// pnrCandidate appends date, the three serial digits and the check digit.
func pnrCandidate(buf []byte, date string, serial int) []byte {
	cand := append(buf[:0], date...)
	cand = append(cand, byte('0'+serial/100), byte('0'+serial/10%10), byte('0'+serial%10))
	return append(cand, luhnDigit(cand[2:]))
}

// TestGuessFindsTheNumber keeps the benchmarks honest: enumerating the
// serials of a birth date finds the personnummer, once.
func TestGuessFindsTheNumber(t *testing.T) {
	key, err := GenerateSubjectKey()
	if err != nil {
		t.Fatal(err)
	}
	target := key.Fingerprint(KindPersonnummer, "198001011231")
	found := 0
	for s := 0; s < 1000; s++ {
		if key.Fingerprint(KindPersonnummer, string(pnrCandidate(nil, "19800101", s))) == target {
			found++
		}
	}
	if found != 1 {
		t.Errorf("found %d times", found)
	}
}

// BenchmarkGuessMobile: candidates "+4670NNNNNNN", Swedish mobile numbers.
func BenchmarkGuessMobile(b *testing.B) {
	key, err := GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	target := key.Fingerprint(KindPhone, "+46701234567")
	buf := make([]byte, 0, 16)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cand := append(buf[:0], "+4670"...)
		n := i % 10_000_000
		for d := 1_000_000; d > 0; d /= 10 {
			cand = append(cand, byte('0'+n/d%10))
		}
		if key.Fingerprint(KindPhone, string(cand)) == target {
			found++
		}
	}
	_ = found
}

// BenchmarkGuessMobileQuick: the same guesses against a tombstone's quick
// tag, which an attacker with the key tests first and confirms by the
// fingerprint (one in 2^64 wrong guesses passes).
func BenchmarkGuessMobileQuick(b *testing.B) {
	key, err := GenerateSubjectKey()
	if err != nil {
		b.Fatal(err)
	}
	target := key.QuickTag(KindPhone, "+46701234567")
	buf := make([]byte, 0, 32)
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cand := append(buf[:0], "phone\x00+4670"...)
		n := i % 10_000_000
		for d := 1_000_000; d > 0; d /= 10 {
			cand = append(cand, byte('0'+n/d%10))
		}
		if key.quick(cand) == target {
			found++
		}
	}
	_ = found
}

// BenchmarkGuessUnkeyed is the same guess against a plain SHA-256 of the
// value, the cost if fingerprints were not keyed: for comparison only.
func BenchmarkGuessUnkeyed(b *testing.B) {
	target := sha256.Sum256([]byte("phone\x00+46701234567"))
	buf := make([]byte, 0, 32)
	found := 0
	for i := 0; i < b.N; i++ {
		cand := append(buf[:0], "phone\x00+4670"...)
		n := i % 10_000_000
		for d := 1_000_000; d > 0; d /= 10 {
			cand = append(cand, byte('0'+n/d%10))
		}
		if sha256.Sum256(cand) == target {
			found++
		}
	}
	_ = found
}

// luhnDigit returns the check digit of the nine digits d.
func luhnDigit(d []byte) byte {
	sum := 0
	for i, c := range d {
		v := int(c - '0')
		if i%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}
