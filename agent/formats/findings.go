package formats

// Findings are what deciding on or filtering one item (a file, or a
// directory given to a subject by its name or a path rule) found. They
// never hold an identifier: Refs are the matcher's references (tombstone
// IDs, or the keyed tags of a collecting matcher), so they can flow into
// summaries, metrics and the subject index.
type Findings struct {
	// Format is the format the item was read as (FormatName or FormatPath
	// for an item dropped by its name or a path rule).
	Format Format
	// Records counts the item's records; Removed those removed (an item
	// dropped whole counts as one).
	Records, Removed int
	// Dropped is set when nothing of the item is kept.
	Dropped bool
	// Refs are the references of every identifier matched in the item,
	// sorted and without duplicates.
	Refs []string
	// Kinds are the kinds of those identifiers, sorted.
	Kinds []Kind
	// Fallback says why the format's parser was not used, if it failed;
	// Tried is that format.
	Fallback string
	Tried    Format
}

// Hit reports whether anything of a subject was found.
func (f *Findings) Hit() bool { return f.Removed > 0 || f.Dropped || len(f.Refs) > 0 }

// Decision is what the erasure seams of backup, restore and snapshot
// rewriting decide for one item before its content moves.
type Decision int

const (
	// Keep moves the item as it is.
	Keep Decision = iota
	// Drop leaves the item out: a file, or a directory with everything
	// below it (a name hit, a path rule, a file wholly one subject's).
	Drop
	// Filter passes the file's content through the redactor.
	Filter
)

// Version names what the scanners find. It goes up whenever a change makes
// them find identifiers they did not find before (a new format, a new
// spelling), so that what was recorded about a file's content by an older
// scanner (the subject index) is not trusted to be complete.
const Version = 2
