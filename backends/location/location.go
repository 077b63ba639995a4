// Package location opens the backend a repository location names: a local
// directory (a path, or local:PATH) or an S3 bucket (s3:…, in restic's
// syntax), with backend options given as key=value, as restic's -o takes
// them.
package location

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lethe/backends"
	"lethe/backends/local"
	"lethe/backends/s3"
)

// Kind is the kind of backend a location names.
type Kind string

// The kinds of location.
const (
	Local Kind = "local"
	S3    Kind = "s3"
)

// Location is a parsed repository location with its backend options.
type Location struct {
	Kind Kind
	// Dir is a local repository's directory.
	Dir string
	// S3 and S3Options are an S3 repository's bucket and prefix, and how
	// to reach it.
	S3        s3.Location
	S3Options s3.Options
}

// Parse reads a location and its options. Options of an S3 location are
// s3.* keys (see s3.Options.Set); a local location takes none and ignores
// them, as restic ignores the options of other backends. Parse touches
// no storage, so a configuration can be checked before anything runs.
func Parse(loc string, options []string) (Location, error) {
	if loc == "" {
		return Location{}, errors.New("no repository location given")
	}
	if strings.HasPrefix(loc, "s3:") {
		return parseS3(loc, options)
	}
	dir := strings.TrimPrefix(loc, "local:")
	if dir == "" {
		return Location{}, fmt.Errorf("repository location %q names no directory", loc)
	}
	return Location{Kind: Local, Dir: dir}, nil
}

func parseS3(loc string, options []string) (Location, error) {
	l, err := s3.ParseURL(loc)
	if err != nil {
		return Location{}, err
	}
	var opts s3.Options
	for _, o := range options {
		k, v, err := splitOption(o)
		if err != nil {
			return Location{}, err
		}
		name, ok := strings.CutPrefix(k, "s3.")
		if !ok {
			return Location{}, fmt.Errorf("unknown option %q: s3 repositories take s3.* options", k)
		}
		// Set's errors name the option already.
		if err := opts.Set(name, v); err != nil {
			return Location{}, err
		}
	}
	return Location{Kind: S3, S3: l, S3Options: opts}, nil
}

// splitOption splits "key=value".
func splitOption(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("invalid option %q: want key=value", s)
	}
	return k, v, nil
}

// String returns the location as a repository location string.
func (l Location) String() string {
	if l.Kind == S3 {
		return l.S3.String()
	}
	return l.Dir
}

// ErrNoRepository is wrapped by Open's error for a local location that
// holds no repository (the directory or its config file is missing).
var ErrNoRepository = errors.New("not a repository")

// Open opens the backend of an existing repository. A local directory
// without a config file is refused as not a repository; an S3 location
// is only connected to, and opening the repository finds out whether one
// is there.
func (l Location) Open(ctx context.Context) (backends.Backend, error) {
	switch l.Kind {
	case S3:
		be, err := s3.Open(ctx, l.S3, l.S3Options)
		if err != nil {
			return nil, err
		}
		return be, nil
	case Local:
		be, err := local.Open(l.Dir)
		if backends.IsNotExist(err) {
			return nil, fmt.Errorf("%s is %w: the directory does not exist", l.Dir, ErrNoRepository)
		}
		if err != nil {
			return nil, err
		}
		if _, err := be.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err != nil {
			_ = be.Close()
			if backends.IsNotExist(err) {
				return nil, fmt.Errorf("%s is %w: no config file", l.Dir, ErrNoRepository)
			}
			return nil, err
		}
		return be, nil
	}
	return nil, fmt.Errorf("unknown kind of location %q", l.Kind)
}

// Create makes the place for a new repository: the directory layout, or
// the bucket when it does not exist. Both refuse a location that already
// holds a repository.
func (l Location) Create(ctx context.Context) (backends.Backend, error) {
	switch l.Kind {
	case S3:
		be, err := s3.Create(ctx, l.S3, l.S3Options)
		if err != nil {
			return nil, err
		}
		return be, nil
	case Local:
		be, err := local.Create(l.Dir)
		if err != nil {
			return nil, err
		}
		return be, nil
	}
	return nil, fmt.Errorf("unknown kind of location %q", l.Kind)
}
