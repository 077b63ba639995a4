package tombstones

// The shapes of the Swedish national numbers. The normalizer checks them
// before it fingerprints a value, and scanners check them before they offer
// a candidate, so both accept exactly the same spellings. The shape knows
// no date: the normalizer alone rejects a birth date in the future or on a
// day its month lacks, which needs today and the century.

// number is a digit string: the shape functions run on a scanner's bytes
// and on the normalizer's strings without copying either.
type number interface{ ~string | ~[]byte }

// LuhnDigit returns the check digit ('0' to '9') that completes the ASCII
// digits s under the Luhn algorithm, weighting the last digit of s by 2,
// the one before by 1, and so on, as personnummer and
// organisationsnummer do. s must hold only the digits '0' to '9'.
func LuhnDigit[T number](s T) byte {
	sum, w := 0, 1
	for i := len(s) - 1; i >= 0; i-- {
		sum += int(luhnValue[w][s[i]])
		w ^= 1
	}
	return byte('0' + (10-sum%10)%10)
}

// luhnValue[w][c] is what digit c adds to a Luhn sum at weight w+1:
// scanners check a check digit for every ten-digit number they see.
var luhnValue = func() (t [2][256]uint8) {
	for d := range uint8(10) {
		t[0]['0'+d] = d
		t[1]['0'+d] = 2*d - 9*(d/5)
	}
	return t
}()

// IsPersonnummerShape reports whether s is spelled as a personnummer or
// samordningsnummer: YYMMDD[-+]NNNC, YYMMDDNNNC, YYYYMMDD[-]NNNC or
// YYYYMMDDNNNC, with a month from 1 to 12, a day from 1 to 31 (61 to 91
// for a samordningsnummer) and a valid check digit C. s is one token:
// surrounding white space is not part of it (Normalize trims it first).
// Every value Normalize accepts as KindPersonnummer has this shape.
func IsPersonnummerShape[T number](s T) bool {
	_, err := parsePersonnummer(s)
	return err == nil
}

// IsOrgnrShape reports whether s is spelled as an organisationsnummer:
// NNNNNN-NNNC or NNNNNNNNNC, optionally after the prefix 16, with 20 or
// more in the third and fourth digits (the "month" that sets an
// organisation apart from a person) and a valid check digit C. s is one
// token, as for IsPersonnummerShape. Every value Normalize accepts as
// KindOrgnr has this shape, and Normalize accepts every value of this
// shape. A sole trader's number is the owner's personnummer and is
// recorded as one, so that every spelling of it is found.
func IsOrgnrShape[T number](s T) bool {
	_, err := parseOrgnr(s)
	return err == nil
}

// pnrParts is a personnummer taken apart by parsePersonnummer.
type pnrParts struct {
	d       [10]byte // YYMMDDNNNC, ASCII digits
	century int      // the first two of 12 digits, -1 for 10 digits
	sep     byte     // '-', '+' or 0
}

func parsePersonnummer[T number](s T) (p pnrParts, err error) {
	// The length says where a separator may be and how many digits there
	// are: 10 or 12, and '-' or '+' only before the last four.
	n, nd := len(s), len(s)
	switch n {
	case 10, 12:
	case 11, 13:
		if p.sep = s[n-5]; p.sep != '-' && p.sep != '+' {
			return p, errPnrLength
		}
		nd = n - 1
	default:
		return p, errPnrLength
	}
	if !digitsAround(s, p.sep != 0) {
		return p, errPnrLength
	}
	p.century = -1
	if nd == 12 {
		if p.sep == '+' {
			return p, errPnrPlus
		}
		p.century = int(s[0]-'0')*10 + int(s[1]-'0')
	}
	off := nd - 10 // the century's digits come first
	if p.sep == 0 {
		copy(p.d[:], s[off:])
	} else {
		copy(p.d[:6], s[off:n-5])
		copy(p.d[6:], s[n-4:])
	}
	month, day := p.monthDay()
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return p, errPnrDate
	}
	if c := LuhnDigit(p.d[:9]); c != p.d[9] {
		return p, errPnrCheck[c-'0']
	}
	return p, nil
}

// digitsAround reports whether s is all ASCII digits, but for a separator
// before the last four when sep is set.
func digitsAround[T number](s T, sep bool) bool {
	n := len(s)
	for i := 0; i < n; i++ {
		if s[i]-'0' > 9 && (!sep || i != n-5) {
			return false
		}
	}
	return true
}

// monthDay returns the birth month and day (the day less 60 for a
// samordningsnummer).
func (p *pnrParts) monthDay() (month, day int) {
	month = int(p.d[2]-'0')*10 + int(p.d[3]-'0')
	day = int(p.d[4]-'0')*10 + int(p.d[5]-'0')
	if day > 60 {
		day -= 60
	}
	return month, day
}

// parseOrgnr returns the ten digits of an organisationsnummer.
func parseOrgnr[T number](s T) (d [10]byte, err error) {
	// As for personnummer, the length says it all: ten digits, '-' only
	// before the last four, and "16" first when there are twelve.
	n, sep := len(s), false
	switch n {
	case 10, 12:
	case 11, 13:
		if s[n-5] != '-' {
			return d, errOrgnrLength
		}
		sep = true
	default:
		return d, errOrgnrLength
	}
	if !digitsAround(s, sep) {
		return d, errOrgnrLength
	}
	off := 0
	if n >= 12 {
		if s[0] != '1' || s[1] != '6' {
			return d, errOrgnrLength
		}
		off = 2
	}
	if s[off+2] < '2' {
		return d, errOrgnrPerson
	}
	if !sep {
		copy(d[:], s[off:])
	} else {
		copy(d[:6], s[off:n-5])
		copy(d[6:], s[n-4:])
	}
	if c := LuhnDigit(d[:9]); c != d[9] {
		return d, errOrgnrCheck[c-'0']
	}
	return d, nil
}
