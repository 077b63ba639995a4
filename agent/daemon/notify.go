package daemon

import (
	"context"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// Notifier receives the daemon's notifications in the sd_notify format
// ("READY=1", "STATUS=…", "WATCHDOG=1", "STOPPING=1", newline-separated).
type Notifier interface {
	Notify(state string)
	// WatchdogInterval is the watchdog timeout systemd expects pings
	// within; zero for none.
	WatchdogInterval() time.Duration
}

// SystemdNotifier notifies systemd through $NOTIFY_SOCKET (Type=notify);
// outside systemd it does nothing.
func SystemdNotifier() Notifier { return systemdNotifier{} }

type systemdNotifier struct{}

func (systemdNotifier) Notify(state string) {
	// Failures cannot be reported anywhere useful: systemd is the one
	// that would hear them.
	_, _ = sddaemon.SdNotify(false, state)
}

func (systemdNotifier) WatchdogInterval() time.Duration {
	d, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// watchdog pings systemd at half the watchdog interval for as long as
// the scheduler answers, so that a hung agent is restarted. It uses the
// machine's time, not the daemon's clock: the watchdog is systemd's.
func (d *Daemon) watchdog(ctx context.Context) {
	interval := d.notify.WatchdogInterval()
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if d.alive(ctx, interval/2) {
			d.notify.Notify("WATCHDOG=1")
		} else if ctx.Err() == nil {
			d.log.Error("the scheduler does not answer; no watchdog ping")
		}
	}
}

// alive reports whether the scheduler answers within timeout.
func (d *Daemon) alive(ctx context.Context, timeout time.Duration) bool {
	reply := make(chan struct{})
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case d.poke <- reply:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-reply:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}
