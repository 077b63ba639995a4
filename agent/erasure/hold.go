package erasure

import (
	"slices"
	"time"

	"lethe/agent/archiver"
	"lethe/agent/formats"
)

// Hold keeps matching records despite an erasure, on a legal basis, for a
// while: a record is held when its file matches one of Paths (if any) and
// is of one of Formats (if any). The hold runs from the time of the
// snapshot holding the record for Years, Months and Days.
type Hold struct {
	Name string `json:"name,omitempty"`
	// Paths are patterns relative to the snapshot's paths, in the syntax
	// of excludes: filepath.Match per component, "**" for any number of
	// components, anchored when they start with "/".
	Paths   []string         `json:"paths,omitempty"`
	Formats []formats.Format `json:"formats,omitempty"`
	Basis   string           `json:"basis"`

	Years  int `json:"years,omitempty"`
	Months int `json:"months,omitempty"`
	Days   int `json:"days,omitempty"`
}

// Until is when the hold ends for a record in a snapshot taken at t.
func (h Hold) Until(t time.Time) time.Time { return t.AddDate(h.Years, h.Months, h.Days) }

// matches reports whether the hold covers a file at rel (relative to its
// snapshot's paths) read as format, in a snapshot taken at t, at now.
func (h Hold) matches(rel string, format formats.Format, t, now time.Time) bool {
	if !now.Before(h.Until(t)) {
		return false
	}
	if len(h.Formats) > 0 && !slices.Contains(h.Formats, format) {
		return false
	}
	return len(h.Paths) == 0 || archiver.MatchPatterns(h.Paths, rel)
}

// HeldRecords counts what one hold kept in a snapshot.
type HeldRecords struct {
	Hold    string    `json:"hold,omitempty"`
	Basis   string    `json:"basis"`
	Until   time.Time `json:"until"`
	Files   int       `json:"files"`
	Records int       `json:"records"`
}

// held returns the first hold covering a file, or -1.
func held(holds []Hold, rel string, format formats.Format, t, now time.Time) int {
	for i, h := range holds {
		if h.matches(rel, format, t, now) {
			return i
		}
	}
	return -1
}
