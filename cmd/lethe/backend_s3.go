package main

import (
	"context"

	"lethe/backends"
	"lethe/backends/s3"
)

// warnDeletion says plainly when the bucket cannot really delete: erasure
// and prune then rely on expiry (mode expire) instead of removal. It says
// nothing for other backends.
func (g *globalOptions) warnDeletion(ctx context.Context, be backends.Backend) {
	caps, err := s3Capabilities(ctx, be)
	if err != nil {
		g.warnf("warning: cannot read the bucket's versioning and object lock settings: %v\n", err)
		return
	}
	if caps == nil {
		return
	}
	if caps.ObjectLock {
		g.warnf("warning: the bucket has Object Lock enabled (%s): objects under retention cannot be deleted before their date, so prune and erasure cannot remove them; use erasure mode \"expire\"\n", caps.DefaultRetention)
	}
	if caps.Versioned {
		g.warnf("note: the bucket keeps versions (%s); lethe removes every version and delete marker of an object it deletes\n", caps.Versioning)
	}
}

// s3Capabilities reports the bucket's deletion behaviour when be is S3,
// and nil for other backends.
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
