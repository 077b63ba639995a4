package repository

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// IDSize is the length of an ID in bytes.
const IDSize = sha256.Size

// ID is the SHA-256 of an object's plaintext (blobs) or of its stored
// bytes (packs, index, snapshot and key files).
type ID [IDSize]byte

// Hash returns the ID of data.
func Hash(data []byte) ID { return sha256.Sum256(data) }

// ParseID reads a 64-digit hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != hex.EncodedLen(IDSize) {
		return id, fmt.Errorf("invalid ID %q: wrong length", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return id, nil
}

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Str is the short form used in messages.
func (id ID) Str() string { return hex.EncodeToString(id[:4]) }

// IsNull reports whether id is the zero ID.
func (id ID) IsNull() bool { return id == ID{} }

// MarshalJSON writes the hex form.
func (id ID) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 2+hex.EncodedLen(IDSize))
	buf[0] = '"'
	hex.Encode(buf[1:], id[:])
	buf[len(buf)-1] = '"'
	return buf, nil
}

// UnmarshalJSON reads the hex form.
func (id *ID) UnmarshalJSON(b []byte) error {
	// The form lethe and restic write, read without a second JSON scan:
	// trees and indexes hold many IDs.
	if len(b) == 2+hex.EncodedLen(IDSize) && b[0] == '"' && b[len(b)-1] == '"' {
		if _, err := hex.Decode(id[:], b[1:len(b)-1]); err == nil {
			return nil
		}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseID(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// IDs is an ordered list of IDs (a file's content).
type IDs []ID

// IDSet is an unordered set of IDs.
type IDSet map[ID]struct{}

// Has reports whether id is in the set.
func (s IDSet) Has(id ID) bool { _, ok := s[id]; return ok }

// Insert adds id.
func (s IDSet) Insert(id ID) { s[id] = struct{}{} }

// Sorted returns the set's IDs in ascending order.
func (s IDSet) Sorted() IDs {
	l := make(IDs, 0, len(s))
	for id := range s {
		l = append(l, id)
	}
	sort.Slice(l, func(i, j int) bool { return string(l[i][:]) < string(l[j][:]) })
	return l
}

// BlobType tells data blobs (file content) from tree blobs (directories).
type BlobType uint8

// Blob types; the JSON names are restic's.
const (
	InvalidBlob BlobType = iota
	DataBlob
	TreeBlob
)

func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("invalid(%d)", uint8(t))
}

// MarshalJSON writes "data" or "tree".
func (t BlobType) MarshalJSON() ([]byte, error) {
	switch t {
	case DataBlob, TreeBlob:
		return []byte(`"` + t.String() + `"`), nil
	}
	return nil, fmt.Errorf("invalid blob type %d", uint8(t))
}

// UnmarshalJSON reads "data" or "tree".
func (t *BlobType) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"data"`:
		*t = DataBlob
	case `"tree"`:
		*t = TreeBlob
	default:
		return fmt.Errorf("invalid blob type %s", b)
	}
	return nil
}

// BlobHandle names a blob by ID and type.
type BlobHandle struct {
	ID   ID
	Type BlobType
}

func (h BlobHandle) String() string { return h.Type.String() + "/" + h.ID.Str() }

// BlobSet is a set of blob handles.
type BlobSet map[BlobHandle]struct{}

// Has reports whether h is in the set.
func (s BlobSet) Has(h BlobHandle) bool { _, ok := s[h]; return ok }

// Insert adds h.
func (s BlobSet) Insert(h BlobHandle) { s[h] = struct{}{} }
