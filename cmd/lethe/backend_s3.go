package main

import (
	"context"
	"fmt"
	"strings"

	"lethe/backends"
	"lethe/backends/s3"
)

// openS3 opens an s3: repository with the -o s3.* options.
func (g *globalOptions) openS3(ctx context.Context, create bool) (backends.Backend, error) {
	loc, err := s3.ParseURL(g.repo)
	if err != nil {
		return nil, err
	}
	var opts s3.Options
	for _, o := range g.options {
		k, v, err := splitKV(o)
		if err != nil {
			return nil, err
		}
		name, ok := strings.CutPrefix(k, "s3.")
		if !ok {
			return nil, fmt.Errorf("unknown option %q: s3 repositories take s3.* options", k)
		}
		if err := opts.Set(name, v); err != nil {
			return nil, fmt.Errorf("option %s: %w", k, err)
		}
	}
	if create {
		be, err := s3.Create(ctx, loc, opts)
		if err != nil {
			return nil, err
		}
		g.warnDeletion(ctx, be)
		return be, nil
	}
	be, err := s3.Open(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	return be, nil
}

// warnDeletion says plainly when the bucket cannot really delete: erasure
// and prune then rely on expiry (mode expire) instead of removal.
func (g *globalOptions) warnDeletion(ctx context.Context, be *s3.Backend) {
	caps, err := be.Capabilities(ctx)
	if err != nil {
		g.warnf("warning: cannot read the bucket's versioning and object lock settings: %v\n", err)
		return
	}
	if caps.ObjectLock {
		g.warnf("warning: the bucket has Object Lock enabled (%s): objects under retention cannot be deleted before their date, so prune and erasure cannot remove them; use erasure mode \"expire\"\n", caps.DefaultRetention)
	}
	if caps.Versioned {
		g.warnf("note: the bucket keeps versions (%s); lethe removes every version and delete marker of an object it deletes\n", caps.Versioning)
	}
}

// s3Capabilities reports the bucket's deletion behaviour when be is S3.
func s3Capabilities(ctx context.Context, be backends.Backend) (*s3.Capabilities, error) {
	sb, ok := be.(*s3.Backend)
	if !ok {
		return nil, nil
	}
	caps, err := sb.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	return &caps, nil
}
