// Package receipts issues signed erasure receipts: what lethe tells a
// business, and the business its customer, about one erasure request. A
// receipt states Facts; Sign makes their RFC 8785 canonical JSON and signs
// it with Ed25519; Verify checks a signed file byte for byte; Render writes
// it for the customer as text, Markdown or HTML in Swedish or English.
//
// Where things live:
//
//	lethe/keys/receipts                 the signing key (JSON, encrypted by the repository)
//	lethe/erasures/receipts/<id>        an issued receipt (the signed file, encrypted)
//	<state dir>/receipt.key             a copy of the signing key (0600)
//
// A receipt holds masked identifiers only (tombstones.Mask), never a
// fingerprint or an identifier in clear text.
package receipts

import (
	"errors"
	"fmt"
	"time"

	"lethe/tombstones"
)

// FormatVersion is the version of the receipt's JSON, in Facts.Version.
const FormatVersion = 1

// Facts are everything a receipt states. The JSON names are the receipt's
// stable format (docs/receipts.md); times are UTC, whole seconds.
type Facts struct {
	Version   int       `json:"version"`
	ReceiptID string    `json:"receipt_id"` // a ULID, new for each receipt
	RequestID string    `json:"request_id"` // the tombstone's id
	Issued    time.Time `json:"issued"`

	Received  time.Time  `json:"received"`  // when the request was recorded
	Deadline  time.Time  `json:"deadline"`  // when it must be answered
	Completed *time.Time `json:"completed"` // when it was complete everywhere; null while not

	Identifiers []Identifier    `json:"identifiers"`
	Business    Business        `json:"business"`
	Mode        tombstones.Mode `json:"mode"`

	Repositories []Repository `json:"repositories"`
	Holds        []Hold       `json:"holds"`

	// NoCopyFrom is the date from which no backup copy holds the subject:
	// the completion in rewrite mode, the day the last sealed snapshot
	// ages out in expire mode; null while it is not known.
	NoCopyFrom *time.Time `json:"no_copy_from"`

	// Final is true only when the erasure is complete in every repository;
	// a receipt that is not final is an interim status.
	Final bool `json:"final"`
}

// Identifier is one identifier of the request, masked.
type Identifier struct {
	Kind   tombstones.Kind `json:"kind"`
	Masked string          `json:"masked"`
}

// Business is who answers the request: the controller.
type Business struct {
	Name    string `json:"name"`
	Contact string `json:"contact"`
}

// RepoState is where an erasure stands in one repository.
type RepoState string

// Repository states.
const (
	StateComplete RepoState = "complete" // rewritten, pruned and verified
	StatePending  RepoState = "pending"  // not done yet
	// StateExpiring is expire mode carried out: sealed snapshots still hold
	// the subject until ExpiringUntil, and every restore filters it out.
	StateExpiring RepoState = "expiring"
)

// Repository is what was done in one repository.
type Repository struct {
	Location      string     `json:"location"` // a display name, never a password or secret
	State         RepoState  `json:"state"`
	ExpiringUntil *time.Time `json:"expiring_until"` // set with StateExpiring

	Snapshots      []Snapshot       `json:"snapshots"`
	RecordsRemoved map[string]int64 `json:"records_removed"` // per format ("csv", "mbox", ...)
	FilesRedacted  int64            `json:"files_redacted"`
	FilesDropped   int64            `json:"files_dropped"`
	BytesRemoved   int64            `json:"bytes_removed"`

	Verification *Verification `json:"verification"` // null before a verification
}

// Snapshot outcomes.
const (
	SnapshotRewritten = "rewritten"
	SnapshotUnchanged = "unchanged"
	SnapshotRemoved   = "removed"
	SnapshotSealed    = "sealed" // expire mode: kept, filtered on restore
)

// Snapshot is one snapshot examined: its id before and after (After is
// empty when the snapshot was unchanged, removed or sealed).
type Snapshot struct {
	Before  string `json:"before"`
	After   string `json:"after"`
	Outcome string `json:"outcome"`
}

// Verification results.
const (
	VerifyPassed = "passed"
	VerifyFailed = "failed"
)

// Verification is the check done after the erasure in one repository:
// "index" (no index entry or tree refers to erased content) or "deep"
// (every remaining file read back and scanned).
type Verification struct {
	Kind         string    `json:"kind"`
	Result       string    `json:"result"`
	FilesChecked int64     `json:"files_checked"`
	Time         time.Time `json:"time"`
}

// Hold is a rule that kept matching records, with its legal basis.
type Hold struct {
	Basis   string    `json:"basis"` // "Bokföringslagen 7 kap. 2 §"
	Rule    string    `json:"rule"`  // the rule as configured (path glob, format)
	Until   time.Time `json:"until"`
	Records int64     `json:"records"`
}

// maxInt is the largest integer a JSON number keeps exactly in every
// reader (RFC 8785 numbers are doubles).
const maxInt = 1<<53 - 1

// normalize returns f with times in UTC whole seconds and nil slices and
// maps empty, so equal facts give equal bytes.
func (f Facts) normalize() Facts {
	ts := func(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
	tp := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := ts(*t)
		return &v
	}
	f.Issued, f.Received, f.Deadline = ts(f.Issued), ts(f.Received), ts(f.Deadline)
	f.Completed, f.NoCopyFrom = tp(f.Completed), tp(f.NoCopyFrom)
	f.Identifiers = append([]Identifier{}, f.Identifiers...)
	repos := make([]Repository, len(f.Repositories))
	for i, r := range f.Repositories {
		r.ExpiringUntil = tp(r.ExpiringUntil)
		r.Snapshots = append([]Snapshot{}, r.Snapshots...)
		rec := make(map[string]int64, len(r.RecordsRemoved))
		for k, v := range r.RecordsRemoved {
			rec[k] = v
		}
		r.RecordsRemoved = rec
		if r.Verification != nil {
			v := *r.Verification
			v.Time = ts(v.Time)
			r.Verification = &v
		}
		repos[i] = r
	}
	f.Repositories = repos
	holds := make([]Hold, len(f.Holds))
	for i, h := range f.Holds {
		h.Until = ts(h.Until)
		holds[i] = h
	}
	f.Holds = holds
	return f
}

// Validate checks that f is a receipt lethe can stand behind: ids and
// dates present, known states, counts in range, and Final only when every
// repository is done.
func (f Facts) Validate() error {
	if f.Version != FormatVersion {
		return fmt.Errorf("receipt: version %d, want %d", f.Version, FormatVersion)
	}
	if !tombstones.ValidID(f.ReceiptID) {
		return errors.New("receipt: receipt_id is not a valid id")
	}
	if !tombstones.ValidID(f.RequestID) {
		return errors.New("receipt: request_id is not a valid id")
	}
	if f.Issued.IsZero() || f.Received.IsZero() || f.Deadline.IsZero() {
		return errors.New("receipt: issued, received and deadline are required")
	}
	if f.Mode != tombstones.ModeRewrite && f.Mode != tombstones.ModeExpire {
		return fmt.Errorf("receipt: mode %q: want rewrite or expire", f.Mode)
	}
	if len(f.Identifiers) == 0 {
		return errors.New("receipt: no identifiers")
	}
	for i, id := range f.Identifiers {
		if id.Kind == "" || id.Masked == "" {
			return fmt.Errorf("receipt: identifier %d: kind and masked form are required", i+1)
		}
		if tombstones.Remask(id.Kind, id.Masked) != id.Masked {
			return fmt.Errorf("receipt: identifier %d (%s): shows more than a mask may", i+1, id.Kind)
		}
	}
	if f.Business.Name == "" {
		return errors.New("receipt: business name is required")
	}
	if len(f.Repositories) == 0 {
		return errors.New("receipt: no repositories")
	}
	done := true
	for i, r := range f.Repositories {
		if r.Location == "" {
			return fmt.Errorf("receipt: repository %d: no location", i+1)
		}
		switch r.State {
		case StateComplete, StatePending:
			if r.ExpiringUntil != nil {
				return fmt.Errorf("receipt: repository %s: expiring_until set in state %s", r.Location, r.State)
			}
		case StateExpiring:
			if r.ExpiringUntil == nil || f.Mode != tombstones.ModeExpire {
				return fmt.Errorf("receipt: repository %s: expiring needs expire mode and expiring_until", r.Location)
			}
		default:
			return fmt.Errorf("receipt: repository %s: unknown state %q", r.Location, r.State)
		}
		done = done && r.State != StatePending
		for _, n := range []int64{r.FilesRedacted, r.FilesDropped, r.BytesRemoved} {
			if n < 0 || n > maxInt {
				return fmt.Errorf("receipt: repository %s: count out of range", r.Location)
			}
		}
		for format, n := range r.RecordsRemoved {
			if n < 0 || n > maxInt {
				return fmt.Errorf("receipt: repository %s: records of %s out of range", r.Location, format)
			}
		}
		for _, s := range r.Snapshots {
			switch s.Outcome {
			case SnapshotRewritten:
				if s.Before == "" || s.After == "" {
					return fmt.Errorf("receipt: repository %s: a rewritten snapshot needs both ids", r.Location)
				}
			case SnapshotUnchanged, SnapshotRemoved, SnapshotSealed:
				if s.Before == "" || s.After != "" {
					return fmt.Errorf("receipt: repository %s: a %s snapshot has its id before only", r.Location, s.Outcome)
				}
			default:
				return fmt.Errorf("receipt: repository %s: unknown snapshot outcome %q", r.Location, s.Outcome)
			}
		}
		if v := r.Verification; v != nil {
			if v.Kind != "index" && v.Kind != "deep" {
				return fmt.Errorf("receipt: repository %s: verification kind %q: want index or deep", r.Location, v.Kind)
			}
			if v.Result != VerifyPassed && v.Result != VerifyFailed {
				return fmt.Errorf("receipt: repository %s: verification result %q", r.Location, v.Result)
			}
			if v.FilesChecked < 0 || v.FilesChecked > maxInt {
				return fmt.Errorf("receipt: repository %s: files checked out of range", r.Location)
			}
		}
	}
	for i, h := range f.Holds {
		if h.Basis == "" || h.Until.IsZero() || h.Records < 0 || h.Records > maxInt {
			return fmt.Errorf("receipt: hold %d: needs a basis, an until date and a record count", i+1)
		}
	}
	if f.Final && !done {
		return errors.New("receipt: final, but the erasure is pending in a repository")
	}
	if f.Final && (f.Completed == nil || f.NoCopyFrom == nil) {
		return errors.New("receipt: final without completed and no_copy_from dates")
	}
	if !f.Final && f.Completed != nil {
		return errors.New("receipt: completed date on an interim receipt")
	}
	return nil
}

// FromTombstone returns the facts a receipt of t starts from: the request
// id, when it was received and is due (t.Deadline, as the tombstone
// service fills it in, or one month), the masked identifiers and the mode.
// The erasure engine adds the repositories, holds and outcome.
func FromTombstone(t tombstones.Tombstone, b Business) Facts {
	due := tombstones.OneMonthAfter(t.Created)
	if t.Deadline != nil {
		due = t.Deadline.Due
	}
	f := Facts{
		Version:   FormatVersion,
		RequestID: t.ID,
		Received:  t.Created,
		Deadline:  due,
		Business:  b,
		Mode:      t.Mode,
	}
	for _, e := range t.Entries {
		f.Identifiers = append(f.Identifiers, Identifier{Kind: e.Kind, Masked: tombstones.Remask(e.Kind, e.Masked)})
	}
	return f
}
