// Command lethe is a backup agent that remembers what it was told to
// forget. The commands are thin: they parse flags, open the repository and
// call the packages below.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is lethe's release; set with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes follow restic's: 1 for a fatal error, 3 when a backup could
// not read every source file. 4 and 5 are lethe's own: a backup kept
// records of erased subjects out, so the live source still holds them; an
// erasure request is past its deadline and not complete (erasures list).
const (
	exitOK            = 0
	exitError         = 1
	exitIncomplete    = 3
	exitErasedKeptOut = 4
	exitOverdue       = 5
)

// exitCodeError carries a specific exit code through cobra.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitCodeError) Unwrap() error { return e.err }

func main() {
	// A backup keeps chunks and packs in flight that turn over fast; with
	// Go's default target the heap grows to twice that. Collect earlier
	// unless the operator chose otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, g := newRoot(stdout, stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if g.stopCPUProfile != nil {
		if perr := g.stopCPUProfile(); perr != nil && err == nil {
			err = perr
		}
	}
	if err == nil {
		return exitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(stderr, "lethe:", ec.err)
		}
		return ec.code
	}
	fmt.Fprintln(stderr, "lethe:", err)
	return exitError
}
