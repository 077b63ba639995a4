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
	sum := 0
	for i := 0; i < len(s); i++ {
		v := int(s[len(s)-1-i] - '0')
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
	var digits [12]byte
	nd := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if nd == len(digits) {
				return p, errPnrLength
			}
			digits[nd] = c
			nd++
		case (c == '-' || c == '+') && p.sep == 0 && len(s)-i == 5:
			p.sep = c
		default:
			return p, errPnrLength
		}
	}
	switch nd {
	case 10:
		p.century = -1
		copy(p.d[:], digits[:10])
	case 12:
		if p.sep == '+' {
			return p, errPnrPlus
		}
		p.century = int(digits[0]-'0')*10 + int(digits[1]-'0')
		copy(p.d[:], digits[2:12])
	default:
		return p, errPnrLength
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
	var digits [12]byte
	nd := 0
	seenSep := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if nd == len(digits) {
				return d, errOrgnrLength
			}
			digits[nd] = c
			nd++
		case c == '-' && !seenSep && len(s)-i == 5:
			seenSep = true
		default:
			return d, errOrgnrLength
		}
	}
	switch {
	case nd == 10:
		copy(d[:], digits[:10])
	case nd == 12 && digits[0] == '1' && digits[1] == '6':
		copy(d[:], digits[2:12])
	default:
		return d, errOrgnrLength
	}
	if d[2] < '2' {
		return d, errOrgnrPerson
	}
	if c := LuhnDigit(d[:9]); c != d[9] {
		return d, errOrgnrCheck[c-'0']
	}
	return d, nil
}
