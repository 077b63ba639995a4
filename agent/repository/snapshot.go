package repository

import (
	"time"
)

// Snapshot is restic's snapshot object.
type Snapshot struct {
	Time     time.Time `json:"time"`
	Parent   *ID       `json:"parent,omitempty"`
	Tree     *ID       `json:"tree"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname,omitempty"`
	Username string    `json:"username,omitempty"`
	UID      uint32    `json:"uid,omitempty"`
	GID      uint32    `json:"gid,omitempty"`
	Excludes []string  `json:"excludes,omitempty"`
	Tags     []string  `json:"tags,omitempty"`
	// Original points to the snapshot this one was rewritten from; after
	// several rewrites, to the first (as restic keeps it).
	Original       *ID    `json:"original,omitempty"`
	ProgramVersion string `json:"program_version,omitempty"`

	// ID is the snapshot file's ID; set when loaded or saved.
	ID ID `json:"-"`
}

// HasTag reports whether the snapshot carries tag.
func (s *Snapshot) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}
