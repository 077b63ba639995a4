package tombstones

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// IdentifierFlags are the identifier flags shared by `lethe erase`,
// `lethe erasures check` and `lethe scan`: bind each field to a repeatable
// string flag (--email, --phone, --personnummer, --orgnr, --name,
// --id KIND=VALUE).
type IdentifierFlags struct {
	Emails       []string
	Phones       []string
	Personnummer []string
	Orgnr        []string
	Names        []string
	IDs          []string // KIND=VALUE, KIND a built-in or custom kind
}

// Empty reports whether no identifier was given.
func (f IdentifierFlags) Empty() bool {
	return len(f.Emails)+len(f.Phones)+len(f.Personnummer)+len(f.Orgnr)+len(f.Names)+len(f.IDs) == 0
}

// Identifiers parses and normalizes the flags' values. Errors name the
// flag and its position, never the value.
func (f IdentifierFlags) Identifiers(n *Normalizer) ([]Identifier, error) {
	var out []Identifier
	for _, g := range []struct {
		flag   string
		kind   Kind
		values []string
	}{
		{"--email", KindEmail, f.Emails},
		{"--phone", KindPhone, f.Phones},
		{"--personnummer", KindPersonnummer, f.Personnummer},
		{"--orgnr", KindOrgnr, f.Orgnr},
		{"--name", KindName, f.Names},
	} {
		for i, v := range g.values {
			id, err := n.ParseIdentifier(g.kind, v)
			if err != nil {
				return nil, fmt.Errorf("%s #%d: %w", g.flag, i+1, err)
			}
			out = append(out, id)
		}
	}
	for i, kv := range f.IDs {
		id, err := n.ParseKindValue(kv)
		if err != nil {
			return nil, fmt.Errorf("--id #%d: %w", i+1, err)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no identifier given (--email, --phone, --personnummer, --orgnr, --name or --id KIND=VALUE)")
	}
	return out, nil
}

// Status is "active" or "revoked".
func (t Tombstone) Status() string {
	if t.Revoked() {
		return "revoked"
	}
	return "active"
}

// WriteList writes one line per tombstone for `lethe erasures list`.
func WriteList(w io.Writer, ts []Tombstone) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tMODE\tSTATUS\tIDENTIFIERS\tREASON")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Created.UTC().Format("2006-01-02 15:04"), t.Mode,
			t.Status(), strings.Join(t.Masked(), ", "), t.Reason)
	}
	return tw.Flush()
}

// WriteTombstone writes one tombstone for `lethe erasures show`.
func WriteTombstone(w io.Writer, t Tombstone) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", t.ID)
	fmt.Fprintf(tw, "created:\t%s\n", t.Created.UTC().Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(tw, "status:\t%s\n", t.Status())
	fmt.Fprintf(tw, "mode:\t%s\n", t.Mode)
	fmt.Fprintf(tw, "reason:\t%s\n", DescribeReason(t.Reason))
	if t.Reference != "" {
		fmt.Fprintf(tw, "reference:\t%s\n", t.Reference)
	}
	for _, e := range t.Entries {
		fmt.Fprintf(tw, "identifier:\t%s %s\n", e.Kind, e.Masked)
	}
	for _, r := range t.Revocations {
		ref := ""
		if r.Reference != "" {
			ref = " (" + r.Reference + ")"
		}
		fmt.Fprintf(tw, "revoked:\t%s %s: %s%s\n", r.Created.UTC().Format("2006-01-02 15:04"), r.ID, r.Reason, ref)
	}
	if len(t.Progress) == 0 {
		fmt.Fprintf(tw, "progress:\tpending in every repository\n")
	}
	repos := make([]string, 0, len(t.Progress))
	for repo := range t.Progress {
		repos = append(repos, repo)
	}
	sort.Strings(repos)
	for _, repo := range repos {
		p := t.Progress[repo]
		fmt.Fprintf(tw, "progress:\t%s: %s (%s)\n", repo, p.State, p.Updated.UTC().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// WriteCheck writes the result of `lethe erasures check`, one line per
// identifier, and reports whether any identifier belongs to an active
// tombstone (the command exits 0 then, 1 otherwise).
func WriteCheck(w io.Writer, results []CheckResult) (matched bool, err error) {
	for _, r := range results {
		switch {
		case len(r.Tombstones) > 0:
			matched = true
			_, err = fmt.Fprintf(w, "%s %s: erased by %s\n", r.Kind, r.Masked, strings.Join(r.Tombstones, ", "))
		case len(r.Revoked) > 0:
			_, err = fmt.Fprintf(w, "%s %s: not erased (revoked: %s)\n", r.Kind, r.Masked, strings.Join(r.Revoked, ", "))
		default:
			_, err = fmt.Fprintf(w, "%s %s: not erased\n", r.Kind, r.Masked)
		}
		if err != nil {
			return matched, err
		}
	}
	return matched, nil
}
