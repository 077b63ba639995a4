// Package jobs holds the jobs the command line and the agent share: opening
// and locking a repository, backup with its choice of parent, forget and
// prune. A job prints nothing; it reports progress and problems through
// the callbacks its options carry and returns what it did. A job that
// holds a lock runs under the context the lock gives it (see Lock), so
// that losing the lock can stop the job.
package jobs

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNoPassword is returned by ReadPassword when neither a password file
// nor a password is given.
var ErrNoPassword = errors.New("no password given")

// ReadPassword returns the password in file, or else value (e.g. taken
// from the environment). A file wins over a value, as restic's
// --password-file wins over RESTIC_PASSWORD. It returns ErrNoPassword when
// both are empty.
func ReadPassword(file, value string) (string, error) {
	if file != "" {
		return ReadPasswordFile(file)
	}
	if value != "" {
		return value, nil
	}
	return "", ErrNoPassword
}

// ReadPasswordFile reads a password from a file. Trailing newlines are not
// part of the password; a file holding nothing else is an error.
func ReadPasswordFile(name string) (string, error) {
	buf, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("reading password file: %w", err)
	}
	pw := strings.TrimRight(string(buf), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", name)
	}
	return pw, nil
}
