package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a length of calendar time: years and months are calendar
// years and months, so "7y" from an invoice's date ends on the same day
// seven years later, leap days or not.
type Period struct {
	Years, Months, Days int
}

// ParsePeriod reads a period as a sequence of numbers with units y
// (years), m (months), w (weeks) and d (days), e.g. "7y", "1m", "30d",
// "1y6m". The result must be longer than zero.
func ParsePeriod(s string) (Period, error) {
	var p Period
	err := parseUnits(s, "ymwd", func(n int, unit byte) {
		switch unit {
		case 'y':
			p.Years += n
		case 'm':
			p.Months += n
		case 'w':
			p.Days += 7 * n
		case 'd':
			p.Days += n
		}
	})
	if err != nil {
		return Period{}, err
	}
	if p == (Period{}) {
		return Period{}, errors.New("must be longer than zero")
	}
	return p, nil
}

// After returns t plus the period. Years and months end on the same day
// of the month, or on the month's last day when it has no such day (one
// month from 31 January is the last day of February), as periods in
// months are counted in EU law; days are added after that.
func (p Period) After(t time.Time) time.Time {
	y, m, day := t.Date()
	months := int(m) - 1 + p.Months + 12*p.Years
	y += months / 12
	months %= 12
	if months < 0 {
		months += 12
		y--
	}
	target := time.Month(months + 1)
	if last := daysIn(y, target); day > last {
		day = last
	}
	hh, mm, ss := t.Clock()
	return time.Date(y, target, day+p.Days, hh, mm, ss, t.Nanosecond(), t.Location())
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String returns the period in the syntax ParsePeriod reads.
func (p Period) String() string {
	var b strings.Builder
	for _, u := range []struct {
		n    int
		unit string
	}{{p.Years, "y"}, {p.Months, "m"}, {p.Days, "d"}} {
		if u.n != 0 {
			b.WriteString(strconv.Itoa(u.n))
			b.WriteString(u.unit)
		}
	}
	if b.Len() == 0 {
		return "0d"
	}
	return b.String()
}

// parseKeepWithin reads restic's --keep-within syntax (numbers with units
// y, m, d, h) into a duration, with the CLI's meaning: a year is 365 days,
// a month 30.
func parseKeepWithin(s string) (time.Duration, error) {
	var d time.Duration
	units := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'd': 24 * time.Hour, 'h': time.Hour}
	var overflow bool
	err := parseUnits(s, "ymdh", func(n int, unit byte) {
		add := time.Duration(n) * units[unit]
		if add/units[unit] != time.Duration(n) || d+add < d {
			overflow = true
		}
		d += add
	})
	if err != nil {
		return 0, err
	}
	if overflow {
		return 0, errors.New("too long")
	}
	if d == 0 {
		return 0, errors.New("must be longer than zero")
	}
	return d, nil
}

// parseUnits splits s into numbers each followed by one of units.
func parseUnits(s, units string, add func(n int, unit byte)) error {
	want := fmt.Errorf("want numbers with units %s (e.g. 7%c)", strings.Join(strings.Split(units, ""), ", "), units[0])
	if s == "" {
		return want
	}
	rest := s
	for rest != "" {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if i <= 0 || !strings.ContainsRune(units, rune(rest[i])) {
			return want
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 100000 {
			return errors.New("number too large")
		}
		add(n, rest[i])
		rest = rest[i+1:]
	}
	return nil
}
