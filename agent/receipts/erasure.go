package receipts

import (
	"fmt"
	"strings"

	"lethe/agent/erasure"
)

// FromErasure states what an erasure did in the repository at location:
// its state, every snapshot examined, what was removed and how it was
// verified. A nil result is an erasure not carried out there yet.
func FromErasure(location string, res *erasure.Result) Repository {
	r := Repository{Location: location, State: StatePending, RecordsRemoved: map[string]int64{}}
	if res == nil {
		return r
	}
	r.State = StateComplete
	if res.ExpiresAt != nil {
		r.State = StateExpiring
		until := *res.ExpiresAt
		r.ExpiringUntil = &until
	}
	for _, s := range res.Snapshots {
		sn := Snapshot{Before: s.Old.String(), Outcome: SnapshotUnchanged}
		switch {
		case s.Gone:
			sn.Outcome = SnapshotRemoved
		case s.New != nil:
			sn.Outcome, sn.After = SnapshotRewritten, s.New.String()
		case res.ExpiresAt != nil:
			sn.Outcome = SnapshotSealed
		}
		r.Snapshots = append(r.Snapshots, sn)
	}
	for f, n := range res.Removed.Records {
		r.RecordsRemoved[string(f)] = int64(n)
	}
	r.FilesRedacted = int64(res.Removed.FilesRedacted)
	r.FilesDropped = int64(res.Removed.FilesDropped)
	r.BytesRemoved = max(res.Removed.Bytes, 0)
	if v := res.Verify; v != nil && v.Kind != erasure.VerifyNone {
		result := VerifyPassed
		if !v.OK {
			result = VerifyFailed
		}
		r.Verification = &Verification{Kind: v.Kind, Result: result, FilesChecked: int64(v.FilesChecked), Time: v.Time}
	}
	return r
}

// HoldsOf states the holds of an erasure's results, with the rules they
// were given.
func HoldsOf(rules []erasure.Hold, results ...*erasure.Result) []Hold {
	var out []Hold
	for _, res := range results {
		if res == nil {
			continue
		}
		for _, h := range res.Held {
			out = append(out, Hold{Basis: h.Basis, Rule: holdRule(rules, h), Until: h.Until, Records: int64(h.Records)})
		}
	}
	return out
}

// holdRule describes the rule of the hold h came from.
func holdRule(rules []erasure.Hold, h erasure.HeldRecords) string {
	for _, r := range rules {
		if r.Basis != h.Basis || r.Name != h.Hold {
			continue
		}
		var parts []string
		if len(r.Paths) > 0 {
			parts = append(parts, "paths "+strings.Join(r.Paths, ", "))
		}
		if len(r.Formats) > 0 {
			fs := make([]string, len(r.Formats))
			for i, f := range r.Formats {
				fs[i] = string(f)
			}
			parts = append(parts, "formats "+strings.Join(fs, ", "))
		}
		return strings.Join(parts, "; ")
	}
	if h.Hold != "" {
		return h.Hold
	}
	return fmt.Sprintf("held until %s", h.Until.Format("2006-01-02"))
}
