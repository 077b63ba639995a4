package daemon

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdNotify runs the agent with a fake NOTIFY_SOCKET and a short
// watchdog and checks that systemd would hear READY=1 with a status,
// WATCHDOG=1 pings and, on stop, STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	s := newSetup(t, `schedules:
  check: "off"
  verify: "off"`)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")

	clk := newFakeClock(time.Date(2026, 11, 2, 12, 0, 0, 0, time.Local))
	d, err := New(Options{Config: s.cfg, Jobs: newCountJobs(clk), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	_, stop := started(t, d)

	// The watchdog runs on the machine's time, as systemd's does: the
	// deadline is only there so that a missing message fails the test
	// rather than hanging it.
	read := func(want string) string {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s: %v", want, err)
			}
			msg := string(buf[:n])
			if strings.Contains(msg, want) {
				return msg
			}
		}
	}
	ready := read("READY=1")
	if !strings.Contains(ready, "STATUS=") {
		t.Errorf("READY without STATUS: %q", ready)
	}
	read("WATCHDOG=1")
	read("WATCHDOG=1")
	stop()
	read("STOPPING=1")
}
