package repository

import (
	"testing"
	"time"
)

func TestPolicyHorizon(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		p  ExpirePolicy
		d  time.Duration
		ok bool
	}{
		{ExpirePolicy{Daily: 7}, 7 * day, true},
		{ExpirePolicy{Daily: 7, Weekly: 4}, 28 * day, true},
		{ExpirePolicy{Daily: 7, Monthly: 12}, 372 * day, true},
		{ExpirePolicy{Hourly: 48}, 2 * day, true},
		{ExpirePolicy{Last: 3, Within: 10 * day}, 10 * day, true},
		{ExpirePolicy{Daily: 7, Yearly: -1}, 0, false},
		{ExpirePolicy{}, 0, false},
	} {
		if d, ok := c.p.Horizon(); d != c.d || ok != c.ok {
			t.Errorf("%+v: horizon %v %v, want %v %v", c.p, d, ok, c.d, c.ok)
		}
	}
}
