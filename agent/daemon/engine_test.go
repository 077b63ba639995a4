package daemon

import (
	"testing"
	"time"

	"lethe/agent/config"
	"lethe/agent/repository"
)

// TestEngineWindow: the engine's erasures date the last held copy by the
// configured retention, not by a default week.
func TestEngineWindow(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		p    repository.ExpirePolicy
		want time.Duration
	}{
		{repository.ExpirePolicy{Daily: 7}, 7 * day},
		{repository.ExpirePolicy{Daily: 7, Weekly: 5}, 35 * day},
		{repository.ExpirePolicy{Daily: 7, Monthly: -1}, foreverWindow},
	} {
		cfg := &config.Config{StateDir: t.TempDir(), Retention: config.Retention{Policy: c.p}}
		if got := NewEngine(cfg).Window; got != c.want {
			t.Errorf("retention %+v: window %v, want %v", c.p, got, c.want)
		}
	}
}
