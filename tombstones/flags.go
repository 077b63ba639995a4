package tombstones

import "fmt"

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
