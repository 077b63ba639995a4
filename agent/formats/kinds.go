package formats

import "lethe/tombstones"

// The identifier kinds come from the tombstones package; formats only finds
// candidates of them and asks a Matcher.
type (
	Kind       = tombstones.Kind
	CustomKind = tombstones.CustomKind
)

const (
	KindEmail        = tombstones.KindEmail
	KindPhone        = tombstones.KindPhone
	KindPersonnummer = tombstones.KindPersonnummer
	KindOrgnr        = tombstones.KindOrgnr
	KindName         = tombstones.KindName
)
